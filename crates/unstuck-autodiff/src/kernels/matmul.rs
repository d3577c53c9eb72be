//! Matrix products, single and batched, on faer's kernels.

use crate::Element;
use crate::buffers;
use crate::shape::Shape;
use crate::tensor::{Tensor, View};
use faer::linalg::matmul::matmul as faer_matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;
use unstuck_core::{ElementSlice, ElementSliceMut};

/// A row-major matrix operand: its stored rows and columns, and whether it is used transposed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Operand {
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) transposed: bool,
}

impl Operand {
    /// Rows and columns of the matrix as used in the product.
    fn used(self) -> (usize, usize) {
        if self.transposed {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }
}

/// Products with fewer multiply-adds than this run on one thread: a task costs more.
const PARALLEL_MATMUL_WORK: usize = 1 << 19;
/// Output rows per task of a parallel product.
const ROWS_PER_TASK: usize = 64;

/// `out = op(a) · op(b)` (or `out += ...` when `accumulate`), row-major.
///
/// A large product is cut into blocks of [`ROWS_PER_TASK`] output rows, each computed
/// on its own by faer on one thread, on rayon's threads. The cut depends on the shapes
/// alone, so every entry is computed the same way whatever the thread count.
pub(crate) fn gemm<T: Element>(
    a: &[T],
    ad: Operand,
    b: &[T],
    bd: Operand,
    out: &mut [T],
    accumulate: bool,
) {
    product(a, ad, b, bd, out, accumulate, true);
}

/// `out = op(a) · op(b)` (or `out += ...`) on the calling thread, for callers that
/// already run on rayon's threads.
pub(crate) fn gemm_seq<T: Element>(
    a: &[T],
    ad: Operand,
    b: &[T],
    bd: Operand,
    out: &mut [T],
    accumulate: bool,
) {
    product(a, ad, b, bd, out, accumulate, false);
}

fn product<T: Element>(
    a: &[T],
    ad: Operand,
    b: &[T],
    bd: Operand,
    out: &mut [T],
    accumulate: bool,
    may_split: bool,
) {
    let (m, k) = ad.used();
    let (_, n) = bd.used();
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            out.fill(T::ZERO);
        }
        return;
    }
    let split = may_split && m * n * k >= PARALLEL_MATMUL_WORK && m >= 2 * ROWS_PER_TASK;
    match (T::as_typed(a), T::as_typed(b), T::as_typed_mut(out)) {
        (ElementSlice::F32(x), ElementSlice::F32(y), ElementSliceMut::F32(dst)) => {
            typed_gemm(x, ad, y, bd, dst, accumulate, split)
        }
        (ElementSlice::F64(x), ElementSlice::F64(y), ElementSliceMut::F64(dst)) => {
            typed_gemm(x, ad, y, bd, dst, accumulate, split)
        }
        _ => unreachable!("one element type for all three slices"),
    }
}

fn operand<E: faer::traits::RealField>(data: &[E], d: Operand) -> MatRef<'_, E> {
    let m = MatRef::from_row_major_slice(data, d.rows, d.cols);
    if d.transposed { m.transpose() } else { m }
}

/// The product on faer, whole or in row blocks on rayon's threads.
fn typed_gemm<E: faer::traits::RealField + Copy>(
    a: &[E],
    ad: Operand,
    b: &[E],
    bd: Operand,
    out: &mut [E],
    accumulate: bool,
    split: bool,
) {
    let (lhs, rhs) = (operand(a, ad), operand(b, bd));
    let n = rhs.ncols();
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    let one_thread = |rows: MatRef<'_, E>, dst: &mut [E]| {
        let dst = MatMut::from_row_major_slice_mut(dst, rows.nrows(), n);
        faer_matmul(dst, accum, rows, rhs, E::one_impl(), Par::Seq);
    };
    if !split {
        return one_thread(lhs, out);
    }
    out.par_chunks_mut(ROWS_PER_TASK * n)
        .enumerate()
        .for_each(|(block, dst)| {
            one_thread(lhs.subrows(block * ROWS_PER_TASK, dst.len() / n), dst)
        });
}

fn last_two(op: &str, s: Shape) -> (usize, usize) {
    match *s.dims() {
        [.., r, c] => (r, c),
        _ => panic!("{op}: needs a matrix or a batch of matrices, got shape {s:?}"),
    }
}

/// `op(a) · op(b)` over the last two axes, where `op` transposes when the flag is set.
///
/// Leading (batch) axes must be equal, or `b` may be a single matrix shared by every
/// matrix of an untransposed `a` (a layer's weight applied to `[batch, tokens, features]`).
pub(crate) fn matmul<T: Element>(a: View<'_, T>, b: View<'_, T>, ta: bool, tb: bool) -> Tensor<T> {
    let (ar, ac) = last_two("matmul", a.shape);
    let (br, bc) = last_two("matmul", b.shape);
    let ad = Operand {
        rows: ar,
        cols: ac,
        transposed: ta,
    };
    let bd = Operand {
        rows: br,
        cols: bc,
        transposed: tb,
    };
    let ((m, k), (k2, n)) = (ad.used(), bd.used());
    let t = |flag: bool| if flag { "^T" } else { "" };
    assert!(
        k == k2,
        "matmul: inner dimensions differ: {:?}{} x {:?}{}",
        a.shape,
        t(ta),
        b.shape,
        t(tb),
    );
    let a_batch = &a.dims()[..a.shape.rank() - 2];
    let b_batch = &b.dims()[..b.shape.rank() - 2];
    let mut out_dims = a_batch.to_vec();
    out_dims.extend([m, n]);
    let out_shape = Shape::of("matmul", &out_dims);
    let mut out = buffers::zeros(out_shape.numel());
    let batches: usize = a_batch.iter().product();
    if b_batch.is_empty() && !ta {
        // One product of the stacked rows of every matrix of `a`.
        let stacked = Operand {
            rows: batches * ar,
            ..ad
        };
        gemm(a.data, stacked, b.data, bd, &mut out, false);
    } else if a_batch == b_batch {
        let (sa, sb, so) = (ar * ac, br * bc, m * n);
        for i in 0..batches {
            gemm(
                &a.data[i * sa..(i + 1) * sa],
                ad,
                &b.data[i * sb..(i + 1) * sb],
                bd,
                &mut out[i * so..(i + 1) * so],
                false,
            );
        }
    } else {
        panic!(
            "matmul: batch dimensions of {:?}{} and {:?}{} differ (they must be equal, or the right operand a single matrix with an untransposed left one)",
            a.shape,
            t(ta),
            b.shape,
            t(tb)
        );
    }
    Tensor::from_parts(out, out_shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use unstuck_test_support::threads::with_threads;

    fn fill<T: Element>(n: usize, k: usize) -> Vec<T> {
        (0..n)
            .map(|i| T::from_f64(((i * k) % 97) as f64 / 48.0 - 1.0))
            .collect()
    }

    fn operand_of(used: (usize, usize), transposed: bool) -> Operand {
        let (rows, cols) = if transposed { (used.1, used.0) } else { used };
        Operand {
            rows,
            cols,
            transposed,
        }
    }

    /// Shapes of the networks we train (784-256-256-10 and 64-128-128-10 products with
    /// every transpose), odd sizes around faer's tiles (24 x 4), depth blocks (512) and
    /// our row blocks, and matrix-vector products, all above the parallel threshold but one.
    const SHAPES: [(usize, usize, usize); 9] = [
        (128, 784, 256),
        (256, 128, 784),
        (128, 256, 10),
        (64, 128, 128),
        (97, 1031, 53),
        (301, 67, 29),
        (1, 4000, 300),
        (3000, 200, 1),
        (5, 7, 3),
    ];

    fn check_same_bits_on_one_and_two_threads<T: Element>() {
        for (m, k, n) in SHAPES {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                let (ad, bd) = (operand_of((m, k), ta), operand_of((k, n), tb));
                let (a, b): (Vec<T>, Vec<T>) = (fill(m * k, 37), fill(k * n, 53));
                let start: Vec<T> = fill(m * n, 11);
                let run = |accumulate: bool| {
                    let mut out = start.clone();
                    gemm(&a, ad, &b, bd, &mut out, accumulate);
                    out.iter().map(|x| x.to_f64().to_bits()).collect::<Vec<_>>()
                };
                for accumulate in [false, true] {
                    let one = with_threads(1, || run(accumulate));
                    assert_eq!(
                        one,
                        with_threads(2, || run(accumulate)),
                        "{m}x{k}x{n} ta={ta} tb={tb} accumulate={accumulate}: 1 and 2 threads differ"
                    );
                    assert_eq!(one, with_threads(3, || run(accumulate)), "3 threads differ");
                }
                // And the product is right: against a plain triple loop in f64.
                let mut out = start.clone();
                with_threads(2, || gemm(&a, ad, &b, bd, &mut out, true));
                let at = |x: &[T], d: Operand, i: usize, j: usize| {
                    if d.transposed {
                        x[j * d.cols + i].to_f64()
                    } else {
                        x[i * d.cols + j].to_f64()
                    }
                };
                // The usual bound of a dot product: depth x epsilon x sum of |a_p b_p|.
                let eps = if std::mem::size_of::<T>() == 4 {
                    f64::from(f32::EPSILON)
                } else {
                    f64::EPSILON
                };
                for (i, j) in [(0, 0), (m - 1, n - 1), (m / 2, n / 3)] {
                    let terms = (0..k).map(|p| at(&a, ad, i, p) * at(&b, bd, p, j));
                    let want = start[i * n + j].to_f64() + terms.clone().sum::<f64>();
                    let scale = start[i * n + j].to_f64().abs() + terms.map(f64::abs).sum::<f64>();
                    let got = out[i * n + j].to_f64();
                    assert!(
                        (got - want).abs() <= 2.0 * (k + 1) as f64 * eps * scale,
                        "{m}x{k}x{n} ta={ta} tb={tb} ({i}, {j}): {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn products_are_the_same_bits_on_one_two_and_three_threads_f32() {
        check_same_bits_on_one_and_two_threads::<f32>();
    }

    #[test]
    fn products_are_the_same_bits_on_one_two_and_three_threads_f64() {
        check_same_bits_on_one_and_two_threads::<f64>();
    }
}

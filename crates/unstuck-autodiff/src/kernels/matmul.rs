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
/// Blocks of a parallel product start at multiples of this many rows or columns (whole
/// SIMD registers of f32 and f64 on AVX2 and AVX-512).
const BLOCK_ALIGN: usize = 16;
/// The fewest rows or columns in a block of a parallel product.
const MIN_BLOCK: usize = 64;

/// `out = op(a) · op(b)` (or `out += ...` when `accumulate`), row-major.
///
/// On one thread the product is one call to faer. With more, a large product is cut
/// into one block of output rows (or columns) per thread, each computed by faer on its
/// own thread. faer computes every entry the same way wherever it sits in the output
/// (the depth is cut in fixed blocks of 512, each summed in order), so the bits do not
/// depend on the cut nor on the thread count; `a_product_is_the_same_bits_however_it_is_cut`
/// checks it on the shapes we use.
///
/// faer also does the small products. On those of one Hessian-vector product of a
/// 32-48-24-8 tanh MLP on 256 examples (1.17M 4-lane multiply-adds in 22 products such
/// as 256 x 32 x 48 and depth-256 weight gradients), faer's kernel spends about 1.7
/// instructions per multiply-add and its dispatch and packing about 0.7 more (2.8M
/// instructions in all, callgrind). Two replacements gave the same bits but more work:
/// a hand-written AVX2+FMA kernel on `pulp` (4 x 8 and 6 x 8 register blocks over packed
/// panels, 3.7M instructions, about a third slower) and the `matrixmultiply` crate
/// (3.1M, about a tenth slower).
pub(crate) fn gemm<T: Element>(
    a: &[T],
    ad: Operand,
    b: &[T],
    bd: Operand,
    out: &mut [T],
    accumulate: bool,
) {
    let (m, k) = ad.used();
    let n = bd.used().1;
    let parts = if m * n * k >= PARALLEL_MATMUL_WORK {
        rayon::current_num_threads()
    } else {
        1
    };
    product(a, ad, b, bd, out, accumulate, parts);
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
    product(a, ad, b, bd, out, accumulate, 1);
}

fn product<T: Element>(
    a: &[T],
    ad: Operand,
    b: &[T],
    bd: Operand,
    out: &mut [T],
    accumulate: bool,
    parts: usize,
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
    match (T::as_typed(a), T::as_typed(b), T::as_typed_mut(out)) {
        (ElementSlice::F32(x), ElementSlice::F32(y), ElementSliceMut::F32(dst)) => {
            typed_gemm(x, ad, y, bd, dst, accumulate, parts)
        }
        (ElementSlice::F64(x), ElementSlice::F64(y), ElementSliceMut::F64(dst)) => {
            typed_gemm(x, ad, y, bd, dst, accumulate, parts)
        }
        _ => unreachable!("one element type for all three slices"),
    }
}

fn operand<E: faer::traits::RealField>(data: &[E], d: Operand) -> MatRef<'_, E> {
    let m = MatRef::from_row_major_slice(data, d.rows, d.cols);
    if d.transposed { m.transpose() } else { m }
}

/// Where `len` rows (or columns) are cut into at most `parts` blocks, each at least
/// about [`MIN_BLOCK`] long, starting at multiples of [`BLOCK_ALIGN`].
fn cuts(len: usize, parts: usize) -> Vec<usize> {
    let blocks = parts.min(len / MIN_BLOCK).max(1);
    let mut bounds: Vec<usize> = (0..blocks)
        .map(|i| (i * len / blocks + BLOCK_ALIGN / 2) / BLOCK_ALIGN * BLOCK_ALIGN)
        .collect();
    bounds.push(len);
    bounds
}

/// The product on faer, whole or in `parts` blocks on rayon's threads.
///
/// The blocks cut the output along the side whose operand is smaller to pack again: by
/// rows (each block reads all of `op(b)`) when `op(b)` is the smaller operand, else by
/// columns.
///
/// faer's own parallel kernel (`Par::Rayon`) packs each operand once for all threads and
/// gives the same bits on any thread count for products with more than one output row and
/// column (tried on the shapes of the tests), but its threads wait for each other by
/// spinning: on this project's shared 2-core machine, with other processes running, a
/// 784-256-256-10 step on 2 threads took about twice as long with it as with this cut,
/// and on a quiet machine it was not measurably faster. Its matrix-vector product splits
/// the depth, which changes the bits with the thread count.
fn typed_gemm<E: faer::traits::RealField + Copy>(
    a: &[E],
    ad: Operand,
    b: &[E],
    bd: Operand,
    out: &mut [E],
    accumulate: bool,
    parts: usize,
) {
    let (lhs, rhs) = (operand(a, ad), operand(b, bd));
    let (m, n) = (lhs.nrows(), rhs.ncols());
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    let dst = MatMut::from_row_major_slice_mut(out, m, n);
    let one_thread = |lhs: MatRef<'_, E>, rhs: MatRef<'_, E>, dst: MatMut<'_, E>| {
        faer_matmul(dst, accum, lhs, rhs, E::one_impl(), Par::Seq);
    };
    if parts <= 1 {
        // Most products (every small one) end here: no cut to compute or allocate.
        return one_thread(lhs, rhs, dst);
    }
    let by_rows = n <= m;
    let bounds = cuts(if by_rows { m } else { n }, parts);
    if bounds.len() <= 2 {
        return one_thread(lhs, rhs, dst);
    }
    let mut blocks = Vec::with_capacity(bounds.len() - 1);
    let mut rest = dst;
    for w in bounds.windows(2).rev() {
        let (start, len) = (w[0], w[1] - w[0]);
        let (head, block) = if by_rows {
            rest.split_at_row_mut(start)
        } else {
            rest.split_at_col_mut(start)
        };
        let (l, r) = if by_rows {
            (lhs.subrows(start, len), rhs)
        } else {
            (lhs, rhs.subcols(start, len))
        };
        blocks.push((l, r, block));
        rest = head;
    }
    blocks
        .into_par_iter()
        .for_each(|(l, r, block)| one_thread(l, r, block));
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
    let mut out = buffers::overwritten(out_shape.numel());
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
    /// our row blocks, matrix-vector products and products of two output rows or
    /// columns, all above the parallel threshold but one.
    const SHAPES: [(usize, usize, usize); 11] = [
        (128, 784, 256),
        (256, 128, 784),
        (128, 256, 10),
        (64, 128, 128),
        (97, 1031, 53),
        (301, 67, 29),
        (1, 4000, 300),
        (3000, 200, 1),
        (2, 2500, 900),
        (900, 2500, 2),
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

    fn check_same_bits_however_cut<T: Element>() {
        for (m, k, n) in SHAPES.into_iter().chain([(130, 600, 70), (50, 1100, 200)]) {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                let (ad, bd) = (operand_of((m, k), ta), operand_of((k, n), tb));
                let (a, b): (Vec<T>, Vec<T>) = (fill(m * k, 37), fill(k * n, 53));
                let start: Vec<T> = fill(m * n, 11);
                for accumulate in [false, true] {
                    let run = |parts: usize| {
                        let mut out = start.clone();
                        product(&a, ad, &b, bd, &mut out, accumulate, parts);
                        out.iter().map(|x| x.to_f64().to_bits()).collect::<Vec<_>>()
                    };
                    let whole = run(1);
                    for parts in [2, 3, 5] {
                        assert_eq!(
                            whole,
                            run(parts),
                            "{m}x{k}x{n} ta={ta} tb={tb} accumulate={accumulate}: {parts} blocks differ from one"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_product_is_the_same_bits_however_it_is_cut() {
        check_same_bits_however_cut::<f32>();
        check_same_bits_however_cut::<f64>();
    }

    #[test]
    fn cuts_are_aligned_and_cover_everything() {
        assert_eq!(cuts(128, 2), vec![0, 64, 128]);
        assert_eq!(cuts(256, 3), vec![0, 80, 176, 256]);
        assert_eq!(cuts(130, 2), vec![0, 64, 130]);
        assert_eq!(cuts(100, 4), vec![0, 100]);
        assert_eq!(cuts(0, 2), vec![0, 0]);
    }

    #[test]
    fn a_recycled_output_buffer_full_of_nan_is_overwritten() {
        let (a, b): (Vec<f32>, Vec<f32>) = (fill(128 * 70, 37), fill(70 * 40, 53));
        let a = Tensor::new(a, &[128, 70]).expect("fills the shape");
        let b = Tensor::new(b, &[70, 40]).expect("fills the shape");
        let clean = matmul(a.view(), b.view(), false, false);
        buffers::give(vec![f32::NAN; 128 * 40]);
        let reused = matmul(a.view(), b.view(), false, false);
        assert_eq!(clean.data(), reused.data());
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

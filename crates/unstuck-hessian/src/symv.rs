//! `y = A x` for a symmetric matrix stored in its lower triangle: the memory-bound half of
//! the blocked tridiagonalisation ([`crate::householder`]).
//!
//! Each column is read once and used twice, for the part of `y` below the diagonal (an
//! axpy) and for the diagonal entry (a dot product), eight columns at a time so that `y` is
//! loaded and stored once per eight columns and eight independent FMA chains hide the
//! latency of the dot products, in pulp's SIMD registers (AVX2+FMA when the CPU has them).
//! Eight rather than four columns took the n = 2000 reduction's sweep of products from
//! about 1.8x to about 1.35x OpenBLAS's `dsymv` in CPU time (1 thread, interleaved, load 6-7). The sums' order is fixed by the instruction set and the size: the same
//! machine always gives the same bits (like faer, another CPU family may differ in the last
//! bits).
//! Large products are split into [`SYMV_PARTS`] column ranges of equal area, each summed
//! into its own vector and the vectors added in index order: the result does not depend on
//! the number of threads.

use faer::traits::pulp::{Simd, WithSimd};
use rayon::prelude::*;

/// Column ranges of a large product, whatever the number of threads (part of the result's
/// definition, like [`crate::EIGEN_SPLIT`]).
const SYMV_PARTS: usize = 8;
/// Below this dimension one part does it all: the extra vectors would cost more than the
/// parallelism saves.
const SYMV_PARALLEL_MIN: usize = 512;

/// A lower-stored symmetric `dim x dim` matrix: entry `(i, j)`, `i >= j`, at
/// `data[j * ld + i]`.
#[derive(Clone, Copy)]
pub(crate) struct LowerSymmetric<'a> {
    pub data: &'a [f64],
    pub ld: usize,
    pub dim: usize,
}

/// Writes `A x` into `y` (both of length `A.dim`); `parts` is scratch, reused across calls.
pub(crate) fn lower_symv(a: LowerSymmetric<'_>, x: &[f64], y: &mut [f64], parts: &mut Vec<f64>) {
    let m = a.dim;
    debug_assert!(x.len() == m && y.len() == m);
    y.fill(0.0);
    if m < SYMV_PARALLEL_MIN {
        vectorized(Columns {
            a,
            cols: 0..m,
            x,
            y,
        });
        return;
    }
    // Part p starts at column m (1 - sqrt(1 - p / parts)): equal shares of the triangle.
    let start = |p: usize| {
        let frac = p as f64 / SYMV_PARTS as f64;
        ((1.0 - (1.0 - frac).sqrt()) * m as f64) as usize
    };
    parts.clear();
    parts.resize(SYMV_PARTS * m, 0.0);
    parts.par_chunks_mut(m).enumerate().for_each(|(p, part)| {
        vectorized(Columns {
            a,
            cols: start(p)..start(p + 1),
            x,
            y: part,
        })
    });
    for part in parts.chunks_exact(m) {
        for (yi, pi) in y.iter_mut().zip(part) {
            *yi += pi;
        }
    }
}

/// Runs `op` compiled for AVX2+FMA when the CPU has them (values never depend on it).
///
/// A struct with an `#[inline(always)]` `with_simd`, not a closure: a closure's body stays
/// a function of its own, compiled for the baseline, where `mul_add` is a libm call.
#[inline(always)]
fn vectorized(op: Columns<'_, '_>) {
    faer::traits::pulp::Arch::new().dispatch(op)
}

/// One call of [`symv_columns`], as a unit of work for [`vectorized`].
struct Columns<'a, 'y> {
    a: LowerSymmetric<'a>,
    cols: std::ops::Range<usize>,
    x: &'a [f64],
    y: &'y mut [f64],
}

impl WithSimd for Columns<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        symv_columns(simd, self.a, self.cols, self.x, self.y);
    }
}

/// Adds the contribution of columns `cols` of `a` times `x` to `y`.
#[inline(always)]
fn symv_columns<S: Simd>(
    simd: S,
    a: LowerSymmetric<'_>,
    cols: std::ops::Range<usize>,
    x: &[f64],
    y: &mut [f64],
) {
    let mut j = cols.start;
    while j + WIDE <= cols.end {
        column_block::<S, WIDE>(simd, a, j, x, y);
        j += WIDE;
    }
    while j + NARROW <= cols.end {
        column_block::<S, NARROW>(simd, a, j, x, y);
        j += NARROW;
    }
    for j in j..cols.end {
        let c = &a.data[j * a.ld..j * a.ld + a.dim];
        y[j] = c[j].mul_add(x[j], y[j]);
        let mut dot = 0.0;
        for ((yi, ci), xi) in y[j + 1..].iter_mut().zip(&c[j + 1..]).zip(&x[j + 1..]) {
            *yi = ci.mul_add(x[j], *yi);
            dot = ci.mul_add(*xi, dot);
        }
        y[j] += dot;
    }
}

/// Columns per step of the main loop: each pass over a row block of `y` (a load and a
/// store) serves this many columns, and their dot products are independent FMA chains.
const WIDE: usize = 8;
/// Columns per step for what is left of a range after the wide steps.
const NARROW: usize = 4;

/// Columns `j..j + K`: the `K x K` triangle on the diagonal, then the rows below it.
#[inline(always)]
fn column_block<S: Simd, const K: usize>(
    simd: S,
    a: LowerSymmetric<'_>,
    j: usize,
    x: &[f64],
    y: &mut [f64],
) {
    let (m, ld) = (a.dim, a.ld);
    let c: [&[f64]; K] = std::array::from_fn(|q| &a.data[(j + q) * ld..(j + q) * ld + m]);
    for q in 0..K {
        y[j + q] = c[q][j + q].mul_add(x[j + q], y[j + q]);
        for p in q + 1..K {
            y[j + p] = c[q][j + p].mul_add(x[j + q], y[j + p]);
            y[j + q] = c[q][j + p].mul_add(x[j + p], y[j + q]);
        }
    }
    let dots: [f64; K] = columns_below(
        simd,
        std::array::from_fn(|q| &c[q][j + K..]),
        std::array::from_fn(|q| x[j + q]),
        &x[j + K..],
        &mut y[j + K..],
    );
    for q in 0..K {
        y[j + q] += dots[q];
    }
}

/// `y += sum_q c[q] * xc[q]` and returns `[c[q] . x]`, for `K` columns of equal length,
/// in the SIMD registers of `simd` (4 lanes with AVX2; the lane sums are pulp's fixed
/// reduction).
#[inline(always)]
fn columns_below<S: Simd, const K: usize>(
    simd: S,
    c: [&[f64]; K],
    xc: [f64; K],
    x: &[f64],
    y: &mut [f64],
) -> [f64; K] {
    let (y_body, y_tail) = S::as_mut_simd_f64s(y);
    let (x_body, x_tail) = S::as_simd_f64s(x);
    let rows = y_body.len();
    let x_body = &x_body[..rows];
    let split: [(&[S::f64s], &[f64]); K] = std::array::from_fn(|q| S::as_simd_f64s(c[q]));
    let body: [&[S::f64s]; K] = std::array::from_fn(|q| &split[q].0[..rows]);
    let xs = xc.map(|v| simd.splat_f64s(v));
    let mut acc = [simd.splat_f64s(0.0); K];
    for r in 0..rows {
        let xk = x_body[r];
        let mut yv = y_body[r];
        for q in 0..K {
            let cq = body[q][r];
            yv = simd.mul_add_f64s(cq, xs[q], yv);
            acc[q] = simd.mul_add_f64s(cq, xk, acc[q]);
        }
        y_body[r] = yv;
    }
    let mut dots = acc.map(|a| simd.reduce_sum_f64s(a));
    for (i, (yi, xi)) in y_tail.iter_mut().zip(x_tail).enumerate() {
        for q in 0..K {
            let cq = split[q].1[i];
            *yi = cq.mul_add(xc[q], *yi);
            dots[q] = cq.mul_add(*xi, dots[q]);
        }
    }
    dots
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain double loop over the full symmetric matrix.
    fn reference(n: usize, full: &[f64], x: &[f64]) -> Vec<f64> {
        (0..n)
            .map(|i| (0..n).map(|j| full[j * n + i] * x[j]).sum())
            .collect()
    }

    #[test]
    fn matches_the_full_product_at_every_size_and_offset() {
        // Sizes around the 4-column and 4-lane steps and across the parallel threshold;
        // ld > dim checks the stride. Entries are small integers over 8, so every product
        // and partial sum is exact and any misplaced term shows.
        for n in [1, 2, 3, 4, 5, 7, 8, 9, 13, 17, 64, 130, 515, 600] {
            let ld = n + 3;
            let entry = |i: usize, j: usize| ((i.max(j) * 7 + i.min(j) * 3) % 11) as f64 / 8.0;
            let mut data = vec![f64::NAN; ld * n];
            for j in 0..n {
                for i in j..n {
                    data[j * ld + i] = entry(i, j);
                }
            }
            let full: Vec<f64> = (0..n * n).map(|k| entry(k % n, k / n)).collect();
            let x: Vec<f64> = (0..n).map(|i| ((i * 5) % 9) as f64 - 4.0).collect();
            let a = LowerSymmetric {
                data: &data,
                ld,
                dim: n,
            };
            let mut y = vec![0.0; n];
            lower_symv(a, &x, &mut y, &mut Vec::new());
            assert_eq!(y, reference(n, &full, &x), "n = {n}");
        }
    }
}

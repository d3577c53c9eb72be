//! Blocked Householder tridiagonalisation `A = Q T Q^T` (LAPACK's `dsytrd` with `dlatrd`
//! panels), the first and most expensive stage of the dense eigensolver.
//!
//! faer 0.24 reduces one column at a time, reading and writing the whole trailing matrix
//! for every column. Here a panel of [`PANEL`] columns is reduced with matrix-vector work
//! against the panel's `W` (one read of the trailing lower triangle per column, in
//! [`crate::symv`]), and the trailing matrix is then updated once per panel,
//! `A22 -= V W^T + W V^T`, as matrix products (faer's gemm): half of the flops move from
//! memory-bound to compute-bound work.
//!
//! The reflectors are stored as faer stores them (the essential parts below the
//! sub-diagonal of the reduced matrix, faer's `tau` convention `H = I - v v^T / tau`), so
//! faer's tridiagonal solver and its blocked Householder product finish the job
//! ([`crate::eigen`]). Every parallel loop runs over chunks fixed by the size alone.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::householder::{
    apply_block_householder_sequence_on_the_left_in_place_scratch,
    apply_block_householder_sequence_on_the_left_in_place_with_conj, make_householder_in_place,
};
use faer::linalg::matmul::matmul;
use faer::prelude::{Reborrow, ReborrowMut};
use faer::{Accum, ColMut, Conj, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::symv::{LowerSymmetric, lower_symv};

/// Columns per panel. 32 keeps a panel of a 3000 x 3000 matrix (768 KiB) in a 1 MiB L2
/// while the trailing update's products are 64 deep.
pub(crate) const PANEL: usize = 32;
/// Columns of the trailing matrix per parallel task in the rank-2k update.
const UPDATE_COLUMNS: usize = 64;

/// `A = Q T Q^T` for a symmetric `A`: `T` by its diagonals, `Q` by its reflectors.
pub(crate) struct Tridiagonalized {
    /// Column-major `n x n`: reflector `k` is `[1, a[k + 2.., k]]` acting on rows `k + 1..`.
    pub reflectors: Vec<f64>,
    /// faer's `tau` of each reflector (`H_k = I - v v^T / tau_k`; infinite for `H_k = I`).
    pub tau: Vec<f64>,
    pub diag: Vec<f64>,
    /// Length `n`, the last entry zero (faer's layout for the sub-diagonal).
    pub offdiag: Vec<f64>,
}

/// Reduces the symmetric `n x n` matrix `matrix` (column-major; only the lower triangle is
/// read) to tridiagonal form.
pub(crate) fn tridiagonalize(n: usize, matrix: &[f64]) -> Tridiagonalized {
    assert_eq!(matrix.len(), n * n, "an n x n matrix");
    let mut a = matrix.to_vec();
    let mut tau = vec![f64::INFINITY; n.saturating_sub(1)];
    let mut offdiag = vec![0.0; n];
    let mut w = vec![0.0; n * (PANEL + 1)];
    let mut parts = Vec::new();
    let mut first = 0;
    while first < n {
        let m = n - first;
        let last_panel = m <= PANEL + 1;
        let cols = if last_panel { m } else { PANEL };
        let mut panel = Panel {
            a: &mut a[first * n + first..],
            ld: n,
            dim: m,
            w: &mut w,
            ldw: n,
        };
        panel.reduce(
            cols,
            &mut offdiag[first..first + cols],
            &mut tau[first..],
            &mut parts,
        );
        if !last_panel {
            panel.update_trailing(cols);
        }
        for k in first..(first + cols).min(n - 1) {
            a[k * n + k + 1] = offdiag[k];
        }
        first += cols;
    }
    let diag = (0..n).map(|k| a[k * n + k]).collect();
    Tridiagonalized {
        reflectors: a,
        tau,
        diag,
        offdiag,
    }
}

/// Reflectors per block of the back-transform. 128 rather than faer's 64 makes each block's
/// two products deeper (fewer passes over `U`): at n = 2000 on 1 thread the back-transform
/// took 0.59-0.66 s of CPU against 0.78-0.82 s with 64 (interleaved, load 7-11); 256 was
/// no better. Part of the result's definition for n >= [`crate::BLOCKED_MIN_DIM`].
const FACTOR_BLOCK: usize = 128;

impl Tridiagonalized {
    /// `U <- Q U` for the `n x n` matrix `u` (the eigenvectors of `T` become those of `A`),
    /// by faer's blocked Householder product (which splits its work by `par` alone).
    pub(crate) fn apply_q(&self, mut u: MatMut<'_, f64>, par: Par) {
        let n = self.diag.len();
        if n < 2 {
            return;
        }
        // Reflector k acts on rows k + 1..: the basis is the block below the diagonal.
        let basis =
            MatRef::from_column_major_slice_with_stride(&self.reflectors[1..], n - 1, n - 1, n);
        let factor = self.block_factor(basis, par);
        let mut scratch = MemBuffer::new(
            apply_block_householder_sequence_on_the_left_in_place_scratch::<f64>(
                n - 1,
                FACTOR_BLOCK,
                n,
            ),
        );
        apply_block_householder_sequence_on_the_left_in_place_with_conj(
            basis,
            factor.as_ref(),
            Conj::No,
            u.rb_mut().subrows_mut(1, n - 1),
            par,
            MemStack::new(&mut scratch),
        );
    }

    /// faer's block factors: for the reflectors `q..q + b` of a block, the upper triangular
    /// `T` with `H_q ... H_{q+b-1} = I - V T^{-1} V^T`, i.e. `tau` on the diagonal and
    /// `V^T V` above it (`V` unit lower trapezoidal).
    fn block_factor(&self, basis: MatRef<'_, f64>, par: Par) -> Mat<f64> {
        let size = basis.ncols();
        let mut factor = Mat::<f64>::zeros(FACTOR_BLOCK, size);
        for q in (0..size).step_by(FACTOR_BLOCK) {
            let b = FACTOR_BLOCK.min(size - q);
            let mut block = factor.as_mut().submatrix_mut(0, q, b, b);
            // The rectangular part below the block's unit triangle, as one product...
            let below = basis.submatrix(q + b, q, size - q - b, b);
            matmul(
                block.rb_mut(),
                Accum::Replace,
                below.transpose(),
                below,
                1.0,
                par,
            );
            // ...then the triangle itself, and tau on the diagonal.
            for s in 0..b {
                for p in 0..s {
                    let mut dot = basis[(q + s, q + p)];
                    for r in s + 1..b {
                        dot += basis[(q + r, q + p)] * basis[(q + r, q + s)];
                    }
                    block[(p, s)] += dot;
                }
                block[(s, s)] = self.tau[q + s];
            }
        }
        factor
    }
}

/// The trailing `dim x dim` block of the matrix being reduced (at its top-left corner) and
/// the panel's `W` (`dim x cols`, leading dimension `ldw`).
struct Panel<'a> {
    a: &'a mut [f64],
    ld: usize,
    dim: usize,
    w: &'a mut [f64],
    ldw: usize,
}

impl Panel<'_> {
    /// Reduces the first `cols` columns (DLATRD, lower): column `i` is brought up to date
    /// with the panel's earlier reflectors, its reflector made (the unit is written at
    /// `(i + 1, i)`, the sub-diagonal entry returned in `offdiag[i]`), and `W[:, i]` built
    /// so that the panel's reflectors act on the trailing block as `A - V W^T - W V^T`.
    fn reduce(&mut self, cols: usize, offdiag: &mut [f64], tau: &mut [f64], parts: &mut Vec<f64>) {
        let (m, ld, ldw) = (self.dim, self.ld, self.ldw);
        let mut t1 = vec![0.0; cols];
        let mut t2 = vec![0.0; cols];
        for i in 0..cols {
            let (left, right) = self.a.split_at_mut(i * ld);
            let (w_left, w_right) = self.w.split_at_mut(i * ldw);
            let v_prev = MatRef::from_column_major_slice_with_stride(left, m, i, ld);
            let w_prev = MatRef::from_column_major_slice_with_stride(w_left, m, i, ldw);
            // a[i.., i] -= V[i.., :i] W[i, :i]^T + W[i.., :i] V[i, :i]^T
            if i > 0 {
                let mut col = MatMut::from_column_major_slice_mut(&mut right[i..m], m - i, 1);
                let v_row = v_prev.row(i).transpose().as_mat();
                let w_row = w_prev.row(i).transpose().as_mat();
                matmul(
                    col.rb_mut(),
                    Accum::Add,
                    v_prev.subrows(i, m - i),
                    w_row,
                    -1.0,
                    Par::Seq,
                );
                matmul(
                    col.rb_mut(),
                    Accum::Add,
                    w_prev.subrows(i, m - i),
                    v_row,
                    -1.0,
                    Par::Seq,
                );
            }
            if i + 1 == m {
                break;
            }
            let (col, trailing) = right.split_at_mut(ld);
            let (head, tail) = col[i + 1..m].split_first_mut().expect("i + 1 < m");
            let info = make_householder_in_place(head, ColMut::from_slice_mut(tail));
            offdiag[i] = *head;
            *head = 1.0;
            tau[i] = info.tau;
            let scale = info.tau.recip();
            let v = &col[i + 1..m];
            let len = m - i - 1;
            let w_col = &mut w_right[i + 1..m];
            let trailing = LowerSymmetric {
                data: &trailing[i + 1..],
                ld,
                dim: len,
            };
            lower_symv(trailing, v, w_col, parts);
            if i > 0 {
                let v_mat = MatRef::from_column_major_slice(v, len, 1);
                let (v_below, w_below) = (v_prev.subrows(i + 1, len), w_prev.subrows(i + 1, len));
                let mut t1 = MatMut::from_column_major_slice_mut(&mut t1[..i], i, 1);
                let mut t2 = MatMut::from_column_major_slice_mut(&mut t2[..i], i, 1);
                matmul(
                    t1.rb_mut(),
                    Accum::Replace,
                    w_below.transpose(),
                    v_mat,
                    1.0,
                    Par::Seq,
                );
                matmul(
                    t2.rb_mut(),
                    Accum::Replace,
                    v_below.transpose(),
                    v_mat,
                    1.0,
                    Par::Seq,
                );
                let mut w_mat = MatMut::from_column_major_slice_mut(w_col, len, 1);
                matmul(w_mat.rb_mut(), Accum::Add, v_below, t1.rb(), -1.0, Par::Seq);
                matmul(w_mat.rb_mut(), Accum::Add, w_below, t2.rb(), -1.0, Par::Seq);
            }
            let mut dot = 0.0;
            for (wk, vk) in w_col.iter_mut().zip(v) {
                *wk *= scale;
                dot += *wk * vk;
            }
            let alpha = -0.5 * scale * dot;
            for (wk, vk) in w_col.iter_mut().zip(v) {
                *wk += alpha * vk;
            }
        }
    }

    /// `A22 -= V2 W2^T + W2 V2^T` on the lower triangle of the block below and right of the
    /// panel's `cols` columns, as one product `[V2 W2] [W2 V2]^T` per column block.
    fn update_trailing(&mut self, cols: usize) {
        let (m, ld, ldw) = (self.dim, self.ld, self.ldw);
        let rest = m - cols;
        // u = [V2 | W2], z = [W2 | V2], both rest x 2 cols, contiguous.
        let mut u = vec![0.0; rest * 2 * cols];
        let mut z = vec![0.0; rest * 2 * cols];
        for k in 0..cols {
            let v = &self.a[k * ld + cols..k * ld + m];
            let w = &self.w[k * ldw + cols..k * ldw + m];
            u[k * rest..(k + 1) * rest].copy_from_slice(v);
            u[(cols + k) * rest..(cols + k + 1) * rest].copy_from_slice(w);
            z[k * rest..(k + 1) * rest].copy_from_slice(w);
            z[(cols + k) * rest..(cols + k + 1) * rest].copy_from_slice(v);
        }
        let u = MatRef::from_column_major_slice(&u, rest, 2 * cols);
        let z = MatRef::from_column_major_slice(&z, rest, 2 * cols);
        self.a[cols * ld..]
            .par_chunks_mut(UPDATE_COLUMNS * ld)
            .enumerate()
            .for_each(|(block, chunk)| {
                let c = block * UPDATE_COLUMNS;
                let width = UPDATE_COLUMNS.min(rest - c);
                let dst = MatMut::from_column_major_slice_with_stride_mut(
                    &mut chunk[cols + c..],
                    rest - c,
                    width,
                    ld,
                );
                matmul(
                    dst,
                    Accum::Add,
                    u.subrows(c, rest - c),
                    z.subrows(c, width).transpose(),
                    -1.0,
                    Par::Seq,
                );
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Q^T A Q` rebuilt from the reflectors, column-major.
    fn apply_reflectors(n: usize, t: &Tridiagonalized, matrix: &[f64]) -> Vec<f64> {
        let mut b = matrix.to_vec();
        // Q = H_0 H_1 ... ; Q^T A Q = ... H_1 H_0 A H_0 H_1 ...
        for k in 0..n.saturating_sub(1) {
            let mut v = vec![0.0; n];
            v[k + 1] = 1.0;
            v[k + 2..n].copy_from_slice(&t.reflectors[k * n + k + 2..k * n + n]);
            let s = t.tau[k].recip();
            // B <- H B H with H = I - s v v^T.
            for j in 0..n {
                let d: f64 = (0..n).map(|i| v[i] * b[j * n + i]).sum();
                for i in 0..n {
                    b[j * n + i] -= s * d * v[i];
                }
            }
            for i in 0..n {
                let d: f64 = (0..n).map(|j| b[j * n + i] * v[j]).sum();
                for j in 0..n {
                    b[j * n + i] -= s * d * v[j];
                }
            }
        }
        b
    }

    #[test]
    fn reflectors_reduce_the_matrix_to_the_returned_tridiagonal() {
        // Sizes below, at and across panels (PANEL + 1 is the single-panel edge, and 100
        // needs the trailing update three times).
        for n in [1, 2, 3, PANEL, PANEL + 1, PANEL + 2, 2 * PANEL + 5, 100] {
            let matrix: Vec<f64> = (0..n * n)
                .map(|k| {
                    let (i, j) = (k % n, k / n);
                    let (a, b) = (i.min(j), i.max(j));
                    (((a * 13 + b * 7) % 17) as f64 - 8.0) / 5.0
                })
                .collect();
            let t = tridiagonalize(n, &matrix);
            let b = apply_reflectors(n, &t, &matrix);
            // Entries O(1), n <= 100 reflectors of O(n) flops each: rounding stays
            // far below 1e-11, while a wrong W or a skipped update is O(1).
            for j in 0..n {
                for i in 0..n {
                    let want = if i == j {
                        t.diag[i]
                    } else if i == j + 1 {
                        t.offdiag[j]
                    } else if j == i + 1 {
                        t.offdiag[i]
                    } else {
                        0.0
                    };
                    let got = b[j * n + i];
                    assert!(
                        (got - want).abs() < 1e-11,
                        "n {n} ({i},{j}): {got} vs {want}"
                    );
                }
            }
        }
    }
}

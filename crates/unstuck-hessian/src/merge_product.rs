//! The last step of a divide-and-conquer merge: `U <- diag(U0, U1) W`, where `W` holds the
//! eigenvectors of the deflated rank-one update (`divide_conquer.rs`).
//!
//! Most columns of `W` are unit vectors (deflated eigenvalues keep a column of `U0` or
//! `U1`), and the others are zero on every deflated row. As in LAPACK's `dlaed3`, the unit
//! columns are copied and the rest are built only on the rows where they can be nonzero
//! (the non-deflated rows and those a deflating rotation touched), ordered top half first,
//! so that the merge is two products `U0[:, top rows] W_top` and `U1[:, bottom rows]
//! W_bottom` over those rows and columns only.

use faer::linalg::matmul::matmul;
use faer::reborrow::ReborrowMut;
use faer::{Accum, Mat, MatMut, Par};

use crate::divide_conquer::Update;

/// The computed roots of the secular equation and the rebuilt weights.
pub(crate) struct Roots<'a> {
    /// Gu and Eisenstat's weights of the non-deflated poles.
    pub z: &'a [f64],
    pub shifts: &'a [f64],
    pub mus: &'a [f64],
}

/// Overwrites `u` (whose diagonal blocks hold `U0` and `U1`) with the merged eigenvectors:
/// column `j` belongs to root `sorted[j]`; `order` takes a sorted row back to the halves'.
pub(crate) fn multiply_into_halves(
    mut u: MatMut<'_, f64>,
    n1: usize,
    order: &[usize],
    update: &Update,
    roots: &Roots<'_>,
    sorted: &[usize],
    par: Par,
) {
    let n = u.nrows();
    let k = update.non_deflated;
    let mut rotated = vec![false; n];
    for &(p, j, _, _) in &update.rotations {
        rotated[p] = true;
        rotated[j] = true;
    }
    let mut in_rows = rotated.clone();
    for &q in &update.row[..k] {
        in_rows[q] = true;
    }
    let rows: Vec<usize> = (0..n)
        .filter(|&q| in_rows[q] && order[q] < n1)
        .chain((0..n).filter(|&q| in_rows[q] && order[q] >= n1))
        .collect();
    let n_top = rows.iter().filter(|&&q| order[q] < n1).count();
    let mut position = vec![usize::MAX; n];
    for (t, &q) in rows.iter().enumerate() {
        position[q] = t;
    }
    let (dense, copied): (Vec<usize>, Vec<usize>) =
        (0..n).partition(|&j| sorted[j] < k || rotated[update.row[sorted[j]]]);
    let w = compact_eigenvectors(update, roots, sorted, &dense, &position, rows.len());

    let lhs_top = Mat::from_fn(n1, n_top, |i, t| u[(i, order[rows[t]])]);
    let lhs_bottom = Mat::from_fn(n - n1, rows.len() - n_top, |i, t| {
        u[(n1 + i, order[rows[n_top + t]])]
    });
    let kept_columns = Mat::from_fn(n, copied.len(), |i, c| {
        let p = order[update.row[sorted[copied[c]]]];
        if (i < n1) == (p < n1) { u[(i, p)] } else { 0.0 }
    });
    let mut top = Mat::<f64>::zeros(n1, dense.len());
    let mut bottom = Mat::<f64>::zeros(n - n1, dense.len());
    if n_top > 0 {
        matmul(
            top.as_mut(),
            Accum::Replace,
            lhs_top.as_ref(),
            w.as_ref().subrows(0, n_top),
            1.0,
            par,
        );
    }
    if rows.len() > n_top {
        matmul(
            bottom.as_mut(),
            Accum::Replace,
            lhs_bottom.as_ref(),
            w.as_ref().subrows(n_top, rows.len() - n_top),
            1.0,
            par,
        );
    }
    for (c, &j) in dense.iter().enumerate() {
        let mut col = u.rb_mut().col_mut(j);
        col.rb_mut().subrows_mut(0, n1).copy_from(top.col(c));
        col.subrows_mut(n1, n - n1).copy_from(bottom.col(c));
    }
    for (c, &j) in copied.iter().enumerate() {
        u.rb_mut().col_mut(j).copy_from(kept_columns.col(c));
    }
}

/// The columns `dense` of `W` on the rows `position` maps to (`n_rows` of them): unit
/// eigenvectors of the deflated update (Gu and Eisenstat's formula) or unit vectors of
/// deflated rows, then the deflating rotations undone.
fn compact_eigenvectors(
    update: &Update,
    roots: &Roots<'_>,
    sorted: &[usize],
    dense: &[usize],
    position: &[usize],
    n_rows: usize,
) -> Mat<f64> {
    let k = update.non_deflated;
    let poles = &update.poles[..k];
    let mut w = Mat::<f64>::zeros(n_rows, dense.len());
    let mut x = vec![0.0; k];
    for (c, &j) in dense.iter().enumerate() {
        let pj = sorted[j];
        let col = w
            .as_mut()
            .col_mut(c)
            .try_as_col_major_mut()
            .unwrap()
            .as_slice_mut();
        if pj >= k {
            col[position[update.row[pj]]] = 1.0;
            continue;
        }
        let (shift, mu) = (roots.shifts[pj], roots.mus[pj]);
        for ((x, &z), &d) in x.iter_mut().zip(roots.z).zip(poles) {
            *x = z / ((d - shift) - mu);
        }
        let inv_norm = sum_of_squares(&x).sqrt().recip();
        for (&x, &q) in x.iter().zip(&update.row[..k]) {
            col[position[q]] = x * inv_norm;
        }
    }
    for &(p, j, c, s) in update.rotations.iter().rev() {
        let (p, j) = (position[p], position[j]);
        for col in 0..dense.len() {
            let (wp, wj) = (w[(p, col)], w[(j, col)]);
            w[(p, col)] = c * wp - s * wj;
            w[(j, col)] = s * wp + c * wj;
        }
    }
    w
}

/// `sum x_i^2` in four interleaved partial sums (a fixed order, so that it vectorises).
fn sum_of_squares(x: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let chunks = x.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..4 {
            acc[l] += c[l] * c[l];
        }
    }
    for (l, t) in tail.iter().enumerate() {
        acc[l] += t * t;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

//! Divide and conquer for the symmetric tridiagonal eigenproblem, with vectors.
//!
//! Cuppen's scheme: split `T` at its middle off-diagonal `beta` into two halves (each corner
//! diagonal entry less `|beta|`), solve them recursively (faer's QR below [`LEAF`]), and merge
//! the two eigendecompositions through the rank-one update `D + rho z z^T`: deflate the
//! entries of `z` that are negligible and the poles that coincide, solve the secular equation
//! for the rest (`secular.rs`), rebuild orthogonal eigenvectors of the update from the
//! computed roots (Gu and Eisenstat), and multiply them into the halves' eigenvectors.
//!
//! The deflation rules, the root finder and the rebuilt `z` are ported from faer 0.24
//! (`linalg/evd/tridiag_evd.rs`, MIT licence, Sarah Quinones), specialised to `f64`. The
//! difference is the last step, where the time goes: faer multiplies `diag(U0, U1)` by the
//! whole `n x n` eigenvector matrix of the update as two dense half-size products. Like
//! LAPACK's `dlaed3`, this one copies every column that the update left a unit vector (a
//! deflated eigenvalue keeps a column of `U0` or `U1`) and multiplies the rest over the rows
//! where they are nonzero only: `U0[:, rows] * W[rows, cols]` and the same for `U1`, so a
//! merge costs `2 (n/2) k_rows k_cols` instead of `n^3 / 2` multiply-adds.

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self, ComputeEigenvectors};
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{ColRef, Mat, MatMut, MatRef, Par};

use crate::merge_product::{Roots, multiply_into_halves};
use crate::secular::secular_roots;

/// Subproblems of at most this size go to faer's implicit QR (its own default threshold).
pub(crate) const LEAF: usize = 128;

/// The QR iteration on a leaf did not converge.
#[derive(Debug)]
pub(crate) struct NoConvergence;

/// The eigenvalues (ascending) of the symmetric tridiagonal matrix with diagonal `diag` and
/// sub-diagonal `offdiag` (length `n - 1` or more, extra entries ignored), its eigenvectors
/// written into the columns of `u` (`n x n`).
pub(crate) fn tridiagonal_eigen(
    diag: &[f64],
    offdiag: &[f64],
    u: MatMut<'_, f64>,
    par: Par,
) -> Result<Vec<f64>, NoConvergence> {
    let n = diag.len();
    assert!(u.nrows() == n && u.ncols() == n, "u is n x n");
    let mut diag = diag.to_vec();
    let mut offdiag = offdiag[..n.saturating_sub(1)].to_vec();
    recurse(&mut diag, &mut offdiag, u, par)?;
    Ok(diag)
}

fn recurse(
    diag: &mut [f64],
    offdiag: &mut [f64],
    mut u: MatMut<'_, f64>,
    par: Par,
) -> Result<(), NoConvergence> {
    let n = diag.len();
    if n <= LEAF {
        return leaf(diag, offdiag, u);
    }
    let n1 = n / 2;
    let beta = offdiag[n1 - 1];
    diag[n1 - 1] -= beta.abs();
    diag[n1] -= beta.abs();
    let (diag0, diag1) = diag.split_at_mut(n1);
    let (offdiag0, rest) = offdiag.split_at_mut(n1 - 1);
    let offdiag1 = &mut rest[1..];
    let (u0, _, _, u1) = u.rb_mut().split_at_mut(n1, n1);
    let (r0, r1) = match par {
        Par::Seq => (
            recurse(diag0, offdiag0, u0, par),
            recurse(diag1, offdiag1, u1, par),
        ),
        Par::Rayon(_) => rayon::join(
            || recurse(diag0, offdiag0, u0, par),
            || recurse(diag1, offdiag1, u1, par),
        ),
    };
    r0?;
    r1?;
    merge(diag, beta, n1, u, par);
    Ok(())
}

/// faer's solver (implicit QR at this size) on one leaf.
fn leaf(diag: &mut [f64], offdiag: &[f64], u: MatMut<'_, f64>) -> Result<(), NoConvergence> {
    let n = diag.len();
    let mut values = Diag::<f64>::zeros(n);
    let mut scratch = MemBuffer::new(evd::self_adjoint_evd_scratch::<f64>(
        n,
        ComputeEigenvectors::Yes,
        Par::Seq,
        Default::default(),
    ));
    evd::tridiagonal_self_adjoint_evd(
        ColRef::from_slice(diag).as_diagonal(),
        ColRef::from_slice(offdiag).as_diagonal(),
        values.as_mut(),
        Some(u),
        Par::Seq,
        MemStack::new(&mut scratch),
        Default::default(),
    )
    .map_err(|_| NoConvergence)?;
    for (d, v) in diag.iter_mut().zip(values.column_vector().iter()) {
        *d = *v;
    }
    Ok(())
}

/// The two halves' eigenvalues, merged in ascending order, and where each came from.
fn merged_order(diag: &[f64], n1: usize) -> Vec<usize> {
    let n = diag.len();
    let (mut i, mut j) = (0, 0);
    (0..n)
        .map(|_| {
            if i == n1 || (j < n - n1 && diag[i] >= diag[n1 + j]) {
                j += 1;
                n1 + j - 1
            } else {
                i += 1;
                i - 1
            }
        })
        .collect()
}

/// The rank-one update after deflation, in the order of the sorted poles.
pub(crate) struct Update {
    /// The non-deflated poles (ascending), then the deflated ones.
    pub(crate) poles: Vec<f64>,
    /// `z` in the same order; zero for the deflated.
    pub(crate) z: Vec<f64>,
    /// For each entry of `poles`, its row in the sorted order.
    pub(crate) row: Vec<usize>,
    pub(crate) non_deflated: usize,
    /// Plane rotations `(p, j, c, s)` of the sorted rows, in the order they were made.
    pub(crate) rotations: Vec<(usize, usize, f64, f64)>,
}

/// Deflation by LAPACK's `dlaed2` rules: a weight with `rho |z_j| <= tol` is dropped, and of
/// two neighbouring poles whose rotation onto one weight leaves an off-diagonal coupling
/// `|(d_j - d_p) c s| <= tol`, the first is deflated (equal poles always are).
fn deflate(mut d: Vec<f64>, mut z: Vec<f64>, rho: f64, tol: f64) -> Update {
    let n = d.len();
    let mut kept = Vec::with_capacity(n);
    let mut deflated = Vec::new();
    let mut rotations = Vec::new();
    let mut prev: Option<usize> = None;
    for j in 0..n {
        if rho * z[j].abs() <= tol {
            z[j] = 0.0;
            deflated.push(j);
            continue;
        }
        let Some(p) = prev.replace(j) else { continue };
        let tau = z[p].hypot(z[j]);
        let c = z[j] / tau;
        let s = -z[p] / tau;
        let t = d[j] - d[p];
        if (t * c * s).abs() <= tol {
            z[j] = tau;
            z[p] = 0.0;
            let (dp, dj) = (d[p], d[j]);
            d[p] = dp * c * c + dj * s * s;
            d[j] = dp * s * s + dj * c * c;
            rotations.push((p, j, c, s));
            deflated.push(p);
        } else {
            kept.push(p);
        }
    }
    kept.extend(prev);
    let non_deflated = kept.len();
    let row: Vec<usize> = kept.into_iter().chain(deflated).collect();
    Update {
        poles: row.iter().map(|&i| d[i]).collect(),
        z: row.iter().map(|&i| z[i]).collect(),
        row,
        non_deflated,
        rotations,
    }
}

/// Merges the halves' eigendecompositions in `diag` (each half ascending) and the diagonal
/// blocks of `u` into the eigendecomposition of the tridiagonal matrix split at `beta`.
fn merge(diag: &mut [f64], beta: f64, n1: usize, mut u: MatMut<'_, f64>, par: Par) {
    let n = diag.len();
    let inv_sqrt2 = 0.5f64.sqrt();
    let z: Vec<f64> = (0..n)
        .map(|j| {
            if j < n1 {
                u[(n1 - 1, j)] * inv_sqrt2
            } else if beta < 0.0 {
                -u[(n1, j)] * inv_sqrt2
            } else {
                u[(n1, j)] * inv_sqrt2
            }
        })
        .collect();
    let rho = beta.abs() * 2.0;
    let order = merged_order(diag, n1);
    let d: Vec<f64> = order.iter().map(|&p| diag[p]).collect();
    let z: Vec<f64> = order.iter().map(|&p| z[p]).collect();
    let dmax = d.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let zmax = z.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let tol = 8.0 * f64::EPSILON * dmax.max(zmax);
    if rho * zmax <= tol {
        let mut out = Mat::<f64>::zeros(n, n);
        for (j, &p) in order.iter().enumerate() {
            add_block_column(
                u.rb(),
                n1,
                p,
                1.0,
                out.as_mut()
                    .col_mut(j)
                    .try_as_col_major_mut()
                    .unwrap()
                    .as_slice_mut(),
            );
        }
        u.copy_from(&out);
        diag.copy_from_slice(&d);
        return;
    }
    let update = deflate(d, z, rho, tol);
    let k = update.non_deflated;
    let (shifts, mus) = secular_roots(&update.poles, &update.z, rho, k);
    let z = rebuilt_weights(&update, &shifts, &mus);
    let values: Vec<f64> = (0..n).map(|i| mus[i] + shifts[i]).collect();
    let mut sorted: Vec<usize> = (0..n).collect();
    sorted.sort_unstable_by(|&i, &j| values[i].total_cmp(&values[j]));
    let roots = Roots {
        z: &z,
        shifts: &shifts,
        mus: &mus,
    };
    multiply_into_halves(u, n1, &order, &update, &roots, &sorted, par);
    for (d, &p) in diag.iter_mut().zip(&sorted) {
        *d = values[p];
    }
}

/// Gu and Eisenstat's `z`: the weights for which the computed roots are the exact
/// eigenvalues of the update, so that the eigenvectors built from them are orthogonal.
fn rebuilt_weights(update: &Update, shifts: &[f64], mus: &[f64]) -> Vec<f64> {
    let k = update.non_deflated;
    let d = &update.poles[..k];
    (0..k)
        .map(|i| {
            let di = d[i];
            let ratio = |kk: usize| (mus[kk] + (shifts[kk] - di)) / (d[kk] - di);
            let prod = (mus[i] + (shifts[i] - di))
                * lane_product(0..i, ratio)
                * lane_product(i + 1..k, ratio);
            let prod = prod.abs().sqrt();
            if update.z[i] < 0.0 { -prod } else { prod }
        })
        .collect()
}

/// `prod_{kk in range} f(kk)` in four interleaved partial products (a fixed order, so that
/// the divisions vectorise).
fn lane_product(range: std::ops::Range<usize>, f: impl Fn(usize) -> f64) -> f64 {
    let mut acc = [1.0; 4];
    let mut kk = range.start;
    while kk + 4 <= range.end {
        for (l, acc) in acc.iter_mut().enumerate() {
            *acc *= f(kk + l);
        }
        kk += 4;
    }
    for (l, kk) in (kk..range.end).enumerate() {
        acc[l] *= f(kk);
    }
    (acc[0] * acc[1]) * (acc[2] * acc[3])
}

/// Adds `scale` times column `p` of `diag(U0, U1)` to `out` (length n).
fn add_block_column(u: MatRef<'_, f64>, n1: usize, p: usize, scale: f64, out: &mut [f64]) {
    let rows = if p < n1 { 0..n1 } else { n1..u.nrows() };
    for i in rows {
        out[i] += scale * u[(i, p)];
    }
}

#[cfg(test)]
#[path = "divide_conquer_tests.rs"]
pub(crate) mod tests;

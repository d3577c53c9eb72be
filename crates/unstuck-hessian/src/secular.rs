//! The secular equation of a rank-one update of a diagonal matrix, and its roots.
//!
//! The eigenvalues of `D + rho z z^T` (`D` diagonal with ascending entries `d`, `rho > 0`)
//! are the roots of `f(lambda) = 1 / rho + sum_i z_i^2 / (d_i - lambda)`, one in each gap
//! `(d_i, d_{i+1})` and the last in `(d_n, d_n + rho |z|^2)`. Each root is found as a pair
//! `(shift, mu)` with `lambda = shift + mu` and `shift` the nearer pole, so that the
//! differences `d_j - lambda` are computed as `(d_j - shift) - mu` without cancellation
//! (the trick behind Gu and Eisenstat's orthogonal eigenvectors, LAPACK `dlaed4`).
//!
//! Ported from faer 0.24 (`linalg/svd/bidiag_svd.rs` `secular_eq_root_finder` and
//! `linalg/evd/tridiag_evd.rs` `compute_eigenvalues`, MIT licence, Sarah Quinones),
//! specialised to `f64`; the arithmetic is the same, operation for operation.

use faer::traits::pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

/// Interleaved partial sums of [`secular`] and [`secular_batch`]: a fixed summation order
/// in which the divisions vectorise.
const LANES: usize = 8;

/// Roots per parallel task: each costs a few passes over all the poles, so 64 of them
/// are worth a task once there are hundreds of poles.
const ROOTS_PER_TASK: usize = 64;

/// `f(shift + mu)` over the non-deflated poles `d` with weights `z`.
fn secular(shift: f64, mu: f64, d: &[f64], z: &[f64], rho_recip: f64) -> f64 {
    rho_recip + Arch::new().dispatch(SecularSum { shift, mu, d, z })
}

/// `sum_i z_i^2 / ((d_i - shift) - mu)` as a unit of work for pulp's dispatch: compiled for
/// the CPU's widest instruction set (AVX2 when it has it), where the lanes' divisions run
/// as vector divisions. The lanes are explicit, so the bits do not depend on the set.
struct SecularSum<'a> {
    shift: f64,
    mu: f64,
    d: &'a [f64],
    z: &'a [f64],
}

impl WithSimd for SecularSum<'_> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) -> f64 {
        let Self { shift, mu, d, z } = self;
        let mut acc = [0.0; LANES];
        let (d_chunks, z_chunks) = (d.chunks_exact(LANES), z.chunks_exact(LANES));
        let (d_tail, z_tail) = (d_chunks.remainder(), z_chunks.remainder());
        for (d, z) in d_chunks.zip(z_chunks) {
            for l in 0..LANES {
                acc[l] += z[l] * (z[l] / ((d[l] - shift) - mu));
            }
        }
        for (l, (&d, &z)) in d_tail.iter().zip(z_tail).enumerate() {
            acc[l] += z * (z / ((d - shift) - mu));
        }
        acc.iter().sum::<f64>()
    }
}

/// Four evaluations of [`secular`] in one pass over the poles.
fn secular_batch(
    shift: &[f64; 4],
    mu: &[f64; 4],
    d: &[f64],
    z: &[f64],
    rho_recip: f64,
) -> [f64; 4] {
    std::array::from_fn(|e| secular(shift[e], mu[e], d, z, rho_recip))
}

/// The roots of the secular equation for the first `non_deflated` poles of `d` (ascending,
/// all with nonzero `z`), as `(shifts, mus)`; the deflated rest keep their pole as root
/// (`shift = 0`, `mu = d_i`).
pub(crate) fn secular_roots(
    d: &[f64],
    z: &[f64],
    rho: f64,
    non_deflated: usize,
) -> (Vec<f64>, Vec<f64>) {
    let n = non_deflated;
    let full_n = d.len();
    let rho_recip = rho.recip();
    let mut shifts = vec![0.0; full_n];
    let mut mus = vec![0.0; full_n];
    let (dk, zk) = (&d[..n], &z[..n]);
    let z_norm2: f64 = zk.iter().map(|z| z * z).sum();
    let root = |i: usize| {
        let left = d[i];
        let last = i == n - 1;
        let right = if last { d[i] + rho * z_norm2 } else { d[i + 1] };
        root_finder(
            &|shift, mu| secular(shift, mu, dk, zk, rho_recip),
            &|shift, mu| secular_batch(shift, mu, dk, zk, rho_recip),
            left,
            right,
            last,
        )
    };
    // Each root is found on its own, so the chunks (fixed by `n` alone) change nothing in
    // the bits. Each costs O(n): at n = 2000 the roots took 27 ms of the top merge.
    shifts[..n]
        .par_chunks_mut(ROOTS_PER_TASK)
        .zip(mus[..n].par_chunks_mut(ROOTS_PER_TASK))
        .enumerate()
        .for_each(|(chunk, (shifts, mus))| {
            for (j, (shift, mu)) in shifts.iter_mut().zip(mus).enumerate() {
                (*shift, *mu) = root(chunk * ROOTS_PER_TASK + j);
            }
        });
    mus[n..].copy_from_slice(&d[n..]);
    (shifts, mus)
}

/// Four evaluations at once: `(shifts, mus) -> values`.
type BatchSecular<'a> = dyn Fn(&[f64; 4], &[f64; 4]) -> [f64; 4] + 'a;

/// One root of an increasing secular function in `(left, right)`, as `(shift, mu)`.
fn root_finder(
    secular_eq: &dyn Fn(f64, f64) -> f64,
    batch_secular_eq: &BatchSecular<'_>,
    left: f64,
    right: f64,
    last: bool,
) -> (f64, f64) {
    let epsilon = f64::EPSILON;
    let mid = left + (right - left) * 0.5;
    let [mut f_mid, f_max, f_mid_left_shift, f_mid_right_shift] = batch_secular_eq(
        &[0.0, left, left, right],
        &[
            mid,
            if last {
                right - left
            } else {
                (right - left) * 0.5
            },
            (right - left) * 0.5,
            (left - right) * 0.5,
        ],
    );
    let (mut shift, mu) = if last || (f_mid > 0.0) {
        (left, (right - left) * 0.5)
    } else {
        (right, (left - right) * 0.5)
    };
    if (f_mid_left_shift <= 0.0) && (f_mid_right_shift > 0.0) {
        return (shift, mu);
    }
    if !last {
        if shift == left {
            if f_mid_left_shift < 0.0 {
                shift = right;
                f_mid = f_mid_right_shift;
            }
        } else if f_mid_right_shift > 0.0 {
            shift = left;
            f_mid = f_mid_left_shift;
        }
    }
    let (mut left_shifted, mut f_left, mut right_shifted, mut f_right) = if shift == left {
        (
            0.0,
            f64::NEG_INFINITY,
            if last {
                right - left
            } else {
                (right - left) * 0.5
            },
            if last { f_max } else { f_mid },
        )
    } else {
        ((left - right) * 0.5, f_mid, 0.0, f64::INFINITY)
    };
    let mut f_prev = f_mid;
    let bound = if shift == left {
        right_shifted
    } else {
        left_shifted
    };
    let mu_values = squared_halvings().map(|h| bound * h);
    let f_values = batch_secular_eq(&[shift; 4], &mu_values);
    if shift == left {
        let mut i = 0;
        for (idx, (&mu, &f)) in mu_values.iter().zip(&f_values).enumerate() {
            if f < 0.0 {
                left_shifted = mu;
                f_left = f;
                i = idx + 1;
            }
        }
        if i < f_values.len() {
            right_shifted = mu_values[i];
            f_right = f_values[i];
        }
    } else {
        let mut i = 0;
        for (idx, (&mu, &f)) in mu_values.iter().zip(&f_values).enumerate() {
            if f > 0.0 {
                right_shifted = mu;
                f_right = f;
                i = idx + 1;
            }
        }
        if i < f_values.len() {
            left_shifted = mu_values[i];
            f_left = f_values[i];
        }
    }
    let mut iteration_count = 0;
    while right_shifted - left_shifted > 2.0 * epsilon * left_shifted.abs().max(right_shifted.abs())
    {
        let mid_arithmetic = (left_shifted + right_shifted) * 0.5;
        let mut mid_geometric = left_shifted.abs().sqrt() * right_shifted.abs().sqrt();
        if left_shifted < 0.0 {
            mid_geometric = -mid_geometric;
        }
        let mid_shifted = if mid_geometric == 0.0 {
            mid_arithmetic
        } else {
            mid_geometric
        };
        let f_mid = secular_eq(shift, mid_shifted);
        if f_mid == 0.0 {
            return (shift, mid_shifted);
        } else if f_mid > 0.0 {
            right_shifted = mid_shifted;
            f_prev = f_right;
            f_right = f_mid;
        } else {
            left_shifted = mid_shifted;
            f_prev = f_left;
            f_left = f_mid;
        }
        if iteration_count == 4 {
            break;
        }
        iteration_count += 1;
    }
    let args = if left_shifted == 0.0 {
        (right_shifted * 2.0, right_shifted, f_prev, f_right)
    } else if right_shifted == 0.0 {
        (left_shifted * 2.0, left_shifted, f_prev, f_left)
    } else {
        (left_shifted, right_shifted, f_left, f_right)
    };
    let (use_bisection, mut mu_cur, left_candidate, right_candidate) =
        secant(secular_eq, shift, left, right, args);
    if let (Some(l), Some(r)) = (left_candidate, right_candidate)
        && l < r
    {
        left_shifted = left_shifted.max(l);
        right_shifted = right_shifted.min(r);
    }
    if use_bisection {
        while right_shifted - left_shifted
            > 2.0 * epsilon * left_shifted.abs().max(right_shifted.abs())
        {
            let mid_shifted = (left_shifted + right_shifted) * 0.5;
            let f_mid = secular_eq(shift, mid_shifted);
            if f_mid == 0.0 {
                break;
            } else if f_mid > 0.0 {
                right_shifted = mid_shifted;
            } else {
                left_shifted = mid_shifted;
            }
        }
        mu_cur = (left_shifted + right_shifted) * 0.5;
    }
    (shift, mu_cur)
}

/// `[1/2^8, 1/2^4, 1/2^2, 1/2]`: faer's squared halvings, a geometric approach to the pole.
fn squared_halvings() -> [f64; 4] {
    let half0 = 0.5f64;
    let half1 = half0 * half0;
    let half2 = half1 * half1;
    let half3 = half2 * half2;
    [half3, half2, half1, half0]
}

/// Whether to bisect, the last iterate, and the tightest bracket seen.
type SecantResult = (bool, f64, Option<f64>, Option<f64>);

/// faer's secant iteration from two bracketing points; asks for bisection when it leaves
/// the interval or stops improving.
fn secant(
    secular_eq: &dyn Fn(f64, f64) -> f64,
    shift: f64,
    left: f64,
    right: f64,
    (mut mu_cur, mut mu_prev, mut f_cur, mut f_prev): (f64, f64, f64, f64),
) -> SecantResult {
    let epsilon = f64::EPSILON;
    if f_prev.abs() < f_cur.abs() {
        std::mem::swap(&mut f_prev, &mut f_cur);
        std::mem::swap(&mut mu_prev, &mut mu_cur);
    }
    let mut left_candidate = None;
    let mut right_candidate = None;
    let mut use_bisection = false;
    let same_sign = (f_prev > 0.0) == (f_cur > 0.0);
    if !same_sign {
        let (min, max) = if mu_cur < mu_prev {
            (mu_cur, mu_prev)
        } else {
            (mu_prev, mu_cur)
        };
        left_candidate = Some(min);
        right_candidate = Some(max);
    }
    while f_cur != 0.0
        && (mu_cur - mu_prev).abs() > 8.0 * epsilon * mu_cur.abs().max(mu_prev.abs())
        && (f_cur - f_prev).abs() > epsilon
        && !use_bisection
    {
        let a = (f_cur - f_prev) * (mu_prev * mu_cur) / (mu_prev - mu_cur);
        let b = f_cur - a / mu_cur;
        let mu_zero = -a / b;
        let f_zero = secular_eq(shift, mu_zero);
        if f_zero < 0.0 {
            left_candidate = Some(mu_zero);
        } else {
            right_candidate = Some(mu_zero);
        }
        mu_prev = mu_cur;
        f_prev = f_cur;
        mu_cur = mu_zero;
        f_cur = f_zero;
        if shift == left && (mu_cur < 0.0 || mu_cur > right - left) {
            use_bisection = true;
        }
        if shift == right && (mu_cur > 0.0 || mu_cur < left - right) {
            use_bisection = true;
        }
        if f_cur.abs() > f_prev.abs() {
            let mut k = 1.0;
            for _ in 0..4 {
                let mu_opposite = -a / (k * f_zero + b);
                let f_opposite = secular_eq(shift, mu_opposite);
                if f_zero < 0.0 && f_opposite >= 0.0 {
                    right_candidate = Some(mu_opposite);
                    break;
                }
                if f_zero > 0.0 && f_opposite <= 0.0 {
                    left_candidate = Some(mu_opposite);
                    break;
                }
                k *= 2.0;
            }
            use_bisection = true;
        }
    }
    (use_bisection, mu_cur, left_candidate, right_candidate)
}

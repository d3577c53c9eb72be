//! The blocked eigensolver against faer's own `self_adjoint_evd` and against the identities
//! every eigendecomposition satisfies, on matrices chosen to break it.

use faer::linalg::evd::ComputeEigenvectors;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::BLOCKED_MIN_DIM;
use crate::dense::DenseHessian;
use crate::error::HessianError;

/// Crosses several panels (32 columns) and leaves a ragged last one.
const N: usize = 150;

fn symmetric_from(n: usize, entry: impl Fn(usize, usize) -> f64) -> DenseHessian {
    let data = (0..n * n)
        .map(|k| {
            let (i, j) = (k / n, k % n);
            entry(i.min(j), i.max(j))
        })
        .collect();
    DenseHessian::from_row_major(n, data).unwrap()
}

fn gaussian(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.sample(StandardNormal)).collect()
}

fn random(n: usize, seed: u64) -> DenseHessian {
    let g = gaussian(n * n, seed);
    symmetric_from(n, |i, j| g[i * n + j])
}

/// `D G D` with `D` from 1 down to 1e-8: eigenvalues over eight orders of magnitude.
fn graded(n: usize) -> DenseHessian {
    let g = gaussian(n * n, 7);
    let d = |i: usize| 10f64.powf(-8.0 * i as f64 / n as f64);
    symmetric_from(n, |i, j| d(i) * g[i * n + j] * d(j))
}

/// `3 I + B B^T` with `B` of rank 5: the eigenvalue 3 repeated n - 5 times.
fn repeated(n: usize) -> DenseHessian {
    let b = gaussian(n * 5, 11);
    symmetric_from(n, |i, j| {
        let low: f64 = (0..5).map(|k| b[i * 5 + k] * b[j * 5 + k]).sum();
        low + if i == j { 3.0 } else { 0.0 }
    })
}

/// Checks `A = V diag(values) V^T` and `V^T V = I` for the blocked solver.
///
/// A backward-stable solver has residuals of order `n eps ||A||` (rounding in the n
/// reflectors and rotations, each of O(n) flops); the bounds take 4 n eps with the
/// Frobenius norm (at least the 2-norm). A wrong reflector, a skipped trailing update or a
/// misplaced factor gives errors of order ||A|| and 1.
fn check_decomposition(name: &str, h: &DenseHessian) {
    let n = h.dim();
    let (values, u) = h.solve_blocked(ComputeEigenvectors::Yes).unwrap();
    let u = u.unwrap();
    let tol = 4.0 * n as f64 * f64::EPSILON;
    let norm = h.frobenius_norm();
    assert!(values.windows(2).all(|w| w[0] <= w[1]), "{name}: ascending");
    let mut worst_rebuild = 0.0_f64;
    let mut worst_orth = 0.0_f64;
    for i in 0..n {
        for j in 0..n {
            let rebuilt: f64 = (0..n).map(|k| values[k] * u[(i, k)] * u[(j, k)]).sum();
            worst_rebuild = worst_rebuild.max((rebuilt - h.entry(i, j)).abs());
            let dot: f64 = (0..n).map(|k| u[(k, i)] * u[(k, j)]).sum();
            let want = if i == j { 1.0 } else { 0.0 };
            worst_orth = worst_orth.max((dot - want).abs());
        }
    }
    assert!(
        worst_rebuild <= tol * norm,
        "{name}: |A - V L V^T| = {worst_rebuild:e}"
    );
    assert!(worst_orth <= tol, "{name}: |V^T V - I| = {worst_orth:e}");
}

/// The eigenvalues agree with faer's own solver within both solvers' backward errors
/// (Weyl: a perturbation E moves each eigenvalue by at most ||E||_2), and so do the
/// eigenvectors of eigenvalues separated by a gap (Davis-Kahan: the angle is at most
/// ||E|| / gap).
fn check_against_faer(name: &str, h: &DenseHessian) {
    let n = h.dim();
    let (values, u) = h.solve_blocked(ComputeEigenvectors::Yes).unwrap();
    let (faer_values, faer_u) = h.solve_with_faer(ComputeEigenvectors::Yes).unwrap();
    let (u, faer_u) = (u.unwrap(), faer_u.unwrap());
    let backward = 2.0 * 4.0 * n as f64 * f64::EPSILON * h.frobenius_norm();
    for k in 0..n {
        let diff = (values[k] - faer_values[k]).abs();
        assert!(
            diff <= backward,
            "{name}: eigenvalue {k} differs by {diff:e}"
        );
        let gap = [k.wrapping_sub(1), k + 1]
            .iter()
            .filter_map(|&l| values.get(l))
            .map(|l| (l - values[k]).abs())
            .fold(f64::INFINITY, f64::min);
        if gap > 1e3 * backward {
            // |u - s u'| = 2 sin(angle / 2), free of the cancellation in 1 - |u . u'|.
            let dot: f64 = (0..n).map(|i| u[(i, k)] * faer_u[(i, k)]).sum();
            let s = dot.signum();
            let angle = (0..n)
                .map(|i| (u[(i, k)] - s * faer_u[(i, k)]).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(
                angle <= 4.0 * backward / gap,
                "{name}: eigenvector {k} angle {angle:e}"
            );
        }
    }
}

#[test]
fn random_graded_and_repeated_spectra_decompose_and_match_faer() {
    for (name, h) in [
        ("random", random(N, 3)),
        ("graded", graded(N)),
        ("repeated", repeated(N)),
    ] {
        check_decomposition(name, &h);
        check_against_faer(name, &h);
    }
    // Sizes around one panel, where the reduction has no trailing update or a tiny one.
    for n in [1, 2, 3, 31, 33, 34] {
        check_decomposition("small", &random(n, n as u64));
    }
}

#[test]
fn a_diagonal_matrix_gives_its_sorted_diagonal_and_unit_vectors() {
    // No reflector changes anything (every column below the sub-diagonal is zero), so the
    // only rounding is the divide and conquer (`divide_conquer.rs`) on a diagonal T: n eps relative.
    let diag: Vec<f64> = (0..N).map(|i| ((i * 37) % N) as f64 - 70.5).collect();
    let h = symmetric_from(N, |i, j| if i == j { diag[i] } else { 0.0 });
    let (values, u) = h.solve_blocked(ComputeEigenvectors::Yes).unwrap();
    let u = u.unwrap();
    let mut sorted = diag.clone();
    sorted.sort_by(f64::total_cmp);
    let tol = N as f64 * f64::EPSILON;
    for (k, value) in sorted.iter().enumerate() {
        assert!((values[k] - value).abs() <= tol * 80.0, "eigenvalue {k}");
        let at = diag.iter().position(|d| d == value).unwrap();
        for (i, x) in u.col(k).iter().enumerate() {
            let want = if i == at { 1.0 } else { 0.0 };
            assert!((x - want).abs() <= tol, "eigenvector {k}, entry {i}: {x}");
        }
    }
}

#[test]
fn one_and_two_threads_give_identical_bits_on_a_large_matrix() {
    // 600 is above the size where the symmetric products split into parts and spans 18
    // panels, so every parallel loop of the reduction runs.
    let h = random(600, 5);
    let bits = |compute| {
        let (values, u) = h.solve_blocked(compute).unwrap();
        let mut all = values;
        if let Some(u) = u {
            all.extend(
                u.col_iter()
                    .flat_map(|c| c.iter().copied().collect::<Vec<_>>()),
            );
        }
        all.iter().map(|x| x.to_bits()).collect::<Vec<u64>>()
    };
    for compute in [ComputeEigenvectors::Yes, ComputeEigenvectors::No] {
        let run = |threads| unstuck_test_support::threads::with_threads(threads, || bits(compute));
        assert!(run(1) == run(2), "1 and 2 threads disagree ({compute:?})");
    }
}

#[test]
fn the_public_path_switches_to_the_blocked_solver_at_its_size() {
    // Just below the switch faer's own bits, from it on the blocked solver's.
    for (n, blocked) in [(BLOCKED_MIN_DIM - 1, false), (BLOCKED_MIN_DIM, true)] {
        let h = random(n, 9);
        let public = h.eigenvalues().unwrap();
        let (want, _) = if blocked {
            h.solve_blocked(ComputeEigenvectors::No).unwrap()
        } else {
            h.solve_with_faer(ComputeEigenvectors::No).unwrap()
        };
        assert_eq!(public, want, "n = {n}");
    }
}

#[test]
fn non_finite_input_is_a_typed_error() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut data = vec![1.0; 9];
        data[5] = bad;
        assert!(matches!(
            DenseHessian::from_row_major(3, data),
            Err(HessianError::NonFinite { .. })
        ));
    }
}

#[test]
fn the_public_path_decomposes_a_matrix_at_the_blocked_size() {
    // Through `eigen()` at BLOCKED_MIN_DIM: the blocked reduction, the divide and conquer
    // with several levels of merges (1536 = 12 leaves of 128) and the back-transform.
    // Residuals are checked with faer's product (the O(n^3) check stays fast in the dev
    // profile); the bounds are those of `check_decomposition`.
    use faer::linalg::matmul::matmul;
    use faer::{Accum, Mat, Par};
    let n = BLOCKED_MIN_DIM;
    let h = random(n, 21);
    let eig = h.eigen().unwrap();
    let v = Mat::from_fn(n, n, |i, j| eig.vector(j)[i]);
    let tol = 4.0 * n as f64 * f64::EPSILON;
    let worst_residual =
        crate::divide_conquer::tests::worst_eigen_residual(h.as_mat(), eig.values(), v.as_ref());
    assert!(
        worst_residual <= tol * h.frobenius_norm(),
        "|A v - lambda v| = {worst_residual:e}"
    );
    let mut gram = Mat::<f64>::zeros(n, n);
    matmul(
        gram.as_mut(),
        Accum::Replace,
        v.transpose(),
        v.as_ref(),
        1.0,
        Par::Seq,
    );
    for j in 0..n {
        for i in 0..n {
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((gram[(i, j)] - want).abs() <= tol, "V^T V - I at ({i},{j})");
        }
    }
    let faer_values = h.solve_with_faer(ComputeEigenvectors::No).unwrap().0;
    let backward = 2.0 * tol * h.frobenius_norm();
    for (k, (ours, theirs)) in eig.values().iter().zip(&faer_values).enumerate() {
        assert!(
            (ours - theirs).abs() <= backward,
            "eigenvalue {k}: {ours} vs {theirs}"
        );
    }
}

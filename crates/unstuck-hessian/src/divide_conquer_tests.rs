//! Divide and conquer against faer's tridiagonal solver and the identities every
//! eigendecomposition satisfies, on tridiagonals chosen to exercise each deflation rule.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self, ComputeEigenvectors};
use faer::linalg::matmul::matmul;
use faer::{Accum, ColRef, Mat, Par};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::{LEAF, tridiagonal_eigen};

/// A symmetric tridiagonal matrix by its diagonal and sub-diagonal (length `n - 1`).
struct Tridiagonal {
    name: &'static str,
    diag: Vec<f64>,
    offdiag: Vec<f64>,
}

fn gaussian(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.sample(StandardNormal)).collect()
}

fn random(n: usize) -> Tridiagonal {
    let diag = gaussian(n, 1);
    let offdiag = gaussian(n.saturating_sub(1), 2);
    Tridiagonal {
        name: "random",
        diag,
        offdiag,
    }
}

/// Entries from 1 down to 1e-12: eigenvalues over twelve orders of magnitude.
fn graded(n: usize) -> Tridiagonal {
    let scale = |i: usize| 10f64.powf(-12.0 * i as f64 / n as f64);
    let diag = gaussian(n, 3)
        .iter()
        .enumerate()
        .map(|(i, g)| g * scale(i))
        .collect();
    let offdiag = gaussian(n.saturating_sub(1), 4)
        .iter()
        .enumerate()
        .map(|(i, g)| g * scale(i))
        .collect();
    Tridiagonal {
        name: "graded",
        diag,
        offdiag,
    }
}

/// Wilkinson's W21+ blocks glued by 1e-10: pairs of eigenvalues equal to many digits.
fn glued_wilkinson(n: usize) -> Tridiagonal {
    let diag = (0..n).map(|i| (10.0 - (i % 21) as f64).abs()).collect();
    let offdiag = (0..n.saturating_sub(1))
        .map(|i| if i % 21 == 20 { 1e-10 } else { 1.0 })
        .collect();
    Tridiagonal {
        name: "glued Wilkinson",
        diag,
        offdiag,
    }
}

/// Diagonal 2 with a few unit couplings: the eigenvalues 2 and 2 +- 1 repeated many times.
fn repeated(n: usize) -> Tridiagonal {
    let diag = vec![2.0; n];
    let offdiag = (0..n.saturating_sub(1))
        .map(|i| if i % 7 == 3 { 1.0 } else { 0.0 })
        .collect();
    Tridiagonal {
        name: "repeated",
        diag,
        offdiag,
    }
}

/// Off-diagonal entries of 1e-14 to 1e-18 against diagonal entries of order 1: nearly every
/// weight deflates.
fn tiny_offdiagonal(n: usize) -> Tridiagonal {
    let diag = gaussian(n, 5);
    let offdiag = gaussian(n.saturating_sub(1), 6)
        .iter()
        .enumerate()
        .map(|(i, g)| g * 10f64.powi(-14 - (i % 5) as i32))
        .collect();
    Tridiagonal {
        name: "tiny off-diagonal",
        diag,
        offdiag,
    }
}

fn dense(t: &Tridiagonal) -> Mat<f64> {
    let n = t.diag.len();
    Mat::from_fn(n, n, |i, j| {
        if i == j {
            t.diag[i]
        } else if i == j + 1 {
            t.offdiag[j]
        } else if j == i + 1 {
            t.offdiag[i]
        } else {
            0.0
        }
    })
}

fn faer_values(t: &Tridiagonal) -> Vec<f64> {
    let n = t.diag.len();
    let mut values = faer::diag::Diag::<f64>::zeros(n);
    let mut scratch = MemBuffer::new(evd::self_adjoint_evd_scratch::<f64>(
        n,
        ComputeEigenvectors::No,
        Par::Seq,
        Default::default(),
    ));
    evd::tridiagonal_self_adjoint_evd(
        ColRef::from_slice(&t.diag).as_diagonal(),
        ColRef::from_slice(&t.offdiag).as_diagonal(),
        values.as_mut(),
        None,
        Par::Seq,
        MemStack::new(&mut scratch),
        Default::default(),
    )
    .unwrap();
    values.column_vector().iter().copied().collect()
}

/// `max |T v - lambda v|`, `max |V^T V - I|` and the largest eigenvalue difference from
/// faer's QR, each against `n eps ||T||` (or `n eps`): a backward-stable solver stays within
/// a small multiple (the bound allows 8); a wrong root, a lost reflector or a misplaced
/// column gives errors of order `||T||` and 1.
fn check(t: &Tridiagonal, par: Par) -> (Vec<f64>, Mat<f64>) {
    let n = t.diag.len();
    let mut u = Mat::<f64>::zeros(n, n);
    let values = tridiagonal_eigen(&t.diag, &t.offdiag, u.as_mut(), par).unwrap();
    let a = dense(t);
    let norm = a.norm_l2().max(f64::MIN_POSITIVE);
    let tol = 8.0 * n as f64 * f64::EPSILON;
    assert!(
        values.windows(2).all(|w| w[0] <= w[1]),
        "{} n={n}: ascending",
        t.name
    );
    let worst_residual = worst_eigen_residual(a.as_ref(), &values, u.as_ref());
    assert!(
        worst_residual <= tol * norm,
        "{} n={n}: |T v - lambda v| = {worst_residual:e}",
        t.name
    );
    let mut gram = Mat::<f64>::zeros(n, n);
    matmul(
        gram.as_mut(),
        Accum::Replace,
        u.transpose(),
        u.as_ref(),
        1.0,
        Par::Seq,
    );
    let worst_orth = (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .map(|(i, j)| (gram[(i, j)] - if i == j { 1.0 } else { 0.0 }).abs())
        .fold(0.0f64, f64::max);
    assert!(
        worst_orth <= tol,
        "{} n={n}: |V^T V - I| = {worst_orth:e}",
        t.name
    );
    for (ours, theirs) in values.iter().zip(faer_values(t)) {
        assert!(
            (ours - theirs).abs() <= tol * norm,
            "{} n={n}: {ours} vs faer {theirs}",
            t.name
        );
    }
    (values, u)
}

#[test]
fn matches_faer_and_is_orthogonal_on_every_family() {
    for n in [1, 2, 3, LEAF, LEAF + 1, 2 * LEAF + 3, 600] {
        for t in [
            random(n),
            graded(n),
            glued_wilkinson(n),
            repeated(n),
            tiny_offdiagonal(n),
        ] {
            check(&t, Par::Seq);
        }
    }
}

#[test]
fn same_bits_with_one_and_two_threads() {
    let t = glued_wilkinson(600);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| check(&t, Par::rayon(8)))
    };
    let (values1, u1) = run(1);
    let (values2, u2) = run(2);
    assert_eq!(values1, values2);
    assert!(u1 == u2, "eigenvectors differ between 1 and 2 threads");
}

/// The largest `|(A U)_ij - lambda_j U_ij|`: how far the columns of `u` are from being
/// eigenvectors of `a` with `values` (the product by faer, which keeps the O(n^3) check
/// fast in the dev profile).
pub(crate) fn worst_eigen_residual(
    a: faer::MatRef<'_, f64>,
    values: &[f64],
    u: faer::MatRef<'_, f64>,
) -> f64 {
    let n = u.nrows();
    let mut au = Mat::<f64>::zeros(n, u.ncols());
    matmul(au.as_mut(), Accum::Replace, a, u, 1.0, Par::Seq);
    let mut worst = 0.0f64;
    for (j, &value) in values.iter().enumerate() {
        for i in 0..n {
            worst = worst.max((au[(i, j)] - value * u[(i, j)]).abs());
        }
    }
    worst
}

//! Small dense-vector helpers and seeded random probes, shared by the matrix-free tools.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// `x · y`, summed left to right (a fixed order, so results never depend on threads).
pub(crate) fn dot(x: &[f64], y: &[f64]) -> f64 {
    debug_assert_eq!(x.len(), y.len());
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// Euclidean norm.
pub(crate) fn norm(x: &[f64]) -> f64 {
    dot(x, x).sqrt()
}

/// `y += a * x`.
pub(crate) fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    debug_assert_eq!(x.len(), y.len());
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// `x *= a`.
pub(crate) fn scale(a: f64, x: &mut [f64]) {
    for xi in x {
        *xi *= a;
    }
}

/// A seeded ChaCha8 generator: the only source of randomness in the crate.
pub(crate) fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Stream `stream` of the ChaCha8 generator seeded by `seed`: independent of stream 0
/// (what [`rng`] gives), for draws that must not be correlated with it.
pub(crate) fn rng_stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// `n` independent standard normal draws.
pub(crate) fn gaussian(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect()
}

/// `n` independent Rademacher draws (+1 or -1 with probability 1/2), one bit of the
/// generator's output each (64 signs per draw, where a `bool` per sign spent a draw on
/// every one).
pub(crate) fn rademacher(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    let mut signs = Vec::with_capacity(n);
    while signs.len() < n {
        let bits = rng.next_u64();
        let take = (n - signs.len()).min(64);
        signs.extend((0..take).map(|i| if bits >> i & 1 == 1 { 1.0 } else { -1.0 }));
    }
    signs
}

/// Removes from `w` its components along the orthonormal vectors `basis` (each of length
/// `w.len()`, stored one after another), twice: one classical Gram-Schmidt pass loses
/// orthogonality when `w` is nearly in the span, and "twice is enough" (Parlett; the DGKS
/// form). Each pass is two matrix-vector products (`c = Qᵀ w`, `w -= Q c`) on one thread,
/// so the bits do not depend on the thread count.
pub(crate) fn orthogonalize(w: &mut [f64], basis: &[f64]) {
    for _pass in 0..2 {
        project_out(w, basis, w.len());
    }
}

/// `V -= Q (Qᵀ V)` for the vectors `vs` (each of length `n`, one after another) and the
/// orthonormal `basis` `Q` stored the same way: one classical Gram-Schmidt pass for all of
/// them, as two sequential matrix products.
pub(crate) fn project_out(vs: &mut [f64], basis: &[f64], n: usize) {
    if n == 0 || basis.is_empty() || vs.is_empty() {
        return;
    }
    let (m, k) = (basis.len() / n, vs.len() / n);
    let q = MatRef::from_column_major_slice(basis, n, m);
    let mut c = vec![0.0; m * k];
    matmul(
        MatMut::from_column_major_slice_mut(&mut c, m, k),
        Accum::Replace,
        q.transpose(),
        MatRef::from_column_major_slice(vs, n, k),
        1.0,
        Par::Seq,
    );
    matmul(
        MatMut::from_column_major_slice_mut(vs, n, k),
        Accum::Add,
        q,
        MatRef::from_column_major_slice(&c, m, k),
        -1.0,
        Par::Seq,
    );
}

/// Flips `v` so that its largest-magnitude entry is positive (ties go to the lowest index);
/// the convention of the golden files, which makes eigenvectors comparable across solvers.
pub(crate) fn normalize_sign(v: &mut [f64]) {
    let max = v.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    // Entries within a relative 1e-12 of the maximum tie: rounding must not decide the sign
    // of vectors like (1, -1)/sqrt(2).
    if let Some(lead) = v.iter().find(|x| x.abs() >= max * (1.0 - 1e-12))
        && *lead < 0.0
    {
        scale(-1.0, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orthogonalize_removes_the_span() {
        let s = 1.0 / 2f64.sqrt();
        let basis = [s, s, 0.0, 0.0, 0.0, 1.0];
        let mut w = vec![3.0, 1.0, 5.0];
        orthogonalize(&mut w, &basis);
        // What remains is the component along (1, -1, 0)/sqrt(2): (1, -1, 0). Rounding only.
        for (got, want) in w.iter().zip([1.0, -1.0, 0.0]) {
            assert!((got - want).abs() < 1e-14, "{got} vs {want}");
        }
    }

    #[test]
    fn sign_convention_prefers_the_first_of_tied_entries() {
        let mut v = vec![-0.5, 0.5];
        normalize_sign(&mut v);
        assert_eq!(v, vec![0.5, -0.5]);
        let mut v = vec![0.1, -0.9];
        normalize_sign(&mut v);
        assert_eq!(v, vec![-0.1, 0.9]);
    }

    #[test]
    fn rademacher_draws_are_signs_and_seeded() {
        let a = rademacher(&mut rng(3), 64);
        let b = rademacher(&mut rng(3), 64);
        assert_eq!(a, b);
        assert!(a.iter().all(|x| *x == 1.0 || *x == -1.0));
        assert!(a.contains(&1.0) && a.contains(&-1.0));
    }
}

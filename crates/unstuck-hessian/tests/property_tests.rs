//! Properties on random symmetric matrices: the matrix-free tools agree with the dense
//! eigensolver whenever they are exact by construction.

use proptest::prelude::*;
use unstuck_hessian::{
    DenseOperator, LanczosConfig, SlqConfig, SpectrumEnd, TraceConfig, classify_spectrum,
    full_hessian, hutch_plus_plus_trace, lanczos, spectral_density,
};

/// A symmetric n x n matrix from `entries` (at least n^2 values in [-1, 1]).
fn symmetric(n: usize, entries: &[f64]) -> DenseOperator {
    DenseOperator::from_fn(n, |i, j| entries[i.min(j) * n + i.max(j)]).unwrap()
}

fn matrix_strategy() -> impl Strategy<Value = (usize, Vec<f64>)> {
    (2usize..12).prop_flat_map(|n| (Just(n), prop::collection::vec(-1.0f64..1.0, n * n)))
}

proptest! {
    // A fixed seed: the same cases on every run and machine, so CI cannot fail on a draw
    // it never saw before.
    #![proptest_config(ProptestConfig {
        rng_seed: proptest::test_runner::RngSeed::Fixed(20053),
        ..ProptestConfig::with_cases(48)
    })]

    #[test]
    fn lanczos_over_the_whole_space_is_the_dense_spectrum((n, entries) in matrix_strategy(), seed in 0u64..1000) {
        let op = symmetric(n, &entries);
        let want = full_hessian(&op).unwrap().eigenvalues().unwrap();
        let k = (n / 2).max(1);
        let res = lanczos(&op, LanczosConfig { k, end: SpectrumEnd::Both, max_iter: n, tol: 1e-10, seed }).unwrap();
        // With max_iter = n the Krylov space (with restarts) is all of R^n, so the Ritz
        // values are the eigenvalues up to rounding of O(1) entries: 1e-10 absolute.
        for (j, pair) in res.largest.iter().enumerate() {
            prop_assert!((pair.value - want[n - 1 - j]).abs() < 1e-10, "largest {}: {} vs {}", j, pair.value, want[n - 1 - j]);
        }
        for (j, pair) in res.smallest.iter().enumerate() {
            prop_assert!((pair.value - want[j]).abs() < 1e-10, "smallest {}: {} vs {}", j, pair.value, want[j]);
        }
    }

    #[test]
    fn hutch_plus_plus_with_a_full_sketch_is_the_exact_trace((n, entries) in matrix_strategy(), seed in 0u64..1000) {
        let op = symmetric(n, &entries);
        let exact = full_hessian(&op).unwrap().trace();
        // A third of 3n + 6 HVPs is at least n + 2 sketch vectors: Q spans R^n almost surely.
        let t = hutch_plus_plus_trace(&op, TraceConfig { n_hvp: 3 * n + 6, block: 4, seed }).unwrap();
        prop_assert!((t.estimate - exact).abs() < 1e-10, "{} vs {}", t.estimate, exact);
    }

    #[test]
    fn slq_rules_are_probability_measures_inside_the_spectrum((n, entries) in matrix_strategy(), seed in 0u64..1000) {
        let op = symmetric(n, &entries);
        let values = full_hessian(&op).unwrap().eigenvalues().unwrap();
        let slq = spectral_density(&op, SlqConfig { n_probes: 1, lanczos_steps: n, seed }).unwrap();
        // Each probe's rule is a probability measure (weights sum to 1) supported inside
        // [lambda_min, lambda_max]: Ritz values interlace the spectrum.
        let rule = &slq.rules[0];
        let total: f64 = rule.weights.iter().sum();
        prop_assert!((total - 1.0).abs() < 1e-12);
        for node in &rule.nodes {
            prop_assert!(*node >= values[0] - 1e-10 && *node <= values[n - 1] + 1e-10);
        }
    }

    #[test]
    fn classification_ignores_the_scale_of_the_loss((n, entries) in matrix_strategy(), exponent in -8i32..8) {
        let op = symmetric(n, &entries);
        let values = full_hessian(&op).unwrap().eigenvalues().unwrap();
        let scaled: Vec<f64> = values.iter().map(|v| v * 10f64.powi(exponent)).collect();
        prop_assert_eq!(classify_spectrum(&values, 1e-10).unwrap(), classify_spectrum(&scaled, 1e-10).unwrap());
    }
}

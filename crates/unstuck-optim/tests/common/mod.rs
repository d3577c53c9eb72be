//! Shared helpers for the integration tests: the golden test function and fixtures.

#![allow(dead_code, unused_imports)]

use serde_json::Value;
pub use unstuck_test_support::golden::floats as f64s;

/// Reads a JSON fixture copied from the PyTorch golden files.
pub fn fixture(name: &str) -> Value {
    unstuck_test_support::golden::json(name)
}

/// The golden 4-D extended Rosenbrock function
/// `f(t) = sum_{i<3} (1 - t_i)^2 + 10 (t_{i+1} - t_i^2)^2`.
pub fn rosenbrock(t: &[f64]) -> f64 {
    (0..3)
        .map(|i| {
            let a = 1.0 - t[i];
            let r = t[i + 1] - t[i] * t[i];
            a * a + 10.0 * (r * r)
        })
        .sum()
}

/// Its gradient, with the operation order of PyTorch's autograd on the vectorised
/// expression (`(1 - t[:-1])**2 + 10 * (t[1:] - t[:-1]**2)**2`): each piece is the
/// pow backward `2 * x` times the outer gradient, and the two slices' contributions are
/// summed last. With this order our gradients are the golden run's to the last bit.
pub fn rosenbrock_grad(t: &[f64]) -> Vec<f64> {
    let mut g = vec![0.0; 4];
    let mut low = [0.0; 3];
    for i in 0..3 {
        let a = 1.0 - t[i];
        let r = t[i + 1] - t[i] * t[i];
        let g_r = 10.0 * (2.0 * r);
        low[i] = -(2.0 * a) + (-g_r) * (2.0 * t[i]);
        g[i + 1] = g_r;
    }
    for i in 0..3 {
        g[i] += low[i];
    }
    g
}

/// Largest elementwise relative error `|got - want| / |want|` (absolute where want = 0).
pub fn max_relative_error(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(g, w)| {
            if *w == 0.0 {
                g.abs()
            } else {
                (g - w).abs() / w.abs()
            }
        })
        .fold(0.0, f64::max)
}

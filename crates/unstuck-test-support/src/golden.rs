//! The golden fixtures and their loaders. A missing or malformed fixture is a broken test
//! setup, so these panic with the file's name instead of returning errors.

use safetensors::{Dtype, SafeTensors};
use serde_json::Value;
use std::path::PathBuf;

/// The path of a fixture, e.g. `mlp_interop.safetensors`.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// A fixture's bytes.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A JSON fixture.
pub fn json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap_or_else(|e| panic!("parsing {name}: {e}"))
}

/// A JSON array of numbers.
pub fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected an array, got {value}"))
        .iter()
        .map(|v| {
            v.as_f64()
                .unwrap_or_else(|| panic!("expected a number, got {v}"))
        })
        .collect()
}

/// A JSON matrix (a list of rows), flattened row-major.
pub fn matrix(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected a list of rows, got {value}"))
        .iter()
        .flat_map(floats)
        .collect()
}

/// An `F64` tensor of a safetensors file, flattened.
pub fn tensor_f64s(st: &SafeTensors<'_>, name: &str) -> Vec<f64> {
    let view = st.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(view.dtype(), Dtype::F64, "{name}");
    view.data()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect()
}

/// An `I64` tensor of class labels.
pub fn tensor_labels(st: &SafeTensors<'_>, name: &str) -> Vec<usize> {
    let view = st.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(view.dtype(), Dtype::I64, "{name}");
    view.data()
        .chunks_exact(8)
        .map(|b| {
            let label = i64::from_le_bytes(b.try_into().expect("8 bytes"));
            usize::try_from(label).unwrap_or_else(|_| panic!("{name}: label {label}"))
        })
        .collect()
}

/// Largest `|a_i - b_i| / scale`.
pub fn max_rel_diff(a: &[f64], b: &[f64], scale: f64) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / scale)
        .fold(0.0, f64::max)
}

/// Largest `|a_i|`.
pub fn norm_inf(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// One of the golden Hessian problems (`p100`: a 3-8-6-2 tanh MLP, P = 100; `p1000`: a
/// 16-24-20-4 one, P = 992): mean cross-entropy over a batch of 256, with PyTorch's
/// gradient, Hessian-vector product and every Hessian eigenvalue.
#[derive(Debug, Clone)]
pub struct HessianProblem {
    /// `p100` or `p1000`.
    pub name: &'static str,
    /// Layer widths, input first.
    pub widths: Vec<usize>,
    /// The batch, row-major `batch x widths[0]`.
    pub x: Vec<f64>,
    /// Its labels.
    pub y: Vec<usize>,
    /// The parameters: `[W0 (out x in, row-major), b0, W1, b1, ...]`.
    pub theta: Vec<f64>,
    /// A unit vector.
    pub v: Vec<f64>,
    /// The gradient at `theta`.
    pub gradient: Vec<f64>,
    /// `H v` at `theta`.
    pub hvp: Vec<f64>,
    /// Every Hessian eigenvalue, ascending.
    pub eigenvalues: Vec<f64>,
    /// This problem's entry of `hessian_problems.json` (loss, trace, extremes, ...).
    pub scalars: Value,
}

impl HessianProblem {
    /// Loads `p100` or `p1000`.
    pub fn load(name: &'static str) -> Self {
        let scalars = json("hessian_problems.json")["problems"][name].clone();
        let widths = scalars["layers"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no layers"))
            .iter()
            .map(|w| w.as_u64().expect("a width") as usize)
            .collect();
        let bytes = fixture(&format!("hessian_{name}.safetensors"));
        let st = SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        HessianProblem {
            name,
            widths,
            x: tensor_f64s(&st, "x"),
            y: tensor_labels(&st, "y"),
            theta: tensor_f64s(&st, "theta"),
            v: tensor_f64s(&st, "v"),
            gradient: tensor_f64s(&st, "gradient"),
            hvp: tensor_f64s(&st, "hvp"),
            eigenvalues: tensor_f64s(&st, "eigenvalues"),
            scalars,
        }
    }

    /// A scalar answer, e.g. `"loss"`.
    pub fn scalar(&self, key: &str) -> f64 {
        self.scalars[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} in {}", self.name))
    }

    /// The batch size.
    pub fn batch(&self) -> usize {
        self.y.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_problems_load_with_consistent_sizes() {
        for (name, n_params) in [("p100", 100), ("p1000", 992)] {
            let problem = HessianProblem::load(name);
            let expected: usize = problem.widths.windows(2).map(|p| p[0] * p[1] + p[1]).sum();
            assert_eq!((problem.theta.len(), expected), (n_params, n_params));
            assert_eq!(problem.x.len(), problem.batch() * problem.widths[0]);
            assert_eq!(problem.eigenvalues.len(), n_params);
            assert!(problem.scalar("loss") > 0.0);
        }
    }
}

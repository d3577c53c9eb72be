//! Helpers shared by the integration tests: the golden fixtures of PyTorch's MLP.

#![allow(dead_code)]

use safetensors::{Dtype, SafeTensors};
use serde_json::Value;
use unstuck_autodiff::Tensor;
use unstuck_models::Mlp;

pub fn fixture_path(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The golden model: PyTorch's 8-16-16-3 tanh MLP.
pub fn golden_mlp() -> Mlp {
    Mlp::from_spec("8-16-16-3:tanh").unwrap()
}

/// The golden batch: `x` (32 x 8, f64) and integer labels `y`.
pub fn golden_batch() -> (Tensor<f64>, Vec<usize>) {
    let bytes = fixture("mlp_interop_data.safetensors");
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let x = st.tensor("x").unwrap();
    assert_eq!(x.dtype(), Dtype::F64);
    let (rows, cols) = (x.shape()[0], x.shape()[1]);
    let values = x
        .data()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let y = st.tensor("y").unwrap();
    assert_eq!(y.dtype(), Dtype::I64);
    let labels = y
        .data()
        .chunks_exact(8)
        .map(|b| usize::try_from(i64::from_le_bytes(b.try_into().unwrap())).unwrap())
        .collect();
    (Tensor::matrix(values, rows, cols).unwrap(), labels)
}

/// PyTorch's answers for the golden model on the golden batch.
pub struct Expected {
    pub parameter_order: Vec<String>,
    pub loss: f64,
    pub logits_first_row: Vec<f64>,
    pub gradient: Vec<f64>,
}

pub fn expected() -> Expected {
    let json: Value = serde_json::from_slice(&fixture("mlp_interop.json")).unwrap();
    let floats = |key: &str| -> Vec<f64> {
        json[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    Expected {
        parameter_order: json["parameter_order"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect(),
        loss: json["loss"].as_f64().unwrap(),
        logits_first_row: floats("logits_first_row"),
        gradient: floats("flat_gradient"),
    }
}

/// Largest `|a - b|` over two slices, divided by `scale`.
pub fn max_diff(a: &[f64], b: &[f64], scale: f64) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / scale)
        .fold(0.0, f64::max)
}

pub fn norm_inf(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, x| m.max(x.abs()))
}

//! Helpers shared by the integration tests: the golden fixtures of PyTorch's MLP.

#![allow(dead_code, unused_imports)]

use safetensors::SafeTensors;
use unstuck_autodiff::Tensor;
use unstuck_models::Mlp;
pub use unstuck_test_support::golden::{
    fixture, fixture_path, floats, json, max_rel_diff as max_diff, norm_inf,
};
use unstuck_test_support::golden::{tensor_f64s, tensor_labels};

/// The golden model: PyTorch's 8-16-16-3 tanh MLP.
pub fn golden_mlp() -> Mlp {
    Mlp::from_spec("8-16-16-3:tanh").unwrap()
}

/// The golden batch: `x` (32 x 8, f64) and integer labels `y`.
pub fn golden_batch() -> (Tensor<f64>, Vec<usize>) {
    let bytes = fixture("mlp_interop_data.safetensors");
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (rows, cols) = {
        let x = st.tensor("x").unwrap();
        (x.shape()[0], x.shape()[1])
    };
    let values = tensor_f64s(&st, "x");
    let labels = tensor_labels(&st, "y");
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
    let json = json("mlp_interop.json");
    Expected {
        parameter_order: json["parameter_order"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect(),
        loss: json["loss"].as_f64().unwrap(),
        logits_first_row: floats(&json["logits_first_row"]),
        gradient: floats(&json["flat_gradient"]),
    }
}

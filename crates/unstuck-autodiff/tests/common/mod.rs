//! Helpers shared by the integration tests: the golden fixtures (read through
//! unstuck-test-support) and a tanh MLP loss.

#![allow(dead_code, unused_imports)]

use safetensors::SafeTensors;
use unstuck_autodiff::{Element, Tape, Tensor, Var};
pub use unstuck_test_support::golden::{
    fixture, max_rel_diff, norm_inf, tensor_f64s as f64s, tensor_labels as labels,
};

/// The tanh MLP of the golden files: theta = [W0 (out x in, row-major), b0, W1, b1, ...],
/// tanh after every hidden layer, a linear output.
pub fn mlp_logits<T: Element>(tape: &Tape<T>, theta: Var, widths: &[usize], x: Var) -> Var {
    let mut h = x;
    let mut offset = 0;
    for (layer, pair) in widths.windows(2).enumerate() {
        let (fan_in, fan_out) = (pair[0], pair[1]);
        let w = tape.reshape(
            tape.slice(theta, offset, fan_in * fan_out),
            &[fan_out, fan_in],
        );
        offset += fan_in * fan_out;
        let b = tape.slice(theta, offset, fan_out);
        offset += fan_out;
        h = tape.add(tape.matmul_t(h, w, false, true), b);
        if layer + 2 < widths.len() {
            h = tape.tanh(h);
        }
    }
    h
}

pub fn n_params(widths: &[usize]) -> usize {
    widths.windows(2).map(|p| p[0] * p[1] + p[1]).sum()
}

/// A golden Hessian problem: a tanh MLP with mean cross-entropy on a batch.
pub struct MlpProblem {
    pub widths: Vec<usize>,
    pub x: Vec<f64>,
    pub y: Vec<usize>,
    pub theta: Vec<f64>,
    pub v: Vec<f64>,
    pub gradient: Vec<f64>,
    pub hvp: Vec<f64>,
    pub eigenvalues: Vec<f64>,
}

impl MlpProblem {
    pub fn load(file: &str, widths: &[usize]) -> Self {
        let bytes = fixture(file);
        let st = SafeTensors::deserialize(&bytes).unwrap();
        MlpProblem {
            widths: widths.to_vec(),
            x: f64s(&st, "x"),
            y: labels(&st, "y"),
            theta: f64s(&st, "theta"),
            v: f64s(&st, "v"),
            gradient: f64s(&st, "gradient"),
            hvp: f64s(&st, "hvp"),
            eigenvalues: f64s(&st, "eigenvalues"),
        }
    }

    pub fn loss<'a>(&'a self) -> impl Fn(&Tape<f64>, Var) -> Var + 'a {
        move |tape, theta| {
            let batch = self.y.len();
            let x = tape.constant(Tensor::matrix(self.x.clone(), batch, self.widths[0]).unwrap());
            let logits = mlp_logits(tape, theta, &self.widths, x);
            tape.softmax_cross_entropy(logits, &self.y)
        }
    }
}

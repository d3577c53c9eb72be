//! Helpers shared by the integration tests: the golden fixtures (read through
//! unstuck-test-support) and a tanh MLP loss.

#![allow(dead_code, unused_imports)]

use std::ops::Deref;

use unstuck_autodiff::{Element, Tape, Tensor, Var};
use unstuck_test_support::golden::HessianProblem;
pub use unstuck_test_support::golden::{fixture, max_rel_diff, norm_inf};

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

/// A golden Hessian problem (a tanh MLP with mean cross-entropy on a batch), loaded by
/// unstuck-test-support, with its loss written with the tape ops above.
pub struct MlpProblem(HessianProblem);

impl Deref for MlpProblem {
    type Target = HessianProblem;

    fn deref(&self) -> &HessianProblem {
        &self.0
    }
}

impl MlpProblem {
    /// `file` is `hessian_p100.safetensors` or `hessian_p1000.safetensors`.
    pub fn load(file: &str, widths: &[usize]) -> Self {
        let name = match file {
            "hessian_p100.safetensors" => "p100",
            "hessian_p1000.safetensors" => "p1000",
            other => panic!("no golden Hessian problem in {other}"),
        };
        let problem = HessianProblem::load(name);
        assert_eq!(problem.widths, widths, "{file}");
        MlpProblem(problem)
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

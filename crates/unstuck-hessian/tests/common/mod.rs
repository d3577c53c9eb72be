//! Helpers shared by the integration tests: fixtures, the tanh MLP of the golden files, and
//! the lecture's function.

#![allow(dead_code, unused_imports)]

use std::ops::Deref;
use std::sync::OnceLock;

use unstuck_autodiff::{Curvature, Tape, Tensor, Var};
use unstuck_hessian::{DenseHessian, SymmetricEigen, full_hessian};
use unstuck_test_support::golden::HessianProblem;
pub use unstuck_test_support::golden::{floats, json, matrix, max_rel_diff};

/// The lecture's L(w1, w2) = (1 - w1 w2)^2 in tape ops.
pub fn lecture_loss(tape: &Tape<f64>, w: Var) -> Var {
    let w1 = tape.slice(w, 0, 1);
    let w2 = tape.slice(w, 1, 1);
    tape.sum(tape.square(tape.shift(tape.neg(tape.mul(w1, w2)), 1.0)))
}

/// The golden files' tanh MLP (tanh after every hidden layer, a linear output) as the
/// model crate builds it: theta = [W0 (out x in, row-major), b0, W1, b1, ...].
pub fn mlp(widths: &[usize]) -> unstuck_models::Mlp {
    let spec: Vec<String> = widths.iter().map(|w| w.to_string()).collect();
    unstuck_models::Mlp::from_spec(&format!("{}:tanh", spec.join("-"))).unwrap()
}

/// Logits of [`mlp`] on the batch `x`.
pub fn mlp_logits(tape: &Tape<f64>, theta: Var, widths: &[usize], x: Var) -> Var {
    use unstuck_models::Model;
    mlp(widths).forward(tape, theta, x)
}

/// The parameter layout of an MLP as (name, range) pairs, from the model crate's layout.
pub fn mlp_blocks(widths: &[usize]) -> Vec<unstuck_hessian::ParamBlock> {
    use unstuck_models::Architecture;
    mlp(widths)
        .layout()
        .iter()
        .map(|p| unstuck_hessian::ParamBlock::new(p.name.clone(), p.offset..p.offset + p.len()))
        .collect()
}

/// A golden Hessian problem (tanh MLP, mean cross-entropy over a batch) with its loss
/// written with the model crate's MLP.
#[derive(Debug)]
pub struct MlpProblem(HessianProblem);

impl Deref for MlpProblem {
    type Target = HessianProblem;

    fn deref(&self) -> &HessianProblem {
        &self.0
    }
}

impl MlpProblem {
    pub fn load(name: &'static str) -> Self {
        MlpProblem(HessianProblem::load(name))
    }

    pub fn loss(&self) -> impl Fn(&Tape<f64>, Var) -> Var + '_ {
        move |tape, theta| {
            let x = Tensor::matrix(self.x.clone(), self.batch(), self.widths[0]).unwrap();
            let logits = mlp_logits(tape, theta, &self.widths, tape.constant(x));
            tape.softmax_cross_entropy(logits, &self.y)
        }
    }

    pub fn curvature(&self) -> Curvature<f64> {
        Curvature::new(self.loss(), &self.theta).unwrap()
    }
}

/// A problem with its dense Hessian and eigendecomposition, computed once per test binary.
#[derive(Debug)]
pub struct Solved {
    pub problem: MlpProblem,
    pub curvature: Curvature<f64>,
    pub hessian: DenseHessian,
    pub eigen: SymmetricEigen,
}

fn solve(name: &'static str) -> Solved {
    let problem = MlpProblem::load(name);
    let curvature = problem.curvature();
    let hessian = full_hessian(&curvature).unwrap();
    let eigen = hessian.eigen().unwrap();
    Solved {
        problem,
        curvature,
        hessian,
        eigen,
    }
}

pub fn p100() -> &'static Solved {
    static CELL: OnceLock<Solved> = OnceLock::new();
    CELL.get_or_init(|| solve("p100"))
}

pub fn p1000() -> &'static Solved {
    static CELL: OnceLock<Solved> = OnceLock::new();
    CELL.get_or_init(|| solve("p1000"))
}

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

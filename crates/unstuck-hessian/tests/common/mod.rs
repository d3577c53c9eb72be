//! Helpers shared by the integration tests: fixtures, the tanh MLP of the golden files, and
//! the lecture's function.

#![allow(dead_code)]

use std::sync::OnceLock;

use safetensors::{Dtype, SafeTensors};
use serde_json::Value;
use unstuck_autodiff::{Curvature, Tape, Tensor, Var};
use unstuck_hessian::{DenseHessian, SymmetricEigen, full_hessian};

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

pub fn json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// A JSON matrix (list of rows) flattened row-major.
pub fn matrix(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().flat_map(floats).collect()
}

fn f64s(st: &SafeTensors<'_>, name: &str) -> Vec<f64> {
    let view = st.tensor(name).unwrap();
    assert_eq!(view.dtype(), Dtype::F64, "{name}");
    view.data()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

fn labels(st: &SafeTensors<'_>, name: &str) -> Vec<usize> {
    let view = st.tensor(name).unwrap();
    assert_eq!(view.dtype(), Dtype::I64, "{name}");
    view.data()
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().unwrap()) as usize)
        .collect()
}

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

/// A golden Hessian problem: tanh MLP, mean cross-entropy over a batch.
#[derive(Debug)]
pub struct MlpProblem {
    pub name: &'static str,
    pub widths: Vec<usize>,
    pub x: Vec<f64>,
    pub y: Vec<usize>,
    pub theta: Vec<f64>,
    pub v: Vec<f64>,
    pub gradient: Vec<f64>,
    pub hvp: Vec<f64>,
    pub eigenvalues: Vec<f64>,
    /// This problem's entry of hessian_problems.json.
    pub scalars: Value,
}

impl MlpProblem {
    pub fn load(name: &'static str) -> Self {
        let scalars = json("hessian_problems.json")["problems"][name].clone();
        let widths = scalars["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_u64().unwrap() as usize)
            .collect();
        let bytes = fixture(&format!("hessian_{name}.safetensors"));
        let st = SafeTensors::deserialize(&bytes).unwrap();
        MlpProblem {
            name,
            widths,
            x: f64s(&st, "x"),
            y: labels(&st, "y"),
            theta: f64s(&st, "theta"),
            v: f64s(&st, "v"),
            gradient: f64s(&st, "gradient"),
            hvp: f64s(&st, "hvp"),
            eigenvalues: f64s(&st, "eigenvalues"),
            scalars,
        }
    }

    pub fn scalar(&self, key: &str) -> f64 {
        self.scalars[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} in {}", self.name))
    }

    pub fn loss(&self) -> impl Fn(&Tape<f64>, Var) -> Var + '_ {
        move |tape, theta| {
            let batch = self.y.len();
            let x = tape.constant(Tensor::matrix(self.x.clone(), batch, self.widths[0]).unwrap());
            tape.softmax_cross_entropy(mlp_logits(tape, theta, &self.widths, x), &self.y)
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

/// max_i |a_i - b_i| / scale.
pub fn max_rel_diff(a: &[f64], b: &[f64], scale: f64) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / scale)
        .fold(0.0, f64::max)
}

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

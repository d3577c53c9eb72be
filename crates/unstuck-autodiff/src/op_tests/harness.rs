//! Runs one op case against central finite differences, at first and second order.

use super::cases::{Case, Values};
use crate::{CheckOptions, Element, Tape, Tensor, Var, check_grad, check_hvp};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `sum(c ⊙ tanh(y))` with position-dependent weights `c`: a rule that permutes,
/// transposes or broadcasts wrongly changes the answer, and the outer `tanh` makes the
/// second derivatives of linear ops non-trivial.
pub(crate) fn weighted_tanh_sum<T: Element>(tape: &Tape<T>, y: Var) -> Var {
    let dims = tape.dims(y);
    let numel: usize = dims.iter().product();
    let weights = (0..numel)
        .map(|i| T::from_f64(0.5 + ((i * 7) % 5) as f64 * 0.3))
        .collect();
    let c = tape.constant(Tensor::new(weights, &dims).expect("weights fill the shape"));
    tape.sum(tape.mul(c, tape.tanh(y)))
}

/// `theta` carved into the case's inputs, in order.
fn carve<T: Element>(tape: &Tape<T>, theta: Var, shapes: &[Vec<usize>]) -> Vec<Var> {
    let mut offset = 0;
    shapes
        .iter()
        .map(|dims| {
            let len: usize = dims.iter().product();
            let flat = tape.slice(theta, offset, len);
            offset += len;
            tape.reshape(flat, dims)
        })
        .collect()
}

/// The scalar function of theta that checks `case`.
pub(crate) fn objective<T: Element>(case: &Case<T>) -> impl Fn(&Tape<T>, Var) -> Var + '_ {
    move |tape, theta| {
        let inputs = carve(tape, theta, &case.shapes);
        weighted_tanh_sum(tape, (case.build)(tape, &inputs))
    }
}

/// A point and a direction for `case`, drawn from `seed`.
pub(crate) fn point(case: &Case<f64>, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = case.n_params();
    let theta = match case.values {
        Values::Any => (0..n).map(|_| rng.random_range(-1.5..1.5)).collect(),
        Values::AwayFromZero => (0..n)
            .map(|_| {
                let x: f64 = rng.random_range(0.05..1.5);
                if rng.random::<bool>() { x } else { -x }
            })
            .collect(),
        Values::Distinct => {
            // A shuffled grid: any two entries are at least 3 / n apart, far beyond the
            // finite-difference step, so no window's maximum changes under a probe.
            let mut grid: Vec<f64> = (0..n)
                .map(|i| -1.5 + 3.0 * (i as f64 + 0.5) / n as f64)
                .collect();
            grid.shuffle(&mut rng);
            grid
        }
    };
    let v = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    (theta, v)
}

/// Checks the gradient and the Hessian-vector product of `case` at `theta` along `v`.
pub(crate) fn check_case(
    case: &Case<f64>,
    theta: &[f64],
    v: &[f64],
    options: &CheckOptions,
) -> Result<(), String> {
    let f = objective(case);
    let grad = check_grad(&f, theta, options).map_err(|e| format!("{}: {e}", case.name))?;
    if !grad.passed() {
        return Err(format!("{} gradient: {grad}", case.name));
    }
    let hvp = check_hvp(&f, theta, v, options).map_err(|e| format!("{}: {e}", case.name))?;
    if !hvp.passed() {
        return Err(format!("{} hvp: {hvp}", case.name));
    }
    Ok(())
}

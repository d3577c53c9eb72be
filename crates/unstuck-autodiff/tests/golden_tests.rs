//! Values, gradients and Hessians against PyTorch (f64), from `tests/fixtures/`.
//!
//! Tolerance: PyTorch and we sum in different orders, so results agree to a few ulps of
//! the largest entry; 1e-12 relative to the inf-norm leaves three orders of margin over
//! the observed ~1e-15 while still catching any wrong rule (which errs at order 1).

mod common;

use common::{MlpProblem, max_rel_diff, mlp_logits, n_params, norm_inf};
use serde_json::Value;
use unstuck_autodiff::{Curvature, Tape, Tensor, Var, gradient};

const TOL: f64 = 1e-12;

fn analytic() -> Value {
    serde_json::from_slice(&common::fixture("analytic.json")).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|x| match x {
            Value::Array(_) => floats(x),
            _ => vec![x.as_f64().unwrap()],
        })
        .collect()
}

/// Full Hessian through the block HVP with the identity, row-major P x P.
fn dense_hessian(curvature: &Curvature<f64>) -> Vec<f64> {
    let p = curvature.dim();
    let mut identity = vec![0.0; p * p];
    for i in 0..p {
        identity[i * p + i] = 1.0;
    }
    curvature.hvp_block(&identity, p).unwrap()
}

fn check_point(name: &str, f: impl Fn(&Tape<f64>, Var) -> Var, golden: &Value, theta_key: &str) {
    let theta = floats(&golden[theta_key]);
    let curvature = Curvature::new(&f, &theta).unwrap();
    let want_value = golden["value"].as_f64().unwrap();
    let want_grad = floats(&golden["gradient"]);
    let want_hessian = floats(&golden["hessian"]);
    let scale = norm_inf(&want_hessian).max(1.0);
    assert!(
        (curvature.value() - want_value).abs() <= TOL * want_value.abs().max(1.0),
        "{name} at {theta:?}: value {} vs {want_value}",
        curvature.value()
    );
    let grad_err = max_rel_diff(
        curvature.gradient(),
        &want_grad,
        norm_inf(&want_grad).max(1.0),
    );
    assert!(
        grad_err <= TOL,
        "{name} at {theta:?}: gradient error {grad_err:e}"
    );
    let hess_err = max_rel_diff(&dense_hessian(&curvature), &want_hessian, scale);
    assert!(
        hess_err <= TOL,
        "{name} at {theta:?}: Hessian error {hess_err:e}"
    );
    // The first-order path (no recording) must agree with the recorded gradient exactly.
    let (value, grad) = gradient(&f, &theta).unwrap();
    assert_eq!(value.to_bits(), curvature.value().to_bits(), "{name}");
    assert_eq!(grad, curvature.gradient(), "{name}");
}

fn lecture_loss(tape: &Tape<f64>, w: Var) -> Var {
    let product = tape.mul(tape.slice(w, 0, 1), tape.slice(w, 1, 1));
    tape.sum(tape.square(tape.shift(tape.neg(product), 1.0)))
}

#[test]
fn lecture_network_matches_pytorch_at_every_point() {
    let golden = analytic();
    let points = golden["linear_net_1x1"]["points"].as_array().unwrap();
    assert_eq!(points.len(), 5);
    for point in points {
        check_point("(1 - w1 w2)^2", lecture_loss, point, "point");
    }
}

#[test]
fn lecture_saddle_hessian_is_exact() {
    let curvature = Curvature::new(lecture_loss, &[0.0, 0.0]).unwrap();
    assert_eq!(dense_hessian(&curvature), vec![0.0, -2.0, -2.0, 0.0]);
    assert_eq!(curvature.gradient(), &[0.0, 0.0]);
}

#[test]
fn rosenbrock_matches_pytorch() {
    let rosenbrock = |tape: &Tape<f64>, p: Var| {
        let (x, y) = (tape.slice(p, 0, 1), tape.slice(p, 1, 1));
        let a = tape.square(tape.shift(tape.neg(x), 1.0));
        let b = tape.scale(tape.square(tape.sub(y, tape.square(x))), 100.0);
        tape.sum(tape.add(a, b))
    };
    for point in analytic()["rosenbrock"]["points"].as_array().unwrap() {
        check_point("rosenbrock", rosenbrock, point, "point");
    }
}

#[test]
fn tiny_mse_mlp_matches_pytorch() {
    let golden = &analytic()["mlp_2_2_1_tanh_mse"];
    let widths = [2, 2, 1];
    let x = floats(&golden["x"]);
    let y = floats(&golden["y"]);
    let f = |tape: &Tape<f64>, theta: Var| {
        let xs = tape.constant(Tensor::matrix(x.clone(), 4, 2).unwrap());
        let ys = tape.constant(Tensor::matrix(y.clone(), 4, 1).unwrap());
        tape.mse(mlp_logits(tape, theta, &widths, xs), ys)
    };
    assert_eq!(n_params(&widths), 9);
    check_point("mlp_2_2_1_tanh_mse", f, golden, "theta");
}

#[test]
fn tiny_cross_entropy_mlp_matches_pytorch() {
    let golden = &analytic()["mlp_2_3_2_tanh_ce"];
    let widths = [2, 3, 2];
    let x = floats(&golden["x"]);
    let y: Vec<usize> = floats(&golden["y"]).iter().map(|&c| c as usize).collect();
    let f = |tape: &Tape<f64>, theta: Var| {
        let xs = tape.constant(Tensor::matrix(x.clone(), 3, 2).unwrap());
        tape.softmax_cross_entropy(mlp_logits(tape, theta, &widths, xs), &y)
    };
    check_point("mlp_2_3_2_tanh_ce", f, golden, "theta");
}

fn check_problem(file: &str, key: &str, widths: &[usize]) {
    let problem = MlpProblem::load(file, widths);
    let scalars: Value = serde_json::from_slice(&common::fixture("hessian_problems.json")).unwrap();
    let want_loss = scalars["problems"][key]["loss"].as_f64().unwrap();
    assert_eq!(problem.theta.len(), n_params(widths));
    let curvature = Curvature::new(problem.loss(), &problem.theta).unwrap();
    assert!(
        (curvature.value() - want_loss).abs() <= TOL * want_loss,
        "{key}: loss {} vs {want_loss}",
        curvature.value()
    );
    let grad_err = max_rel_diff(
        curvature.gradient(),
        &problem.gradient,
        norm_inf(&problem.gradient),
    );
    assert!(grad_err <= TOL, "{key}: gradient error {grad_err:e}");
    let hv = curvature.hvp(&problem.v).unwrap();
    let hvp_err = max_rel_diff(&hv, &problem.hvp, norm_inf(&problem.hvp));
    assert!(hvp_err <= TOL, "{key}: hvp error {hvp_err:e}");
}

#[test]
fn p100_loss_gradient_and_hvp_match_pytorch() {
    check_problem("hessian_p100.safetensors", "p100", &[3, 8, 6, 2]);
}

#[test]
fn p1000_loss_gradient_and_hvp_match_pytorch() {
    check_problem("hessian_p1000.safetensors", "p1000", &[16, 24, 20, 4]);
}

#[test]
fn p100_hessian_trace_matches_pytorch() {
    let problem = MlpProblem::load("hessian_p100.safetensors", &[3, 8, 6, 2]);
    let curvature = Curvature::new(problem.loss(), &problem.theta).unwrap();
    let hessian = dense_hessian(&curvature);
    let p = curvature.dim();
    let trace: f64 = (0..p).map(|i| hessian[i * p + i]).sum();
    let want: f64 = problem.eigenvalues.iter().sum();
    assert!(
        (trace - want).abs() <= 1e-12 * want.abs(),
        "trace {trace} vs {want}"
    );
    let asymmetry = (0..p)
        .flat_map(|i| (0..p).map(move |j| (i, j)))
        .map(|(i, j)| (hessian[i * p + j] - hessian[j * p + i]).abs())
        .fold(0.0, f64::max);
    assert!(asymmetry <= 1e-15, "asymmetry {asymmetry:e}");
}

#[test]
fn f32_mlp_gradient_tracks_f64() {
    // The same p100 problem in f32: agreement to f32 round-off accumulated over a batch of
    // 256 (about 1e-6 relative to the largest entry), which f64 truncation to f32 cannot hide.
    let problem = MlpProblem::load("hessian_p100.safetensors", &[3, 8, 6, 2]);
    let theta32: Vec<f32> = problem.theta.iter().map(|&t| t as f32).collect();
    let x32: Vec<f32> = problem.x.iter().map(|&t| t as f32).collect();
    let f = |tape: &Tape<f32>, theta: Var| {
        let x = tape.constant(Tensor::matrix(x32.clone(), 256, 3).unwrap());
        tape.softmax_cross_entropy(mlp_logits(tape, theta, &problem.widths, x), &problem.y)
    };
    let (_, grad) = gradient(f, &theta32).unwrap();
    let grad: Vec<f64> = grad.iter().map(|&g| g as f64).collect();
    let err = max_rel_diff(&grad, &problem.gradient, norm_inf(&problem.gradient));
    assert!(err <= 1e-5, "f32 gradient error {err:e}");
    let hv = Curvature::new(f, &theta32)
        .unwrap()
        .hvp(&problem.v.iter().map(|&t| t as f32).collect::<Vec<_>>())
        .unwrap();
    let hv: Vec<f64> = hv.iter().map(|&g| g as f64).collect();
    let err = max_rel_diff(&hv, &problem.hvp, norm_inf(&problem.hvp));
    assert!(err <= 1e-4, "f32 hvp error {err:e}");
}

//! The lecture's L(w1, w2) = (1 - w1 w2)^2, Rosenbrock and two tiny MLPs against the golden
//! values of analytic.json (PyTorch f64), through the autodiff tape.

mod common;

use common::{floats, json, lecture_loss, matrix, mlp_logits};
use serde_json::Value;
use unstuck_autodiff::{Tape, Tensor, Var};
use unstuck_hessian::{
    ClassifyTolerances, CriticalPointAnalysis, EscapeConfig, LanczosConfig, LossSurface,
    TapeObjective, analyze_critical_point, escape_saddle, escape_step, hessian_of,
};

fn rosenbrock(tape: &Tape<f64>, w: Var) -> Var {
    let x = tape.slice(w, 0, 1);
    let y = tape.slice(w, 1, 1);
    let a = tape.square(tape.shift(tape.neg(x), 1.0));
    let b = tape.scale(tape.square(tape.sub(y, tape.square(x))), 100.0);
    tape.sum(tape.add(a, b))
}

type TapeFn = fn(&Tape<f64>, Var) -> Var;

/// Compares one golden point with our analysis of `f` there.
///
/// Tolerances: value, gradient and Hessian come from the same few float operations as in
/// PyTorch, so they agree to a few ulps of the largest entry (1e-13 relative leaves room).
/// Eigenvalues of a backward-stable solver differ by ~eps * ||H|| (1e-12 relative).
fn check_point(f: TapeFn, golden: &Value, label: &str) -> CriticalPointAnalysis {
    let objective = TapeObjective::new(2, f);
    let theta = floats(&golden["point"]);
    let res = analyze_critical_point(&objective, &theta, ClassifyTolerances::default()).unwrap();

    let value = golden["value"].as_f64().unwrap();
    assert!(
        (res.value - value).abs() <= 1e-13 * value.abs().max(1.0),
        "{label}: value {} vs {value}",
        res.value
    );
    let (_, gradient) = objective.value_and_gradient(&theta).unwrap();
    let want_gradient = floats(&golden["gradient"]);
    let g_scale = want_gradient.iter().fold(1.0_f64, |m, x| m.max(x.abs()));
    assert!(
        common::max_rel_diff(&gradient, &want_gradient, g_scale) <= 1e-13,
        "{label}: gradient"
    );
    let gradient_norm = golden["gradient_norm"].as_f64().unwrap();
    assert!(
        (res.gradient_norm - gradient_norm).abs() <= 1e-13 * gradient_norm.max(1.0),
        "{label}: gradient norm"
    );

    let hessian = hessian_of(f, &theta).unwrap();
    let want_hessian = matrix(&golden["hessian"]);
    let h_scale = want_hessian.iter().fold(1.0_f64, |m, x| m.max(x.abs()));
    assert!(
        common::max_rel_diff(hessian.data(), &want_hessian, h_scale) <= 1e-13,
        "{label}: hessian"
    );
    assert_eq!(
        hessian.asymmetry(),
        0.0,
        "{label}: a 2x2 HVP Hessian is exactly symmetric here"
    );

    let want = floats(&golden["eigenvalues"]);
    let scale = want.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    assert!(
        common::max_rel_diff(&res.eigenvalues, &want, scale) <= 1e-12,
        "{label}: eigenvalues"
    );
    assert_eq!(
        res.kind.as_str(),
        golden["classification"].as_str().unwrap(),
        "{label}: classification"
    );
    check_eigenvectors(&objective, golden, label);
    res
}

#[test]
fn lecture_example_at_every_golden_point() {
    let golden = json("analytic.json");
    for (idx, point) in golden["linear_net_1x1"]["points"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        check_point(lecture_loss, point, &format!("lecture point {idx}"));
    }
}

#[test]
fn rosenbrock_at_every_golden_point() {
    let golden = json("analytic.json");
    for (idx, point) in golden["rosenbrock"]["points"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        check_point(rosenbrock, point, &format!("rosenbrock point {idx}"));
    }
}

/// Eigenvectors against golden `eigenvectors_list` (row j = eigenvector j, largest entry
/// positive), for eigenvalues separated by more than 1e-6 relative from the others (in a
/// cluster the basis is arbitrary), to 1e-10: the error is ~eps * ||H|| / gap.
fn check_eigenvectors<F: LossSurface>(f: &F, golden: &Value, label: &str) {
    let theta = floats(golden.get("point").unwrap_or(&golden["theta"]));
    let curvature = f.curvature(&theta).unwrap();
    let eigen = unstuck_hessian::full_hessian(&*curvature)
        .unwrap()
        .eigen()
        .unwrap();
    let values = eigen.values();
    let scale = values.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    for (j, want) in golden["eigenvectors_list"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let gap = values
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != j)
            .map(|(_, v)| (v - values[j]).abs())
            .fold(f64::INFINITY, f64::min);
        if gap <= 1e-6 * scale {
            continue;
        }
        let want = floats(want);
        // The sign convention (largest entry positive) is decided by rounding when two
        // entries tie in magnitude (here: output-layer symmetries of softmax); then the
        // sign is arbitrary and the comparison is up to sign.
        let mut magnitudes: Vec<f64> = want.iter().map(|x| x.abs()).collect();
        magnitudes.sort_by(|a, b| b.total_cmp(a));
        let tied = magnitudes.len() > 1 && magnitudes[0] - magnitudes[1] <= 1e-12 * magnitudes[0];
        let sign = if tied && common::dot(eigen.vector(j), &want) < 0.0 {
            -1.0
        } else {
            1.0
        };
        for (g, w) in eigen.vector(j).iter().zip(&want) {
            assert!(
                (sign * g - w).abs() < 1e-10,
                "{label}: eigenvector {j}: {g} vs {w}"
            );
        }
    }
}

#[test]
fn lecture_saddle_at_the_origin() {
    let f = TapeObjective::new(2, lecture_loss);
    let res = analyze_critical_point(&f, &[0.0, 0.0], ClassifyTolerances::default()).unwrap();
    // H = [[0, -2], [-2, 0]] exactly: products of zeros and twos.
    let h = hessian_of(lecture_loss, &[0.0, 0.0]).unwrap();
    assert_eq!(h.data(), &[0.0, -2.0, -2.0, 0.0]);
    // Eigenvalues of that matrix by faer: a few ulps from ±2.
    assert!((res.eigenvalues[0] + 2.0).abs() < 1e-14 && (res.eigenvalues[1] - 2.0).abs() < 1e-14);
    assert_eq!(res.kind.as_str(), "saddle");
    assert_eq!(res.minimum_ratio, 0.5);
    let escape = res
        .escape
        .as_ref()
        .expect("a saddle has an escape direction");
    let s = 0.5f64.sqrt();
    for x in &escape.direction {
        assert!(
            (x - s).abs() < 1e-14,
            "direction {:?} is not (1, 1)/sqrt 2",
            escape.direction
        );
    }

    // The step along it: the model 1 - a^2 reaches the floor 0 at a = 1, where the true
    // loss is (1 - 1/2)^2 = 1/4.
    let step = escape_step(
        &f,
        &[0.0, 0.0],
        &escape.direction,
        escape.eigenvalue,
        EscapeConfig::default(),
    )
    .unwrap();
    assert!((step.alpha.abs() - 1.0).abs() < 1e-14);
    assert!((step.loss_after - 0.25).abs() < 1e-14);
    assert!((step.loss_drop - 0.75).abs() < 1e-14 && (step.predicted_drop - 1.0).abs() < 1e-14);
    // The new point is along ±(1, 1): w1 = w2.
    assert!((step.theta[0] - step.theta[1]).abs() < 1e-15);

    // Matrix-free, the same: Lanczos finds the direction itself.
    let free = escape_saddle(
        &f,
        &[0.0, 0.0],
        LanczosConfig::default(),
        EscapeConfig::default(),
    )
    .unwrap();
    assert!((free.loss_after - 0.25).abs() < 1e-14);
}

#[test]
fn escape_from_the_saddle_then_refine_reaches_a_minimum() {
    // After the escape step the loss keeps falling to the valley w1 w2 = 1 under gradient
    // descent; the Newton refinement from near the valley lands on a degenerate minimum.
    let f = TapeObjective::new(2, lecture_loss);
    let step = escape_saddle(
        &f,
        &[0.0, 0.0],
        LanczosConfig::default(),
        EscapeConfig::default(),
    )
    .unwrap();
    let mut theta = step.theta.clone();
    for _ in 0..200 {
        let (_, g) = f.value_and_gradient(&theta).unwrap();
        theta.iter_mut().zip(&g).for_each(|(t, g)| *t -= 0.1 * g);
    }
    let refined = unstuck_hessian::refine_critical_point(&f, &theta, Default::default()).unwrap();
    assert!(refined.converged);
    let res = analyze_critical_point(&f, &refined.theta, ClassifyTolerances::default()).unwrap();
    assert_eq!(res.kind.as_str(), "degenerate_psd");
    assert!(res.value < 1e-20);
}

fn tiny_mlp(golden: &Value) -> (Vec<usize>, Vec<f64>, usize, Vec<f64>) {
    let widths = golden["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_u64().unwrap() as usize)
        .collect();
    let x = matrix(&golden["x"]);
    let batch = golden["x"].as_array().unwrap().len();
    (widths, x, batch, floats(&golden["theta"]))
}

#[test]
fn tiny_tanh_mlp_with_mse() {
    let golden = json("analytic.json")["mlp_2_2_1_tanh_mse"].clone();
    let (widths, x, batch, theta) = tiny_mlp(&golden);
    let y = matrix(&golden["y"]);
    let loss = |tape: &Tape<f64>, w: Var| {
        let xs = tape.constant(Tensor::matrix(x.clone(), batch, widths[0]).unwrap());
        let target = tape.constant(Tensor::matrix(y.clone(), batch, 1).unwrap());
        tape.mse(mlp_logits(tape, w, &widths, xs), target)
    };
    check_mlp(TapeObjective::new(theta.len(), loss), &theta, &golden);
}

#[test]
fn tiny_tanh_mlp_with_cross_entropy() {
    let golden = json("analytic.json")["mlp_2_3_2_tanh_ce"].clone();
    let (widths, x, batch, theta) = tiny_mlp(&golden);
    let labels: Vec<usize> = golden["y"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_u64().unwrap() as usize)
        .collect();
    let loss = |tape: &Tape<f64>, w: Var| {
        let xs = tape.constant(Tensor::matrix(x.clone(), batch, widths[0]).unwrap());
        tape.softmax_cross_entropy(mlp_logits(tape, w, &widths, xs), &labels)
    };
    check_mlp(TapeObjective::new(theta.len(), loss), &theta, &golden);
}

fn check_mlp<F: Fn(&Tape<f64>, Var) -> Var>(f: TapeObjective<F>, theta: &[f64], golden: &Value) {
    let res = analyze_critical_point(&f, theta, ClassifyTolerances::default()).unwrap();
    let value = golden["value"].as_f64().unwrap();
    assert!(
        (res.value - value).abs() < 1e-14,
        "{} vs {value}",
        res.value
    );
    let curvature = f.curvature(theta).unwrap();
    let hessian = unstuck_hessian::full_hessian(&*curvature).unwrap();
    // An exact HVP Hessian is symmetric up to rounding of its O(1) entries.
    assert!(
        hessian.asymmetry() < 1e-14,
        "asymmetry {}",
        hessian.asymmetry()
    );
    let want_hessian = matrix(&golden["hessian"]);
    let h_scale = want_hessian.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    // Up to ~100 roundings of the batch sums in a different order than PyTorch: 1e-13.
    assert!(common::max_rel_diff(hessian.data(), &want_hessian, h_scale) < 1e-13);
    let want = floats(&golden["eigenvalues"]);
    let scale = want.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    assert!(common::max_rel_diff(&res.eigenvalues, &want, scale) < 1e-12);
    assert_eq!(
        res.kind.as_str(),
        golden["classification"].as_str().unwrap()
    );
    check_eigenvectors(&f, golden, "mlp");
}

//! The lecture's forms against hand-derived values, and against their PyTorch cousins.

mod common;

use common::rosenbrock_grad;
use unstuck_optim::{
    LectureAdagrad, LectureAdagradConfig, LectureMomentum, LectureMomentumConfig, LectureRmsProp,
    LectureRmsPropConfig, Optimizer, Registry,
};

fn trajectory(spec: &str, steps: usize) -> Vec<Vec<f64>> {
    let mut opt = Registry::<f64>::builtin()
        .build(spec)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut theta = vec![-1.2, 1.0, -0.5, 0.8];
    let mut out = vec![theta.clone()];
    for _ in 0..steps {
        let grads = rosenbrock_grad(&theta);
        opt.step(&mut theta, &grads).unwrap();
        out.push(theta.clone());
    }
    out
}

fn max_gap(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn momentum_matches_the_hand_derivation() {
    // m1 = -alpha g0, m2 = -lambda alpha g0 - alpha g1 (lecture section 3.2.2). With
    // dyadic alpha, lambda and gradients every operation is exact, so bits must agree.
    let (alpha, lambda) = (0.125, 0.5);
    let (g0, g1) = ([1.0, -2.0], [0.5, 0.25]);
    let mut opt = LectureMomentum::<f64>::new(LectureMomentumConfig {
        lr: alpha,
        momentum: lambda,
    })
    .unwrap();
    let mut theta = vec![1.0, 1.0];
    opt.step(&mut theta, &g0).unwrap();
    let m1: Vec<f64> = g0.iter().map(|g| -alpha * g).collect();
    assert_eq!(opt.rule_state().unwrap().movement, m1);
    assert_eq!(theta, vec![1.0 + m1[0], 1.0 + m1[1]]);
    opt.step(&mut theta, &g1).unwrap();
    let m2: Vec<f64> = (0..2)
        .map(|i| -lambda * alpha * g0[i] - alpha * g1[i])
        .collect();
    assert_eq!(opt.rule_state().unwrap().movement, m2);
    assert_eq!(theta, vec![1.0 + m1[0] + m2[0], 1.0 + m1[1] + m2[1]]);
}

#[test]
fn momentum_agrees_with_pytorch_only_while_lr_is_constant() {
    let steps = 60;
    let lecture = trajectory("lecture_momentum:lr=0.01,momentum=0.9", steps);
    let pytorch = trajectory("sgd:lr=0.01,momentum=0.9", steps);
    for (k, (a, b)) in lecture.iter().zip(&pytorch).enumerate() {
        // Same recursion, different roundings (m = -lr buf is not formed exactly);
        // measured gap 8e-16 over 60 steps, the bound leaves room for amplification.
        assert!(max_gap(a, b) < 1e-13, "step {k}: {a:?} vs {b:?}");
    }
    // Halve the rate at step 10: PyTorch rescales the whole velocity at once, the lecture
    // keeps old movements at the old rate. Identical before, clearly apart after.
    let schedule = "schedule=(step:step_size=10,gamma=0.5)";
    let lecture = trajectory(
        &format!("lecture_momentum:lr=0.01,momentum=0.9,{schedule}"),
        steps,
    );
    let pytorch = trajectory(&format!("sgd:lr=0.01,momentum=0.9,{schedule}"), steps);
    for k in 0..=10 {
        assert!(max_gap(&lecture[k], &pytorch[k]) < 1e-13, "step {k}");
    }
    // Measured 0.09 right after the change: a real difference, not round-off.
    assert!(
        max_gap(&lecture[11], &pytorch[11]) > 1e-2,
        "{:?} vs {:?}",
        lecture[11],
        pytorch[11]
    );
}

#[test]
fn adagrad_matches_the_hand_derivation() {
    let eta = 0.1;
    let (g0, g1) = ([3.0, -4.0, 0.0], [4.0, 3.0, 2.0]);
    let mut opt = LectureAdagrad::<f64>::new(LectureAdagradConfig { lr: eta }).unwrap();
    let mut theta = vec![1.0, 1.0, 1.0];
    opt.step(&mut theta, &g0).unwrap();
    // sigma0 = |g0|: the first step is eta * sign(g0); a zero gradient (sigma0 = 0) leaves
    // its parameter where it was.
    assert_eq!(opt.rule_state().unwrap().sigma(1), vec![3.0, 4.0, 0.0]);
    let theta1 = [1.0 - eta, 1.0 + eta, 1.0];
    for (ours, want) in theta.iter().zip(theta1) {
        // eta / 3 * 3 rounds twice: within 2 ulps of eta.
        assert!((ours - want).abs() < 1e-15, "{theta:?}");
    }
    opt.step(&mut theta, &g1).unwrap();
    // sigma1 = sqrt((g0^2 + g1^2) / 2).
    let sigma1: Vec<f64> = (0..3)
        .map(|i| ((g0[i] * g0[i] + g1[i] * g1[i]) / 2.0).sqrt())
        .collect();
    assert_eq!(opt.rule_state().unwrap().sigma(2), sigma1);
    for i in 0..3 {
        let want = theta1[i] - eta / sigma1[i] * g1[i];
        assert!(
            (theta[i] - want).abs() < 1e-15,
            "{i}: {} vs {want}",
            theta[i]
        );
    }
    // The parameter that had no gradient moves by eta * sqrt(2) once it gets one.
    assert!((theta[2] - (1.0 - eta * 2f64.sqrt())).abs() < 1e-15);
}

#[test]
fn adagrad_is_pytorchs_under_an_inverse_sqrt_schedule() {
    // eta_i = lr / sqrt(i + 1) turns RMS into root-sum: PyTorch's Adagrad with eps -> 0.
    let lecture = trajectory(
        "lecture_adagrad:lr=0.1,schedule=(inverse_sqrt:timescale=1)",
        60,
    );
    let pytorch = trajectory("adagrad:lr=0.1,eps=1e-300", 60);
    for (k, (a, b)) in lecture.iter().zip(&pytorch).enumerate() {
        // Different operation orders (divide the sum, then by sqrt(i+1) through the rate):
        // measured gap 6e-17 over 60 steps; the bound leaves room for amplification.
        assert!(max_gap(a, b) < 1e-14, "step {k}: {a:?} vs {b:?}");
    }
    // Without the schedule the lecture's second step is sqrt(2) times PyTorch's (same
    // first point, same gradients, eps negligible).
    let plain = trajectory("lecture_adagrad:lr=0.1", 2);
    let ratio = max_gap(&plain[2], &plain[1]) / max_gap(&pytorch[2], &pytorch[1]);
    assert!((ratio - 2f64.sqrt()).abs() < 1e-12, "{ratio}");
}

#[test]
fn rmsprop_matches_the_hand_derivation() {
    let (eta, k) = (0.01, 0.9);
    let (g0, g1) = ([2.0, -0.5], [1.0, 4.0]);
    let mut opt = LectureRmsProp::<f64>::new(LectureRmsPropConfig { lr: eta, k }).unwrap();
    let mut theta = vec![0.0, 0.0];
    opt.step(&mut theta, &g0).unwrap();
    // sigma0 = |g0| exactly, so the first step is eta * sign(g0).
    assert_eq!(opt.rule_state().unwrap().sigma, vec![2.0, 0.5]);
    assert!(
        (theta[0] + eta).abs() < 1e-17 && (theta[1] - eta).abs() < 1e-17,
        "{theta:?}"
    );
    let theta1 = theta.clone();
    opt.step(&mut theta, &g1).unwrap();
    for i in 0..2 {
        let sigma1 = (k * g0[i] * g0[i] + (1.0 - k) * g1[i] * g1[i]).sqrt();
        assert!((opt.rule_state().unwrap().sigma[i] - sigma1).abs() <= 1e-15 * sigma1);
        let want = theta1[i] - eta / sigma1 * g1[i];
        assert!(
            (theta[i] - want).abs() < 1e-17,
            "{i}: {} vs {want}",
            theta[i]
        );
    }
}

#[test]
fn rmsprop_zero_first_gradient_is_skipped_then_recovers() {
    let (eta, k) = (0.5, 0.75);
    let mut opt = LectureRmsProp::<f64>::new(LectureRmsPropConfig { lr: eta, k }).unwrap();
    let mut theta = vec![1.0, 1.0];
    // sigma0 = |0| = 0 for the first parameter: 0/0 is skipped, the parameter stays.
    opt.step(&mut theta, &[0.0, 1.0]).unwrap();
    assert_eq!(theta[0], 1.0);
    assert_eq!(opt.rule_state().unwrap().sigma[0], 0.0);
    // Then sigma1 = sqrt((1 - k) g^2) = |g| / 2, so the step is 2 eta: exact in dyadics.
    opt.step(&mut theta, &[4.0, 1.0]).unwrap();
    assert_eq!(opt.rule_state().unwrap().sigma[0], 2.0);
    assert_eq!(theta[0], 1.0 - 2.0 * eta);
}

#[test]
fn pytorch_rmsprop_starts_ten_times_larger() {
    // PyTorch starts its average at 0: sqrt((1 - 0.99) g^2) = 0.1 |g|, a 10x first step.
    let lecture = trajectory("lecture_rmsprop:lr=0.001,k=0.99", 1);
    let pytorch = trajectory("rmsprop:lr=0.001,alpha=0.99", 1);
    let ratio = max_gap(&pytorch[1], &pytorch[0]) / max_gap(&lecture[1], &lecture[0]);
    // eps = 1e-8 against |g| ~ 10 moves the ratio by ~1e-8 only.
    assert!((ratio - 10.0).abs() < 1e-6, "{ratio}");
}

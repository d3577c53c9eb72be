//! `Objective::curvature` and `Objective::hvp` on a large batch record it in slices of
//! examples: the same function as one recording, the same bits on one and two threads,
//! and one recording whenever a layer couples the examples.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use unstuck_autodiff::{Curvature, Tensor};
use unstuck_models::{Architecture, Loss, Mlp, Model, ModelRegistry, Objective, Targets};
use unstuck_test_support::threads::with_threads;

fn normals(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()
}

fn objective(model: &dyn Model<f64>, rows: usize, loss: Loss) -> Objective<'_, f64> {
    let dims: Vec<usize> = [rows].into_iter().chain(model.input_dims()).collect();
    let x = Tensor::new(normals(rows * model.input_width(), 1), &dims).unwrap();
    let outputs = model.output_width();
    let targets = match loss {
        Loss::Mse => Targets::Real {
            values: normals(rows * outputs, 2),
            n_outputs: outputs,
        },
        _ => Targets::Classes {
            labels: (0..rows).map(|i| (i * 7) % outputs).collect(),
            n_classes: outputs,
        },
    };
    Objective::new(model, x, targets, loss).unwrap()
}

fn bits(xs: &[f64]) -> Vec<u64> {
    xs.iter().map(|x| x.to_bits()).collect()
}

fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs() / scale))
}

/// 300 examples make two slices of 150. The slices' means are added in another order
/// than one mean over 300 (a few hundred roundings of the largest term, about 1e-14
/// relative); a slice weighted by its count instead of its share, or a lost slice, is off
/// by far more than 1e-4.
#[test]
fn slices_give_the_function_of_one_recording() {
    let mlp = Mlp::from_spec("5-7-4:tanh").unwrap();
    let theta: Vec<f64> = mlp.init(3);
    let v = normals(theta.len(), 4);
    for loss in [Loss::CrossEntropy, Loss::Mse] {
        let objective = objective(&mlp, 300, loss);
        assert_eq!(objective.slices(), 2);
        let sliced = objective.curvature(&theta).unwrap();
        assert_eq!(sliced.parts(), 2);
        let one = Curvature::new(objective.as_fn(), &theta).unwrap();
        let tolerance = 1e-12;
        assert!(rel_diff(&[sliced.value()], &[one.value()]) < tolerance);
        assert!(rel_diff(sliced.gradient(), one.gradient()) < tolerance);
        let (hv, one_hv) = (sliced.hvp(&v).unwrap(), one.hvp(&v).unwrap());
        assert!(rel_diff(&hv, &one_hv) < tolerance, "{loss}");
        // The fused product is the same arithmetic, so the same bits.
        assert_eq!(bits(&objective.hvp(&theta, &v).unwrap()), bits(&hv));
        // The gradient of the whole batch is the one a training step takes.
        let (_, gradient) = objective.gradient(&theta).unwrap();
        assert!(rel_diff(&gradient, sliced.gradient()) < tolerance);
    }
}

#[test]
fn sliced_products_are_the_same_bits_on_one_and_two_threads() {
    let mlp = Mlp::from_spec("6-8-8-3:gelu").unwrap();
    let theta: Vec<f64> = mlp.init(5);
    let objective = objective(&mlp, 1000, Loss::CrossEntropy);
    assert_eq!(objective.slices(), 7);
    let p = theta.len();
    let block = normals(p * 6, 6);
    let run = || {
        let curvature = objective.curvature(&theta).unwrap();
        (
            curvature.value().to_bits(),
            bits(curvature.gradient()),
            bits(&curvature.hvp(&block[..p]).unwrap()),
            bits(&curvature.hvp_block(&block, 6).unwrap()),
            bits(&objective.hvp(&theta, &block[..p]).unwrap()),
        )
    };
    let one = with_threads(1, run);
    assert_eq!(one, with_threads(2, run));
    assert_eq!(one.2, one.4);
    assert_eq!(one.2[..], one.3[..p]);
}

#[test]
fn a_network_that_couples_examples_is_recorded_whole() {
    let registry = ModelRegistry::builtin();
    let cases = [
        ("4/linear(6)-tanh-linear(3)", true),
        ("1x6x6/conv(2,k=3)-relu-maxpool(2)-flatten-linear(3)", true),
        (
            "5/tok=embedding(11,8)-pos=posembed-residual(attention(1))-layernorm-tokenmean-linear(3)",
            true,
        ),
        ("4/linear(6)-batchnorm-tanh-linear(3)", false),
        ("4/linear(6)-residual(linear(6)-batchnorm)-linear(3)", false),
        ("4/linear(6)-dropout(0.5)-linear(3)", false),
    ];
    for (spec, per_example) in cases {
        let model = registry.build(spec).unwrap();
        assert_eq!(Architecture::per_example(&*model), per_example, "{spec}");
        let model: &dyn Model<f64> = &*model;
        let theta: Vec<f64> = model.init(1);
        let rows = 256;
        let x = if model.token_vocabulary().is_some() {
            let ids: Vec<f64> = (0..rows * 5).map(|i| (i % 11) as f64).collect();
            Tensor::new(ids, &[rows, 5]).unwrap()
        } else {
            let dims: Vec<usize> = [rows].into_iter().chain(model.input_dims()).collect();
            Tensor::new(normals(rows * model.input_width(), 1), &dims).unwrap()
        };
        let targets = Targets::Classes {
            labels: (0..rows).map(|i| i % 3).collect(),
            n_classes: 3,
        };
        let objective = Objective::new(model, x, targets, Loss::CrossEntropy).unwrap();
        let expected = if per_example { 2 } else { 1 };
        assert_eq!(objective.slices(), expected, "{spec}");
        assert_eq!(objective.curvature(&theta).unwrap().parts(), expected);
    }
}

//! Networks written as a user writes them, through `ModelRegistry` network specs: the
//! LeNet-style training step, and Hessian work (one HVP from scratch, the full Hessian) on
//! the golden `cnn_digits` and `tiny_attention` networks at their golden batch sizes.

use super::Bench;
use super::timing::{Budget, Summary, measure};
use super::train_step::{batch, time_steps};
use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use unstuck::autodiff::Tensor;
use unstuck::hessian::full_hessian;
use unstuck::models::{AnyModel, Loss, Model, ModelRegistry, Objective, Targets};

/// The anchors' LeNet (`torch_cnn_train.py`) as a network spec.
pub const LENET: &str = "1x28x28/conv(6,k=5)-relu-maxpool(2)-conv(16,k=5)-relu-maxpool(2)-flatten-linear(120)-relu-linear(84)-relu-linear(10)";
/// The golden `cnn_digits` network (`crates/unstuck-models/tests/net_spec_tests.rs`).
const CNN_DIGITS: &str = "1x8x8/conv1=conv(4,k=3,pad=1)-tanh-maxpool(2)-conv2=conv(6,k=3)-tanh-avgpool(2)-flatten-fc=linear(10)";
/// The golden `tiny_attention` network.
const TINY_ATTENTION: &str = "5/tok=embedding(11,8)-pos=posembed-_=residual(_=attention(1))-ln=layernorm-tokenmean-head=linear(3)";

fn build(spec: &str) -> Result<Box<dyn AnyModel>> {
    Ok(ModelRegistry::builtin().build(spec)?)
}

/// Times one LeNet step, built from its spec, at batch `n` with optimizer `opt` (f32).
pub fn lenet_spec_step(n: usize, opt: &str, budget: Budget) -> Result<Summary> {
    let model = build(LENET)?;
    let model: &dyn Model<f32> = &*model;
    let (x, y) = batch(n, 28 * 28, 10, 2);
    let targets = Targets::Classes {
        labels: y,
        n_classes: 10,
    };
    let objective = Objective::new(
        model,
        Tensor::new(x, &[n, 1, 28, 28])?,
        targets,
        Loss::CrossEntropy,
    )?;
    time_steps(&objective, model.init(0), opt, budget)
}

/// A golden network's spec with a seeded batch of its golden size (images or token ids).
#[derive(Clone, Copy)]
struct Golden {
    spec: &'static str,
    input: fn(&mut ChaCha8Rng) -> (Vec<usize>, Vec<f64>),
    classes: usize,
}

const GOLDEN: [(&str, Golden); 2] = [
    (
        "cnn_digits",
        Golden {
            spec: CNN_DIGITS,
            input: |rng| {
                let x = (0..16 * 64).map(|_| rng.random_range(0.0..1.0)).collect();
                (vec![16, 1, 8, 8], x)
            },
            classes: 10,
        },
    ),
    (
        "tiny_attention",
        Golden {
            spec: TINY_ATTENTION,
            input: |rng| {
                let ids = (0..8 * 5).map(|_| rng.random_range(0..11) as f64).collect();
                (vec![8, 5], ids)
            },
            classes: 3,
        },
    ),
];

fn golden_objective<'m>(
    g: &Golden,
    model: &'m dyn Model<f64>,
) -> Result<(Objective<'m, f64>, Vec<f64>, Vec<f64>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (dims, x) = (g.input)(&mut rng);
    let labels = (0..dims[0])
        .map(|_| rng.random_range(0..g.classes))
        .collect();
    let targets = Targets::Classes {
        labels,
        n_classes: g.classes,
    };
    let objective = Objective::new(model, Tensor::new(x, &dims)?, targets, Loss::CrossEntropy)?;
    let theta: Vec<f64> = model.init(0);
    let v = (0..theta.len())
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    Ok((objective, theta, v))
}

/// HVP from scratch and the full Hessian of each golden network (f64).
pub fn benches() -> Vec<Bench> {
    let mut out = Vec::new();
    for (name, g) in GOLDEN {
        out.push(Bench {
            name: format!("hessian/{name}-hvp-from-scratch"),
            what: "HVP (record + 1 product)",
            run: Box::new(move |budget: Budget| {
                let model = build(g.spec)?;
                let (objective, theta, v) = golden_objective(&g, &*model)?;
                Ok(measure(budget, || {
                    let hv = objective.hvp(&theta, &v);
                    std::hint::black_box(hv.expect("a finite problem"));
                }))
            }),
        });
        out.push(Bench {
            name: format!("hessian/{name}-full-hessian"),
            what: "P x P Hessian",
            run: Box::new(move |budget: Budget| {
                let model = build(g.spec)?;
                let (objective, theta, _) = golden_objective(&g, &*model)?;
                Ok(measure(budget, || {
                    let h = objective
                        .curvature(&theta)
                        .map_err(anyhow::Error::from)
                        .and_then(|c| Ok(full_hessian(&c)?));
                    std::hint::black_box(h.expect("a finite problem"));
                }))
            }),
        });
    }
    out
}

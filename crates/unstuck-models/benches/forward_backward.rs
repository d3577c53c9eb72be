//! Forward, gradient and Hessian-vector product of MLPs on one mini-batch.

use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::hint::black_box;
use unstuck_autodiff::Tensor;
use unstuck_models::{Loss, Mlp, Model, Objective, Targets, logits};

fn batch(rows: usize, cols: usize, classes: usize, seed: u64) -> (Tensor<f64>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x: Vec<f64> = (0..rows * cols)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let y = (0..rows).map(|i| i % classes).collect();
    (
        Tensor::matrix(x, rows, cols).expect("rows x cols values"),
        y,
    )
}

fn bench_mlp(c: &mut Criterion, spec: &str, batch_size: usize) {
    let mlp = Mlp::from_spec(spec).expect("valid spec");
    let theta: Vec<f64> = mlp.init(0);
    let widths = mlp.widths();
    let (x, y) = batch(batch_size, widths[0], widths[widths.len() - 1], 1);
    let targets = Targets::Classes {
        labels: y,
        n_classes: widths[widths.len() - 1],
    };
    let objective =
        Objective::new(&mlp, x.clone(), targets, Loss::CrossEntropy).expect("valid batch");
    let mut group = c.benchmark_group(format!("{spec} batch {batch_size}"));
    group.sample_size(20);
    group.bench_function("logits", |b| {
        b.iter(|| logits(&mlp, black_box(&theta), &x).expect("valid input"))
    });
    group.bench_function("loss+gradient", |b| {
        b.iter(|| objective.gradient(black_box(&theta)).expect("finite"))
    });
    let curvature = objective.curvature(&theta).expect("finite");
    group.bench_function("hvp (recorded once)", |b| {
        b.iter(|| curvature.hvp(black_box(&theta)).expect("right length"))
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_mlp(c, "784-128-128-10:relu", 64);
    bench_mlp(c, "8-16-16-3:tanh", 32);
}

criterion_group!(models, benches);
criterion_main!(models);

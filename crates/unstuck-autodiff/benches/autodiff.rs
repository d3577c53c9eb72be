//! Forward + backward of MLPs, one HVP, and a block of HVPs: the anchors.
//!
//! `cargo bench -p unstuck-autodiff`

use criterion::{Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use unstuck_autodiff::{Curvature, Element, Tape, Tensor, Var};

#[path = "../tests/common/mod.rs"]
mod common;

/// The golden files' tanh MLP (shared with the tests) with mean cross-entropy.
fn mlp_loss<T: Element>(tape: &Tape<T>, theta: Var, widths: &[usize], x: Var, y: &[usize]) -> Var {
    tape.softmax_cross_entropy(common::mlp_logits(tape, theta, widths, x), y)
}

struct Problem<T> {
    widths: Vec<usize>,
    theta: Vec<T>,
    x: Vec<T>,
    y: Vec<usize>,
    batch: usize,
}

fn problem<T: Element>(widths: &[usize], batch: usize, seed: u64) -> Problem<T> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n_params: usize = widths.windows(2).map(|p| p[0] * p[1] + p[1]).sum();
    let scale = |fan_in: usize| 1.0 / (fan_in as f64).sqrt();
    let mut theta = Vec::with_capacity(n_params);
    for pair in widths.windows(2) {
        for _ in 0..pair[0] * pair[1] + pair[1] {
            theta.push(T::from_f64(rng.random_range(-1.0..1.0) * scale(pair[0])));
        }
    }
    let x = (0..batch * widths[0])
        .map(|_| T::from_f64(rng.random_range(-1.0..1.0)))
        .collect();
    let classes = *widths.last().unwrap();
    let y = (0..batch).map(|_| rng.random_range(0..classes)).collect();
    Problem {
        widths: widths.to_vec(),
        theta,
        x,
        y,
        batch,
    }
}

fn train_step<T: Element>(p: &Problem<T>) -> Vec<T> {
    let tape = Tape::<T>::new();
    let theta = tape.leaf(Tensor::vector(p.theta.clone()));
    let x = tape.constant(Tensor::matrix(p.x.clone(), p.batch, p.widths[0]).unwrap());
    let loss = mlp_loss(&tape, theta, &p.widths, x, &p.y);
    tape.grad(loss, &[theta]).pop().unwrap().into_data()
}

fn curvature(p: &Problem<f64>) -> Curvature<f64> {
    Curvature::new(
        |tape: &Tape<f64>, theta: Var| {
            let x = tape.constant(Tensor::matrix(p.x.clone(), p.batch, p.widths[0]).unwrap());
            mlp_loss(tape, theta, &p.widths, x, &p.y)
        },
        &p.theta,
    )
    .unwrap()
}

fn benches(c: &mut Criterion) {
    let small = problem::<f32>(&[2, 16, 16, 2], 32, 1);
    c.bench_function("fwd+bwd mlp 2-16-16-2 batch 32 f32", |b| {
        b.iter(|| black_box(train_step(&small)))
    });
    let mnist = problem::<f32>(&[784, 256, 256, 10], 128, 2);
    c.bench_function("fwd+bwd mlp 784-256-256-10 batch 128 f32", |b| {
        b.iter(|| black_box(train_step(&mnist)))
    });

    let hessian = problem::<f64>(&[32, 48, 24, 8], 256, 3);
    let p = hessian.theta.len();
    assert_eq!(p, 2960);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let v: Vec<f64> = (0..p).map(|_| rng.random_range(-1.0..1.0)).collect();
    c.bench_function(
        "hvp (record + 1 product) mlp 32-48-24-8 P=2960 batch 256 f64",
        |b| b.iter(|| black_box(curvature(&hessian).hvp(&v).unwrap())),
    );
    let recorded = curvature(&hessian);
    c.bench_function("hvp (product only, recorded once) P=2960", |b| {
        b.iter(|| black_box(recorded.hvp(&v).unwrap()))
    });
    let k = 64;
    let block: Vec<f64> = (0..p * k).map(|_| rng.random_range(-1.0..1.0)).collect();
    c.bench_function("hvp_block 64 vectors P=2960", |b| {
        b.iter(|| black_box(recorded.hvp_block(&block, k).unwrap()))
    });
}

criterion_group! {
    name = group;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(group);

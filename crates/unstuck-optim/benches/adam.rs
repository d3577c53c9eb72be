//! Adam step on 1,000,000 f32 parameters.
//!
//! Run: `cargo bench -p unstuck-optim --bench adam`.
//!
//! Throughput counts the bytes Adam must move per step, 28 MB: the parameters are read
//! and written (8 MB), the gradients read (4 MB), and both moments read and written
//! (16 MB). The finite-gradient check reads the gradients once more (4 MB, not counted).
//! The working set fits this machine's 32 MB L3, so the figure is a cache bandwidth.
//! `copy_f32_1m` (a 4 MB to 4 MB copy) is measured alongside as a reference under the
//! same machine load.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use unstuck_optim::{Adam, AdamConfig, Optimizer};

const N_PARAMS: usize = 1_000_000;

fn adam_step(c: &mut Criterion) {
    let mut params: Vec<f32> = (0..N_PARAMS).map(|i| (i as f32 * 1e-3).sin()).collect();
    let grads: Vec<f32> = (0..N_PARAMS)
        .map(|i| (i as f32 * 2e-3).cos() * 1e-2)
        .collect();
    let mut opt = match Adam::<f32>::new(AdamConfig::default()) {
        Ok(opt) => opt,
        Err(err) => panic!("default Adam is valid: {err}"),
    };
    let mut group = c.benchmark_group("adam");
    group.throughput(Throughput::Bytes((7 * 4 * N_PARAMS) as u64));
    group.bench_function("step_f32_1m", |b| {
        b.iter(|| {
            if let Err(err) = opt.step(black_box(&mut params), black_box(&grads)) {
                panic!("finite gradients: {err}");
            }
        })
    });
    // Reference point under the same machine load: a plain 1M f32 copy (8 MB moved).
    let source = grads.clone();
    let mut target = vec![0.0f32; N_PARAMS];
    group.throughput(Throughput::Bytes((2 * 4 * N_PARAMS) as u64));
    group.bench_function("copy_f32_1m", |b| {
        b.iter(|| target.copy_from_slice(black_box(&source)));
        black_box(&target);
    });
    group.finish();
}

criterion_group!(benches, adam_step);
criterion_main!(benches);

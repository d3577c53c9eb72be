//! Criterion benchmarks against the anchors (tanh MLP 32-48-24-8, P = 2960, batch
//! 256, f64): JAX `jax.hessian` 1,516 ms, `torch.func.hessian` 4,471 ms; numpy `eigh` at
//! n = 2000 982 ms (values only 374 ms). Run: `cargo bench -p unstuck-hessian`.

mod common;

use std::hint::black_box;

use common::{RandomMlp, random_symmetric};
use criterion::{Criterion, criterion_group, criterion_main};
use unstuck_autodiff::Curvature;
use unstuck_hessian::{
    DenseHessian, LanczosConfig, PowerConfig, SpectrumEnd, TraceConfig, full_hessian,
    hutchinson_trace, lanczos, power_iteration,
};

const WIDTHS: [usize; 4] = [32, 48, 24, 8];

fn full_hessian_bench(c: &mut Criterion) {
    let problem = RandomMlp::new(&WIDTHS, 256, 1);
    assert_eq!(problem.n_params(), 2960);
    let mut group = c.benchmark_group("full_hessian_mlp_p2960_b256");
    group.sample_size(10);
    // Everything jax.hessian does: record the loss and its gradient graph, then P HVPs.
    group.bench_function("record_and_assemble", |b| {
        b.iter(|| {
            let curvature = Curvature::new(problem.loss(), &problem.theta).unwrap();
            black_box(full_hessian(&curvature).unwrap())
        })
    });
    group.finish();
}

fn eigen_bench(c: &mut Criterion) {
    let n = 2000;
    let h = DenseHessian::from_row_major(n, random_symmetric(n, 2)).unwrap();
    let mut group = c.benchmark_group("eigen_n2000");
    group.sample_size(10);
    group.bench_function("values_only", |b| {
        b.iter(|| black_box(h.eigenvalues().unwrap()))
    });
    group.bench_function("values_and_vectors", |b| {
        b.iter(|| black_box(h.eigen().unwrap()))
    });
    group.finish();
}

fn matrix_free_bench(c: &mut Criterion) {
    let problem = RandomMlp::new(&WIDTHS, 256, 1);
    let curvature = Curvature::new(problem.loss(), &problem.theta).unwrap();
    let mut group = c.benchmark_group("matrix_free_mlp_p2960_b256");
    group.sample_size(10);
    group.bench_function("lanczos_top1_tol1e-10", |b| {
        let config = LanczosConfig {
            k: 1,
            end: SpectrumEnd::Largest,
            ..Default::default()
        };
        b.iter(|| black_box(lanczos(&curvature, config).unwrap()))
    });
    group.bench_function("power_iteration_pyhessian_defaults", |b| {
        b.iter(|| black_box(power_iteration(&curvature, PowerConfig::default()).unwrap()))
    });
    group.bench_function("hvp_block_32", |b| {
        let vs = vec![1.0; 32 * problem.n_params()];
        b.iter(|| black_box(curvature.hvp_block(&vs, 32).unwrap()))
    });
    group.bench_function("hutchinson_99_probes", |b| {
        b.iter(|| black_box(hutchinson_trace(&curvature, TraceConfig::default()).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, full_hessian_bench, eigen_bench, matrix_free_bench);
criterion_main!(benches);

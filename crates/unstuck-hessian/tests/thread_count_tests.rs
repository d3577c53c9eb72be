//! Every public result of the crate that goes through faer (the dense eigensolver, the
//! tridiagonal solver behind Lanczos and the spectral density, the dense operator's
//! product), and the seeded estimators around them, computed in rayon pools of 1, 2, 3 and
//! 4 threads: the bits must not change.
//!
//! The matrix is built like an over-parameterised network's Hessian: rank 120 in
//! dimension 400, so 280 eigenvalues sit in a cluster at zero, where eigenvectors are most
//! sensitive to the order of rounding. Before the eigensolver got a fixed split, faer's
//! default parallelism made 1 and 2 threads disagree on this problem.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use unstuck_hessian::{
    ClassifyTolerances, DenseHessian, DenseOperator, DensityGrid, LanczosConfig, ParamBlock,
    PowerConfig, SlqConfig, SpectrumEnd, SpectrumPolicy, TraceConfig, analyze_dense,
    block_summaries, full_hessian, hutch_plus_plus_trace, hutchinson_trace, lanczos,
    power_iteration, spectral_density,
};

const DIM: usize = 400;
const RANK: usize = 120;

/// `B diag(d) B^T` with Gaussian `B` (DIM x RANK) and `d` of both signs: a saddle with a
/// large flat subspace. Row-major.
fn low_rank_saddle() -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let b: Vec<f64> = (0..DIM * RANK)
        .map(|_| rng.sample(StandardNormal))
        .collect();
    let d: Vec<f64> = (0..RANK)
        .map(|k| if k % 5 == 0 { -0.3 } else { 1.0 } * (1.0 + k as f64 / 10.0))
        .collect();
    let mut h = vec![0.0; DIM * DIM];
    for i in 0..DIM {
        for j in 0..=i {
            let v: f64 = (0..RANK)
                .map(|k| b[i * RANK + k] * d[k] * b[j * RANK + k])
                .sum();
            h[i * DIM + j] = v;
            h[j * DIM + i] = v;
        }
    }
    h
}

/// Everything computed from the matrix, printed with `{:?}`: f64's Debug form is the
/// shortest string that reads back to the same bits, so equal strings mean equal bits.
fn every_result(matrix: &[f64]) -> Vec<(&'static str, String)> {
    let op = DenseOperator::new(DIM, matrix.to_vec()).unwrap();
    let hessian = DenseHessian::from_row_major(DIM, matrix.to_vec()).unwrap();
    let eigen = hessian.eigen().unwrap();
    let gradient = vec![0.0; DIM];
    let analysis = analyze_dense(0.0, &gradient, &hessian, ClassifyTolerances::default()).unwrap();
    let blocks = [
        ParamBlock::new("dense block", 0..150),
        ParamBlock::new("matrix-free block", 150..DIM),
    ];
    let block_policy = SpectrumPolicy {
        dense_max_dim: 200,
        ..SpectrumPolicy::default()
    };
    let density = spectral_density(
        &op,
        SlqConfig {
            n_probes: 3,
            lanczos_steps: 60,
            seed: 5,
        },
    )
    .unwrap();
    let curve = density
        .smoothed(DensityGrid {
            n_points: 500,
            ..DensityGrid::default()
        })
        .unwrap();
    let lanczos_config = LanczosConfig {
        k: 3,
        end: SpectrumEnd::Both,
        seed: 3,
        ..LanczosConfig::default()
    };
    let trace_config = TraceConfig {
        seed: 9,
        ..TraceConfig::default()
    };
    vec![
        (
            "eigenvalues()",
            format!("{:?}", hessian.eigenvalues().unwrap()),
        ),
        ("eigen() values", format!("{:?}", eigen.values())),
        ("eigen() vectors", format!("{:?}", eigen.vectors())),
        ("analyze_dense", format!("{analysis:?}")),
        ("full_hessian", format!("{:?}", full_hessian(&op).unwrap())),
        (
            "block_summaries",
            format!(
                "{:?}",
                block_summaries(&op, &blocks, &block_policy).unwrap()
            ),
        ),
        (
            "lanczos",
            format!("{:?}", lanczos(&op, lanczos_config).unwrap()),
        ),
        ("spectral_density", format!("{density:?}")),
        ("smoothed density", format!("{curve:?}")),
        (
            "power_iteration",
            format!(
                "{:?}",
                power_iteration(
                    &op,
                    PowerConfig {
                        seed: 4,
                        ..PowerConfig::default()
                    }
                )
                .unwrap()
            ),
        ),
        (
            "hutchinson_trace",
            format!("{:?}", hutchinson_trace(&op, trace_config).unwrap()),
        ),
        (
            "hutch_plus_plus_trace",
            format!("{:?}", hutch_plus_plus_trace(&op, trace_config).unwrap()),
        ),
    ]
}

fn in_pool<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(work)
}

#[test]
fn every_result_is_bit_identical_on_1_2_3_and_4_threads() {
    let matrix = low_rank_saddle();
    let reference = in_pool(1, || every_result(&matrix));
    for threads in [2, 3, 4] {
        let got = in_pool(threads, || every_result(&matrix));
        for ((name, want), (_, got)) in reference.iter().zip(&got) {
            assert!(
                want == got,
                "{name} differs between 1 and {threads} threads"
            );
        }
    }
}

#[test]
fn the_problem_has_the_flat_cluster_that_exposes_thread_dependence() {
    // The test above is only as strong as its matrix: it must be big enough for faer to
    // split the work (it goes sequential below ~320 rows) and have a zero cluster.
    let hessian = DenseHessian::from_row_major(DIM, low_rank_saddle()).unwrap();
    let values = hessian.eigenvalues().unwrap();
    let scale = values.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let zeros = values.iter().filter(|v| v.abs() < 1e-10 * scale).count();
    let negative = values.iter().filter(|v| **v < -1e-10 * scale).count();
    assert_eq!(zeros, DIM - RANK);
    assert_eq!(negative, RANK / 5);
}

//! Work that is one library call on both sides: an Adam step on 1M f32 parameters
//! (against PyTorch's fused Adam) and the dense symmetric eigendecomposition, values and
//! vectors, of a 2000 x 2000 matrix (against `numpy.linalg.eigh`).

use super::Bench;
use super::timing::{Budget, measure};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use unstuck::hessian::DenseHessian;
use unstuck::optim::{Adam, AdamConfig, Optimizer};

/// Parameters of the Adam benchmark.
const ADAM_PARAMS: usize = 1_000_000;
/// Size of the eigendecomposition.
pub const EIGH_N: usize = 2000;
/// The benchmarks' names (`--only kernels/` runs both).
pub const ADAM_NAME: &str = "kernels/adam-1M-f32";
pub const EIGH_NAME: &str = "kernels/eigh-2000";

fn normal(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()
}

pub fn benches() -> Vec<Bench> {
    vec![
        Bench {
            name: ADAM_NAME.into(),
            what: "step",
            run: Box::new(|budget: Budget| {
                let mut theta: Vec<f32> =
                    normal(ADAM_PARAMS, 1).iter().map(|&x| x as f32).collect();
                let grad: Vec<f32> = normal(ADAM_PARAMS, 2).iter().map(|&x| x as f32).collect();
                let mut adam = Adam::<f32>::new(AdamConfig {
                    lr: 1e-3,
                    ..AdamConfig::default()
                })?;
                Ok(measure(budget, || {
                    adam.step(&mut theta, &grad).expect("finite gradients");
                }))
            }),
        },
        Bench {
            name: EIGH_NAME.into(),
            what: "values + vectors",
            run: Box::new(|budget: Budget| {
                // S = (A + A^T) / 2, A standard normal, as the anchor's matrix.
                let n = EIGH_N;
                let a = normal(n * n, 3);
                let s = (0..n * n)
                    .map(|k| (a[k] + a[(k % n) * n + k / n]) / 2.0)
                    .collect();
                let s = DenseHessian::from_row_major(n, s)?;
                let budget = Budget {
                    reps: budget.reps,
                    rep_seconds: 0.0,
                };
                Ok(measure(budget, || {
                    std::hint::black_box(s.eigen().expect("a finite symmetric matrix"));
                }))
            }),
        },
    ]
}

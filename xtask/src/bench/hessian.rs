//! Hessian work on the anchors' P = 2960 problem: a tanh MLP 32-48-24-8 with mean
//! cross-entropy on a batch of 256, in f64 (`jax_hessian.py`'s `p3000`).

use super::Bench;
use super::timing::{Budget, Summary, measure};
use super::train_step::batch;
use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use unstuck::autodiff::Tensor;
use unstuck::hessian::full_hessian;
use unstuck::models::{Loss, Mlp, Model, Objective, Targets};

/// Vectors per block in `hvp-block`.
const BLOCK: usize = 64;

struct Problem {
    mlp: Mlp,
    x: Tensor<f64>,
    y: Vec<usize>,
    theta: Vec<f64>,
    v: Vec<f64>,
}

fn problem() -> Result<Problem> {
    let mlp = Mlp::from_spec("32-48-24-8:tanh")?;
    let (x, y) = batch(256, 32, 8, 3);
    let x = Tensor::matrix(x.into_iter().map(f64::from).collect(), 256, 32)?;
    let theta: Vec<f64> = mlp.init(4);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let v = (0..theta.len())
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    Ok(Problem {
        mlp,
        x,
        y,
        theta,
        v,
    })
}

fn objective(p: &Problem) -> Result<Objective<'_, f64>> {
    Ok(Objective::new(
        &p.mlp,
        p.x.clone(),
        Targets::Classes {
            labels: p.y.clone(),
            n_classes: 8,
        },
        Loss::CrossEntropy,
    )?)
}

fn scaled(s: Summary, by: f64) -> Summary {
    Summary {
        median: s.median / by,
        iqr: s.iqr / by,
    }
}

pub fn benches() -> Vec<Bench> {
    vec![
        Bench {
            name: "hessian/hvp-from-scratch".into(),
            what: "HVP (record + 1 product)",
            run: Box::new(|budget: Budget| {
                let p = problem()?;
                let objective = objective(&p)?;
                Ok(measure(budget, || {
                    let hv = objective.hvp(&p.theta, &p.v);
                    std::hint::black_box(hv.expect("a finite problem"));
                }))
            }),
        },
        Bench {
            name: "hessian/hvp-recorded".into(),
            what: "HVP on a recorded graph",
            run: Box::new(|budget: Budget| {
                let p = problem()?;
                let curvature = objective(&p)?.curvature(&p.theta)?;
                Ok(measure(budget, || {
                    std::hint::black_box(curvature.hvp(&p.v).expect("right length"));
                }))
            }),
        },
        Bench {
            name: format!("hessian/hvp-block{BLOCK}"),
            what: "vector of a block of 64",
            run: Box::new(|budget: Budget| {
                let p = problem()?;
                let curvature = objective(&p)?.curvature(&p.theta)?;
                let block: Vec<f64> = (0..BLOCK)
                    .flat_map(|j| p.v.iter().map(move |x| x * (j + 1) as f64))
                    .collect();
                let s = measure(budget, || {
                    std::hint::black_box(curvature.hvp_block(&block, BLOCK).expect("right length"));
                });
                Ok(scaled(s, BLOCK as f64))
            }),
        },
        Bench {
            name: "hessian/full-hessian".into(),
            what: "P x P Hessian",
            run: Box::new(|budget: Budget| {
                let p = problem()?;
                let objective = objective(&p)?;
                let budget = Budget {
                    reps: budget.reps,
                    rep_seconds: 0.0,
                };
                Ok(measure(budget, || {
                    let h = objective
                        .curvature(&p.theta)
                        .map_err(anyhow::Error::from)
                        .and_then(|c| Ok(full_hessian(&c)?));
                    std::hint::black_box(h.expect("a finite problem"));
                }))
            }),
        },
    ]
}

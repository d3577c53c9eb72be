//! Experiment `stability`: full-batch gradient descent against its stability limit.
//!
//! On a quadratic, gradient descent with learning rate `lr` diverges along a direction of
//! curvature `λ` once `lr · λ > 2`. A network's curvature is not fixed: full-batch training
//! sharpens it (Cohen et al., "Gradient Descent on Neural Networks Typically Occurs at
//! the Edge of Stability", 2021). The trainer's `curvature` instrument tracks `λ_max`
//! (Lanczos warm-started from the last top eigenvector) every few steps of one run; the
//! figure is `λ_max × lr` against the limit 2, beside the loss.

use super::artifacts::Artifacts;
use super::claims::Finding;
use super::parts::{Measured, Results, Unit};
use super::{Experiment, Plan, Section};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use unstuck::instruments::{CurvatureConfig, InstrumentConfig};
use unstuck::models::{Loss, Mlp, Model};
use unstuck::optim::Registry;
use unstuck::plot::{self, Axes, Series};
use unstuck::{TrainConfig, Trainer, data};

const DATA: &str = "spirals:n=160,noise=0.1,seed=1";
const MODEL: &str = "2-16-16-2:tanh";
const LR: f64 = 1.0;
const STEPS: u64 = 300;
const EVERY: u64 = 5;

pub fn experiment(seed: u64) -> Experiment {
    Experiment {
        name: "stability",
        seed,
        units: |_| vec![Unit::new("run", 1.0)],
        run,
        assemble,
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Outcome {
    /// `(step, λ_max × lr)` every `EVERY` steps.
    sharpness: Vec<(u64, f64)>,
    /// The full-batch loss at every step, before its update.
    loss: Vec<f64>,
}

fn run(plan: &Plan, _key: &str) -> Result<Measured> {
    let train = data::generate::<f64>(DATA)?.train;
    let model = Mlp::from_spec(MODEL)?;
    let optimizer = Registry::<f64>::builtin().build(&format!("sgd:lr={LR}"))?;
    let config = TrainConfig {
        batch_size: train.n_rows(),
        epochs: STEPS,
        seed: plan.seed,
        loss: Loss::CrossEntropy,
        stuck: None,
        progress: false,
        ..TrainConfig::default()
    };
    let instruments = InstrumentConfig {
        curvature: Some(CurvatureConfig {
            every: EVERY,
            iters: 10,
            probes: 0,
            seed: plan.seed,
        }),
        ..InstrumentConfig::default()
    };
    let mut trainer = Trainer::new(&model, optimizer, config, model.init(plan.seed))?
        .with_instruments(instruments)?;
    let history = trainer.fit(&train, None)?;
    Measured::of(&Outcome {
        sharpness: history
            .curvature
            .iter()
            .map(|r| (r.step, r.lambda_max_lr))
            .collect(),
        loss: history.steps.iter().map(|s| s.loss).collect(),
    })
}

fn assemble(_plan: &Plan, results: &Results<'_>, artifacts: &mut Artifacts) -> Result<Section> {
    let outcome: Outcome = results.get("run")?;
    let points = |values: &[(u64, f64)]| -> Vec<(f64, f64)> {
        values.iter().map(|&(s, v)| (s as f64, v)).collect()
    };
    let limit = vec![(0.0, 2.0), (STEPS as f64, 2.0)];
    let sharpness_svg = plot::lines(
        &format!("λ_max × lr, full-batch gradient descent (lr = {LR})"),
        &Axes::new("step", "λ_max × lr"),
        &[
            Series::new("λ_max × lr", points(&outcome.sharpness)),
            Series::new("stability limit 2", limit),
        ],
    )?;
    artifacts.write("figures/stability-sharpness.svg", sharpness_svg.as_bytes())?;
    let loss: Vec<(f64, f64)> = (outcome.loss.iter().enumerate())
        .map(|(s, &l)| (s as f64, l))
        .collect();
    let loss_svg = plot::lines(
        "full-batch training loss",
        &Axes::new("step", "cross-entropy"),
        &[Series::new("loss", loss)],
    )?;
    artifacts.write("figures/stability-loss.svg", loss_svg.as_bytes())?;
    Ok(Section {
        title: "Stability: the step size against the curvature".into(),
        finding: finding(&outcome),
        body: "![λ_max × lr](figures/stability-sharpness.svg)\n\n\
               ![loss](figures/stability-loss.svg)\n\n\
               λ_max is the top Hessian eigenvalue of the full-batch loss, by Lanczos warm-started \
               from the previous measurement's eigenvector (at most 10 Hessian-vector products, \
               tolerance 1e-4 of the Lanczos matrix's norm), every 5 steps.\n"
            .into(),
    })
}

fn finding(outcome: &Outcome) -> Finding {
    let mut finding = Finding::new(format!(
        "Full-batch gradient descent (`sgd:lr={LR}`, {MODEL}) on `{DATA}` for {STEPS} steps, with \
         the curvature instrument every {EVERY} steps."
    ));
    let first = outcome.sharpness.first().map_or(f64::NAN, |p| p.1);
    let crossing = outcome.sharpness.iter().find(|p| p.1 > 2.0).copied();
    let peak = outcome
        .sharpness
        .iter()
        .map(|p| p.1)
        .fold(f64::NEG_INFINITY, f64::max);
    finding.claim(
        "sharpening-crosses-the-stability-limit",
        match crossing {
            Some((step, value)) => format!(
                "λ_max × lr starts at {first:.2}, under the limit 2, and rises with training until it \
                 crosses 2 at step {step} ({value:.2}; peak {peak:.2}): full-batch training sharpens \
                 the loss until the step is too large for its curvature."
            ),
            None => format!(
                "λ_max × lr starts at {first:.2} and peaks at {peak:.2}: it never crosses the limit 2 \
                 in this run."
            ),
        },
        first < 2.0 && crossing.is_some(),
        format!("start {first} < 2 and a measurement above 2 ({crossing:?})"),
    );
    if let Some((step, _)) = crossing {
        finding.claims.push(loss_claim(outcome, step as usize));
    }
    finding
}

/// Whether the loss stopped falling steadily after the crossing: the largest one-step rise
/// before it against the largest after it.
fn loss_claim(outcome: &Outcome, crossing: usize) -> super::claims::Claim {
    let rises = |range: std::ops::Range<usize>| {
        outcome.loss[range]
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(0.0f64, f64::max)
    };
    let crossing = crossing.min(outcome.loss.len());
    let (before, after) = (rises(0..crossing), rises(crossing..outcome.loss.len()));
    let verdict = if after > 10.0 * before.max(1e-12) {
        if before == 0.0 {
            "the loss, which fell at every step before the crossing, jumps after it, as the \
             stability analysis predicts"
        } else {
            "the loss, which had fallen almost steadily, jumps once the limit is crossed, as the \
             stability analysis predicts"
        }
    } else {
        "the loss does not jump more after the crossing than before it, so this run does not show \
         the instability the limit predicts"
    };
    super::claims::Claim::new(
        "the-loss-after-the-crossing",
        format!(
            "The largest one-step rise of the loss is {before:.2e} before step {crossing} and \
             {after:.2e} after it: {verdict}."
        ),
        true,
        "stated from the losses",
    )
}

//! Experiment `batch-size`: small against large batches on the digits, trained to the same
//! training loss: updates, epochs, accuracy, and the sharpness of where they end.
//!
//! One unit per (batch size, seed). Besides the hashed numbers, each unit times an update on
//! its own (a mini-batch gradient and the optimizer's step, as the trainer takes them,
//! without the per-epoch evaluation on the full training set and the stuck detector) in
//! blocks, for `timings.md`.

use super::artifacts::Artifacts;
use super::batch_noise;
use super::claims::{Claim, Finding};
use super::markdown::table;
use super::parts::{Measured, Results, Unit};
use super::real_data::digits;
use super::{Experiment, Plan, Section};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use unstuck::data::{BatchConfig, Batches, Dataset};
use unstuck::hessian::{
    LanczosConfig, SharpnessConfig, SpectrumEnd, TapeObjective, epsilon_sharpness, lanczos,
};
use unstuck::models::{Loss, Model, ModelRegistry, Objective};
use unstuck::optim::{Optimizer, Registry};
use unstuck::plot::{self, Axes, Series};
use unstuck::task::full_objective;
use unstuck::{TrainConfig, Trainer};

const MODEL: &str = "64-32-10:relu";
const OPTIMIZER: &str = "adam:lr=0.002";
/// Every run trains until the full training loss is under this (or the epoch cap).
const TARGET_LOSS: f64 = 0.03;
/// Two-sided 95% Student-t quantiles for 1..=9 degrees of freedom.
const T95: [f64; 9] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262,
];

/// What a batch-size study trains on the digits: a model spec, an optimizer, and the
/// training loss every run trains to. `cnn_digits.rs` runs the same study on a CNN.
#[derive(Debug, Clone, Copy)]
pub(super) struct Study {
    pub model: &'static str,
    pub optimizer: &'static str,
    pub target_loss: f64,
    /// Whether each run records the gradient noise scale (it costs per-example
    /// gradients every few steps; the CNN study leaves it off, its table has no column
    /// for it).
    pub noise_scale: bool,
}

const MLP_STUDY: Study = Study {
    model: MODEL,
    optimizer: OPTIMIZER,
    target_loss: TARGET_LOSS,
    noise_scale: true,
};

/// Batch sizes (the last is the whole training set), seeds and the epoch cap.
fn grid(plan: &Plan, n_train: usize) -> (Vec<usize>, u64, u64) {
    if plan.quick {
        (vec![8, 128, n_train], 1, 400)
    } else {
        (vec![1, 8, 32, 128, 512, n_train], 5, 400)
    }
}

/// The digits training set has 1438 rows for every seed (80% of 1797, stratified).
const N_TRAIN: usize = 1438;

pub fn experiment(seed: u64) -> Experiment {
    Experiment {
        name: "batch-size",
        seed,
        units: |plan| {
            let (batches, seeds, _) = grid(plan, N_TRAIN);
            study_units(&batches, seeds, |batch| 0.8 + batch as f64 * 8e-4)
        },
        run,
        assemble,
    }
}

/// One unit per (batch size, seed), with its estimated cost.
pub(super) fn study_units(batches: &[usize], seeds: u64, cost: fn(usize) -> f64) -> Vec<Unit> {
    let mut units = Vec::new();
    for &batch in batches {
        for seed in 0..seeds {
            units.push(Unit::new(key(batch, seed), cost(batch)));
        }
    }
    units
}

/// Every unit's outcome, one row per batch size, one entry per seed.
pub(super) fn study_outcomes(
    results: &Results<'_>,
    batch_sizes: &[usize],
    seeds: u64,
) -> Result<Vec<Vec<Outcome>>> {
    batch_sizes
        .iter()
        .map(|&b| (0..seeds).map(|s| results.get(&key(b, s))).collect())
        .collect()
}

pub(super) fn key(batch: usize, seed: u64) -> String {
    format!("batch-{batch}-seed-{seed}")
}

fn parse_key(key: &str) -> Result<(usize, u64)> {
    let bad = || anyhow::anyhow!("unit `{key}` is not `batch-B-seed-S`");
    let rest = key.strip_prefix("batch-").ok_or_else(bad)?;
    let (batch, seed) = rest.split_once("-seed-").ok_or_else(bad)?;
    Ok((
        batch.parse().map_err(|_| bad())?,
        seed.parse().map_err(|_| bad())?,
    ))
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Outcome {
    /// Only kept where the loss slice needs it (seed 0 of the smallest and largest batch).
    pub theta: Option<Vec<f64>>,
    pub epochs: u64,
    pub updates: u64,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    pub lambda_max: f64,
    pub sharpness: f64,
    /// The run's critical batch size from the noise instrument (`batch_noise`), where the study measures it.
    pub b_simple: Option<f64>,
}

fn objective_of<'m>(model: &'m dyn Model<f64>, data: &Dataset<f64>) -> Result<Objective<'m, f64>> {
    Ok(full_objective(model, data, Loss::CrossEntropy)?)
}

fn run(plan: &Plan, key: &str) -> Result<Measured> {
    let (batch_sizes, _, max_epochs) = grid(plan, N_TRAIN);
    run_study(&MLP_STUDY, &batch_sizes, max_epochs, plan, key)
}

/// One unit (`batch-B-seed-S`) of `study`: trains to its target loss (or `max_epochs`),
/// then measures accuracy, λ_max and ε-sharpness where it ended.
pub(super) fn run_study(
    study: &Study,
    batch_sizes: &[usize],
    max_epochs: u64,
    plan: &Plan,
    key: &str,
) -> Result<Measured> {
    let (batch, seed) = parse_key(key)?;
    let data = digits(plan.seed)?;
    anyhow::ensure!(
        data.train.n_rows() == N_TRAIN,
        "the digits split changed size"
    );
    let model = ModelRegistry::builtin().build(study.model)?;
    let model: &dyn Model<f64> = model.as_ref();
    let train_objective = objective_of(model, &data.train)?;
    let tape_objective = TapeObjective::new(model.n_params(), |tape, th| {
        train_objective.record(tape, th)
    });
    let run_seed = plan.seed * 100 + seed;
    let optimizer = Registry::<f64>::builtin().build(study.optimizer)?;
    let config = TrainConfig {
        batch_size: batch,
        epochs: max_epochs,
        seed: run_seed,
        progress: false,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(model, optimizer, config, model.init(run_seed))?;
    if study.noise_scale {
        trainer = trainer.with_instruments(batch_noise::instruments())?;
    }
    let history = trainer.fit_until(&data.train, None, |epoch| {
        epoch.train_loss < study.target_loss
    })?;
    let epochs = history.epochs.len() as u64;
    let b_simple = if study.noise_scale {
        batch_noise::run_estimate(history)
    } else {
        None
    };
    let updates = trainer.steps_taken();
    let theta = trainer.theta().to_vec();
    let train_eval = train_objective.evaluate(&theta)?;
    let test_eval = objective_of(model, &data.test)?.evaluate(&theta)?;
    let curvature = train_objective.curvature(&theta)?;
    let top = lanczos(
        &curvature,
        LanczosConfig {
            k: 1,
            end: SpectrumEnd::Largest,
            max_iter: 100,
            tol: 1e-8,
            seed: run_seed,
        },
    )?;
    let sharp = epsilon_sharpness(
        &tape_objective,
        &theta,
        SharpnessConfig {
            epsilon: 1e-3,
            seed: run_seed,
            ..SharpnessConfig::default()
        },
    )?;
    let per_update = time_updates(model, study.optimizer, &data.train, batch, run_seed, &theta)?;
    let keep = seed == 0 && (batch == batch_sizes[0] || batch == N_TRAIN);
    let outcome = Outcome {
        theta: keep.then_some(theta),
        epochs,
        updates,
        train_accuracy: train_eval.accuracy.unwrap_or(0.0),
        test_accuracy: test_eval.accuracy.unwrap_or(0.0),
        lambda_max: top.largest.first().map_or(0.0, |p| p.value),
        sharpness: sharp.sharpness,
        b_simple,
    };
    let mut measured = Measured::of(&outcome)?;
    for (what, seconds) in per_update {
        measured = measured.timing(what, seconds);
    }
    Ok(measured)
}

/// Seconds per update, an update timed on its own: building the mini-batch, the loss and
/// its gradient through the public API, and the optimizer's step. Five blocks of at least
/// 20 ms each; returns the median block's figure and the fastest and slowest blocks'.
fn time_updates(
    model: &dyn Model<f64>,
    optimizer: &str,
    train: &Dataset<f64>,
    batch: usize,
    seed: u64,
    theta: &[f64],
) -> Result<Vec<(String, f64)>> {
    let mut optimizer: Box<dyn Optimizer<f64>> = Registry::<f64>::builtin().build(optimizer)?;
    let mut theta = theta.to_vec();
    let mut batches = Batches::new(
        train,
        BatchConfig {
            batch_size: batch,
            drop_last: false,
            shuffle: true,
            seed,
        },
    )?;
    let mut epoch = 0;
    batches.start_epoch(epoch);
    let mut blocks = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let mut count = 0u32;
        while count < 3 || started.elapsed().as_secs_f64() < 0.02 {
            let next = match batches.next_batch() {
                Some(b) => b,
                None => {
                    epoch += 1;
                    batches.start_epoch(epoch);
                    batches.next_batch().expect("a new epoch has batches")
                }
            };
            let objective = Objective::from_batch(model, &next, Loss::CrossEntropy)?;
            let (_, gradient) = objective.gradient(&theta)?;
            optimizer.step(&mut theta, &gradient)?;
            count += 1;
        }
        blocks.push(started.elapsed().as_secs_f64() / f64::from(count));
    }
    blocks.sort_by(f64::total_cmp);
    Ok(vec![
        ("seconds per update (median of 5 blocks)".into(), blocks[2]),
        ("seconds per update (fastest block)".into(), blocks[0]),
        ("seconds per update (slowest block)".into(), blocks[4]),
    ])
}

/// Mean, standard deviation and the half-width of the 95% t-interval of the mean (None
/// with a single seed: one run has no spread to measure).
pub(super) fn summary(values: &[f64]) -> Summary {
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, 0.0, None);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let sd = var.sqrt();
    let t = T95[(n - 2).min(T95.len() - 1)];
    (mean, sd, Some(t * sd / (n as f64).sqrt()))
}

pub(super) type Summary = (f64, f64, Option<f64>);

fn shown(s: Summary, digits: usize) -> String {
    match s {
        (mean, _, Some(half)) => format!("{mean:.digits$} ± {half:.digits$}"),
        (mean, _, None) => format!("{mean:.digits$}"),
    }
}

pub(super) fn interval(values: &[f64], digits: usize) -> String {
    shown(summary(values), digits)
}

/// How the small-batch solutions compare with the full-batch ones on one measure.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Direction {
    Flatter,
    Sharper,
    InsideNoise,
    Undetermined,
}

impl Direction {
    fn words(self) -> &'static str {
        match self {
            Direction::Flatter => "small batches flatter, intervals apart",
            Direction::Sharper => "small batches sharper, intervals apart",
            Direction::InsideNoise => "the intervals overlap",
            Direction::Undetermined => "one seed, no interval",
        }
    }
}

/// Separated when the 95% intervals of the means do not overlap.
fn direction((small, large): (Summary, Summary)) -> Direction {
    match (small.2, large.2) {
        (Some(hs), Some(hl)) if small.0 + hs < large.0 - hl => Direction::Flatter,
        (Some(hs), Some(hl)) if small.0 - hs > large.0 + hl => Direction::Sharper,
        (Some(_), Some(_)) => Direction::InsideNoise,
        _ => Direction::Undetermined,
    }
}

fn assemble(plan: &Plan, results: &Results<'_>, artifacts: &mut Artifacts) -> Result<Section> {
    let (batch_sizes, seeds, max_epochs) = grid(plan, N_TRAIN);
    let outcomes = study_outcomes(results, &batch_sizes, seeds)?;
    let column =
        |i: usize, f: fn(&Outcome) -> f64| -> Vec<f64> { outcomes[i].iter().map(f).collect() };
    let mean = |i: usize, f: fn(&Outcome) -> f64| summary(&column(i, f)).0;
    let rows: Vec<Vec<String>> = batch_sizes
        .iter()
        .enumerate()
        .map(|(i, batch)| {
            vec![
                batch.to_string(),
                format!("{:.1}", mean(i, |o| o.epochs as f64)),
                format!("{:.0}", mean(i, |o| o.updates as f64)),
                interval(&column(i, |o| o.train_accuracy), 4),
                interval(&column(i, |o| o.test_accuracy), 4),
                interval(&column(i, |o| o.lambda_max), 3),
                interval(&column(i, |o| o.sharpness), 4),
                batch_noise::cell(&outcomes[i].iter().map(|o| o.b_simple).collect::<Vec<_>>()),
            ]
        })
        .collect();

    let svg = slice_figure(plan, batch_sizes[0], &outcomes)?;
    artifacts.write("figures/batch-size-slice.svg", svg.as_bytes())?;

    let finding = claims(plan, &batch_sizes, seeds, max_epochs, &outcomes);
    let body = format!(
        "{}\n![slice](figures/batch-size-slice.svg)\n\n\
         Accuracies, λ_max and ε-sharpness are means over the seeds ± the half-width of the 95% \
         Student-t interval of the mean (no interval with one seed). B_simple is the gradient \
         noise scale of each run (the trainer's `noise` instrument), averaged over the seeds; \
         a batch of one has no per-batch variance, so its entry is undetermined. Seconds per update, an update \
         timed on its own (the mini-batch's loss and gradient and the optimizer's step, without \
         the per-epoch evaluation on the whole training set or the stuck detector), are in \
         `timings.md` as the median, fastest and slowest of five blocks: wall-clock figures are not \
         part of the hashed report.\n",
        table(
            &[
                "batch",
                "epochs",
                "updates",
                "train accuracy",
                "test accuracy",
                "λ_max (Lanczos)",
                "ε-sharpness",
                "B_simple (critical batch)"
            ],
            &rows,
        )
    );
    Ok(Section {
        title: "Batch size: small batches, flat minima".into(),
        finding,
        body,
    })
}

/// The loss along the straight line from the smallest-batch to the full-batch solution
/// (seed 0 of each).
fn slice_figure(plan: &Plan, smallest: usize, outcomes: &[Vec<Outcome>]) -> Result<String> {
    // The loss along the straight line from the smallest-batch to the full-batch solution.
    let data = digits(plan.seed)?;
    let model = ModelRegistry::builtin().build(MODEL)?;
    let model: &dyn Model<f64> = model.as_ref();
    let last = outcomes.len() - 1;
    let small = outcomes[0][0]
        .theta
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("seed 0 keeps theta"))?;
    let large = outcomes[last][0]
        .theta
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("seed 0 keeps theta"))?;
    let (train_objective, test_objective) = (
        objective_of(model, &data.train)?,
        objective_of(model, &data.test)?,
    );
    let mut train_slice = Vec::new();
    let mut test_slice = Vec::new();
    for i in 0..=40 {
        let alpha = -0.5 + 2.0 * i as f64 / 40.0;
        let point: Vec<f64> = small
            .iter()
            .zip(large)
            .map(|(s, l)| (1.0 - alpha) * s + alpha * l)
            .collect();
        train_slice.push((alpha, train_objective.evaluate(&point)?.loss));
        test_slice.push((alpha, test_objective.evaluate(&point)?.loss));
    }
    let svg = plot::lines(
        &format!(
            "loss along (1-α)·θ(batch {}) + α·θ(batch {})",
            smallest, N_TRAIN
        ),
        &Axes::new(
            "α (0: small-batch solution, 1: full-batch solution)",
            "cross-entropy",
        ),
        &[
            Series::new("train", train_slice),
            Series::new("test", test_slice),
        ],
    )?;
    Ok(svg)
}

fn claims(
    _plan: &Plan,
    batch_sizes: &[usize],
    seeds: u64,
    max_epochs: u64,
    outcomes: &[Vec<Outcome>],
) -> Finding {
    let mean_of = |i: usize, f: fn(&Outcome) -> f64| {
        summary(&outcomes[i].iter().map(f).collect::<Vec<_>>()).0
    };
    let last = outcomes.len() - 1;
    let mut finding = Finding::new(format!(
        "Every run ({MODEL}, `{OPTIMIZER}`, {seeds} seed(s) per batch size) trains until the full \
         training loss is under {TARGET_LOSS} (or {max_epochs} epochs)."
    ));
    let updates: Vec<f64> = (0..outcomes.len())
        .map(|i| mean_of(i, |o| o.updates as f64))
        .collect();
    let epochs: Vec<f64> = (0..outcomes.len())
        .map(|i| mean_of(i, |o| o.epochs as f64))
        .collect();
    let capped = outcomes
        .iter()
        .flatten()
        .filter(|o| o.epochs == max_epochs)
        .count();
    finding.claim(
        "bigger-batches-need-fewer-updates-and-more-epochs",
        format!(
            "From batch {} to the full batch ({}) the updates needed fall from {:.0} to {:.0} while \
             the epochs rise from {:.1} to {:.1}: a big batch takes better steps, a small one more \
             of them per pass over the data.",
            batch_sizes[0], batch_sizes[last], updates[0], updates[last], epochs[0], epochs[last]
        ),
        updates.windows(2).all(|w| w[0] > w[1]) && epochs.windows(2).all(|w| w[0] < w[1]) && capped == 0,
        format!("updates {updates:?} falling, epochs {epochs:?} rising, {capped} run(s) at the cap"),
    );

    finding
        .claims
        .push(best_batch_claim(batch_sizes, seeds, outcomes));
    finding.claims.push(sharpness_claim(batch_sizes, outcomes));
    let estimates: Vec<Vec<Option<f64>>> = outcomes
        .iter()
        .map(|runs| runs.iter().map(|o| o.b_simple).collect())
        .collect();
    finding
        .claims
        .push(batch_noise::claim(batch_sizes, &estimates, &updates));
    finding
}

/// Which batch size tests best, and whether its interval is apart from the others'.
pub(super) fn best_batch_claim(
    batch_sizes: &[usize],
    seeds: u64,
    outcomes: &[Vec<Outcome>],
) -> Claim {
    let test: Vec<(f64, Option<f64>)> = (0..outcomes.len())
        .map(|i| {
            let (m, _, half) = summary(
                &outcomes[i]
                    .iter()
                    .map(|o| o.test_accuracy)
                    .collect::<Vec<_>>(),
            );
            (m, half)
        })
        .collect();
    let best = (0..test.len())
        .max_by(|&a, &b| test[a].0.total_cmp(&test[b].0))
        .expect("at least one batch size");
    let text = match test[best].1 {
        None => format!(
            "The best test accuracy is at batch {} ({:.4}), but with one seed there is no interval: \
             whether batch size changes the test accuracy here is undetermined.",
            batch_sizes[best], test[best].0
        ),
        Some(half) => {
            let overlapping: Vec<String> = (0..test.len())
                .filter(|&i| i != best)
                .filter(|&i| test[i].0 + test[i].1.unwrap_or(0.0) >= test[best].0 - half)
                .map(|i| batch_sizes[i].to_string())
                .collect();
            if overlapping.is_empty() {
                format!(
                    "The best mean test accuracy, at batch {} ({:.4} ± {half:.4}), is above every \
                     other batch size's 95% interval.",
                    batch_sizes[best], test[best].0
                )
            } else {
                format!(
                    "The best mean test accuracy is at batch {} ({:.4} ± {half:.4}), but the 95% \
                     intervals of batch {} overlap it: with {seeds} seeds these differences are \
                     inside the noise, and no ranking of batch sizes by test accuracy follows.",
                    batch_sizes[best],
                    test[best].0,
                    overlapping.join(", ")
                )
            }
        }
    };
    Claim::new(
        "the-best-batch-size-and-its-noise",
        text,
        true,
        "stated from the intervals",
    )
}

/// The two sharpness measures from the smallest to the full batch, with their intervals.
pub(super) fn sharpness_claim(batch_sizes: &[usize], outcomes: &[Vec<Outcome>]) -> Claim {
    let last = outcomes.len() - 1;
    let measure = |f: fn(&Outcome) -> f64| -> (Summary, Summary) {
        let of = |i: usize| summary(&outcomes[i].iter().map(f).collect::<Vec<_>>());
        (of(0), of(last))
    };
    let (lambda, sharp) = (measure(|o| o.lambda_max), measure(|o| o.sharpness));
    let (lambda_says, sharp_says) = (direction(lambda), direction(sharp));
    let verdict = match (lambda_says, sharp_says) {
        (Direction::Flatter, Direction::Flatter) => {
            "the small-batch solutions are flatter by both measures, as Keskar et al. report"
        }
        (Direction::Undetermined, _) | (_, Direction::Undetermined) => {
            "with one seed there are no intervals, so whether either measure differs is undetermined"
        }
        (Direction::Sharper, _) | (_, Direction::Sharper) => {
            "by at least one measure the small-batch solutions are sharper beyond the noise, so \
             this run does not support the sharp-minimum explanation of the generalisation gap"
        }
        _ => {
            "neither measure separates them beyond the noise, so this run cannot confirm the sharp-minimum explanation"
        }
    };
    Claim::new(
        "sharpness-of-small-and-large-batch-solutions",
        format!(
            "From batch {} to the full batch the top Hessian eigenvalue goes from {} to {} ({}) and \
             ε-sharpness (Keskar et al., ε = 1e-3) from {} to {} ({}): {verdict}.",
            batch_sizes[0],
            shown(lambda.0, 3),
            shown(lambda.1, 3),
            lambda_says.words(),
            shown(sharp.0, 4),
            shown(sharp.1, 4),
            sharp_says.words(),
        ),
        true,
        "stated from the intervals",
    )
}

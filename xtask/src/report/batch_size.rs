//! Experiment `batch-size`: small against large batches on the digits, trained to the same
//! training loss: time, accuracy, and the sharpness of where they end.

use super::markdown::table;
use super::real_data::digits;
use super::{Context, Section};
use anyhow::Result;
use std::time::Instant;
use unstuck::data::Dataset;
use unstuck::hessian::{
    LanczosConfig, SharpnessConfig, SpectrumEnd, TapeObjective, epsilon_sharpness, lanczos,
};
use unstuck::models::{Architecture, Loss, Mlp, Model, Objective};
use unstuck::optim::Registry;
use unstuck::plot::{self, Series};
use unstuck::task::full_objective;
use unstuck::{TrainConfig, Trainer};

const MODEL: &str = "64-32-10:relu";
const OPTIMIZER: &str = "adam:lr=0.002";
/// Every run trains until the full training loss is under this (or the epoch cap).
const TARGET_LOSS: f64 = 0.03;

#[derive(Debug)]
struct Outcome {
    theta: Vec<f64>,
    epochs: u64,
    updates: u64,
    train_accuracy: f64,
    test_accuracy: f64,
    lambda_max: f64,
    sharpness: f64,
    seconds: f64,
}

fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

fn objective_of<'m>(model: &'m Mlp, data: &Dataset<f64>) -> Result<Objective<'m, f64>> {
    Ok(full_objective(model, data, Loss::CrossEntropy)?)
}

pub fn run(ctx: &mut Context) -> Result<Section> {
    let data = digits(ctx.seed)?;
    let n_train = data.train.n_rows();
    let (batch_sizes, seeds, max_epochs): (Vec<usize>, u64, u64) = if ctx.quick {
        (vec![8, 128, n_train], 1, 150)
    } else {
        (vec![1, 8, 32, 128, 512, n_train], 5, 400)
    };
    let model = Mlp::from_spec(MODEL)?;
    let train_objective = objective_of(&model, &data.train)?;
    let tape_objective = TapeObjective::new(model.n_params(), |tape, th| {
        train_objective.record(tape, th)
    });

    let mut outcomes: Vec<Vec<Outcome>> = Vec::new();
    for &batch in &batch_sizes {
        let mut per_seed = Vec::new();
        for seed in 0..seeds {
            let run_seed = ctx.seed * 100 + seed;
            let optimizer = Registry::<f64>::builtin().build(OPTIMIZER)?;
            let config = TrainConfig {
                batch_size: batch,
                epochs: max_epochs,
                seed: run_seed,
                progress: false,
                ..TrainConfig::default()
            };
            let started = Instant::now();
            let mut trainer = Trainer::new(&model, optimizer, config, model.init(run_seed))?;
            let epochs = trainer
                .fit_until(&data.train, None, |epoch| epoch.train_loss < TARGET_LOSS)?
                .epochs
                .len() as u64;
            let updates = trainer.steps_taken();
            let theta = trainer.theta().to_vec();
            let seconds = started.elapsed().as_secs_f64();
            let train_eval = train_objective.evaluate(&theta)?;
            let test_eval = objective_of(&model, &data.test)?.evaluate(&theta)?;
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
            per_seed.push(Outcome {
                theta,
                epochs,
                updates,
                train_accuracy: train_eval.accuracy.unwrap_or(f64::NAN),
                test_accuracy: test_eval.accuracy.unwrap_or(f64::NAN),
                lambda_max: top.largest.first().map_or(f64::NAN, |p| p.value),
                sharpness: sharp.sharpness,
                seconds,
            });
        }
        outcomes.push(per_seed);
    }

    let mut rows = Vec::new();
    for (&batch, runs) in batch_sizes.iter().zip(&outcomes) {
        let pick = |f: fn(&Outcome) -> f64| mean_std(&runs.iter().map(f).collect::<Vec<_>>());
        let (epochs, _) = pick(|o| o.epochs as f64);
        let (updates, _) = pick(|o| o.updates as f64);
        let (train, train_sd) = pick(|o| o.train_accuracy);
        let (test, test_sd) = pick(|o| o.test_accuracy);
        let (lambda, lambda_sd) = pick(|o| o.lambda_max);
        let (sharp, sharp_sd) = pick(|o| o.sharpness);
        rows.push(vec![
            batch.to_string(),
            format!("{epochs:.1}"),
            format!("{updates:.0}"),
            format!("{train:.4} ± {train_sd:.4}"),
            format!("{test:.4} ± {test_sd:.4}"),
            format!("{lambda:.3} ± {lambda_sd:.3}"),
            format!("{sharp:.4} ± {sharp_sd:.4}"),
        ]);
        let (seconds, _) = pick(|o| o.seconds);
        ctx.timings.push((
            format!("batch {batch}: seconds to reach the target loss"),
            seconds,
        ));
        ctx.timings.push((
            format!("batch {batch}: seconds per update"),
            seconds / updates.max(1.0),
        ));
        ctx.timings.push((
            format!("batch {batch}: seconds per epoch"),
            seconds / epochs.max(1.0),
        ));
    }

    // The loss along the straight line from the smallest-batch to the largest-batch solution.
    let small = &outcomes[0][0].theta;
    let large = &outcomes[outcomes.len() - 1][0].theta;
    let test_objective = objective_of(&model, &data.test)?;
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
            batch_sizes[0], n_train
        ),
        "α (0: small-batch solution, 1: full-batch solution)",
        "cross-entropy",
        &[
            Series::new("train", train_slice),
            Series::new("test", test_slice),
        ],
    )?;
    ctx.artifacts
        .write("figures/batch-size-slice.svg", svg.as_bytes())?;

    let mean_of = |i: usize, f: fn(&Outcome) -> f64| {
        mean_std(&outcomes[i].iter().map(f).collect::<Vec<_>>()).0
    };
    let last = outcomes.len() - 1;
    let best = (0..outcomes.len())
        .max_by(|&a, &b| {
            mean_of(a, |o| o.test_accuracy).total_cmp(&mean_of(b, |o| o.test_accuracy))
        })
        .expect("at least one batch size");
    let (small_sharp, large_sharp) = (mean_of(0, |o| o.sharpness), mean_of(last, |o| o.sharpness));
    let (small_lambda, large_lambda) = (
        mean_of(0, |o| o.lambda_max),
        mean_of(last, |o| o.lambda_max),
    );
    let verdict = if small_sharp < large_sharp && small_lambda < large_lambda {
        "the small-batch solutions are flatter by both measures, as Keskar et al. report"
    } else if small_sharp < large_sharp || small_lambda < large_lambda {
        "the two sharpness measures disagree about which solution is flatter, so this run neither \
         confirms nor refutes the sharp-minimum explanation"
    } else {
        "the small-batch solutions are not flatter by either measure here: on this small, easy \
         problem the test-accuracy gap is not explained by sharpness"
    };
    let finding = format!(
        "Every run ({MODEL}, `{OPTIMIZER}`, {seeds} seed(s) per batch size) trains until the full \
         training loss is under {TARGET_LOSS} (or {max_epochs} epochs). The best mean test accuracy is \
         at batch {} ({:.4}); the full batch ({n_train}) reaches {:.4}. From batch {} to the full batch \
         the top Hessian eigenvalue goes from {small_lambda:.3} to {large_lambda:.3} and ε-sharpness \
         (Keskar et al., ε = 1e-3) from {small_sharp:.4} to {large_sharp:.4}: {verdict}. \
         Wall-clock time per update and per epoch is in `timings.md` (not hashed): an update on a \
         big batch costs more than on a small one, but an epoch of big batches costs far less.",
        batch_sizes[best],
        mean_of(best, |o| o.test_accuracy),
        mean_of(last, |o| o.test_accuracy),
        batch_sizes[0],
    );
    let body = format!(
        "{}\n![slice](figures/batch-size-slice.svg)\n",
        table(
            &[
                "batch",
                "epochs",
                "updates",
                "train accuracy",
                "test accuracy",
                "λ_max (Lanczos)",
                "ε-sharpness"
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

//! Experiment `cnn-digits`: the batch-size study of `batch_size.rs` on a small CNN over the
//! digits as 1x8x8 images, and the exact Hessian spectrum of that CNN beside an MLP of about
//! the same size: the eigenvalue density and each parameter tensor's extremes.
//!
//! Units: one per (batch size, seed), run by `batch_size::run_study`, and one per spectrum
//! (`spectrum-cnn`, `spectrum-mlp`). Both networks have fewer than 1500 parameters, so the
//! Hessian is the dense one and every eigenvalue is exact. It is assembled once (P
//! Hessian-vector products) on a fixed subset of the training rows, the report's one
//! concession to time: a convolution's HVP over all 1438 images costs tens of milliseconds.
//! The whole spectrum and the per-tensor blocks then come from that matrix.

use super::artifacts::Artifacts;
use super::batch_noise;
use super::batch_size::{
    Outcome, Study, best_batch_claim, interval, run_study, sharpness_claim, study_outcomes,
    study_units, summary,
};
use super::claims::{Claim, Finding};
use super::markdown::table;
use super::parts::{Measured, Results, Unit};
use super::real_data::digits;
use super::{Experiment, Plan, Section};
use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use unstuck::hessian::{
    DenseOperator, DensityGrid, ParamBlock, QuadratureRule, SpectralDensity, SpectrumPolicy,
    block_summaries, full_hessian, summarize,
};
use unstuck::models::{Loss, Model, ModelRegistry};
use unstuck::optim::Registry;
use unstuck::plot::{self, Axes, Series};
use unstuck::task::full_objective;
use unstuck::{TrainConfig, Trainer};

/// P = 690: conv 4·9 + 4, linear 64·10 + 10.
const CNN: &str = "1x8x8/conv(4,k=3,pad=1)-tanh-maxpool(2)-flatten-linear(10)";
/// P = 760: the MLP of about the CNN's size, for the spectrum beside it.
const MLP: &str = "64-10-10:tanh";
/// The study: `--quick` trains to a looser loss, so that its full-batch run stays short.
fn study(plan: &Plan) -> Study {
    Study {
        model: CNN,
        optimizer: "adam:lr=0.02",
        target_loss: if plan.quick { 0.3 } else { 0.1 },
        noise_scale: true,
    }
}
/// The spectra are taken where training at this batch size reaches the target loss.
const SPECTRUM_BATCH: usize = 32;
/// An eigenvalue within this fraction of λ_max of zero counts as "near zero".
const NEAR_ZERO_REL: f64 = 1e-2;
/// The digits training set has 1438 rows for every seed (80% of 1797, stratified).
const N_TRAIN: usize = 1438;

/// The spectra's Hessian is that of the loss on the first this many training rows.
fn hessian_rows(plan: &Plan) -> usize {
    if plan.quick { 96 } else { 360 }
}

/// Batch sizes (the last is the whole training set), seeds and the epoch cap.
fn grid(plan: &Plan) -> (Vec<usize>, u64, u64) {
    if plan.quick {
        (vec![32, N_TRAIN], 1, 300)
    } else {
        (vec![16, 128, N_TRAIN], 3, 300)
    }
}

pub fn experiment(seed: u64) -> Experiment {
    Experiment {
        name: "cnn-digits",
        seed,
        units: |plan| {
            let (batches, seeds, _) = grid(plan);
            let mut units = vec![
                Unit::new("spectrum-cnn", 4.0),
                Unit::new("spectrum-mlp", 2.0),
            ];
            units.extend(study_units(&batches, seeds, |batch| {
                1.5 + batch as f64 * 2e-3
            }));
            units
        },
        run,
        assemble,
    }
}

fn run(plan: &Plan, key: &str) -> Result<Measured> {
    match key {
        "spectrum-cnn" => Measured::of(&spectrum(plan, CNN)?),
        "spectrum-mlp" => Measured::of(&spectrum(plan, MLP)?),
        _ => {
            let (batch_sizes, _, max_epochs) = grid(plan);
            run_study(&study(plan), &batch_sizes, max_epochs, plan, key)
        }
    }
}

/// One parameter tensor's diagonal Hessian block.
#[derive(Debug, Serialize, Deserialize)]
struct Block {
    name: String,
    dim: usize,
    min: f64,
    max: f64,
    trace: f64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Spectrum {
    n_params: usize,
    epochs: u64,
    train_loss: f64,
    test_accuracy: f64,
    /// Every eigenvalue of the dense Hessian, ascending.
    eigenvalues: Vec<f64>,
    blocks: Vec<Block>,
}

/// Trains `spec` at batch 32 to the study's target loss, then takes the dense Hessian of
/// the full training loss there, and of each parameter tensor's block.
fn spectrum(plan: &Plan, spec: &str) -> Result<Spectrum> {
    let data = digits(plan.seed)?;
    let model = ModelRegistry::builtin().build(spec)?;
    let model: &dyn Model<f64> = model.as_ref();
    let optimizer = Registry::<f64>::builtin().build(study(plan).optimizer)?;
    let (_, _, max_epochs) = grid(plan);
    let config = TrainConfig {
        batch_size: SPECTRUM_BATCH,
        epochs: max_epochs,
        seed: plan.seed,
        progress: false,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(model, optimizer, config, model.init(plan.seed))?;
    let epochs = trainer
        .fit_until(&data.train, None, |e| {
            e.train_loss < study(plan).target_loss
        })?
        .epochs
        .len() as u64;
    let theta = trainer.theta().to_vec();
    let train = full_objective(model, &data.train, Loss::CrossEntropy)?;
    let test = full_objective(model, &data.test, Loss::CrossEntropy)?;
    let rows: Vec<usize> = (0..hessian_rows(plan)).collect();
    let subset = full_objective(model, &data.train.select(&rows)?, Loss::CrossEntropy)?;
    let hessian = full_hessian(&subset.curvature(&theta)?)?;
    let n = hessian.dim();
    let dense = DenseOperator::new(n, hessian.data().to_vec())?;
    let policy = SpectrumPolicy::default();
    let whole = summarize(&dense, &policy)?;
    let eigenvalues = whole
        .eigenvalues
        .context("a network this small gets the dense Hessian")?;
    let blocks: Vec<ParamBlock> = model
        .layout()
        .iter()
        .map(|tensor| ParamBlock::new(tensor.name.clone(), tensor.range()))
        .collect();
    let blocks = block_summaries(&dense, &blocks, &policy)?
        .into_iter()
        .map(|b| Block {
            name: b.name,
            dim: b.dim,
            min: b.min_eigenvalue,
            max: b.max_eigenvalue,
            trace: b.trace,
        })
        .collect();
    Ok(Spectrum {
        n_params: model.n_params(),
        epochs,
        train_loss: train.evaluate(&theta)?.loss,
        test_accuracy: test.evaluate(&theta)?.accuracy.unwrap_or(0.0),
        eigenvalues,
        blocks,
    })
}

impl Spectrum {
    fn lambda_max(&self) -> f64 {
        self.eigenvalues.last().copied().unwrap_or(0.0)
    }

    fn lambda_min(&self) -> f64 {
        self.eigenvalues.first().copied().unwrap_or(0.0)
    }

    fn near_zero_fraction(&self) -> f64 {
        let bound = NEAR_ZERO_REL * self.lambda_max();
        let near = self.eigenvalues.iter().filter(|l| l.abs() < bound).count();
        near as f64 / self.eigenvalues.len() as f64
    }

    /// Eigenvalues below zero by more than the dense solver's rounding (1e-10 of λ_max).
    fn n_negative(&self) -> usize {
        let bound = -1e-10 * self.lambda_max();
        self.eigenvalues.iter().filter(|&&l| l < bound).count()
    }

    /// The exact eigenvalues as one quadrature rule of equal weights, smoothed as the SLQ
    /// density is (PyHessian's Gaussian kernel).
    fn density(&self) -> Result<Vec<(f64, f64)>> {
        let n = self.eigenvalues.len();
        let exact = SpectralDensity {
            rules: vec![QuadratureRule {
                nodes: self.eigenvalues.clone(),
                weights: vec![1.0 / n as f64; n],
            }],
            dim: n,
            n_hvp: 0,
        };
        let curve = exact.smoothed(DensityGrid {
            n_points: 400,
            sigma_squared: 1e-4,
            ..DensityGrid::default()
        })?;
        // The Gaussian tails fall to 1e-300; on a log axis only the last six decades say
        // anything, so the curve is floored there.
        let floor = 1e-6 * curve.density.iter().copied().fold(0.0, f64::max);
        let floored = curve.density.into_iter().map(|d| d.max(floor));
        Ok(curve.grid.into_iter().zip(floored).collect())
    }
}

fn assemble(plan: &Plan, results: &Results<'_>, artifacts: &mut Artifacts) -> Result<Section> {
    let (batch_sizes, seeds, max_epochs) = grid(plan);
    let outcomes = study_outcomes(results, &batch_sizes, seeds)?;
    let (cnn, mlp): (Spectrum, Spectrum) =
        (results.get("spectrum-cnn")?, results.get("spectrum-mlp")?);

    let mut finding = Finding::new(format!(
        "The CNN {CNN} (P = {}) on the digits as 1x8x8 images, `{}`, {seeds} seed(s) per batch \
         size, each run trained until the full training loss is under {} (or {max_epochs} \
         epochs); the spectra are the dense Hessians of the loss on the first {} training rows, \
         where batch-{} training reaches the target loss, for the CNN and the MLP {MLP} (P = {}).",
        cnn.n_params,
        study(plan).optimizer,
        study(plan).target_loss,
        hessian_rows(plan),
        SPECTRUM_BATCH,
        mlp.n_params
    ));
    let capped = outcomes
        .iter()
        .flatten()
        .filter(|o| o.epochs == max_epochs)
        .count();
    finding.claim(
        "every-cnn-run-reaches-the-target-loss",
        format!(
            "Every CNN run reached the target training loss {}.",
            study(plan).target_loss
        ),
        capped == 0,
        format!("{capped} run(s) at the epoch cap"),
    );
    finding.claims.push(gap_claim(&batch_sizes, &outcomes));
    finding
        .claims
        .push(best_batch_claim(&batch_sizes, seeds, &outcomes));
    finding
        .claims
        .push(sharpness_claim(&batch_sizes, &outcomes));
    let estimates: Vec<Vec<Option<f64>>> = outcomes
        .iter()
        .map(|runs| runs.iter().map(|o| o.b_simple).collect())
        .collect();
    let updates: Vec<f64> = outcomes
        .iter()
        .map(|runs| summary(&runs.iter().map(|o| o.updates as f64).collect::<Vec<_>>()).0)
        .collect();
    finding
        .claims
        .push(batch_noise::claim(&batch_sizes, &estimates, &updates));
    finding.claims.extend(spectrum_claims(&cnn, &mlp));

    let svg = plot::lines(
        "Hessian eigenvalue density (exact, Gaussian-smoothed)",
        &Axes::new("eigenvalue λ", "density").log_y(),
        &[
            Series::new(format!("CNN (P = {})", cnn.n_params), cnn.density()?),
            Series::new(format!("MLP {MLP} (P = {})", mlp.n_params), mlp.density()?),
        ],
    )?;
    artifacts.write("figures/cnn-digits-density.svg", svg.as_bytes())?;
    let body = format!(
        "{}\n{}\n{}\n![density](figures/cnn-digits-density.svg)\n\n\
         The gap is train accuracy minus test accuracy; means over the seeds ± the half-width of \
         the 95% Student-t interval (none with one seed). B_simple is the gradient noise scale \
         of each run (the trainer's `noise` instrument on every parameter of the CNN), averaged \
         over the seeds. \"Near zero\" is |λ| < {NEAR_ZERO_REL} · \
         λ_max. The density is floored at 1e-6 of its peak. Each tensor's row is its diagonal block of the Hessian (by Cauchy interlacing \
         its extremes lie inside the whole Hessian's).\n",
        batch_table(&batch_sizes, &outcomes),
        spectrum_table(&cnn, &mlp),
        block_table(&cnn, &mlp),
    );
    Ok(Section {
        title: "A small CNN on the digits images: batch size and the Hessian spectrum".into(),
        finding,
        body,
    })
}

fn batch_table(batch_sizes: &[usize], outcomes: &[Vec<Outcome>]) -> String {
    let column =
        |i: usize, f: &dyn Fn(&Outcome) -> f64| -> Vec<f64> { outcomes[i].iter().map(f).collect() };
    let rows: Vec<Vec<String>> = batch_sizes
        .iter()
        .enumerate()
        .map(|(i, batch)| {
            vec![
                batch.to_string(),
                format!("{:.1}", summary(&column(i, &|o| o.epochs as f64)).0),
                format!("{:.0}", summary(&column(i, &|o| o.updates as f64)).0),
                interval(&column(i, &|o| o.train_accuracy), 4),
                interval(&column(i, &|o| o.test_accuracy), 4),
                interval(&column(i, &gap), 4),
                interval(&column(i, &|o| o.lambda_max), 3),
                interval(&column(i, &|o| o.sharpness), 4),
                batch_noise::cell(&outcomes[i].iter().map(|o| o.b_simple).collect::<Vec<_>>()),
            ]
        })
        .collect();
    table(
        &[
            "batch",
            "epochs",
            "updates",
            "train accuracy",
            "test accuracy",
            "gap",
            "λ_max (Lanczos)",
            "ε-sharpness",
            "B_simple (critical batch)",
        ],
        &rows,
    )
}

fn gap(o: &Outcome) -> f64 {
    o.train_accuracy - o.test_accuracy
}

fn spectrum_table(cnn: &Spectrum, mlp: &Spectrum) -> String {
    let row = |name: &str, s: &Spectrum| {
        vec![
            name.to_string(),
            s.n_params.to_string(),
            s.epochs.to_string(),
            format!("{:.4}", s.train_loss),
            format!("{:.4}", s.test_accuracy),
            format!("{:.4}", s.lambda_max()),
            format!("{:.3e}", s.lambda_min()),
            s.n_negative().to_string(),
            format!("{:.3}", s.eigenvalues.iter().sum::<f64>()),
            format!("{:.3}", s.near_zero_fraction()),
        ]
    };
    table(
        &[
            "network",
            "P",
            "epochs",
            "train loss",
            "test accuracy",
            "λ_max",
            "λ_min",
            "negative λ",
            "trace",
            "near zero",
        ],
        &[row("CNN", cnn), row(MLP, mlp)],
    )
}

fn block_table(cnn: &Spectrum, mlp: &Spectrum) -> String {
    let rows: Vec<Vec<String>> = [("CNN", cnn), (MLP, mlp)]
        .iter()
        .flat_map(|(network, s)| {
            s.blocks.iter().map(move |b| {
                vec![
                    network.to_string(),
                    format!("`{}`", b.name),
                    b.dim.to_string(),
                    format!("{:.3e}", b.min),
                    format!("{:.4}", b.max),
                    format!("{:.3}", b.trace),
                ]
            })
        })
        .collect();
    table(
        &[
            "network",
            "tensor",
            "size",
            "block λ_min",
            "block λ_max",
            "block trace",
        ],
        &rows,
    )
}

/// Whether the generalisation gap grows from the smallest batch to the full batch.
fn gap_claim(batch_sizes: &[usize], outcomes: &[Vec<Outcome>]) -> Claim {
    let last = outcomes.len() - 1;
    let of = |i: usize| summary(&outcomes[i].iter().map(gap).collect::<Vec<_>>());
    let (small, large) = (of(0), of(last));
    let verdict = match (small.2, large.2) {
        (Some(hs), Some(hl)) if small.0 + hs < large.0 - hl => {
            "the full batch generalises worse, intervals apart"
        }
        (Some(hs), Some(hl)) if small.0 - hs > large.0 + hl => {
            "the small batch generalises worse, intervals apart"
        }
        (Some(_), Some(_)) => {
            "the intervals overlap, so batch size does not separate the gaps here"
        }
        _ => {
            "with one seed there are no intervals: whether the gap depends on batch size is undetermined"
        }
    };
    Claim::new(
        "cnn-gap-small-against-full-batch",
        format!(
            "The CNN's gap (train − test accuracy) is {:.4} at batch {} and {:.4} at the full batch \
             ({}): {verdict}.",
            small.0, batch_sizes[0], large.0, batch_sizes[last]
        ),
        true,
        "stated from the intervals",
    )
}

/// The bulk near zero, the negative eigenvalues, and the sharpest tensor, for both networks.
fn spectrum_claims(cnn: &Spectrum, mlp: &Spectrum) -> Vec<Claim> {
    let (fc, fm) = (cnn.near_zero_fraction(), mlp.near_zero_fraction());
    let bulk = if fc > 0.5 && fm > 0.5 {
        "most eigenvalues of both sit near zero, with a few outliers: the bulk-and-outliers shape"
    } else {
        "near zero holds only a minority of at least one spectrum: no bulk-and-outliers shape here"
    };
    let mut claims = vec![Claim::new(
        "cnn-and-mlp-spectra-bulk",
        format!(
            "{:.1}% of the CNN's {} eigenvalues and {:.1}% of the MLP's {} are near zero \
             (|λ| < {NEAR_ZERO_REL} λ_max; λ_max = {:.4} and {:.4}): {bulk}.",
            100.0 * fc,
            cnn.n_params,
            100.0 * fm,
            mlp.n_params,
            cnn.lambda_max(),
            mlp.lambda_max()
        ),
        true,
        format!("near-zero fractions {fc:.3} and {fm:.3} against 0.5"),
    )];
    for (network, s) in [("CNN", cnn), ("MLP", mlp)] {
        let negative = s.n_negative();
        let reading = if negative == 0 {
            "no negative curvature: a minimum up to the zero directions".to_string()
        } else {
            format!(
                "{negative} negative eigenvalue(s), the most negative {:.3e} ({:.1e} of λ_max): \
                 not a minimum of this loss (training stops at a target loss, not at a \
                 critical point)",
                s.lambda_min(),
                s.lambda_min().abs() / s.lambda_max()
            )
        };
        let sharpest = s
            .blocks
            .iter()
            .max_by(|a, b| a.max.total_cmp(&b.max))
            .expect("a model has parameters");
        // Cauchy interlacing: a diagonal block's extremes lie inside the whole Hessian's.
        let tol = 1e-9 * s.lambda_max();
        let interlaced = s
            .blocks
            .iter()
            .all(|b| b.max <= s.lambda_max() + tol && b.min >= s.lambda_min() - tol);
        claims.push(Claim::new(
            format!("{}-curvature-by-tensor", network.to_lowercase()),
            format!(
                "The {network}'s Hessian has {reading}. Its sharpest tensor is `{}` (block λ_max \
                 {:.4} of the whole {:.4}).",
                sharpest.name,
                sharpest.max,
                s.lambda_max()
            ),
            interlaced,
            "every block's extremes inside the whole spectrum (Cauchy interlacing)",
        ));
    }
    claims
}

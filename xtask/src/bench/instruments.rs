//! What the trainer's instruments add to a training step: the same `Trainer::train_on`
//! step (f64, SGD with momentum, a fixed batch) with no instrument and with each one.
//!
//! The targets (issue 15): the gradient-only instruments (`norms`) under 5% of a step;
//! per-example gradients with the noise scale (`noise`) at most 2x a plain step on the
//! 784-256-256-10 network at batch 128; `curvature` every 50 steps under 20% of a step
//! of the digits model (64-32-10, batch 32). Divide a row's figure by its `plain` row.
//! The `lenet` rows time the same on the anchors' LeNet, whose `noise` row adds the
//! per-example products of its two convolutions.
//!
//! The `digits_run` rows time what a user runs instead of one step: a whole
//! `unstuck train digits --model 64-32-10:relu --epochs 10` through the library as the
//! CLI runs it without `--out` (split and standardised, Adam, batch 32, the stuck
//! detector, evaluation after every epoch), plain, with `--instruments norms` (the
//! issue's "under 5%" on what a user runs) and with `--instruments curvature:every=50`:
//! the "adds under 20% to a digits run".
//! With `--out` the CLI also writes and syncs files after every epoch, which only
//! makes the instruments' share smaller.
//!
//! With `UNSTUCK_ANCHOR_PYTHON`, each row's anchor is Cockpit's counterpart on the same
//! network in PyTorch (`anchors/torch_cockpit.py`: `plain` is a plain PyTorch step, `norms`
//! Cockpit's GradNorm, Distance and UpdateSize, `noise` its NormTest, InnerTest and
//! OrthoTest, `alpha` its Alpha, `curvature-every-50` HessMaxEV and HessTrace every 50
//! steps), so the ratio column says how many times cheaper unstuck's step is.

use super::Bench;
use super::timing::{Budget, Summary, measure};
use super::train_step::batch;
use anyhow::Result;
use unstuck::data::{Batch, BatchTargets};
use unstuck::instruments::InstrumentConfig;
use unstuck::models::{Model, ModelRegistry};
use unstuck::optim::Registry;
use unstuck::{StuckConfig, TrainConfig, Trainer};

/// The networks: name, model spec, batch.
const NETWORKS: [(&str, &str, usize); 3] = [
    ("mnist", "784-256-256-10:relu", 128),
    ("digits", "64-32-10:relu", 32),
    // Per-example gradients of convolutions (issue 15 states its 2x for the MLP).
    ("lenet", super::networks::LENET, 128),
];

/// The instrument settings timed on each network (`plain` is none at all).
const SETTINGS: [(&str, &str); 5] = [
    ("plain", ""),
    ("norms", "norms"),
    ("noise", "noise"),
    ("alpha", "alpha"),
    ("curvature-every-50", "curvature:every=50"),
];

/// The instrument settings timed on whole digits runs.
const RUN_SETTINGS: [(&str, &str); 3] = [
    ("plain", ""),
    ("norms", "norms"),
    ("curvature-every-50", "curvature:every=50"),
];

pub fn benches() -> Vec<Bench> {
    let mut out = Vec::new();
    for (setting, instruments) in RUN_SETTINGS {
        out.push(Bench {
            // No `-` in the network's name: the anchors take the part before the first
            // `-` as Cockpit's network, and PyTorch has no counterpart of a CLI run.
            name: format!("instruments/digits_run-{setting}"),
            what: "10-epoch digits run",
            run: Box::new(move |budget| digits_run(instruments, budget)),
        });
    }
    for (network, spec, rows) in NETWORKS {
        for (setting, instruments) in SETTINGS {
            out.push(Bench {
                name: format!("instruments/{network}-{setting}"),
                what: "step",
                run: Box::new(move |budget| step(spec, rows, instruments, budget)),
            });
        }
    }
    out
}

/// Times `Trainer::train_on` on one fixed batch with the given instruments.
fn step(spec: &str, rows: usize, instruments: &str, budget: Budget) -> Result<Summary> {
    let model = ModelRegistry::builtin().build(spec)?;
    let model: &dyn Model<f64> = &*model;
    let (features, classes) = (model.input_width(), model.output_width());
    let (x, labels) = batch(rows, features, classes, 1);
    let x: Vec<f64> = x.into_iter().map(f64::from).collect();
    let targets = BatchTargets::Classes {
        labels: &labels,
        n_classes: classes,
    };
    let batch = Batch::new(&x, features, targets)?;
    let optimizer = Registry::<f64>::builtin().build("sgd:lr=0.01,momentum=0.9")?;
    let config = TrainConfig {
        batch_size: rows,
        stuck: None,
        progress: false,
        ..TrainConfig::default()
    };
    let instruments = if instruments.is_empty() {
        InstrumentConfig::default()
    } else {
        InstrumentConfig::from_spec(instruments)?
    };
    let mut trainer =
        Trainer::new(model, optimizer, config, model.init(0))?.with_instruments(instruments)?;
    let mut failed = None;
    let summary = measure(budget, || {
        if let Err(error) = trainer.train_on(&batch) {
            failed.get_or_insert(error);
        }
    });
    match failed {
        Some(error) => Err(error.into()),
        None => Ok(summary),
    }
}

/// Times a whole 10-epoch digits run with the given instruments, as `unstuck train`
/// runs it without `--out`: `Trainer::fit` on the standardised split, with the stuck
/// detector and an evaluation of the training and validation sets after every epoch.
fn digits_run(instruments: &str, budget: Budget) -> Result<Summary> {
    let split = unstuck::data::SplitConfig {
        validation: 0.2,
        test: 0.0,
        stratified: true,
        seed: 0,
    };
    let parts = unstuck::task::prepare(&unstuck::data::digits(), &split, None, true)?;
    let model = ModelRegistry::builtin().build("64-32-10:relu")?;
    let model: &dyn Model<f64> = &*model;
    let instruments = if instruments.is_empty() {
        InstrumentConfig::default()
    } else {
        InstrumentConfig::from_spec(instruments)?
    };
    let run = || -> Result<()> {
        let optimizer = Registry::<f64>::builtin().build("adam:lr=1e-3")?;
        let config = TrainConfig {
            batch_size: 32,
            epochs: 10,
            seed: 0,
            stuck: Some(StuckConfig::default()),
            progress: false,
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(model, optimizer, config, model.init(0))?
            .with_instruments(instruments.clone())?;
        trainer.fit(&parts.train, parts.validation.as_ref())?;
        Ok(())
    };
    let mut failed = None;
    let summary = measure(budget, || {
        if let Err(error) = run() {
            failed.get_or_insert(error);
        }
    });
    match failed {
        Some(error) => Err(error),
        None => Ok(summary),
    }
}

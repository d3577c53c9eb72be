//! `unstuck train`: train, then (with --out) write the run's files; `--resume` continues.

use crate::cli::{DataOptions, RunOptions, TrainArgs};
use crate::data;
use crate::error::{CliError, Result};
use crate::output::Outputs;
use crate::{plot, specs};
use serde::{Deserialize, Serialize};
use std::path::Path;
use unstuck::models::{Architecture, Mlp, Model, weights_to_bytes};
use unstuck::task::loss_for;
use unstuck::{Checkpoint, StuckConfig, TrainConfig, TrainError, Trainer};

/// `run.json`: everything that defines the run, so that `--resume` rebuilds it exactly.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct RunRecord {
    format: u32,
    data: String,
    data_options: DataOptions,
    model: String,
    run: RunOptions,
    stuck_detection: bool,
}

const RUN_FORMAT: u32 = 1;

fn read_record(dir: &Path) -> Result<RunRecord> {
    let path = dir.join("run.json");
    let bytes = std::fs::read(&path)
        .map_err(|error| CliError::file(&path, format!("cannot read: {error}")))?;
    let record: RunRecord = serde_json::from_slice(&bytes)
        .map_err(|error| CliError::file(&path, format!("malformed: {error}")))?;
    if record.format != RUN_FORMAT {
        return Err(CliError::file(
            &path,
            format!("format {} is not the supported {RUN_FORMAT}", record.format),
        ));
    }
    Ok(record)
}

/// Six decimals, or six significant digits in scientific notation for very large or
/// very small losses.
fn number(x: f64) -> String {
    if x != 0.0 && !(1e-4..1e5).contains(&x.abs()) {
        format!("{x:.6e}")
    } else {
        format!("{x:.6}")
    }
}

/// The run's record and, with `--resume`, its checkpoint.
fn record_of(args: &TrainArgs) -> Result<(RunRecord, Option<Checkpoint>)> {
    match &args.resume {
        Some(dir) => {
            let record = read_record(dir)?;
            let path = dir.join("checkpoint.json");
            let checkpoint =
                Checkpoint::load(&path).map_err(|error| CliError::file(&path, error))?;
            Ok((record, Some(checkpoint)))
        }
        None => {
            let record = RunRecord {
                format: RUN_FORMAT,
                // clap makes DATA and --model required unless --resume is given.
                data: args.data.clone().unwrap_or_default(),
                data_options: args.data_options.clone(),
                model: args.model.clone().unwrap_or_default(),
                run: args.run.clone(),
                stuck_detection: !args.no_stuck_detection,
            };
            Ok((record, None))
        }
    }
}

/// One line: the model, the steps, the final training (and validation) loss.
fn print_summary(model: &Mlp, trainer: &Trainer<'_>) {
    let Some(last) = trainer.history().epochs.last() else {
        return;
    };
    let accuracy = |a: Option<f64>| a.map(|a| format!(" (accuracy {a:.4})")).unwrap_or_default();
    print!(
        "{} ({} parameters), {} epochs, {} steps: training loss {}{}",
        model,
        model.n_params(),
        last.epoch + 1,
        trainer.steps_taken(),
        number(last.train_loss),
        accuracy(last.train_accuracy)
    );
    if let Some(loss) = last.validation_loss {
        print!(
            ", validation loss {}{}",
            number(loss),
            accuracy(last.validation_accuracy)
        );
    }
    println!();
}

/// Weights, history, checkpoint, run record and loss curve, each written atomically.
fn write_run(dir: &Path, model: &Mlp, trainer: &Trainer<'_>, record: &RunRecord) -> Result<()> {
    let mut outputs = Outputs::default();
    let weights =
        weights_to_bytes(model, trainer.theta()).map_err(|error| CliError::Train(error.into()))?;
    outputs.add("weights.safetensors", weights);
    outputs.add("history.json", trainer.history().to_json().into_bytes());
    let checkpoint = serde_json::to_vec(&trainer.checkpoint())
        .map_err(|error| CliError::file(&dir.join("checkpoint.json"), error))?;
    outputs.add("checkpoint.json", checkpoint);
    let record_json = serde_json::to_vec_pretty(record)
        .map_err(|error| CliError::file(&dir.join("run.json"), error))?;
    outputs.add("run.json", record_json);
    outputs.add(
        "loss.svg",
        plot::loss_curve(trainer.history())?.into_bytes(),
    );
    for path in outputs.commit(dir)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}

pub(crate) fn run(args: TrainArgs) -> Result<()> {
    if args.epochs == 0 {
        return Err(CliError::argument("--epochs", "0", "must be at least 1"));
    }
    let (record, checkpoint) = record_of(&args)?;
    let out = args.out.as_deref().or(args.resume.as_deref());

    let parts = data::load(&record.data, &record.data_options, record.run.seed)?;
    let model = specs::model(&record.model, &parts.train)?;
    let optimizer = specs::optimizer(&record.run.optim, record.run.schedule.as_deref())?;
    let n_rows = parts.train.n_rows();
    if record.run.batch == 0 || record.run.batch > n_rows {
        return Err(CliError::argument(
            "--batch",
            &record.run.batch.to_string(),
            format!("must be between 1 and the {n_rows} training rows"),
        ));
    }
    let config = TrainConfig {
        batch_size: record.run.batch,
        epochs: args.epochs,
        seed: record.run.seed,
        loss: loss_for(&parts.train, model.output_width()),
        drop_last: false,
        stuck: record.stuck_detection.then(StuckConfig::default),
        progress: true,
        checkpoint_path: None,
    };
    let model_ref: &dyn Model<f64> = &model;
    let mut trainer = match checkpoint {
        Some(checkpoint) => {
            if checkpoint.next_epoch > args.epochs {
                return Err(CliError::argument(
                    "--epochs",
                    &args.epochs.to_string(),
                    format!(
                        "the run in {} already has {} epochs",
                        args.resume.as_deref().unwrap_or(Path::new(".")).display(),
                        checkpoint.next_epoch
                    ),
                ));
            }
            Trainer::resume(model_ref, optimizer, config, checkpoint)?
        }
        None => Trainer::new(model_ref, optimizer, config, model.init(record.run.seed))?,
    };
    match trainer.fit(&parts.train, parts.validation.as_ref()) {
        Ok(_) => {}
        Err(TrainError::Diverged { step, what, .. }) => {
            return Err(CliError::argument(
                "--optim",
                &record.run.optim,
                format!(
                    "training diverged at step {step}: the {what} is not finite; try a smaller learning rate or a warm-up schedule"
                ),
            ));
        }
        Err(other) => return Err(other.into()),
    }
    print_summary(&model, &trainer);
    if let Some(dir) = out {
        write_run(dir, &model, &trainer, &record)?;
    }
    Ok(())
}

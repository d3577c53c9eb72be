//! `unstuck train`: train; with --out, keep the run folder (see `run_folder.rs`) up to
//! date every --checkpoint-every epochs and on SIGINT/SIGTERM; `--resume` continues.

use crate::cli::{DataOptions, RunOptions, TrainArgs};
use crate::data::{self, Parts};
use crate::error::{CliError, Result};
use crate::output::say;
use crate::run_folder::{self, Committed, RunFolder, State};
use crate::signals::Interrupts;
use crate::{plot, specs};
use serde::{Deserialize, Serialize};
use std::path::Path;
use unstuck::instruments::InstrumentConfig;
use unstuck::models::{AnyModel, Model, state_to_bytes};
use unstuck::task::loss_for;
use unstuck::{StuckConfig, TrainConfig, TrainError, Trainer};

/// `run.json`: everything that defines the run, so that `--resume` rebuilds it exactly.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct RunRecord {
    pub(crate) format: u32,
    pub(crate) data: String,
    pub(crate) data_options: DataOptions,
    pub(crate) model: String,
    pub(crate) run: RunOptions,
    pub(crate) stuck_detection: bool,
    /// The `--instruments` spec (absent in run folders made before instruments).
    #[serde(default)]
    pub(crate) instruments: Option<String>,
}

const RUN_FORMAT: u32 = 1;

pub(crate) fn read_record(dir: &Path) -> Result<RunRecord> {
    let path = dir.join(run_folder::RUN);
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

/// The run's record and, with `--resume`, its committed state (none if the run stopped
/// before its first checkpoint: it then starts again from its record).
fn record_of(args: &TrainArgs) -> Result<(RunRecord, Option<Committed>)> {
    match &args.resume {
        Some(dir) => {
            let record = read_record(dir)?;
            Ok((record, run_folder::read_committed(dir)?))
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
                instruments: args.instruments.clone(),
            };
            Ok((record, None))
        }
    }
}

/// One line: the model, the steps, the final training (and validation) loss.
fn print_summary(model: &dyn AnyModel, trainer: &Trainer<'_>) -> Result<()> {
    let Some(last) = trainer.history().epochs.last() else {
        return Ok(());
    };
    let accuracy = |a: Option<f64>| a.map(|a| format!(" (accuracy {a:.4})")).unwrap_or_default();
    let validation = last
        .validation_loss
        .map(|loss| {
            format!(
                ", validation loss {}{}",
                number(loss),
                accuracy(last.validation_accuracy)
            )
        })
        .unwrap_or_default();
    say(format_args!(
        "{} ({} parameters), {} epochs, {} steps: training loss {}{}{validation}",
        model,
        model.n_params(),
        last.epoch + 1,
        trainer.steps_taken(),
        number(last.train_loss),
        accuracy(last.train_accuracy)
    ))
}

/// The trainer's current state as the run folder's files.
fn state_of(model: &dyn AnyModel, trainer: &Trainer<'_>) -> Result<State> {
    // Parameters and running statistics by state_dict name (the same bytes as the
    // parameters alone for a model without buffers).
    let weights = state_to_bytes(model, trainer.theta(), trainer.buffers())
        .map_err(|error| CliError::Train(error.into()))?;
    let checkpoint = serde_json::to_vec(&trainer.checkpoint())
        .map_err(|error| CliError::Output(format!("cannot write the checkpoint: {error}")))?;
    Ok(State {
        epochs_done: trainer.next_epoch(),
        files: vec![
            ("weights.safetensors", weights),
            ("checkpoint.json", checkpoint),
            ("history.json", trainer.history().to_json().into_bytes()),
            (
                "loss.svg",
                plot::loss_curve(trainer.history())?.into_bytes(),
            ),
        ],
    })
}

/// The folder to write into: the resumed one itself, or a new one.
fn open_folder(
    args: &TrainArgs,
    dir: &Path,
    record: &RunRecord,
    committed: Option<&Committed>,
) -> Result<RunFolder> {
    if args
        .resume
        .as_deref()
        .is_some_and(|r| run_folder::same_folder(r, dir))
        || args.out.is_none()
    {
        return RunFolder::reopen(dir, committed);
    }
    let record_json = serde_json::to_vec_pretty(record)
        .map_err(|error| CliError::Output(format!("cannot write the run record: {error}")))?;
    let history_log = committed.map(|c| c.history_log.as_slice()).unwrap_or(&[]);
    RunFolder::create(dir, &record_json, history_log)
}

/// Refuses an --out that cannot hold this run, before any work.
fn check_out(args: &TrainArgs) -> Result<()> {
    if let Some(dir) = args.out.as_deref() {
        run_folder::check_out(dir)?;
        if !args
            .resume
            .as_deref()
            .is_some_and(|r| run_folder::same_folder(r, dir))
            && run_folder::holds_run(dir)
        {
            return Err(CliError::argument(
                "--out",
                &dir.display().to_string(),
                "holds a run already: continue it with --resume, or choose another folder",
            ));
        }
    }
    Ok(())
}

/// Trains epoch by epoch, appending the history after each and committing a state every
/// `every` epochs, at the end, and when a signal asks to stop.
fn train_into(
    folder: &mut RunFolder,
    trainer: &mut Trainer<'_>,
    parts: &Parts,
    model: &dyn AnyModel,
    args: &TrainArgs,
    dir: &Path,
    interrupts: &Interrupts,
) -> Result<()> {
    while trainer.next_epoch() < args.epochs {
        trainer.fit_until(&parts.train, parts.validation.as_ref(), |_| true)?;
        folder.append_history(trainer.history())?;
        let done = trainer.next_epoch();
        let signal = interrupts.received();
        let due = done % args.checkpoint_every == 0 || done == args.epochs || signal.is_some();
        if due && !folder.has_committed(done) {
            folder.commit(state_of(model, trainer)?)?;
        }
        if let Some(code) = signal {
            let name = if code == 130 { "SIGINT" } else { "SIGTERM" };
            return Err(CliError::Interrupted {
                code,
                message: format!(
                    "{name}: stopped after epoch {done} of {}, saved in {}; continue with `unstuck train --resume {} --epochs {}`",
                    args.epochs,
                    dir.display(),
                    dir.display(),
                    args.epochs
                ),
            });
        }
    }
    Ok(())
}

fn diverged_hint(error: CliError, optim: &str) -> CliError {
    match error {
        CliError::Train(TrainError::Diverged { step, what, .. }) => CliError::argument(
            "--optim",
            optim,
            format!(
                "training diverged at step {step}: the {what} is not finite; try a smaller learning rate or a warm-up schedule"
            ),
        ),
        other => other,
    }
}

pub(crate) fn run(args: TrainArgs) -> Result<()> {
    if args.epochs == 0 {
        return Err(CliError::argument("--epochs", "0", "must be at least 1"));
    }
    if args.checkpoint_every == 0 {
        return Err(CliError::argument(
            "--checkpoint-every",
            "0",
            "must be at least 1",
        ));
    }
    check_out(&args)?;
    let (record, committed) = record_of(&args)?;
    let out = args.out.as_deref().or(args.resume.as_deref());
    let server = match (args.watch, out) {
        (false, _) => None,
        (true, Some(dir)) => Some(crate::view::start(dir, &args.serve)?),
        (true, None) => {
            return Err(CliError::argument(
                "--watch",
                "",
                "needs --out (or --resume): the page reads the run folder",
            ));
        }
    };

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
    // Before the folder gets any file: a batch norm would see one value per channel.
    unstuck::task::check_training_batches(model.as_ref(), n_rows, record.run.batch, false)?;
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
    let instruments = match &record.instruments {
        Some(text) => InstrumentConfig::from_spec(text)
            .map_err(|error| CliError::argument("--instruments", text, error.to_string()))?,
        None => InstrumentConfig::default(),
    };
    let model_ref: &dyn Model<f64> = model.as_ref();
    let trainer = match &committed {
        Some(committed) => {
            if committed.checkpoint.next_epoch >= args.epochs {
                return Err(CliError::argument(
                    "--epochs",
                    &args.epochs.to_string(),
                    format!(
                        "the run in {} already has {} epochs",
                        args.resume.as_deref().unwrap_or(Path::new(".")).display(),
                        committed.checkpoint.next_epoch
                    ),
                ));
            }
            Trainer::resume(model_ref, optimizer, config, committed.checkpoint.clone())?
        }
        None => Trainer::new(
            model_ref,
            optimizer,
            config,
            model_ref.init(record.run.seed),
        )?,
    };
    let mut trainer = trainer.with_instruments(instruments)?;
    let interrupts = out.map(|_| Interrupts::install()).transpose()?;
    match (out, &interrupts) {
        (Some(dir), Some(interrupts)) => {
            let mut folder = open_folder(&args, dir, &record, committed.as_ref())?;
            let trained = train_into(
                &mut folder,
                &mut trainer,
                &parts,
                model.as_ref(),
                &args,
                dir,
                interrupts,
            );
            if let Err(error) = trained {
                if !matches!(error, CliError::Interrupted { .. }) {
                    folder.discard_if_empty();
                }
                return Err(diverged_hint(error, &record.run.optim));
            }
        }
        _ => {
            trainer
                .fit(&parts.train, parts.validation.as_ref())
                .map_err(|error| diverged_hint(error.into(), &record.run.optim))?;
        }
    }
    print_summary(model.as_ref(), &trainer)?;
    if let Some(dir) = out {
        say(format_args!("wrote {}", dir.display()))?;
    }
    if let (Some(server), Some(interrupts)) = (server.filter(|_| args.keep_serving), interrupts) {
        eprintln!("training done; serving {} until Ctrl-C", server.url());
        // The run's signal handlers are installed: they end this wait, not the process.
        while interrupts.received().is_none() {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    Ok(())
}

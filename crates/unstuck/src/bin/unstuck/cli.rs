//! The command line, declared with clap's derive API.

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// My network fails to train, what now? Train, diagnose with the lecture's general
/// guide, and look at the Hessian where training stalls.
#[derive(Debug, Parser)]
#[command(name = "unstuck", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Train a model; with --out, keep a run folder you can watch, resume and analyse.
    Train(TrainArgs),
    /// Walk the general guide: model bias, optimization, overfitting, mismatch or healthy.
    Diagnose(DiagnoseArgs),
    /// Analyse the Hessian of the training loss at saved weights.
    Hessian(HessianArgs),
    /// List optimizers, schedules, datasets and activations.
    List(ListArgs),
    /// Train a grid of models, optimizers, rates, batches and seeds, whole or one part of N
    Sweep(crate::sweep::SweepArgs),
    /// Serve the live view of a run folder (finished or still training) on a local port.
    View(ViewArgs),
}

/// Where the live view listens.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServeOptions {
    /// The port [default: one the system picks; the address is printed].
    #[arg(long, value_name = "P", default_value_t = 0)]
    pub(crate) port: u16,
    /// The address to listen on; the default lets only this machine in.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub(crate) bind: std::net::IpAddr,
}

#[derive(Debug, Args)]
pub(crate) struct ViewArgs {
    /// The run folder (`unstuck train --out DIR`).
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
    #[command(flatten)]
    pub(crate) serve: ServeOptions,
}

/// How to read and split the data. DATA itself is each command's positional argument.
#[derive(Debug, Clone, Args, Serialize, Deserialize, PartialEq)]
pub(crate) struct DataOptions {
    /// CSV: the label column, by header name or 0-based index [default: the last column].
    #[arg(long, value_name = "COL")]
    pub(crate) label: Option<String>,
    /// CSV: the label column holds real-valued targets (regression with MSE).
    #[arg(long)]
    pub(crate) regression: bool,
    /// CSV: the field separator.
    #[arg(long, value_name = "CHAR", default_value_t = ',')]
    pub(crate) delimiter: char,
    /// IDX: the label file that goes with the image file DATA.
    #[arg(long, value_name = "FILE")]
    pub(crate) labels: Option<PathBuf>,
    /// A separate test set read like DATA (CSV or safetensors file, or IDX images with --test-labels).
    #[arg(long, value_name = "DATA")]
    pub(crate) test_data: Option<String>,
    /// IDX: the label file that goes with --test-data.
    #[arg(long, value_name = "FILE", requires = "test_data")]
    pub(crate) test_labels: Option<PathBuf>,
    /// Fraction of the rows held out for validation (stratified, seeded by --seed).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.2)]
    pub(crate) validation: f64,
    /// Fraction of the rows held out for test (when there is no separate test set).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0)]
    pub(crate) test: f64,
    /// Keep the raw features (by default they are standardised with the training part's
    /// mean and standard deviation).
    #[arg(long)]
    pub(crate) no_standardize: bool,
}

/// How a model is trained (the model spec itself is each command's `--model`).
#[derive(Debug, Clone, Args, Serialize, Deserialize, PartialEq)]
pub(crate) struct RunOptions {
    /// The optimizer, e.g. `adam:lr=1e-3` or `sgd:lr=0.1,momentum=0.9` (see `unstuck list`).
    #[arg(long, value_name = "SPEC", default_value = "adam:lr=1e-3")]
    pub(crate) optim: String,
    /// A learning-rate schedule, e.g. `cosine:t_max=1000` (see `unstuck list schedules`).
    #[arg(long, value_name = "SPEC")]
    pub(crate) schedule: Option<String>,
    /// Examples per mini-batch.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub(crate) batch: usize,
    /// Seeds the split, the initialisation and the shuffling.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) seed: u64,
}

#[derive(Debug, Args)]
pub(crate) struct TrainArgs {
    /// The data: a CSV file, IDX images (with --labels), a bundled set (digits,
    /// breast-cancer) or a synthetic spec such as `spirals:n=1000,noise=0.2`.
    #[arg(value_name = "DATA", required_unless_present = "resume")]
    pub(crate) data: Option<String>,
    #[command(flatten)]
    pub(crate) data_options: DataOptions,
    /// The model, e.g. `64-128-10:relu` (widths input-hidden...-output, then the activation).
    #[arg(long, value_name = "SPEC", required_unless_present = "resume")]
    pub(crate) model: Option<String>,
    #[command(flatten)]
    pub(crate) run: RunOptions,
    /// Epochs to train in total (a resumed run counts the epochs already done).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub(crate) epochs: u64,
    /// Turn off the trainer's stuck detector (and its saddle escape).
    #[arg(long)]
    pub(crate) no_stuck_detection: bool,
    /// Instruments recorded while training, into the history (and the live view):
    /// `norms` (per-tensor gradient and weight norms, update ratio, dead ReLU units, logit
    /// scale), `noise` (per-example gradient variance, GSNR, noise scale), `alpha` (step
    /// quality), `curvature` (lambda_max x lr, Hessian trace); each takes `every=N`,
    /// curvature also `iters`, `probes`, `seed`. Example: `norms,noise,curvature:every=50`.
    #[arg(long, value_name = "SPEC")]
    pub(crate) instruments: Option<String>,
    /// Keep the run here, consistent at every instant: run.json, history.jsonl (appended
    /// every epoch) and the last state (weights.safetensors, checkpoint.json, history.json,
    /// loss.svg). SIGINT or SIGTERM saves the state after the current epoch and exits with
    /// 130 or 143.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// With --out: save the state every N epochs (and at the end, and on a signal).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub(crate) checkpoint_every: u64,
    /// Serve a live view of the run (its curves, updated every second) while it trains.
    #[arg(long)]
    pub(crate) watch: bool,
    #[command(flatten)]
    pub(crate) serve: ServeOptions,
    /// With --watch: keep serving after training, until Ctrl-C.
    #[arg(long, requires = "watch")]
    pub(crate) keep_serving: bool,
    /// Continue the run saved in DIR (its run.json and last state) up to --epochs,
    /// bit-identically; writes to --out, or back to DIR.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = [
            "data", "label", "regression", "delimiter", "labels", "test_data", "test_labels",
            "validation", "test", "no_standardize", "model", "optim", "schedule", "batch",
            "seed", "no_stuck_detection", "instruments",
        ]
    )]
    pub(crate) resume: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct DiagnoseArgs {
    /// The data: a CSV file, IDX images (with --labels), a bundled set (digits,
    /// breast-cancer) or a synthetic spec such as `spirals:n=1000,noise=0.2`.
    #[arg(value_name = "DATA")]
    pub(crate) data: String,
    #[command(flatten)]
    pub(crate) data_options: DataOptions,
    /// The model: an MLP such as `64-128-10:relu` or a network such as
    /// `1x8x8/conv(4,k=3,pad=1)-tanh-maxpool(2)-flatten-linear(10)` (see `unstuck list`).
    #[arg(long, value_name = "SPEC")]
    pub(crate) model: String,
    #[command(flatten)]
    pub(crate) run: RunOptions,
    /// The training budget in epochs (the shallow reference gets the same).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub(crate) epochs: u64,
    /// Rerun the diagnosis with this many seeds (--seed, --seed + 1, ...) and report how
    /// often the verdict agrees.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub(crate) seeds: u64,
    /// Print the diagnosis as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct HessianArgs {
    /// A run folder written by `unstuck train --out`: its data, split, model and last
    /// weights, unless a flag says otherwise (with a warning).
    #[arg(long, value_name = "DIR")]
    pub(crate) run: Option<PathBuf>,
    /// The data the model was trained on, read and split as `unstuck train` did (pass the
    /// same data options and --seed, or use --run).
    #[arg(value_name = "DATA", required_unless_present = "run")]
    pub(crate) data: Option<String>,
    #[command(flatten)]
    pub(crate) data_options: DataOptions,
    /// The model, e.g. `64-128-10:relu`.
    #[arg(long, value_name = "SPEC", required_unless_present = "run")]
    pub(crate) model: Option<String>,
    /// The weights (safetensors, f64, as `unstuck train --out` writes them).
    #[arg(long, value_name = "FILE", required_unless_present = "run")]
    pub(crate) weights: Option<PathBuf>,
    /// Seeds the split (as in training) and every random probe.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) seed: u64,
    /// How many extreme eigenvalues to report at each end.
    #[arg(short, long, value_name = "K", default_value_t = 5)]
    pub(crate) k: usize,
    /// Hessian-vector products Lanczos may use.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub(crate) max_iter: usize,
    /// Models up to this many parameters get the exact, dense Hessian.
    #[arg(long, value_name = "N", default_value_t = 1500)]
    pub(crate) dense_max: usize,
    /// Write hessian.json and density.svg here.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// Print the analysis as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ListWhat {
    Optimizers,
    Schedules,
    Datasets,
    Activations,
    Layers,
    Losses,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// What to list [default: everything].
    #[arg(value_enum)]
    pub(crate) what: Option<ListWhat>,
}

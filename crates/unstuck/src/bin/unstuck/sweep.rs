//! `unstuck sweep SPEC --out DIR`: a user's grid, on one machine or as N parts
//! (`--shard I/N`, or a Slurm array task / Kubernetes Indexed Job pod by its environment),
//! and `unstuck sweep merge DIR... --out DIR`, which assembles the parts into the same
//! files, byte for byte, as the one-machine run.

use crate::data;
use crate::error::{CliError, Result};
use crate::output::Outputs;
use crate::specs;
use crate::sweep_output;
use crate::sweep_spec::{GridPoint, SweepSpec};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use unstuck::data::{Dataset, Targets};
use unstuck::models::Model;
use unstuck::shard::{PartHeader, Shard, assign, check_parts, part_files};
use unstuck::task::loss_for;
use unstuck::{TrainConfig, TrainError, Trainer};

/// Run a grid of trainings (models x optimizers x learning rates x batch sizes x seeds),
/// whole or as one of N parts; `unstuck sweep merge` puts the parts together.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct SweepArgs {
    #[command(subcommand)]
    pub(crate) command: Option<SweepCommand>,
    /// The sweep file: `key = value` lines for data, models, optimizers, learning-rates,
    /// batch-sizes, seeds, epochs (see docs/cluster.md).
    #[arg(value_name = "SPEC", required = true)]
    pub(crate) spec: Option<PathBuf>,
    /// Run only part I (0-based) of N and write DIR/part-I-of-N.json [default: from
    /// SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX, else the whole grid].
    #[arg(long, value_name = "I/N")]
    pub(crate) shard: Option<String>,
    /// The number of parts, the index coming from SLURM_ARRAY_TASK_ID or
    /// JOB_COMPLETION_INDEX (Kubernetes, or a resubmitted Slurm index).
    #[arg(long, value_name = "N")]
    pub(crate) shards: Option<usize>,
    /// Where to write sweep.csv, sweep.md, sweep.json and sweep.svg (or the part file).
    #[arg(long, value_name = "DIR", required = true)]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SweepCommand {
    /// Assemble the parts in DIR... into the table and figure of the whole sweep.
    Merge(SweepMergeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SweepMergeArgs {
    /// Directories holding part-I-of-N.json files (or the files themselves).
    #[arg(value_name = "DIR", required = true)]
    pub(crate) parts: Vec<PathBuf>,
    /// Where to write sweep.csv, sweep.md, sweep.json and sweep.svg.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
}

/// What one grid point ended with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PointResult {
    pub(crate) steps: u64,
    pub(crate) epochs: u64,
    /// `None` when training diverged: then `diverged_at` says where.
    pub(crate) train_loss: Option<f64>,
    pub(crate) train_accuracy: Option<f64>,
    pub(crate) validation_loss: Option<f64>,
    pub(crate) validation_accuracy: Option<f64>,
    pub(crate) diverged_at: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SweepPart {
    format: u32,
    header: PartHeader,
    spec: SweepSpec,
    /// Grid index -> result.
    results: BTreeMap<usize, PointResult>,
}

const PART_FORMAT: u32 = 1;
const TOOL: &str = "unstuck sweep";

fn source() -> String {
    format!("unstuck {}", env!("CARGO_PKG_VERSION"))
}

pub(crate) fn run(args: SweepArgs) -> Result<()> {
    if let Some(SweepCommand::Merge(merge_args)) = args.command {
        return merge(merge_args);
    }
    // clap makes SPEC and --out required unless `merge` is given.
    let (Some(spec_path), Some(out)) = (args.spec, args.out) else {
        return Err(CliError::argument(
            "SPEC",
            "",
            "a sweep file and --out DIR are needed",
        ));
    };
    check_out(&out)?;
    let spec = SweepSpec::read(&spec_path)?;
    let shard = match &args.shard {
        Some(text) => Some(Shard::parse(text).map_err(|e| CliError::Parts(e.to_string()))?),
        None => {
            if args.shards == Some(0) {
                return Err(CliError::argument(
                    "--shards",
                    "0",
                    "the number of parts must be at least 1",
                ));
            }
            Shard::from_env(args.shards, |name| std::env::var(name).ok())
                .map_err(|e| CliError::Parts(e.to_string()))?
        }
    };
    let part = run_part(&spec, shard.unwrap_or(Shard::WHOLE))?;
    let text = serde_json::to_string_pretty(&part)
        .map_err(|error| CliError::file(&out, format!("cannot serialise the part: {error}")))?
        + "\n";
    let mut outputs = Outputs::default();
    match shard {
        Some(shard) => outputs.add(&shard.file_name(), text.into_bytes()),
        None => {
            // The whole grid goes through the same JSON as a merge of parts does.
            let reread: SweepPart = serde_json::from_str(&text).map_err(|error| {
                CliError::file(&out, format!("cannot re-read the part: {error}"))
            })?;
            sweep_output::render(&reread.spec, &reread.results, &mut outputs)?;
        }
    }
    for path in outputs.commit(&out)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Fails early when `out` cannot be a directory we write into.
fn check_out(out: &Path) -> Result<()> {
    if out.exists() && !out.is_dir() {
        return Err(CliError::file(out, "--out must be a directory"));
    }
    Ok(())
}

/// The unit's relative cost, for balancing: an epoch costs a step per batch plus a pass
/// over the rows.
fn cost(point: &GridPoint) -> f64 {
    64.0 / point.batch as f64 + 1.0
}

fn run_part(spec: &SweepSpec, shard: Shard) -> Result<SweepPart> {
    let parts = data::load(&spec.data, &spec.data_options, spec.split_seed)?;
    let points = spec.points();
    for point in &points {
        specs::optimizer(&point.optimizer_spec, None)?;
    }
    let shard_of = assign(&points.iter().map(cost).collect::<Vec<_>>(), shard.count);
    let mine: Vec<usize> = (0..points.len())
        .filter(|&i| shard_of[i] == shard.index)
        .collect();
    let mut results = BTreeMap::new();
    for (done, &index) in mine.iter().enumerate() {
        let point = &points[index];
        eprintln!(
            "sweep: [{}/{}] {} {} batch {} seed {}",
            done + 1,
            mine.len(),
            point.model,
            point.optimizer_spec,
            point.batch,
            point.seed
        );
        results.insert(index, train_point(spec, point, &parts)?);
    }
    Ok(SweepPart {
        format: PART_FORMAT,
        header: PartHeader {
            tool: TOOL.to_string(),
            source: source(),
            configuration: configuration(spec, &parts),
            shard,
        },
        spec: spec.clone(),
        results,
    })
}

fn train_point(spec: &SweepSpec, point: &GridPoint, parts: &data::Parts) -> Result<PointResult> {
    let model = specs::model(&point.model, &parts.train)?;
    let optimizer = specs::optimizer(&point.optimizer_spec, None)?;
    let n_rows = parts.train.n_rows();
    if point.batch > n_rows {
        return Err(CliError::argument(
            "batch-sizes",
            &point.batch.to_string(),
            format!("more than the {n_rows} training rows"),
        ));
    }
    let config = TrainConfig {
        batch_size: point.batch,
        epochs: spec.epochs,
        seed: point.seed,
        loss: loss_for(&parts.train, model.output_width()),
        progress: false,
        ..TrainConfig::default()
    };
    let model: &dyn Model<f64> = model.as_ref();
    let mut trainer = Trainer::new(model, optimizer, config, model.init(point.seed))?;
    match trainer
        .fit(&parts.train, parts.validation.as_ref())
        .map(|_| ())
    {
        Ok(()) => {
            let history = trainer.history();
            let last = history.epochs.last();
            Ok(PointResult {
                steps: trainer.steps_taken(),
                epochs: history.epochs.len() as u64,
                train_loss: last.map(|e| e.train_loss),
                train_accuracy: last.and_then(|e| e.train_accuracy),
                validation_loss: last.and_then(|e| e.validation_loss),
                validation_accuracy: last.and_then(|e| e.validation_accuracy),
                diverged_at: None,
            })
        }
        Err(TrainError::Diverged { step, .. }) => Ok(PointResult {
            steps: step,
            epochs: trainer.history().epochs.len() as u64,
            train_loss: None,
            train_accuracy: None,
            validation_loss: None,
            validation_accuracy: None,
            diverged_at: Some(step),
        }),
        Err(other) => Err(other.into()),
    }
}

/// A digest of the spec and of the data it reads (after the split): parts of sweeps over
/// different grids or different data are never merged.
fn configuration(spec: &SweepSpec, parts: &data::Parts) -> String {
    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_vec(spec).expect("plain data serialises"));
    for set in [
        Some(&parts.train),
        parts.validation.as_ref(),
        parts.test.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        hash_dataset(&mut hasher, set);
    }
    let digest = hasher.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn hash_dataset(hasher: &mut Sha256, set: &Dataset<f64>) {
    hasher.update((set.n_rows() as u64).to_le_bytes());
    for x in set.features() {
        hasher.update(x.to_bits().to_le_bytes());
    }
    match set.targets() {
        Targets::Classes { labels, n_classes } => {
            hasher.update((*n_classes as u64).to_le_bytes());
            for label in labels {
                hasher.update((*label as u64).to_le_bytes());
            }
        }
        Targets::Real { values, .. } => {
            for v in values {
                hasher.update(v.to_bits().to_le_bytes());
            }
        }
    }
}

fn merge(args: SweepMergeArgs) -> Result<()> {
    check_out(&args.out)?;
    let parts = read_parts(&args.parts)?;
    let headers: Vec<(String, PartHeader)> = parts
        .iter()
        .map(|(name, part)| (name.clone(), part.header.clone()))
        .collect();
    check_parts(&headers).map_err(|error| CliError::Parts(error.to_string()))?;
    let (first_name, first) = &parts[0];
    if first.header.tool != TOOL || first.header.source != source() {
        return Err(CliError::file(
            Path::new(first_name),
            format!(
                "made by {} ({}), this is {TOOL} ({})",
                first.header.tool,
                first.header.source,
                source()
            ),
        ));
    }
    let mut results = BTreeMap::new();
    for (name, part) in &parts {
        if part.spec != first.spec {
            return Err(CliError::file(
                Path::new(name),
                format!("its sweep file differs from {first_name}'s"),
            ));
        }
        for (index, result) in &part.results {
            if results.insert(*index, result.clone()).is_some() {
                return Err(CliError::file(
                    Path::new(name),
                    format!("grid point {index} is in two parts"),
                ));
            }
        }
    }
    let n_points = first.spec.points().len();
    if let Some(missing) = (0..n_points).find(|i| !results.contains_key(i)) {
        return Err(CliError::Parts(format!(
            "grid point {missing} is in no part"
        )));
    }
    let mut outputs = Outputs::default();
    sweep_output::render(&first.spec, &results, &mut outputs)?;
    for path in outputs.commit(&args.out)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn read_parts(inputs: &[PathBuf]) -> Result<Vec<(String, SweepPart)>> {
    let files = part_files(inputs).map_err(|error| CliError::Parts(error.to_string()))?;
    files
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path)
                .map_err(|error| CliError::file(path, format!("cannot read: {error}")))?;
            let part: SweepPart = serde_json::from_slice(&bytes)
                .map_err(|error| CliError::file(path, format!("not a sweep part: {error}")))?;
            if part.format != PART_FORMAT {
                return Err(CliError::file(
                    path,
                    format!("part format {} is not {PART_FORMAT}", part.format),
                ));
            }
            Ok((path.display().to_string(), part))
        })
        .collect()
}

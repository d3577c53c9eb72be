//! `cargo xtask report`: runs the lecture's experiments and writes the report.
//!
//! Each experiment is one file with an [`Experiment`]: its units of work (one per seed,
//! optimizer or grid point), `run` for one unit, and `assemble`, which turns all the units'
//! numbers into tables, figures and checked claims. This file lists the experiments and
//! dispatches: the whole report here, one shard of it (`--shard`), or a merge of shards
//! (`--merge`), which is byte-identical to the whole report.

mod artifacts;
mod batch_noise;
mod batch_size;
#[cfg(test)]
mod build_tests;
mod check;
mod claims;
mod cnn_digits;
mod critical_point;
mod guide;
mod manifest;
mod markdown;
mod minimum_ratio;
mod optimizers;
mod parts;
mod real_data;
mod saddle;
mod schedules;
mod source;
mod stability;
mod verify;

use anyhow::{Context as _, Result};
use artifacts::Artifacts;
use claims::Finding;
use manifest::{ExperimentRecord, Manifest};
use parts::{Config, Measured, Results, Unit};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use unstuck::shard::Shard;

/// The options of `cargo xtask report`.
#[derive(Debug, Default, Clone)]
pub struct Options {
    pub quick: bool,
    pub only: Option<String>,
    pub out: Option<PathBuf>,
    pub check: bool,
    pub verify: bool,
    pub update: bool,
    pub shard: Option<Shard>,
    pub shards: Option<usize>,
    pub merge: Vec<PathBuf>,
}

/// What an experiment's code knows about the run: its size and its seed.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub quick: bool,
    pub seed: u64,
}

/// What an experiment hands back: its part of `README.md`.
#[derive(Debug)]
pub struct Section {
    pub title: String,
    /// What was found, as claims over the numbers (checked before anything is written).
    pub finding: Finding,
    /// Tables and figure links.
    pub body: String,
}

/// One experiment: how it splits into units, how to run one, how to assemble them.
#[derive(Debug)]
pub struct Experiment {
    pub name: &'static str,
    pub seed: u64,
    pub units: fn(&Plan) -> Vec<Unit>,
    pub run: fn(&Plan, &str) -> Result<Measured>,
    pub assemble: fn(&Plan, &Results<'_>, &mut Artifacts) -> Result<Section>,
}

/// Every experiment, in report order, with its seed.
pub fn experiments() -> [Experiment; 8] {
    [
        saddle::experiment(1),
        minimum_ratio::experiment(2),
        optimizers::experiment(3),
        schedules::experiment(4),
        batch_size::experiment(5),
        stability::experiment(8),
        guide::experiment(6),
        cnn_digits::experiment(7),
    ]
}

pub fn experiment_names() -> Vec<&'static str> {
    experiments().iter().map(|e| e.name).collect()
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

fn default_out(quick: bool) -> PathBuf {
    if quick {
        workspace_root().join("target/report-quick")
    } else {
        workspace_root().join("docs/report")
    }
}

/// Where every run's wall-clock figures go: under `target/`, never in the checked-in tree.
fn timings_path(quick: bool) -> PathBuf {
    workspace_root().join(format!(
        "target/report-timings/{}.md",
        if quick { "quick" } else { "full" }
    ))
}

pub fn main(options: Options) -> Result<()> {
    if options.check {
        return check::run(&options);
    }
    if options.verify {
        return verify::run();
    }
    let all = experiments();
    if !options.merge.is_empty() {
        let parts = parts::read_parts(&options.merge)?;
        let parts::Merged {
            config,
            units,
            timings,
        } = parts::merge(&all, &parts)?;
        let out = options
            .out
            .clone()
            .unwrap_or_else(|| default_out(config.quick));
        eprintln!(
            "report: merging {} part(s) into {}",
            parts.len(),
            out.display()
        );
        let written = Written {
            out: &out,
            timings: &timings_path(config.quick),
            update: options.update,
        };
        return write_report(&all, &config, &units, &timings, &written);
    }
    let config = Config {
        quick: options.quick,
        only: options.only.clone(),
    };
    let shard = match options.shard {
        Some(shard) => Some(shard),
        None => Shard::from_env(options.shards, |name| std::env::var(name).ok())?,
    };
    if let Some(shard) = shard {
        let out = options
            .out
            .clone()
            .unwrap_or_else(|| workspace_root().join("target/report-parts"));
        eprintln!("report: running part {shard} into {}", out.display());
        let part = parts::run_shard(&all, &config, shard)?;
        let path = parts::write_part(&part, &out)?;
        eprintln!("report: wrote {}", path.display());
        return Ok(());
    }
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| default_out(config.quick));
    let merged = run_whole(&all, &config)?;
    let written = Written {
        out: &out,
        timings: &timings_path(config.quick),
        update: options.update,
    };
    write_report(&all, &config, &merged.units, &merged.timings, &written)
}

/// Where a report goes.
#[derive(Debug)]
struct Written<'a> {
    /// The report's directory.
    out: &'a Path,
    /// This run's timings (outside the checked-in tree).
    timings: &'a Path,
    /// Also refresh `out/timings.md`.
    update: bool,
}

/// Runs every unit as the one part of one, through the same JSON a merge reads.
fn run_whole(all: &[Experiment], config: &Config) -> Result<parts::Merged> {
    let part = parts::run_shard(all, config, Shard::WHOLE)?;
    let text = part.to_json()?;
    let reread = parts::read_part_text(&text)?;
    parts::merge(all, &[("the whole report".to_string(), reread)])
}

/// Assembles the report from every unit's numbers; fails (writing nothing) if a claim
/// does not hold.
pub fn build(
    all: &[Experiment],
    config: &Config,
    units: &BTreeMap<String, Value>,
    out: &Path,
) -> Result<Artifacts> {
    let mut artifacts = Artifacts::new(out);
    let mut sections = Vec::new();
    let mut records = Vec::new();
    for experiment in parts::selected(all, config) {
        let plan = experiment.plan(config.quick);
        let results = parts::results_of(experiment, units);
        let section = (experiment.assemble)(&plan, &results, &mut artifacts)
            .with_context(|| format!("experiment `{}`", experiment.name))?;
        section.finding.check(experiment.name)?;
        records.push(ExperimentRecord {
            name: experiment.name.to_string(),
            seed: experiment.seed,
            units: (experiment.units)(&plan).len(),
        });
        sections.push((experiment.name, section));
    }
    let readme = markdown::readme(config.quick, &sections);
    artifacts.write("README.md", readme.as_bytes())?;
    let manifest = Manifest::describe(config.quick, records, artifacts.hashed());
    artifacts.write_unhashed("manifest.json", manifest.to_json()?.as_bytes())?;
    Ok(artifacts)
}

fn write_report(
    all: &[Experiment],
    config: &Config,
    units: &BTreeMap<String, Value>,
    timings: &[(String, f64)],
    to: &Written<'_>,
) -> Result<()> {
    let mut artifacts = build(all, config, units, to.out)?;
    let timings_md = markdown::timings(timings);
    if to.update {
        artifacts.write_unhashed("timings.md", timings_md.as_bytes())?;
    }
    let stale: Vec<String> = Manifest::load(to.out)
        .map(|old| old.artifacts.into_keys().collect())
        .unwrap_or_default();
    artifacts.commit(&stale)?;
    artifacts::write_atomic(to.timings, timings_md.as_bytes())?;
    eprintln!(
        "report: wrote {} (timings of this run: {})",
        to.out.join("README.md").display(),
        to.timings.display()
    );
    Ok(())
}

//! `cargo xtask report`: runs the lecture's experiments and writes the report.
//!
//! Each experiment is one file with a `run(&mut Context) -> Result<Section>`; this file
//! lists them, runs them, assembles `README.md`, and writes `manifest.json`.

mod artifacts;
mod batch_size;
mod check;
mod guide;
mod manifest;
mod markdown;
mod minimum_ratio;
mod optimizers;
mod real_data;
mod saddle;
mod schedules;

use anyhow::{Context as _, Result};
use artifacts::Artifacts;
use manifest::{ExperimentRecord, Manifest};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The options of `cargo xtask report`.
#[derive(Debug, Default, Clone)]
pub struct Options {
    pub quick: bool,
    pub only: Option<String>,
    pub out: Option<PathBuf>,
    pub check: bool,
}

/// What an experiment hands back: its part of `README.md`.
#[derive(Debug)]
pub struct Section {
    pub title: String,
    /// One short paragraph that says what was found, in numbers.
    pub finding: String,
    /// Tables and figure links.
    pub body: String,
}

/// What an experiment gets: where to write, how big to be, and its seed.
#[derive(Debug)]
pub struct Context {
    pub quick: bool,
    pub seed: u64,
    pub artifacts: Artifacts,
    /// Wall-clock figures: reported in `timings.md` and the manifest, never hashed.
    pub timings: Vec<(String, f64)>,
}

type Run = fn(&mut Context) -> Result<Section>;

/// Every experiment, in report order, with its seed.
const EXPERIMENTS: &[(&str, u64, Run)] = &[
    ("saddle", 1, saddle::run),
    ("minimum-ratio", 2, minimum_ratio::run),
    ("optimizers", 3, optimizers::run),
    ("schedules", 4, schedules::run),
    ("batch-size", 5, batch_size::run),
    ("guide", 6, guide::run),
];

pub fn experiment_names() -> Vec<&'static str> {
    EXPERIMENTS.iter().map(|(name, _, _)| *name).collect()
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

pub fn main(options: Options) -> Result<()> {
    if options.check {
        return check::run(&options);
    }
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| default_out(options.quick));
    generate(&options, &out)
}

/// Runs the selected experiments and writes README.md, figures, timings and the manifest.
fn generate(options: &Options, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut sections = Vec::new();
    let mut records = Vec::new();
    let mut artifacts = Artifacts::new(out);
    let mut timings = Vec::new();
    for &(name, seed, run) in EXPERIMENTS {
        if options.only.as_deref().is_some_and(|only| only != name) {
            continue;
        }
        eprintln!(
            "report: running `{name}`{}",
            if options.quick { " (quick)" } else { "" }
        );
        let started = Instant::now();
        let mut context = Context {
            quick: options.quick,
            seed,
            artifacts,
            timings: Vec::new(),
        };
        let section = run(&mut context).with_context(|| format!("experiment `{name}`"))?;
        let seconds = started.elapsed().as_secs_f64();
        eprintln!("report: `{name}` took {seconds:.1} s");
        artifacts = context.artifacts;
        timings.extend(
            context
                .timings
                .into_iter()
                .map(|(k, v)| (format!("{name}: {k}"), v)),
        );
        records.push(ExperimentRecord {
            name: name.to_string(),
            seed,
            seconds,
        });
        sections.push((name, section));
    }
    let readme = markdown::readme(options.quick, &sections);
    artifacts.write("README.md", readme.as_bytes())?;
    // Timings change from run to run: written, listed in the manifest, never hashed.
    artifacts.write_unhashed("timings.md", markdown::timings(&timings).as_bytes())?;
    let manifest = Manifest::describe(options.quick, records, timings, artifacts.hashed());
    artifacts.write_unhashed("manifest.json", manifest.to_json()?.as_bytes())?;
    eprintln!("report: wrote {}", out.join("README.md").display());
    Ok(())
}

//! The report as independent units of work: run all of them, or one shard's share into a
//! part file, and put parts back together.
//!
//! Every experiment lists its units (one per seed, grid point or optimizer) with an
//! estimated cost; `unstuck::shard::assign` spreads them over N shards. A unit's result is
//! JSON (f64 written shortest-round-trip, so read back bit for bit), and the one-machine
//! report goes through the same JSON as a merged one: the two cannot differ.

use super::source::source_id;
use super::{Experiment, Plan};
use anyhow::{Context as _, Result, bail};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use unstuck::shard::{PartHeader, Shard, assign, check_parts, part_files};

const PART_FORMAT: u32 = 1;
const TOOL: &str = "cargo xtask report";

/// One independent piece of an experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// Unique within the experiment, e.g. `seed-7` or `adam`.
    pub key: String,
    /// Estimated seconds at full size on one core: only used to balance shards.
    pub cost: f64,
}

impl Unit {
    pub fn new(key: impl Into<String>, cost: f64) -> Self {
        Unit {
            key: key.into(),
            cost,
        }
    }
}

/// What a unit hands back: its numbers, and wall-clock figures that are never hashed.
#[derive(Debug, Clone)]
pub struct Measured {
    pub value: Value,
    pub timings: Vec<(String, f64)>,
}

impl Measured {
    pub fn of<T: Serialize>(value: &T) -> Result<Self> {
        Ok(Measured {
            value: serde_json::to_value(value).context("serialising a unit's result")?,
            timings: Vec::new(),
        })
    }

    pub fn timing(mut self, what: impl Into<String>, seconds: f64) -> Self {
        self.timings.push((what.into(), seconds));
        self
    }
}

/// One experiment's unit results, by key.
#[derive(Debug)]
pub struct Results<'a> {
    experiment: &'static str,
    values: &'a BTreeMap<String, Value>,
}

impl Results<'_> {
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        let full = unit_id(self.experiment, key);
        let value = self
            .values
            .get(&full)
            .with_context(|| format!("no result for unit `{full}`"))?;
        serde_json::from_value(value.clone()).with_context(|| format!("reading unit `{full}`"))
    }
}

/// What a report run is, besides the code: quick or full, and which experiments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub quick: bool,
    pub only: Option<String>,
}

/// A shard's results, as written to `part-I-of-N.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Part {
    pub format: u32,
    pub header: PartHeader,
    pub config: Config,
    /// `experiment/key` -> result.
    pub units: BTreeMap<String, Value>,
    /// Wall-clock figures of this part's units (never hashed).
    pub timings: Vec<(String, f64)>,
}

fn unit_id(experiment: &str, key: &str) -> String {
    format!("{experiment}/{key}")
}

/// Every unit of the selected experiments, in report order, with its experiment.
pub fn work_list<'e>(
    experiments: &'e [Experiment],
    config: &Config,
) -> Vec<(&'e Experiment, Unit)> {
    selected(experiments, config)
        .flat_map(|e| {
            (e.units)(&e.plan(config.quick))
                .into_iter()
                .map(move |u| (e, u))
        })
        .collect()
}

pub fn selected<'e>(
    experiments: &'e [Experiment],
    config: &Config,
) -> impl Iterator<Item = &'e Experiment> {
    experiments
        .iter()
        .filter(|e| config.only.as_deref().is_none_or(|only| only == e.name))
}

/// A digest of the configuration and of every unit and seed it implies: parts whose
/// digests differ were not cut from the same report.
pub fn configuration_digest(experiments: &[Experiment], config: &Config) -> String {
    let units: Vec<(String, u64)> = work_list(experiments, config)
        .iter()
        .map(|(e, u)| (unit_id(e.name, &u.key), e.seed))
        .collect();
    let text = serde_json::to_string(&(config, units)).expect("plain data serialises");
    let digest = super::artifacts::sha256_hex(text.as_bytes());
    format!(
        "{} {}",
        if config.quick { "quick" } else { "full" },
        &digest[..16]
    )
}

/// Runs the units `shard` owns and returns its part.
pub fn run_shard(experiments: &[Experiment], config: &Config, shard: Shard) -> Result<Part> {
    let work = work_list(experiments, config);
    let costs: Vec<f64> = work.iter().map(|(_, u)| u.cost).collect();
    let shard_of = assign(&costs, shard.count);
    let mut part = Part {
        format: PART_FORMAT,
        header: PartHeader {
            tool: TOOL.to_string(),
            source: source_id(),
            configuration: configuration_digest(experiments, config),
            shard,
        },
        config: config.clone(),
        units: BTreeMap::new(),
        timings: Vec::new(),
    };
    let mine: Vec<_> = work
        .iter()
        .zip(&shard_of)
        .filter(|(_, s)| **s == shard.index)
        .map(|(w, _)| w)
        .collect();
    for (i, (experiment, unit)) in mine.iter().enumerate() {
        let id = unit_id(experiment.name, &unit.key);
        eprintln!("report: [{}/{}] {id}", i + 1, mine.len());
        let started = Instant::now();
        let measured = (experiment.run)(&experiment.plan(config.quick), &unit.key)
            .with_context(|| format!("unit `{id}`"))?;
        part.timings
            .push((format!("{id}: whole unit"), started.elapsed().as_secs_f64()));
        part.timings.extend(
            measured
                .timings
                .into_iter()
                .map(|(what, s)| (format!("{id}: {what}"), s)),
        );
        part.units.insert(id, measured.value);
    }
    Ok(part)
}

impl Part {
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)? + "\n")
    }

    fn from_json(text: &str, name: &str) -> Result<Self> {
        let part: Part =
            serde_json::from_str(text).with_context(|| format!("{name}: not a report part"))?;
        if part.format != PART_FORMAT {
            bail!("{name}: part format {} is not {PART_FORMAT}", part.format);
        }
        Ok(part)
    }
}

/// A part from its JSON text (the one-machine report reads its own part this way).
pub fn read_part_text(text: &str) -> Result<Part> {
    Part::from_json(text, "part")
}

/// Every `part-*.json` in each of `inputs` (a directory, or a part file itself), in name
/// order, with the path it was read from.
pub fn read_parts(inputs: &[PathBuf]) -> Result<Vec<(String, Part)>> {
    let files = part_files(inputs)?;
    files
        .iter()
        .map(|path| {
            let name = path.display().to_string();
            let text =
                std::fs::read_to_string(path).with_context(|| format!("{name}: cannot read"))?;
            Ok((name.clone(), Part::from_json(&text, &name)?))
        })
        .collect()
}

/// The whole of a report's numbers, from one part or many.
#[derive(Debug)]
pub struct Merged {
    pub config: Config,
    /// `experiment/key` -> result.
    pub units: BTreeMap<String, Value>,
    /// Every unit's wall-clock figures.
    pub timings: Vec<(String, f64)>,
}

/// Checks that `parts` are the whole of one report made by this very code, and returns its
/// configuration, every unit's result and the timings.
pub fn merge(experiments: &[Experiment], parts: &[(String, Part)]) -> Result<Merged> {
    let headers: Vec<(String, PartHeader)> = parts
        .iter()
        .map(|(name, part)| (name.clone(), part.header.clone()))
        .collect();
    check_parts(&headers)?;
    let (first_name, first) = &parts[0];
    if first.header.tool != TOOL {
        bail!(
            "{first_name}: a part of `{}`, not of `{TOOL}`",
            first.header.tool
        );
    }
    let config = first.config.clone();
    let own_source = source_id();
    if first.header.source != own_source {
        bail!(
            "{first_name}: made by source {}, but this is {own_source}: merge with the code that made the parts",
            first.header.source
        );
    }
    let digest = configuration_digest(experiments, &config);
    for (name, part) in parts {
        if part.config != config || part.header.configuration != digest {
            bail!("{name}: its configuration does not match this code's for the same options");
        }
    }
    let work = work_list(experiments, &config);
    let shard_of = assign(
        &work.iter().map(|(_, u)| u.cost).collect::<Vec<_>>(),
        first.header.shard.count,
    );
    let mut units = BTreeMap::new();
    let mut timings = Vec::new();
    for (name, part) in parts {
        let expected: Vec<String> = work
            .iter()
            .zip(&shard_of)
            .filter(|(_, s)| **s == part.header.shard.index)
            .map(|((e, u), _)| unit_id(e.name, &u.key))
            .collect();
        let got: Vec<&String> = part.units.keys().collect();
        let mut expected_sorted: Vec<&String> = expected.iter().collect();
        expected_sorted.sort();
        if got != expected_sorted {
            bail!("{name}: holds units {got:?}, its shard should hold {expected_sorted:?}");
        }
        units.extend(part.units.clone());
        timings.extend(part.timings.iter().cloned());
    }
    Ok(Merged {
        config,
        units,
        timings,
    })
}

/// The results of one experiment out of the merged map.
pub fn results_of<'a>(experiment: &Experiment, units: &'a BTreeMap<String, Value>) -> Results<'a> {
    Results {
        experiment: experiment.name,
        values: units,
    }
}

/// Writes `part` to `dir/part-I-of-N.json`, atomically.
pub fn write_part(part: &Part, dir: &Path) -> Result<PathBuf> {
    let path = dir.join(part.header.shard.file_name());
    super::artifacts::write_atomic(&path, part.to_json()?.as_bytes())?;
    Ok(path)
}

impl Experiment {
    pub fn plan(&self, quick: bool) -> Plan {
        Plan {
            quick,
            seed: self.seed,
        }
    }
}

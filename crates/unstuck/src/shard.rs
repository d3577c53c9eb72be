//! Splitting a sweep into N deterministic parts and checking that a set of parts is whole.
//!
//! A sweep (the report's experiments, or `unstuck sweep`'s grid) is a list of independent
//! work units with an estimated cost. [`assign`] gives each unit to one of N shards, the
//! same way on every machine, so N jobs of a Slurm job array or a Kubernetes Indexed Job
//! can each run one part; [`check_parts`] is what a merge runs first: one part per index,
//! all from the same source and configuration.
//!
//! ```
//! use unstuck::shard::{Shard, assign};
//! let shard = Shard::parse("1/3")?;
//! assert_eq!((shard.index, shard.count), (1, 3));
//! // Longest first, each to the least-loaded shard.
//! assert_eq!(assign(&[5.0, 1.0, 4.0, 2.0], 2), vec![0, 0, 1, 1]);
//! # Ok::<(), unstuck::shard::ShardError>(())
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// The `index`-th (0-based) of `count` parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Shard {
    /// Which part, `0..count`.
    pub index: usize,
    /// How many parts.
    pub count: usize,
}

/// What is wrong with a shard argument or a set of parts. Every message is one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not `I/N` with two non-negative integers.
    #[error("--shard {given}: expected I/N, the 0-based part I of N parts (e.g. 0/3)")]
    Malformed {
        /// The text given.
        given: String,
    },
    /// `N = 0`.
    #[error("{given}: the number of parts must be at least 1")]
    ZeroCount {
        /// The flag or variable, with its value.
        given: String,
    },
    /// `I >= N`.
    #[error("{given}: part {index} does not exist, the parts are 0..{last}", last = count - 1)]
    OutOfRange {
        /// The flag or variable, with its value.
        given: String,
        /// The index given.
        index: usize,
        /// The number of parts.
        count: usize,
    },
    /// An environment variable that should hold a number does not.
    #[error("{name}={value}: not a non-negative integer")]
    BadVariable {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// The job array does not number its tasks 0..N-1, so the count is unknown.
    #[error("{reason}: pass the number of parts with --shards N")]
    CountUnknown {
        /// Why the environment does not say.
        reason: String,
    },
    /// A merge input that cannot be listed or does not exist.
    #[error("{path}: {message}")]
    Unreadable {
        /// The directory or file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// `--shards N` outside a job array: there is no index to take.
    #[error(
        "--shards {count}: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set; outside a job array use --shard I/N"
    )]
    NoIndex {
        /// The count given.
        count: usize,
    },
    /// `merge` was given no part at all.
    #[error("no parts to merge (expected files named part-I-of-N.json)")]
    NoParts,
    /// Two parts disagree on what they are parts of.
    #[error(
        "{part}: {what} {this} differs from {other_part}'s {other}: parts of different runs cannot be merged"
    )]
    Foreign {
        /// The part that disagrees.
        part: String,
        /// What differs (`source`, `configuration`, `number of parts`, ...).
        what: &'static str,
        /// Its value there.
        this: String,
        /// The first part's value.
        other: String,
        /// The first part.
        other_part: String,
    },
    /// Two parts claim the same index.
    #[error("part {index} of {count} is given twice: {first} and {second}")]
    Duplicate {
        /// The index.
        index: usize,
        /// The number of parts.
        count: usize,
        /// One file.
        first: String,
        /// The other file.
        second: String,
    },
    /// Some indices have no part.
    #[error("missing part(s) {} of {count}", list(missing))]
    Missing {
        /// The indices without a part.
        missing: Vec<usize>,
        /// The number of parts.
        count: usize,
    },
}

fn shown(value: Option<usize>) -> String {
    value.map_or_else(|| "unset".to_string(), |v| v.to_string())
}

fn list(indices: &[usize]) -> String {
    let shown: Vec<String> = indices.iter().take(20).map(usize::to_string).collect();
    let more = if indices.len() > 20 { ", ..." } else { "" };
    format!("{}{more}", shown.join(", "))
}

impl Shard {
    /// The whole sweep as one part.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N` (0-based I, 0 <= I < N).
    pub fn parse(text: &str) -> Result<Shard, ShardError> {
        let malformed = || ShardError::Malformed {
            given: text.to_string(),
        };
        let (index, count) = text.split_once('/').ok_or_else(malformed)?;
        let index: usize = index.trim().parse().map_err(|_| malformed())?;
        let count: usize = count.trim().parse().map_err(|_| malformed())?;
        Shard::new(index, count, &format!("--shard {text}"))
    }

    /// Checks `index < count` and `count >= 1`; `given` names the source in errors.
    pub fn new(index: usize, count: usize, given: &str) -> Result<Shard, ShardError> {
        if count == 0 {
            return Err(ShardError::ZeroCount {
                given: given.to_string(),
            });
        }
        if index >= count {
            return Err(ShardError::OutOfRange {
                given: given.to_string(),
                index,
                count,
            });
        }
        Ok(Shard { index, count })
    }

    /// The part a job-array task should run, from its environment, when no `--shard` was
    /// given; `None` outside a job array (an error if `count` was given there).
    ///
    /// * Slurm: the index is `SLURM_ARRAY_TASK_ID` (submit with `--array=0-(N-1)`); the count
    ///   is `count` (`--shards N`) or else `SLURM_ARRAY_TASK_COUNT`, which is only trusted
    ///   when the array is exactly `0..N-1`: a resubmitted single index (`--array=1`) has a
    ///   count of 1, so it needs `--shards N`.
    /// * Kubernetes Indexed Job: the index is `JOB_COMPLETION_INDEX`, the count must be
    ///   given (`--shards N`, the Job's `completions`).
    ///
    /// `var` reads a variable (`std::env::var(..).ok()` in a program, a map in a test).
    pub fn from_env(
        count: Option<usize>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Shard>, ShardError> {
        let number = |name: &'static str| -> Result<Option<usize>, ShardError> {
            match var(name) {
                None => Ok(None),
                Some(value) => value
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| ShardError::BadVariable { name, value }),
            }
        };
        if let Some(index) = number("SLURM_ARRAY_TASK_ID")? {
            let given = format!("SLURM_ARRAY_TASK_ID={index}");
            let count = match count {
                Some(count) => count,
                None => {
                    // The array's own count, trusted only if its tasks are 0..N-1.
                    let tasks = number("SLURM_ARRAY_TASK_COUNT")?;
                    let (min, max) = (
                        number("SLURM_ARRAY_TASK_MIN")?,
                        number("SLURM_ARRAY_TASK_MAX")?,
                    );
                    match (tasks, min, max) {
                        (Some(n), Some(0), Some(max)) if n >= 1 && max == n - 1 => n,
                        _ => {
                            return Err(ShardError::CountUnknown {
                                reason: format!(
                                    "{given}: the array's tasks are not numbered 0..N-1 \
                                     (SLURM_ARRAY_TASK_MIN={}, SLURM_ARRAY_TASK_MAX={}, \
                                     SLURM_ARRAY_TASK_COUNT={})",
                                    shown(min),
                                    shown(max),
                                    shown(tasks)
                                ),
                            });
                        }
                    }
                }
            };
            return Shard::new(index, count, &given).map(Some);
        }
        if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let given = format!("JOB_COMPLETION_INDEX={index}");
            let count = count.ok_or_else(|| ShardError::CountUnknown {
                reason: format!("{given} (a Kubernetes Indexed Job does not say its completions)"),
            })?;
            return Shard::new(index, count, &given).map(Some);
        }
        match count {
            Some(count) => Err(ShardError::NoIndex { count }),
            None => Ok(None),
        }
    }

    /// `part-I-of-N.json`: the file a part is written to.
    pub fn file_name(&self) -> String {
        format!("part-{}-of-{}.json", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Gives each unit (by its estimated cost, in the sweep's order) to one of `count` shards:
/// the longest-processing-time rule, longest unit first to the least-loaded shard, ties to
/// the earlier unit and the lower shard. A pure function of `costs` and `count`, so every
/// task of a job array computes the same assignment.
///
/// # Panics
/// If `count` is 0 (a [`Shard`] never has it).
pub fn assign(costs: &[f64], count: usize) -> Vec<usize> {
    assert!(count > 0, "assign needs at least one shard");
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by(|&a, &b| costs[b].total_cmp(&costs[a]).then(a.cmp(&b)));
    let mut load = vec![0.0_f64; count];
    let mut shard_of = vec![0; costs.len()];
    for unit in order {
        let lightest = (0..count)
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
            .expect("count > 0");
        load[lightest] += costs[unit].max(0.0);
        shard_of[unit] = lightest;
    }
    shard_of
}

/// The part files a merge reads: every `part-*.json` in each input directory (in name
/// order), or the input itself when it is a file.
pub fn part_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, ShardError> {
    let mut files = Vec::new();
    for input in inputs {
        let unreadable = |message: String| ShardError::Unreadable {
            path: input.display().to_string(),
            message,
        };
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|error| unreadable(format!("cannot list: {error}")))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("part-") && n.ends_with(".json"))
                })
                .collect();
            found.sort();
            files.extend(found);
        } else if input.is_file() {
            files.push(input.clone());
        } else {
            return Err(unreadable("no such file or directory".into()));
        }
    }
    Ok(files)
}

/// What every part says about itself, so that a merge can refuse a foreign one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartHeader {
    /// What made it (`"cargo xtask report"`, `"unstuck sweep"`).
    pub tool: String,
    /// The code it ran: a git commit (with a digest of uncommitted changes), or the
    /// program's version.
    pub source: String,
    /// A digest of everything that defines the sweep (sizes, seeds, grid, data).
    pub configuration: String,
    /// Which part it is.
    pub shard: Shard,
}

/// Checks that `parts` (each with where it came from, for the messages) are the parts
/// `0..N` of one sweep, each exactly once; returns N.
pub fn check_parts(parts: &[(String, PartHeader)]) -> Result<usize, ShardError> {
    let (first_name, first) = parts.first().ok_or(ShardError::NoParts)?;
    for (name, header) in parts {
        let fields: [(&'static str, String, String); 4] = [
            ("tool", header.tool.clone(), first.tool.clone()),
            ("source", header.source.clone(), first.source.clone()),
            (
                "configuration",
                header.configuration.clone(),
                first.configuration.clone(),
            ),
            (
                "number of parts",
                header.shard.count.to_string(),
                first.shard.count.to_string(),
            ),
        ];
        for (what, this, other) in fields {
            if this != other {
                return Err(ShardError::Foreign {
                    part: name.clone(),
                    what,
                    this,
                    other,
                    other_part: first_name.clone(),
                });
            }
        }
    }
    let count = first.shard.count;
    let mut seen: Vec<Option<&str>> = vec![None; count];
    for (name, header) in parts {
        let index = header.shard.index;
        if index >= count {
            return Err(ShardError::OutOfRange {
                given: name.clone(),
                index,
                count,
            });
        }
        if let Some(first) = seen[index] {
            return Err(ShardError::Duplicate {
                index,
                count,
                first: first.to_string(),
                second: name.clone(),
            });
        }
        seen[index] = Some(name);
    }
    let missing: Vec<usize> = (0..count).filter(|&i| seen[i].is_none()).collect();
    if !missing.is_empty() {
        return Err(ShardError::Missing { missing, count });
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn parse_accepts_i_of_n_and_names_what_is_wrong() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        assert!(matches!(
            Shard::parse("3/3"),
            Err(ShardError::OutOfRange {
                index: 3,
                count: 3,
                ..
            })
        ));
        assert!(matches!(
            Shard::parse("0/0"),
            Err(ShardError::ZeroCount { .. })
        ));
        for bad in ["", "1", "1/", "/3", "a/3", "-1/3", "1/3/4"] {
            assert!(
                matches!(Shard::parse(bad), Err(ShardError::Malformed { .. })),
                "{bad:?}"
            );
        }
        let message = Shard::parse("5/3").unwrap_err().to_string();
        assert_eq!(
            message,
            "--shard 5/3: part 5 does not exist, the parts are 0..2"
        );
    }

    #[test]
    fn slurm_and_kubernetes_indices_come_from_the_environment() {
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "2"),
        ]);
        assert_eq!(
            Shard::from_env(None, &slurm),
            Ok(Some(Shard { index: 1, count: 3 }))
        );
        // A resubmitted single index: the array says 1 task, so the count must be given.
        let resubmitted = env(&[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "1"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "1"),
        ]);
        assert!(matches!(
            Shard::from_env(None, &resubmitted),
            Err(ShardError::CountUnknown { .. })
        ));
        assert_eq!(
            Shard::from_env(Some(3), &resubmitted),
            Ok(Some(Shard { index: 1, count: 3 }))
        );
        let kubernetes = env(&[("JOB_COMPLETION_INDEX", "4")]);
        assert!(matches!(
            Shard::from_env(None, &kubernetes),
            Err(ShardError::CountUnknown { .. })
        ));
        assert!(matches!(
            Shard::from_env(Some(4), &kubernetes),
            Err(ShardError::OutOfRange {
                index: 4,
                count: 4,
                ..
            })
        ));
        assert_eq!(Shard::from_env(None, env(&[])), Ok(None));
        assert_eq!(
            Shard::from_env(Some(3), env(&[])),
            Err(ShardError::NoIndex { count: 3 })
        );
        assert!(matches!(
            Shard::from_env(None, env(&[("SLURM_ARRAY_TASK_ID", "x")])),
            Err(ShardError::BadVariable { .. })
        ));
    }

    #[test]
    fn assignment_is_balanced_and_covers_every_unit() {
        let costs = [8.0, 1.0, 1.0, 4.0, 4.0, 2.0, 2.0, 2.0];
        for count in 1..=10 {
            let shard_of = assign(&costs, count);
            assert_eq!(shard_of.len(), costs.len());
            assert!(shard_of.iter().all(|&s| s < count));
            let mut load = vec![0.0; count];
            for (unit, &shard) in shard_of.iter().enumerate() {
                load[shard] += costs[unit];
            }
            // LPT is within 4/3 of the optimum; the optimum is at least max(mean, largest).
            let total: f64 = costs.iter().sum();
            let bound = (total / count as f64).max(8.0) * 4.0 / 3.0;
            let worst = load.iter().cloned().fold(0.0, f64::max);
            assert!(worst <= bound, "{count} shards: {load:?}");
        }
        assert_eq!(assign(&costs, 1), vec![0; costs.len()]);
    }

    fn header(index: usize, count: usize) -> (String, PartHeader) {
        (
            format!("parts/{}", Shard { index, count }.file_name()),
            PartHeader {
                tool: "test".into(),
                source: "abc".into(),
                configuration: "quick".into(),
                shard: Shard { index, count },
            },
        )
    }

    #[test]
    fn a_merge_needs_every_part_once_and_from_the_same_run() {
        let whole: Vec<_> = (0..3).map(|i| header(i, 3)).collect();
        assert_eq!(check_parts(&whole), Ok(3));
        assert_eq!(check_parts(&[]), Err(ShardError::NoParts));

        let missing = vec![header(0, 3), header(2, 3)];
        assert_eq!(
            check_parts(&missing).unwrap_err().to_string(),
            "missing part(s) 1 of 3"
        );

        let mut twice = whole.clone();
        twice.push(("copy/part-1-of-3.json".into(), whole[1].1.clone()));
        assert_eq!(
            check_parts(&twice).unwrap_err().to_string(),
            "part 1 of 3 is given twice: parts/part-1-of-3.json and copy/part-1-of-3.json"
        );

        let mut foreign = whole.clone();
        foreign[2].1.source = "def".into();
        let message = check_parts(&foreign).unwrap_err().to_string();
        assert!(
            message.starts_with("parts/part-2-of-3.json: source def differs"),
            "{message}"
        );

        let mut other_count = whole.clone();
        other_count[1] = header(1, 4);
        assert!(matches!(
            check_parts(&other_count),
            Err(ShardError::Foreign {
                what: "number of parts",
                ..
            })
        ));

        let mut other_config = whole;
        other_config[0].1.configuration = "full".into();
        assert!(matches!(
            check_parts(&other_config),
            Err(ShardError::Foreign {
                what: "configuration",
                ..
            })
        ));
    }
}

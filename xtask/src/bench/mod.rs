//! `cargo xtask bench`: unstuck's benchmarks beside the PyTorch/JAX/numpy anchors.
//!
//! Each benchmark is timed on a rayon pool of 1 and of 2 threads. With
//! `UNSTUCK_ANCHOR_PYTHON=/path/to/python`, the matching anchor scripts (`xtask/anchors/`)
//! run in the same invocation, interleaved with unstuck's runs round by round (anchors,
//! unstuck, anchors, unstuck, ...), and the table shows the ratio anchor time / unstuck
//! time (above 1: unstuck is faster) with its spread over the rounds. Without Python it
//! prints unstuck's figures alone. It is a tool, not a test: CI does not run it.

mod anchors;
mod gemm;
mod hessian;
mod instruments;
mod kernels;
mod memory;
mod networks;
mod report;
mod timing;
mod train_step;

use anyhow::{Context as _, Result};
use std::collections::BTreeMap;
use timing::{Budget, Summary, with_threads};

/// The options of `cargo xtask bench`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Rayon thread counts to run with.
    pub threads: Vec<usize>,
    /// Run only the benchmarks whose name contains this.
    pub only: Option<String>,
    /// Interleaved rounds (anchor, unstuck, anchor, unstuck, ...).
    pub rounds: usize,
    /// Fewer, shorter repetitions.
    pub quick: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threads: vec![1, 2],
            only: None,
            rounds: 3,
            quick: false,
        }
    }
}

/// One benchmark: its name, what it measures, and how unstuck runs it.
pub struct Bench {
    pub name: String,
    /// The unit of the figure (a training step, one HVP, ...).
    pub what: &'static str,
    pub run: Box<dyn Fn(Budget) -> Result<Summary> + Send + Sync>,
}

fn all_benches() -> Vec<Bench> {
    let mut out = Vec::new();
    for (preset, widths, batch) in train_step::MLPS {
        for act in ["relu", "tanh"] {
            for opt in ["sgd", "adam"] {
                out.push(Bench {
                    name: format!("train/{preset}-{act}-{opt}"),
                    what: "step",
                    run: Box::new(move |b| train_step::mlp_step(widths, act, batch, opt, b)),
                });
            }
        }
    }
    for opt in ["sgd", "adam"] {
        out.push(Bench {
            name: format!("train/lenet-{opt}"),
            what: "step",
            run: Box::new(move |b| train_step::lenet_step(64, opt, b)),
        });
        out.push(Bench {
            name: format!("train/lenet-spec-{opt}"),
            what: "step",
            run: Box::new(move |b| networks::lenet_spec_step(64, opt, b)),
        });
    }
    out.extend(hessian::benches());
    out.extend(networks::benches());
    out.extend(kernels::benches());
    out.extend(gemm::benches());
    out.extend(instruments::benches());
    out
}

/// Runs the benchmarks and prints the table.
pub fn main(options: Options) -> Result<()> {
    if cfg!(debug_assertions) {
        return rerun_optimized();
    }
    let benches: Vec<Bench> = all_benches()
        .into_iter()
        .filter(|b| {
            options
                .only
                .as_ref()
                .is_none_or(|o| b.name.contains(o.as_str()))
        })
        .collect();
    let memory_only = options
        .only
        .as_ref()
        .is_some_and(|o| memory::NAME.contains(o.as_str()));
    anyhow::ensure!(
        !benches.is_empty() || memory_only,
        "no benchmark matches {:?}",
        options.only
    );
    let budget = if options.quick {
        Budget {
            reps: 7,
            rep_seconds: 0.05,
        }
    } else {
        Budget {
            reps: 9,
            rep_seconds: 0.2,
        }
    };
    let python = anchors::python();
    // First, while this process holds nothing else (see memory.rs).
    let memory = if options
        .only
        .as_ref()
        .is_none_or(|o| memory::NAME.contains(o.as_str()))
    {
        Some(memory::run(python.as_deref())?)
    } else {
        None
    };
    let mut ours: BTreeMap<(String, usize), Vec<Summary>> = BTreeMap::new();
    let mut theirs: BTreeMap<(String, usize), Vec<f64>> = BTreeMap::new();
    for round in 0..options.rounds {
        for &threads in &options.threads {
            if let Some(python) = &python {
                for (name, median) in anchors::run(python, &benches, threads, options.quick)? {
                    theirs.entry((name, threads)).or_default().push(median);
                }
            }
            for bench in &benches {
                eprintln!("bench: round {round}, {threads} thread(s): {}", bench.name);
                let summary = with_threads(threads, || (bench.run)(budget))
                    .with_context(|| bench.name.clone())?;
                ours.entry((bench.name.clone(), threads))
                    .or_default()
                    .push(summary);
            }
        }
    }
    if !benches.is_empty() {
        println!(
            "{}",
            report::table(&benches, &options.threads, &ours, &theirs)
        );
        // The products' GFLOP/s and share of the peak, from the median over rounds.
        let medians: BTreeMap<(String, usize), f64> = (ours.iter())
            .map(|(key, runs)| {
                let mut medians: Vec<f64> = runs.iter().map(|s| s.median).collect();
                medians.sort_by(f64::total_cmp);
                (key.clone(), medians[medians.len() / 2])
            })
            .collect();
        if let Some(flops) = gemm::flops_table(&medians, &options.threads) {
            println!("{flops}");
        }
    }
    if let Some(memory) = memory {
        println!("{memory}");
    }
    Ok(())
}

/// Timings from an unoptimised build mean nothing: run the release build instead.
fn rerun_optimized() -> Result<()> {
    eprintln!("bench: rebuilding xtask with optimisations (cargo run --release)");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "run",
                "--release",
                "--quiet",
                "--package",
                "xtask",
                "--bin",
                "xtask",
                "--",
            ])
            .args(&args)
            .status()
            .context("running cargo")?;
    anyhow::ensure!(
        status.success(),
        "the optimised bench run failed ({status})"
    );
    Ok(())
}

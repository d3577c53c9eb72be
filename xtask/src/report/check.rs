//! `--check`: the report is reproducible bit for bit, whatever the thread count.

use super::manifest::{Manifest, compare, verify};
use super::verify::compare as compare_with_checked_in;
use super::{Options, default_out};
use anyhow::{Context as _, Result, bail};
use std::path::Path;
use std::process::Command;

/// Reruns the report as two child processes (`RAYON_NUM_THREADS=1` and `=2`) in a
/// temporary directory and compares every hashed artifact; for the full report, also
/// against the checked-in manifest, whose files must still carry their hashes.
pub fn run(options: &Options) -> Result<()> {
    let scratch = tempfile::tempdir().context("creating a temporary directory")?;
    let mut runs = Vec::new();
    for threads in [1, 2] {
        let out = scratch.path().join(format!("threads-{threads}"));
        eprintln!("report --check: generating with RAYON_NUM_THREADS={threads}");
        child(options, &out, threads)?;
        runs.push((format!("RAYON_NUM_THREADS={threads}"), out));
    }
    let mut problems = Vec::new();
    for (name, dir) in &runs {
        for mismatch in verify(dir)? {
            problems.push(format!("{name}: {}: {}", mismatch.path, mismatch.problem));
        }
    }
    let first = Manifest::load(&runs[0].1)?;
    let second = Manifest::load(&runs[1].1)?;
    problems.extend(compare(
        &runs[0].0,
        &first.artifacts,
        &runs[1].0,
        &second.artifacts,
    ));

    let full = !options.quick && options.only.is_none();
    if full {
        let checked_in = options.out.clone().unwrap_or_else(|| default_out(false));
        problems.extend(
            compare_with_checked_in(&checked_in, &runs[0].1)?
                .into_iter()
                .map(|p| format!("checked-in {p}")),
        );
    }
    if problems.is_empty() {
        eprintln!(
            "report --check: {} artifacts identical with 1 and 2 threads{}",
            first.artifacts.len(),
            if full {
                " and equal to the checked-in report"
            } else {
                ""
            }
        );
        Ok(())
    } else {
        for line in &problems {
            eprintln!("report --check: {line}");
        }
        bail!(
            "{} difference(s); the report is not reproducible",
            problems.len()
        )
    }
}

fn child(options: &Options, out: &Path, threads: usize) -> Result<()> {
    let exe = std::env::current_exe().context("locating the xtask binary")?;
    let mut command = Command::new(exe);
    command.arg("report").arg("--out").arg(out);
    if options.quick {
        command.arg("--quick");
    }
    if let Some(only) = &options.only {
        command.arg("--only").arg(only);
    }
    let status = command
        .env("RAYON_NUM_THREADS", threads.to_string())
        .status()
        .context("starting the report child process")?;
    if !status.success() {
        bail!("the report child with RAYON_NUM_THREADS={threads} failed ({status})");
    }
    Ok(())
}

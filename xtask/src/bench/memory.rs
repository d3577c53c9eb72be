//! Peak resident memory of a 200-step training run (784-256-256-10, ReLU, f32, batch 128,
//! Adam), beside PyTorch's (`anchors/torch_memory.py`, its whole process's `ru_maxrss`).
//!
//! Ours is this process's `VmHWM` after resetting it (`/proc/self/clear_refs`, Linux), so
//! it runs before every other benchmark: the peak then counts the program, its libraries
//! and the run, as PyTorch's counts the interpreter, torch and its run.

use super::anchors;
use super::timing::with_threads;
use super::train_step::{batch, optimizer};
use anyhow::{Context as _, Result};
use std::path::Path;
use unstuck::autodiff::Tensor;
use unstuck::models::{Loss, Mlp, Model, Objective, Targets};

/// The benchmark's name, for `--only`.
pub const NAME: &str = "memory/mnist-200-steps";
const STEPS: usize = 200;

/// Peak resident MiB of this process since the last reset.
fn peak_mib() -> Result<f64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/self/status")?;
    Ok(kib / 1024.0)
}

fn train() -> Result<()> {
    let mlp = Mlp::from_spec("784-256-256-10:relu")?;
    let (x, y) = batch(128, 784, 10, 1);
    let targets = Targets::Classes {
        labels: y,
        n_classes: 10,
    };
    let objective = Objective::new(
        &mlp,
        Tensor::matrix(x, 128, 784)?,
        targets,
        Loss::CrossEntropy,
    )?;
    let mut theta: Vec<f32> = mlp.init(0);
    let mut adam = optimizer("adam")?;
    for _ in 0..STEPS {
        let (_, grad) = objective.gradient(&theta)?;
        adam.step(&mut theta, &grad)?;
    }
    Ok(())
}

/// Runs both sides and returns the table's lines.
pub fn run(python: Option<&Path>) -> Result<String> {
    std::fs::write("/proc/self/clear_refs", "5").context("resetting the peak RSS")?;
    with_threads(1, train)?;
    let ours = peak_mib()?;
    let theirs = match python {
        Some(python) => Some(anchors::torch_peak_mib(python)?),
        None => None,
    };
    let mut out = String::from(
        "| benchmark | threads | unstuck peak MiB | PyTorch peak MiB | PyTorch / unstuck |\n|---|---|---|---|---|\n",
    );
    out.push_str(&match theirs {
        Some(t) => format!("| {NAME} | 1 | {ours:.1} | {t:.1} | {:.1}x |\n", t / ours),
        None => format!("| {NAME} | 1 | {ours:.1} | - | - |\n"),
    });
    Ok(out)
}

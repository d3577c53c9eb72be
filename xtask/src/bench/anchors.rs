//! The PyTorch/JAX/Cockpit anchors (`xtask/anchors/`, adapted from the shared reference scripts):
//! which script measures which benchmark, running it, and reading its one JSON line.

use super::Bench;
use anyhow::{Context as _, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python named by `UNSTUCK_ANCHOR_PYTHON`, if set.
pub fn python() -> Option<PathBuf> {
    std::env::var_os("UNSTUCK_ANCHOR_PYTHON").map(PathBuf::from)
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("anchors")
}

/// The names of `benches` that start with `prefix`, without it.
fn wanted<'a>(benches: &'a [Bench], prefix: &str) -> Vec<&'a str> {
    benches
        .iter()
        .filter_map(|b| b.name.strip_prefix(prefix))
        .collect()
}

/// Runs every anchor script that matches one of `benches` with `threads` threads; returns
/// (benchmark name, median seconds per call).
pub fn run(
    python: &Path,
    benches: &[Bench],
    threads: usize,
    quick: bool,
) -> Result<Vec<(String, f64)>> {
    let rep_seconds = if quick { "0.05" } else { "0.2" };
    let reps = ["--reps", "7", "--warmup", "2"];
    let threads_arg = threads.to_string();
    let mut out = Vec::new();
    let mlps = wanted(benches, "train/");
    let presets: Vec<&str> = ["tiny", "medium", "mnist"]
        .into_iter()
        .filter(|p| mlps.iter().any(|n| n.starts_with(&format!("{p}-"))))
        .collect();
    if !presets.is_empty() {
        let configs = presets.join(",");
        let json = script(
            python,
            "torch_mlp_train.py",
            &[
                &["--configs", &configs, "--dtypes", "f32", "--threads"],
                &[threads_arg.as_str(), "--target-rep-s", rep_seconds][..],
                &reps[..],
            ]
            .concat(),
        )?;
        for r in results(&json)? {
            let name = format!(
                "train/{}-{}-{}",
                text(r, "config")?,
                text(r, "act")?,
                text(r, "opt")?
            );
            out.push((name, number(r, "ms_per_step")? * 1e-3));
        }
    }
    if mlps.iter().any(|n| n.starts_with("lenet-")) {
        let json = script(
            python,
            "torch_cnn_train.py",
            &[
                &["--batch", "64", "--dtypes", "f32", "--threads"],
                &[threads_arg.as_str(), "--target-rep-s", rep_seconds][..],
                &reps[..],
            ]
            .concat(),
        )?;
        for r in results(&json)? {
            // The same network, by hand on the tape and from its spec.
            let opt = text(r, "opt")?;
            let seconds = number(r, "ms_per_step")? * 1e-3;
            out.push((format!("train/lenet-{opt}"), seconds));
            out.push((format!("train/lenet-spec-{opt}"), seconds));
        }
    }
    let hessian = wanted(benches, "hessian/");
    // JAX's counterparts: a jitted jvp-of-grad from scratch, and jax.hessian.
    let methods: Vec<(&str, &str)> = [
        ("hvp-from-scratch", "hvp_jvp_grad"),
        ("full-hessian", "hessian"),
    ]
    .into_iter()
    .filter(|(ours, _)| hessian.contains(ours))
    .collect();
    if !methods.is_empty() {
        let list: Vec<&str> = methods.iter().map(|(_, m)| *m).collect();
        let list = list.join(",");
        let mut args = vec!["--archs", "p3000", "--methods", list.as_str()];
        args.extend(reps);
        if threads == 1 {
            args.push("--single-thread");
        }
        let json = script(python, "jax_hessian.py", &args)?;
        for r in results(&json)? {
            for (ours, theirs) in &methods {
                let median = r
                    .pointer(&format!("/timings/{theirs}/median_s"))
                    .and_then(Value::as_f64)
                    .with_context(|| format!("jax_hessian.py: no timing for {theirs}"))?;
                out.push((format!("hessian/{ours}"), median));
            }
        }
    }
    out.extend(kernels(python, benches, threads)?);
    out.extend(cockpit(python, benches, threads, rep_seconds)?);
    Ok(out)
}

/// The networks `torch_cockpit.py` builds; the other instrument rows (LeNet) have no anchor.
const COCKPIT_CONFIGS: [&str; 2] = ["mnist", "digits"];

/// Cockpit's counterpart of each instrument row (`torch_cockpit.py`, f64 like ours): the
/// `plain` row is the same step in plain PyTorch. A Python without cockpit times `plain`
/// alone, and the instrument rows print unstuck's figures alone.
fn cockpit(
    python: &Path,
    benches: &[Bench],
    threads: usize,
    rep_seconds: &str,
) -> Result<Vec<(String, f64)>> {
    let rows = wanted(benches, "instruments/");
    let pairs: Vec<(&str, &str)> = rows
        .iter()
        .filter_map(|row| row.split_once('-'))
        .filter(|(config, _)| COCKPIT_CONFIGS.contains(config))
        .collect();
    let mut configs: Vec<&str> = pairs.iter().map(|(c, _)| *c).collect();
    let mut sets: Vec<&str> = pairs.iter().map(|(_, s)| *s).collect();
    if configs.is_empty() {
        return Ok(Vec::new());
    }
    configs.dedup();
    sets.sort_unstable();
    sets.dedup();
    let (configs, sets, threads) = (configs.join(","), sets.join(","), threads.to_string());
    let args = [
        "--configs",
        &configs,
        "--sets",
        &sets,
        "--threads",
        &threads,
        "--target-rep-s",
        rep_seconds,
        "--reps",
        "7",
        "--warmup",
        "2",
    ];
    let mut out = Vec::new();
    for r in results(&script(python, "torch_cockpit.py", &args)?)? {
        let name = format!("instruments/{}-{}", text(r, "config")?, text(r, "set")?);
        out.push((name, number(r, "ms_per_step")? * 1e-3));
    }
    Ok(out)
}

/// The peak resident MiB of PyTorch's 200-step run (`torch_memory.py`).
pub fn torch_peak_mib(python: &Path) -> Result<f64> {
    let json = script(python, "torch_memory.py", &[])?;
    let r = results(&json)?
        .first()
        .context("torch_memory.py: no result")?;
    number(r, "peak_mib")
}

/// PyTorch's fused Adam on 1M f32 parameters and `numpy.linalg.eigh` at n = 2000.
fn kernels(python: &Path, benches: &[Bench], threads: usize) -> Result<Vec<(String, f64)>> {
    let mut out = Vec::new();
    let threads_arg = threads.to_string();
    if !wanted(benches, super::kernels::ADAM_NAME).is_empty() {
        let json = script(python, "torch_adam.py", &["--threads", &threads_arg])?;
        for r in results(&json)? {
            if text(r, "method")? == "fused" {
                out.push((super::kernels::ADAM_NAME.into(), number(r, "ms")? * 1e-3));
            }
        }
    }
    if !wanted(benches, super::kernels::EIGH_NAME).is_empty() {
        let n = super::kernels::EIGH_N.to_string();
        let args = [
            "--sizes",
            &n,
            "--libs",
            "numpy",
            "--blas-threads",
            &threads_arg,
            "--reps",
            "7",
            "--warmup",
            "1",
        ];
        for r in results(&script(python, "numpy_eigh.py", &args)?)? {
            if text(r, "method")? == "numpy_eigh" {
                out.push((super::kernels::EIGH_NAME.into(), number(r, "ms")? * 1e-3));
            }
        }
    }
    Ok(out)
}

/// Runs `xtask/anchors/<name>` and parses the JSON line it prints last.
fn script(python: &Path, name: &str, args: &[&str]) -> Result<Value> {
    eprintln!("bench: anchor {name} {}", args.join(" "));
    let output = Command::new(python)
        .arg(scripts().join(name))
        .args(args)
        .output()
        .with_context(|| format!("running {} {name}", python.display()))?;
    anyhow::ensure!(
        output.status.success(),
        "{name} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).context("anchor output is not UTF-8")?;
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .with_context(|| format!("{name} printed nothing"))?;
    serde_json::from_str(line).with_context(|| format!("{name}: not one JSON line: {line}"))
}

fn results(json: &Value) -> Result<&Vec<Value>> {
    json.get("results")
        .and_then(Value::as_array)
        .context("anchor JSON without `results`")
}

fn text<'a>(r: &'a Value, key: &str) -> Result<&'a str> {
    r.get(key)
        .and_then(Value::as_str)
        .with_context(|| format!("anchor result without `{key}`"))
}

fn number(r: &Value, key: &str) -> Result<f64> {
    r.get(key)
        .and_then(Value::as_f64)
        .with_context(|| format!("anchor result without `{key}`"))
}

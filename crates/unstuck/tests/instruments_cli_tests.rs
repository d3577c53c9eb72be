//! `unstuck train --instruments`: the records reach history.jsonl, run.json keeps the
//! spec for --resume, the noise of every parameter of a CNN is measured, and a bad spec
//! or a model the noise instrument cannot measure is a one-line error before anything
//! is written.

use assert_cmd::cargo::cargo_bin_cmd;
use std::path::Path;

/// Runs `unstuck train` and requires it to succeed, showing its stderr if not.
fn train_ok(dir: &Path, args: &[&str]) {
    let output = train(dir, args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn train(dir: &Path, args: &[&str]) -> std::process::Output {
    cargo_bin_cmd!("unstuck")
        .current_dir(dir)
        .arg("train")
        .args(args)
        .output()
        .unwrap()
}

fn kinds(history: &str) -> Vec<String> {
    history
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            value.as_object().unwrap().keys().next().unwrap().clone()
        })
        .collect()
}

#[test]
fn instrument_records_reach_history_jsonl_and_survive_a_resume() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "blobs:n=96,classes=3,seed=2",
        "--model",
        "2-8-3:relu",
        "--optim",
        "sgd:lr=0.3",
        "--batch",
        "24",
        "--epochs",
        "1",
        "--instruments",
        "norms,noise:every=2,curvature:every=3,iters=5,probes=2",
        "--out",
        "run",
    ];
    train_ok(dir.path(), &args);
    let history = std::fs::read_to_string(dir.path().join("run/history.jsonl")).unwrap();
    let count = |kind: &str| kinds(&history).iter().filter(|k| *k == kind).count();
    let steps = count("step");
    assert!(steps >= 3, "{history}");
    assert_eq!(count("norms"), steps);
    assert_eq!(count("noise"), steps.div_ceil(2));
    assert_eq!(count("curvature"), steps.div_ceil(3));
    train_ok(dir.path(), &["--resume", "run", "--epochs", "2"]);
    let history = std::fs::read_to_string(dir.path().join("run/history.jsonl")).unwrap();
    let kinds = kinds(&history);
    let (steps, norms) = (
        kinds.iter().filter(|k| *k == "step").count(),
        kinds.iter().filter(|k| *k == "norms").count(),
    );
    assert_eq!(norms, steps, "the resumed epoch kept its instruments");
}

#[test]
fn the_noise_instrument_measures_every_parameter_of_a_cnn_on_the_digits() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "digits",
        "--model",
        "1x8x8/conv(6,k=3,pad=1)-relu-maxpool(2)-conv(12,k=3)-relu-flatten-linear(32)-relu-linear(10)",
        "--batch",
        "128",
        "--epochs",
        "1",
        "--instruments",
        "noise:every=4",
        "--out",
        "run",
    ];
    train_ok(dir.path(), &args);
    let history = std::fs::read_to_string(dir.path().join("run/history.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = history
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter_map(|value| value.get("noise").cloned())
        .collect();
    let steps = kinds(&history).iter().filter(|k| *k == "step").count();
    assert!(steps >= 8, "{history}");
    assert_eq!(records.len(), steps.div_ceil(4));
    for record in &records {
        assert_eq!(record["excluded"], serde_json::json!([]), "{record}");
        assert!(record["snr/0.weight"].as_f64().unwrap() > 0.0);
        assert!(record["variance/3.bias"].as_f64().unwrap() > 0.0);
    }
}

fn check_refused(args: &[&str], expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["blobs:n=64,classes=2,seed=1", "--out", "run"];
    all.extend_from_slice(args);
    let output = train(dir.path(), &all);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!output.status.success(), "{args:?} succeeded");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(expected), "{stderr}");
    assert!(!dir.path().join("run").exists(), "{args:?} wrote output");
}

#[test]
fn a_bad_instrument_spec_and_a_batch_norm_model_are_one_line_errors_before_any_output() {
    check_refused(
        &["--model", "2-4-2:tanh", "--instruments", "norms,nosie"],
        "unknown instrument `nosie` at byte 6",
    );
    check_refused(
        &[
            "--model",
            "2-4-2:tanh",
            "--instruments",
            "curvature:every=0",
        ],
        "every must be at least 1",
    );
    check_refused(
        &[
            "--model",
            "2/linear(4)-batchnorm-linear(2)",
            "--instruments",
            "noise",
        ],
        "mixes the examples of a batch",
    );
}

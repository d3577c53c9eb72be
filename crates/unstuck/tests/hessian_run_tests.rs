//! `unstuck hessian --run DIR` analyses what the run trained, warns when a flag says
//! otherwise; a NaN in --weights names the file and the tensor.

use assert_cmd::cargo::cargo_bin_cmd;
use std::path::Path;
use std::process::Output;

fn unstuck(dir: &Path, args: &[&str]) -> Output {
    cargo_bin_cmd!("unstuck")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn stdout_of(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A run with a split (validation 0.3) and a seed (7) that differ from the defaults.
fn trained_run(dir: &Path) {
    let args = [
        "train",
        "spirals:n=150,noise=0.1",
        "--model",
        "2-5-2:tanh",
        "--validation",
        "0.3",
        "--seed",
        "7",
        "--epochs",
        "2",
        "--out",
        "run",
    ];
    stdout_of(unstuck(dir, &args));
}

#[test]
fn hessian_run_takes_data_split_model_and_weights_from_the_run() {
    let dir = tempfile::tempdir().unwrap();
    trained_run(dir.path());
    let explicit = [
        "hessian",
        "spirals:n=150,noise=0.1",
        "--model",
        "2-5-2:tanh",
        "--validation",
        "0.3",
        "--seed",
        "7",
        "--weights",
        "run/weights.safetensors",
        "--json",
    ];
    let from_flags = stdout_of(unstuck(dir.path(), &explicit));
    let output = unstuck(dir.path(), &["hessian", "--run", "run", "--json"]);
    assert!(output.stderr.is_empty());
    let from_run = stdout_of(output);
    assert_eq!(from_run, from_flags);
    // The default split is another set of rows: a different analysis.
    let default_split = [&explicit[..4], &explicit[6..]].concat();
    assert_ne!(stdout_of(unstuck(dir.path(), &default_split)), from_run);
}

#[test]
fn hessian_run_warns_for_each_flag_that_disagrees_and_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    trained_run(dir.path());
    let output = unstuck(
        dir.path(),
        &[
            "hessian",
            "--run",
            "run",
            "--validation",
            "0.2",
            "--seed",
            "7",
            "--json",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    insta::assert_snapshot!(stderr.trim_end(), @"warning: --validation 0.2 differs from the run's 0.3 (run/run.json); using 0.2");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // 150 rows less a 0.2 validation split.
    assert_eq!(report["n_rows"], 120);
}

#[test]
fn a_nan_in_the_weights_names_the_file_and_the_tensor() {
    use unstuck::models::{Architecture, Mlp, Model, save_weights};
    let dir = tempfile::tempdir().unwrap();
    let model = Mlp::from_spec("2-5-2:tanh").unwrap();
    let mut theta: Vec<f64> = model.init(0);
    let bias = model
        .layout()
        .iter()
        .find(|spec| spec.name == "layers.0.bias")
        .unwrap();
    theta[bias.offset + 2] = f64::NAN;
    save_weights(&model, &theta, dir.path().join("nan.safetensors")).unwrap();
    let output = unstuck(
        dir.path(),
        &[
            "hessian",
            "spirals:n=150",
            "--model",
            "2-5-2:tanh",
            "--weights",
            "nan.safetensors",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    insta::assert_snapshot!(stderr.trim_end(), @"error: nan.safetensors: layers.0.bias[2] is NaN");
}

#[test]
fn a_batch_norm_hessian_on_one_training_row_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = "2/linear(4)-bn=batchnorm-linear(2)";
    let train = [
        "train",
        "spirals:n=50",
        "--model",
        model,
        "--epochs",
        "1",
        "--out",
        "run",
    ];
    stdout_of(unstuck(dir.path(), &train));
    // Three rows with a validation fraction of 0.6 leave one training row: the
    // training-mode loss would see one value per channel in the batch norm.
    let hessian = [
        "hessian",
        "spirals:n=3",
        "--model",
        model,
        "--validation",
        "0.6",
        "--weights",
        "run/weights.safetensors",
    ];
    let output = unstuck(dir.path(), &hessian);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("layer 1 (bn (batchnorm1d)) needs at least 2 examples"),
        "{stderr}"
    );
}

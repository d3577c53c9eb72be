//! Every bad input gives a one-line message naming the file, line or argument, a
//! non-zero exit, and no output files.

use assert_cmd::cargo::cargo_bin_cmd;
use std::path::Path;

/// Runs `unstuck train ... --out out` in `dir`, expects failure, and returns stderr.
fn failing_train(dir: &Path, args: &[&str]) -> String {
    let output = cargo_bin_cmd!("unstuck")
        .current_dir(dir)
        .arg("train")
        .args(args)
        .args(["--out", "out"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!output.status.success(), "{args:?} succeeded");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!dir.join("out").exists(), "{args:?} wrote output");
    stderr.trim_end().to_string()
}

fn with_files(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn a_missing_file_is_named() {
    let dir = with_files(&[]);
    let stderr = failing_train(dir.path(), &["missing.csv", "--model", "2-2"]);
    assert!(
        stderr.starts_with("error: missing.csv: cannot read: "),
        "{stderr}"
    );
}

#[test]
fn a_ragged_csv_names_line_and_column() {
    let dir = with_files(&[("ragged.csv", "1,2,0\n3,4,1\n1,0\n")]);
    let stderr = failing_train(dir.path(), &["ragged.csv", "--model", "2-2"]);
    insta::assert_snapshot!(stderr, @"error: ragged.csv: CSV line 3, column 3: expected 3 fields, got 2");
}

#[test]
fn an_unknown_column_is_named() {
    let dir = with_files(&[("named.csv", "x,y,class\n0.5,1,1\n-2,0.3,0\n")]);
    let stderr = failing_train(
        dir.path(),
        &["named.csv", "--label", "colour", "--model", "2-2"],
    );
    insta::assert_snapshot!(stderr, @r#"error: named.csv: CSV line 1, column 1: no column named "colour" in the header"#);
}

#[test]
fn an_unknown_optimizer_lists_the_known_ones() {
    let dir = with_files(&[]);
    let stderr = failing_train(
        dir.path(),
        &["spirals:n=50", "--model", "2-2", "--optim", "adamm:lr=1e-3"],
    );
    insta::assert_snapshot!(stderr, @r#"error: --optim adamm:lr=1e-3: spec "adamm:lr=1e-3": unknown optimizer `adamm` at byte 0; known: sgd, adagrad, rmsprop, adam, adamw, nadam, lion, lecture_momentum, lecture_adagrad, lecture_rmsprop"#);
}

#[test]
fn a_negative_learning_rate_is_refused() {
    let dir = with_files(&[]);
    let stderr = failing_train(
        dir.path(),
        &["spirals:n=50", "--model", "2-2", "--optim", "sgd:lr=-1"],
    );
    insta::assert_snapshot!(stderr, @"error: --optim sgd:lr=-1: sgd: `lr` = -1 is invalid, expected a finite number >= 0");
}

#[test]
fn a_model_that_does_not_fit_the_data_is_refused() {
    let dir = with_files(&[]);
    let stderr = failing_train(dir.path(), &["spirals:n=50", "--model", "3-8-2"]);
    insta::assert_snapshot!(stderr, @"error: --model 3-8-2: model 3-8-2:relu takes 3 inputs but the data has 2 features");
    let stderr = failing_train(dir.path(), &["spirals:n=50", "--model", "2-8-5"]);
    assert!(stderr.contains("has 5 outputs"), "{stderr}");
    // Images of the wrong shape, a layer that does not fit, and a spec typo, all before
    // anything is trained.
    let stderr = failing_train(
        dir.path(),
        &["digits", "--model", "4x4x4/flatten-linear(10)"],
    );
    insta::assert_snapshot!(stderr, @"error: --model 4x4x4/flatten-linear(10): model 4x4x4/flatten-linear(10) takes examples of shape [4, 4, 4] but the data's are [1, 8, 8]");
    let stderr = failing_train(
        dir.path(),
        &[
            "digits",
            "--model",
            "1x8x8/conv(4,k=5)-conv(4,k=5)-flatten-linear(10)",
        ],
    );
    insta::assert_snapshot!(stderr, @"error: --model 1x8x8/conv(4,k=5)-conv(4,k=5)-flatten-linear(10): layer 1 (conv) takes [4, H, W] with H, W + 2 * 0 >= 5, got [4, 4, 4]");
    let stderr = failing_train(dir.path(), &["digits", "--model", "1x8x8/conv(4,k=3)-tahn"]);
    assert!(
        stderr.contains("unknown layer `tahn` at byte 18; known: linear, conv,"),
        "{stderr}"
    );
}

#[test]
fn a_malformed_safetensors_data_file_is_named() {
    let dir = with_files(&[("batch.safetensors", "x,y\n1,0\n")]);
    let stderr = failing_train(dir.path(), &["batch.safetensors", "--model", "1-2"]);
    assert!(
        stderr.starts_with(
            "error: batch.safetensors: safetensors data: not a readable safetensors file"
        ),
        "{stderr}"
    );
}

#[test]
fn a_batch_norm_on_a_batch_of_one_is_refused_before_training() {
    let dir = with_files(&[]);
    let model = "2/linear(8)-bn=batchnorm-tanh-linear(2)";
    let stderr = failing_train(
        dir.path(),
        &["spirals:n=50", "--model", model, "--batch", "1"],
    );
    assert!(
        stderr.contains("layer 1 (bn (batchnorm1d)) needs at least 2 examples per batch"),
        "{stderr}"
    );
}

#[test]
fn other_bad_arguments_name_their_flag() {
    let dir = with_files(&[]);
    for (args, flag) in [
        (
            &["spirals:n=50", "--model", "2-8-2", "--batch", "500"][..],
            "--batch 500",
        ),
        (
            &["spirals:n=50", "--model", "2-8-2", "--validation", "1.5"],
            "--validation 1.5",
        ),
        (
            &["spirals:n=50", "--model", "2-8-2:tahn"],
            "--model 2-8-2:tahn",
        ),
        (
            &["spirals:n=oops", "--model", "2-8-2"],
            "DATA spirals:n=oops",
        ),
        (
            &["spirals:n=50", "--model", "2-8-2", "--schedule", "cosine"],
            "--schedule cosine",
        ),
        (
            &["spirals:n=50", "--model", "2-8-2", "--epochs", "0"],
            "--epochs 0",
        ),
        // Divergence is a failure too: a message, and nothing written.
        (
            &[
                "spirals:n=50",
                "--model",
                "2-8-2",
                "--optim",
                "sgd:lr=1e300",
            ],
            "--optim sgd:lr=1e300",
        ),
    ] {
        let stderr = failing_train(dir.path(), args);
        assert!(stderr.starts_with(&format!("error: {flag}: ")), "{stderr}");
    }
}

#[test]
fn hessian_names_a_missing_or_mismatched_weights_file() {
    let dir = with_files(&[]);
    let output = cargo_bin_cmd!("unstuck")
        .current_dir(dir.path())
        .args([
            "hessian",
            "xor:n=40",
            "--model",
            "2-4-2",
            "--weights",
            "nope.safetensors",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("error: nope.safetensors: cannot read: "),
        "{stderr}"
    );
}

#[test]
fn the_help_lists_the_subcommands() {
    let output = cargo_bin_cmd!("unstuck").arg("--help").output().unwrap();
    assert!(output.status.success());
    insta::assert_snapshot!(String::from_utf8(output.stdout).unwrap(), @r"
    My network fails to train, what now? Training with stuck and divergence detection, Hessian diagnosis, one dependency for all of unstuck.

    Usage: unstuck <COMMAND>

    Commands:
      train     Train a model; with --out, keep a run folder you can watch, resume and analyse
      diagnose  Walk the general guide: model bias, optimization, overfitting, mismatch or healthy
      hessian   Analyse the Hessian of the training loss at saved weights
      list      List optimizers, schedules, datasets and activations
      sweep     Train a grid of models, optimizers, rates, batches and seeds, whole or one part of N
      view      Serve the live view of a run folder (finished or still training) on a local port
      help      Print this message or the help of the given subcommand(s)

    Options:
      -h, --help     Print help
      -V, --version  Print version
    ");
}

#[test]
fn usage_errors_are_one_line_with_exit_code_2() {
    let dir = with_files(&[]);
    for args in [
        &["train", "--bogus"][..],
        &["train", "digits", "--epochs", "many", "--model", "64-10"],
        &["train", "digits"],
        &["frobnicate"],
    ] {
        let output = cargo_bin_cmd!("unstuck")
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(stderr.trim_end().ends_with("(see --help)"), "{stderr}");
    }
}

//! How much `unstuck train` adds to the same training driven from the library. A
//! measurement, not a check (no timed assertions): run it in release with
//!
//! ```text
//! cargo test --release -p unstuck --test cli_overhead -- --ignored --nocapture
//! ```

use assert_cmd::cargo::cargo_bin_cmd;
use std::time::Instant;
use unstuck::data::{SplitConfig, digits};
use unstuck::models::{Mlp, Model};
use unstuck::optim::Registry;
use unstuck::{StuckConfig, TrainConfig, Trainer};

const EPOCHS: u64 = 100;

/// What `unstuck train digits --model 64-128-10:relu --epochs 100` does, from the
/// library: load, split, standardise, train.
fn library_run() -> f64 {
    let started = Instant::now();
    let data = digits::<f64>();
    let config = SplitConfig {
        validation: 0.2,
        test: 0.0,
        stratified: true,
        seed: 0,
    };
    let parts = unstuck::task::prepare(&data, &config, None, true).unwrap();
    let model = Mlp::from_spec("64-128-10:relu").unwrap();
    let optimizer = Registry::builtin().build("adam:lr=1e-3").unwrap();
    let config = TrainConfig {
        batch_size: 32,
        epochs: EPOCHS,
        seed: 0,
        stuck: Some(StuckConfig::default()),
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&model, optimizer, config, model.init(0)).unwrap();
    trainer
        .fit(&parts.train, parts.validation.as_ref())
        .unwrap();
    started.elapsed().as_secs_f64()
}

fn binary_run(out: Option<&std::path::Path>) -> f64 {
    let started = Instant::now();
    let mut command = cargo_bin_cmd!("unstuck");
    command.args([
        "train",
        "digits",
        "--model",
        "64-128-10:relu",
        "--epochs",
        &EPOCHS.to_string(),
    ]);
    if let Some(out) = out {
        command.arg("--out").arg(out);
    }
    let output = command.output().unwrap();
    assert!(output.status.success());
    started.elapsed().as_secs_f64()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
fn train_overhead_of_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let (mut library, mut binary, mut with_files) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        library.push(library_run());
        binary.push(binary_run(None));
        with_files.push(binary_run(Some(&out)));
    }
    let (library, binary, with_files) = (median(library), median(binary), median(with_files));
    println!(
        "median of 5: library {library:.3} s, unstuck train {binary:.3} s ({:+.1}%), with --out {with_files:.3} s ({:+.1}%)",
        100.0 * (binary / library - 1.0),
        100.0 * (with_files / library - 1.0)
    );
}

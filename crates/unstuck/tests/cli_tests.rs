//! End-to-end tests of the `unstuck` binary: train, resume, diagnose, hessian and list on
//! bundled data, synthetic specs, a CSV and an IDX pair the tests write.

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;
use std::path::Path;

/// Runs `unstuck` in `dir` and returns stdout; fails the test on a non-zero exit.
fn unstuck(dir: &Path, args: &[&str]) -> String {
    let output = cargo_bin_cmd!("unstuck")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "unstuck {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The history without its wall-clock seconds, the only field that differs between runs.
fn history_without_timings(path: &Path) -> Value {
    let mut history = json(path);
    for epoch in history["epochs"].as_array_mut().unwrap() {
        epoch["seconds"] = Value::from(0.0);
    }
    history
}

#[test]
fn train_writes_its_files_and_resume_continues_bit_identically() {
    let dir = tempfile::tempdir().unwrap();
    let run = |epochs: &str, out: &str| {
        unstuck(
            dir.path(),
            &[
                "train",
                "spirals:n=120,noise=0.1",
                "--model",
                "2-8-2:tanh",
                "--optim",
                "sgd:lr=0.1,momentum=0.9",
                "--schedule",
                "cosine:t_max=40",
                "--batch",
                "16",
                "--seed",
                "3",
                "--epochs",
                epochs,
                "--out",
                out,
            ],
        )
    };
    let stdout = run("4", "straight");
    assert!(stdout.contains("training loss"), "{stdout}");
    for file in [
        "history.json",
        "weights.safetensors",
        "checkpoint.json",
        "run.json",
        "loss.svg",
    ] {
        assert!(dir.path().join("straight").join(file).is_file(), "{file}");
    }
    let svg = std::fs::read_to_string(dir.path().join("straight/loss.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);

    run("2", "half");
    unstuck(
        dir.path(),
        &[
            "train", "--resume", "half", "--epochs", "4", "--out", "resumed",
        ],
    );
    let straight = dir.path().join("straight");
    let resumed = dir.path().join("resumed");
    // Bit-identity is the point: the weights files must be equal byte for byte.
    assert_eq!(
        std::fs::read(straight.join("weights.safetensors")).unwrap(),
        std::fs::read(resumed.join("weights.safetensors")).unwrap()
    );
    assert_eq!(
        json(&straight.join("checkpoint.json"))["theta"],
        json(&resumed.join("checkpoint.json"))["theta"]
    );
    assert_eq!(
        history_without_timings(&straight.join("history.json")),
        history_without_timings(&resumed.join("history.json"))
    );
    // A resume that has nothing to add is refused.
    let output = cargo_bin_cmd!("unstuck")
        .current_dir(dir.path())
        .args(["train", "--resume", "resumed", "--epochs", "3"])
        .output()
        .unwrap();
    assert!(!output.status.success());
}

#[test]
fn train_reads_bundled_data_a_csv_and_an_idx_pair() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = unstuck(
        dir.path(),
        &[
            "train",
            "breast-cancer",
            "--model",
            "30-4-2",
            "--epochs",
            "1",
        ],
    );
    assert!(
        stdout.starts_with("30-4-2:relu (134 parameters), 1 epochs"),
        "{stdout}"
    );

    // Two well-separated classes, with a header and the label in the middle column.
    let mut csv = String::from("x,class,y\n");
    for i in 0..40 {
        let class = i % 2;
        let x = if class == 0 { -1.0 } else { 1.0 } + 0.01 * i as f64;
        csv.push_str(&format!("{x},{class},{}\n", 0.5 * x));
    }
    std::fs::write(dir.path().join("two.csv"), &csv).unwrap();
    for label in ["class", "1"] {
        let stdout = unstuck(
            dir.path(),
            &[
                "train",
                "two.csv",
                "--label",
                label,
                "--model",
                "2-2",
                "--optim",
                "adam:lr=0.1",
                "--epochs",
                "20",
                "--batch",
                "8",
            ],
        );
        assert!(stdout.contains("(accuracy 1.0000)"), "{stdout}");
    }

    // IDX: 12 images of 2x2 pixels, class 1 when the top-left pixel is bright.
    let n = 12u32;
    let mut images = vec![0, 0, 8, 3];
    let mut labels = vec![0, 0, 8, 1];
    for header in [n, 2, 2] {
        images.extend_from_slice(&header.to_be_bytes());
    }
    labels.extend_from_slice(&n.to_be_bytes());
    for i in 0..n as u8 {
        let class = i % 2;
        images.extend_from_slice(&[if class == 1 { 250 } else { 5 }, i, 7, 9]);
        labels.push(class);
    }
    std::fs::write(dir.path().join("images.idx"), images).unwrap();
    std::fs::write(dir.path().join("labels.idx"), labels).unwrap();
    let stdout = unstuck(
        dir.path(),
        &[
            "train",
            "images.idx",
            "--labels",
            "labels.idx",
            "--model",
            "4-2",
            "--epochs",
            "2",
            "--batch",
            "4",
            "--validation",
            "0.25",
        ],
    );
    assert!(
        stdout.starts_with("4-2:relu (10 parameters), 2 epochs"),
        "{stdout}"
    );

    // A batch saved by PyTorch (unstuck-data's fixtures/make_torch_batch.py): five
    // float32 1x3x2 images and int64 labels; an image model reads them as images.
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/torch_batch.safetensors"
        ),
        dir.path().join("batch.safetensors"),
    )
    .unwrap();
    let stdout = unstuck(
        dir.path(),
        &[
            "train",
            "batch.safetensors",
            "--model",
            "1x3x2/conv(2,k=2)-flatten-linear(3)",
            "--epochs",
            "1",
            "--batch",
            "5",
            "--validation",
            "0",
        ],
    );
    assert!(
        stdout.contains("(25 parameters), 1 epochs, 1 steps"),
        "{stdout}"
    );
}

#[test]
fn diagnose_prints_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "diagnose",
        "blobs:n=150,classes=3,std=1",
        "--model",
        "2-16-3:relu",
        "--optim",
        "adam:lr=0.01",
        "--epochs",
        "5",
        "--seed",
        "2",
    ];
    let text = unstuck(dir.path(), &args);
    assert!(text.starts_with("Diagnosis: "), "{text}");
    assert!(text.contains("What to do"), "{text}");
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let parsed: Value = serde_json::from_str(&unstuck(dir.path(), &with_json)).unwrap();
    let verdict = parsed["verdict"].as_str().unwrap();
    assert!(
        [
            "model_bias",
            "optimization",
            "overfitting",
            "mismatch",
            "healthy",
            "check_labels"
        ]
        .contains(&verdict),
        "{verdict}"
    );
    // Text and JSON are two views of the same diagnosis.
    let name = if verdict == "check_labels" {
        "check the labels".to_string()
    } else {
        verdict.replace('_', " ")
    };
    assert!(text.starts_with(&format!("Diagnosis: {name}")));
    // One hidden layer has no shallower model of its kind: the linear reference only.
    assert_eq!(parsed["references"].as_array().unwrap().len(), 1);
    // Three seeds by default, and the agreement of their verdicts.
    assert_eq!(parsed["seeds"]["verdicts"].as_array().unwrap().len(), 3);
    assert!(parsed["seeds"]["agreement"]["low"].is_number(), "{parsed}");

    // A `shift` spec brings its own test set: the guide compares against it.
    let parsed: Value = serde_json::from_str(&unstuck(
        dir.path(),
        &[
            "diagnose",
            "shift:n_train=200,n_test=100,inputs=3,classes=2,shift=3",
            "--model",
            "3-8-2:tanh",
            "--epochs",
            "3",
            "--json",
        ],
    ))
    .unwrap();
    assert!(parsed["user"]["test"]["loss"].is_number(), "{parsed}");
}

#[test]
fn diagnose_runs_on_bundled_data() {
    let dir = tempfile::tempdir().unwrap();
    let text = unstuck(
        dir.path(),
        &[
            "diagnose",
            "breast-cancer",
            "--model",
            "30-8-2:tanh",
            "--epochs",
            "2",
        ],
    );
    assert!(text.contains("linear reference"), "{text}");
}

#[test]
fn diagnose_takes_a_network_and_compares_it_with_a_shallower_one_of_its_kind() {
    let dir = tempfile::tempdir().unwrap();
    let cnn = "1x8x8/conv(4,k=3,pad=1)-tanh-maxpool(2)-conv(6,k=3)-tanh-flatten-linear(10)";
    let parsed: Value = serde_json::from_str(&unstuck(
        dir.path(),
        &[
            "diagnose", "digits", "--model", cnn, "--epochs", "1", "--seeds", "1", "--json",
        ],
    ))
    .unwrap();
    let references = parsed["references"].as_array().unwrap();
    assert_eq!(references[0]["run"]["model"], "64-10:identity", "{parsed}");
    assert_eq!(
        references[1]["run"]["model"], "1x8x8/conv(4,k=3,pad=1)-tanh-maxpool(2)-flatten-linear(10)",
        "{parsed}"
    );
    assert_eq!(references[1]["expressible_by_your_model"], true);
}

#[test]
fn hessian_analyses_saved_weights() {
    let dir = tempfile::tempdir().unwrap();
    let data = "xor:n=80,noise=0.1";
    unstuck(
        dir.path(),
        &[
            "train",
            data,
            "--model",
            "2-6-2:tanh",
            "--epochs",
            "3",
            "--seed",
            "1",
            "--out",
            "run",
        ],
    );
    let text = unstuck(
        dir.path(),
        &[
            "hessian",
            data,
            "--model",
            "2-6-2:tanh",
            "--weights",
            "run/weights.safetensors",
            "--seed",
            "1",
            "-k",
            "2",
            "--out",
            "h",
        ],
    );
    assert!(text.contains("classification:"), "{text}");
    assert!(text.contains("layers.1"), "{text}");
    let report = json(&dir.path().join("h/hessian.json"));
    let smallest = report["smallest"].as_array().unwrap();
    let largest = report["largest"].as_array().unwrap();
    assert_eq!((smallest.len(), largest.len()), (2, 2));
    assert!(smallest[0].as_f64().unwrap() <= largest[0].as_f64().unwrap());
    assert_eq!(report["layers"].as_array().unwrap().len(), 2);
    assert!(
        std::fs::read_to_string(dir.path().join("h/density.svg"))
            .unwrap()
            .starts_with("<svg")
    );

    // The matrix-free path: Lanczos and Hutch++ instead of the dense Hessian.
    let parsed: Value = serde_json::from_str(&unstuck(
        dir.path(),
        &[
            "hessian",
            data,
            "--model",
            "2-6-2:tanh",
            "--weights",
            "run/weights.safetensors",
            "--seed",
            "1",
            "--dense-max",
            "10",
            "--max-iter",
            "30",
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(parsed["method"], "lanczos");
    // Both paths see the same Hessian: Lanczos' top Ritz value approaches the dense top
    // eigenvalue from below, and after 30 of 32 possible steps it is within 1e-6.
    let dense_top = largest[0].as_f64().unwrap();
    let lanczos_top = parsed["largest"][0].as_f64().unwrap();
    assert!((dense_top - lanczos_top).abs() < 1e-6 * dense_top.abs().max(1.0));
}

#[test]
fn train_and_hessian_take_a_layered_network_on_digits_as_images() {
    let dir = tempfile::tempdir().unwrap();
    let cnn = "1x8x8/conv1=conv(2,k=3)-tanh-maxpool(2)-flatten-fc=linear(10)";
    let stdout = unstuck(
        dir.path(),
        &[
            "train", "digits", "--model", cnn, "--epochs", "1", "--out", "run",
        ],
    );
    let shown =
        "1x8x8/conv1=conv(2,k=3,stride=1,pad=0)-tanh-maxpool(2,stride=2)-flatten-fc=linear(10)";
    assert!(
        stdout.starts_with(&format!("{shown} (210 parameters), 1 epochs")),
        "{stdout}"
    );
    let text = unstuck(
        dir.path(),
        &[
            "hessian",
            "digits",
            "--model",
            cnn,
            "--weights",
            "run/weights.safetensors",
            "-k",
            "2",
            "--json",
        ],
    );
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["method"], "dense");
    let layers: Vec<&str> = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| layer["name"].as_str().unwrap())
        .collect();
    assert_eq!(layers, ["conv1", "fc"]);
}

#[test]
fn list_shows_every_registry() {
    let dir = tempfile::tempdir().unwrap();
    let all = unstuck(dir.path(), &["list"]);
    for needle in [
        "adam ",
        "lecture_rmsprop",
        "cosine",
        "warmup",
        "digits",
        "breast-cancer",
        "spirals",
        "tanh",
        "leaky_relu",
        "cross_entropy",
        "conv ",
        "attention",
        "INPUT/layer-layer",
    ] {
        assert!(all.contains(needle), "{needle} missing from:\n{all}");
    }
    let only = unstuck(dir.path(), &["list", "activations"]);
    assert!(
        only.starts_with("Activations") && !only.contains("Optimizers"),
        "{only}"
    );
}

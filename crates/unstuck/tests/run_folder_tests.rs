//! The run folder survives interruption: a kill at every rename, SIGINT and SIGTERM,
//! each followed by `--resume`, gives the uninterrupted run's bytes; `--out` is checked
//! before any work; a closed stdout is a quiet exit; files get the umask's mode.

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use unstuck::{Checkpoint, History};

const BIN: &str = env!("CARGO_BIN_EXE_unstuck");

/// A small run: 8 steps an epoch on 96 training rows.
fn train_args(epochs: u64, out: &str) -> Vec<String> {
    [
        "train",
        "spirals:n=120,noise=0.1",
        "--model",
        "2-8-2:tanh",
        "--optim",
        "adam:lr=0.01",
        "--batch",
        "12",
        "--seed",
        "5",
        "--epochs",
        &epochs.to_string(),
        "--out",
        out,
    ]
    .map(String::from)
    .to_vec()
}

fn unstuck(dir: &Path, args: &[String], env: Option<(&str, String)>) -> Output {
    let mut command = cargo_bin_cmd!("unstuck");
    command.current_dir(dir).args(args);
    if let Some((key, value)) = env {
        command.env(key, value);
    }
    command.output().unwrap()
}

fn succeed(dir: &Path, args: &[String]) {
    let output = unstuck(dir, args, None);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn resume_args(run: &str, epochs: u64) -> Vec<String> {
    ["train", "--resume", run, "--epochs", &epochs.to_string()]
        .map(String::from)
        .to_vec()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Asserts that the state `run/state` names is one state: its manifest, checkpoint,
/// history.json and the committed part of history.jsonl all describe the same epochs,
/// and its weights are the checkpoint's theta. Returns the epochs done, if any.
fn check_one_state(run: &Path) -> Option<u64> {
    let state = run.join("state");
    std::fs::read_link(&state).ok()?;
    let manifest = json(&state.join("manifest.json"));
    let checkpoint = Checkpoint::load(&state.join("checkpoint.json")).unwrap();
    let done = manifest["epochs_done"].as_u64().unwrap();
    assert_eq!(checkpoint.next_epoch, done);
    let history: History =
        serde_json::from_slice(&std::fs::read(state.join("history.json")).unwrap()).unwrap();
    assert_eq!(history, checkpoint.history);
    assert_eq!(history.epochs.len() as u64, done);
    let log = std::fs::read(run.join("history.jsonl")).unwrap();
    let committed = manifest["history_bytes"].as_u64().unwrap() as usize;
    assert!(log.len() >= committed);
    let logged = History::from_json_lines(std::str::from_utf8(&log[..committed]).unwrap());
    assert_eq!(logged.unwrap(), history);
    let model = unstuck::models::Mlp::from_spec("2-8-2:tanh").unwrap();
    let weights: Vec<f64> =
        unstuck::models::load_weights(&model, run.join("weights.safetensors")).unwrap();
    assert_eq!(weights, checkpoint.theta);
    Some(done)
}

/// The finished folder holds exactly one state and nothing temporary.
fn check_clean(run: &Path) {
    let expected = [
        "checkpoint.json",
        "history.json",
        "history.jsonl",
        "loss.svg",
        "run.json",
        "state",
        "states",
        "weights.safetensors",
    ];
    assert_eq!(entries(run), expected.map(String::from).to_vec());
    assert_eq!(entries(&run.join("states")).len(), 1);
}

/// The same bytes as the uninterrupted run: weights, and history without wall times.
fn check_same_run(run: &Path, straight: &Path) {
    assert_eq!(
        std::fs::read(run.join("weights.safetensors")).unwrap(),
        std::fs::read(straight.join("weights.safetensors")).unwrap()
    );
    let history = |dir: &Path| {
        let history: History =
            serde_json::from_slice(&std::fs::read(dir.join("history.json")).unwrap()).unwrap();
        history.without_timings()
    };
    assert_eq!(history(run), history(straight));
    let log = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert_eq!(
        History::from_json_lines(&log).unwrap().without_timings(),
        history(straight)
    );
}

#[test]
fn a_kill_at_every_rename_leaves_one_state_and_resume_finishes_the_same_run() {
    let dir = tempfile::tempdir().unwrap();
    succeed(dir.path(), &train_args(3, "straight"));
    check_clean(&dir.path().join("straight"));
    let mut crash_points = 0;
    for at in 1.. {
        let name = format!("run{at}");
        let run = dir.path().join(&name);
        let output = unstuck(
            dir.path(),
            &train_args(3, &name),
            Some(("UNSTUCK_TEST_CRASH_AT", at.to_string())),
        );
        if output.status.success() {
            break;
        }
        crash_points += 1;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&format!("crash point {at}")), "{stderr}");
        let done = check_one_state(&run);
        if run.join("run.json").exists() {
            let output = unstuck(dir.path(), &resume_args(&name, 3), None);
            let stderr = String::from_utf8_lossy(&output.stderr);
            // Killed after the last state was made current: there is nothing to add.
            if done == Some(3) {
                assert!(stderr.contains("already has 3 epochs"), "{stderr}");
                check_same_run(&run, &dir.path().join("straight"));
                continue;
            }
            assert!(output.status.success(), "crash point {at}: {stderr}");
        } else {
            // Killed before the run record existed: a new start cleans up and runs.
            succeed(dir.path(), &train_args(3, &name));
        }
        check_one_state(&run);
        check_clean(&run);
        check_same_run(&run, &dir.path().join("straight"));
    }
    // run.json, then two renames and a cleanup for each of the three states.
    assert_eq!(crash_points, 10);
}

#[test]
fn a_resumed_batch_norm_run_has_the_uninterrupted_runs_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let with_batch_norm = |epochs: u64, out: &str| {
        let mut args = train_args(epochs, out);
        let model = args.iter().position(|a| a == "--model").unwrap() + 1;
        args[model] = "2/linear(8)-bn=batchnorm-tanh-linear(2)".into();
        args
    };
    succeed(dir.path(), &with_batch_norm(4, "straight"));
    succeed(dir.path(), &with_batch_norm(2, "run"));
    succeed(dir.path(), &resume_args("run", 4));
    // weights.safetensors holds the running statistics (bn.running_mean, ...) too.
    check_same_run(&dir.path().join("run"), &dir.path().join("straight"));
    let checkpoint = Checkpoint::load(&dir.path().join("run/checkpoint.json")).unwrap();
    assert_eq!(checkpoint.buffers.len(), 16);
}

/// Starts a long run, waits for its first state, sends `signal`, and returns the exit.
fn interrupt(dir: &Path, signal: &str) -> (Option<i32>, String) {
    let child = Command::new(BIN)
        .current_dir(dir)
        .args(train_args(100_000, "run"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::fs::read_link(dir.join("run/state")).is_err() {
        assert!(started.elapsed() < Duration::from_secs(60), "no state");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn sigint_and_sigterm_save_the_run_exit_with_their_codes_and_resume_is_bit_identical() {
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let dir = tempfile::tempdir().unwrap();
        let (exit, stderr) = interrupt(dir.path(), signal);
        assert_eq!(exit, Some(code), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("--resume run"), "{stderr}");
        let run = dir.path().join("run");
        let done = check_one_state(&run).unwrap();
        assert!(done < 100_000);
        succeed(dir.path(), &resume_args("run", done + 2));
        succeed(dir.path(), &train_args(done + 2, "straight"));
        check_clean(&run);
        check_same_run(&run, &dir.path().join("straight"));
    }
}

#[test]
fn out_is_checked_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), "in the way").unwrap();
    let failing = |out: &str| {
        // 10^6 epochs would take minutes: an early error is the only way to be quick.
        let started = Instant::now();
        let output = unstuck(dir.path(), &train_args(1_000_000, out), None);
        assert!(started.elapsed() < Duration::from_secs(30));
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        stderr.trim_end().to_string()
    };
    insta::assert_snapshot!(failing("/dev/null"), @"error: --out /dev/null: is not a folder");
    insta::assert_snapshot!(failing("file/run"), @"error: --out file/run: file is not a folder");
    succeed(dir.path(), &train_args(1, "done"));
    insta::assert_snapshot!(failing("done"), @"error: --out done: holds a run already: continue it with --resume, or choose another folder");
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    set_mode(&locked, 0o555);
    if std::fs::write(locked.join("probe"), "").is_ok() {
        eprintln!("skipped the unwritable folder: this user (root?) writes anywhere");
    } else {
        let stderr = failing("locked/run");
        assert!(
            stderr.starts_with("error: --out locked/run: cannot write in locked: "),
            "{stderr}"
        );
        assert!(!locked.join("run").exists());
    }
    set_mode(&locked, 0o755);
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_closed_stdout_is_a_quiet_exit_after_the_files_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .args(train_args(2, "run"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // What `| head -0` does: the reader goes away before the first line.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    check_one_state(&dir.path().join("run"));
    check_clean(&dir.path().join("run"));
}

#[test]
fn files_get_the_mode_the_umask_gives() {
    use std::os::unix::fs::PermissionsExt;
    for (umask, mode) in [("022", 0o644), ("027", 0o640)] {
        let dir = tempfile::tempdir().unwrap();
        let command = format!("umask {umask} && exec \"$0\" \"$@\"");
        let status = Command::new("sh")
            .current_dir(dir.path())
            .args(["-c", &command, BIN])
            .args(train_args(1, "run"))
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let run = dir.path().join("run");
        let state: PathBuf = run.join("state");
        let files = ["run.json", "history.jsonl"]
            .map(|f| run.join(f))
            .into_iter();
        let state_files = ["weights.safetensors", "checkpoint.json", "history.json"];
        for file in files.chain(state_files.map(|f| state.join(f))) {
            let found = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(found, mode, "{} under umask {umask}", file.display());
        }
    }
}

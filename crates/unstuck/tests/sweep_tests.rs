//! `unstuck sweep`: the whole grid on one machine and the merge of its parts are the same
//! bytes for any number of parts; job-array variables pick the part; bad shards and bad
//! merges fail with one line, a non-zero exit and no files.

use assert_cmd::cargo::cargo_bin_cmd;
use std::path::Path;

const SPEC: &str = "# a tiny grid\n\
    data = blobs:n=120,classes=3,seed=2\n\
    models = 2-8-3:tanh 2-3:identity\n\
    optimizers = adam sgd:momentum=0.9\n\
    learning-rates = 1e-2 1e-1\n\
    batch-sizes = 16 64\n\
    seeds = 0 1\n\
    epochs = 2\n";

/// Runs `unstuck` in `dir` with `env`; returns (success, stdout, stderr).
fn unstuck(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = cargo_bin_cmd!("unstuck");
    command.current_dir(dir).args(args);
    for var in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_MAX",
        "JOB_COMPLETION_INDEX",
    ] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn ok(dir: &Path, args: &[&str], env: &[(&str, &str)]) {
    let (success, _, stderr) = unstuck(dir, args, env);
    assert!(success, "unstuck {args:?} failed: {stderr}");
}

/// The error line of a failing command (asserting it failed with exactly one line).
fn fails(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let (success, _, stderr) = unstuck(dir, args, env);
    assert!(!success, "unstuck {args:?} should fail");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("sweep: ["))
        .collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    lines[0].to_string()
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn merged_parts_are_byte_identical_to_the_whole_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("grid.sweep"), SPEC).unwrap();
    ok(d, &["sweep", "grid.sweep", "--out", "whole"], &[]);
    let want = files(&d.join("whole"));
    let names: Vec<&str> = want.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["sweep.csv", "sweep.json", "sweep.md", "sweep.svg"]);
    let csv = String::from_utf8(want[0].1.clone()).unwrap();
    assert_eq!(
        csv.lines().count(),
        1 + 2 * 2 * 2 * 2 * 2,
        "a row per grid point"
    );

    for count in [1, 2, 5, 40] {
        let parts = format!("parts-{count}");
        for index in 0..count {
            ok(
                d,
                &[
                    "sweep",
                    "grid.sweep",
                    "--shard",
                    &format!("{index}/{count}"),
                    "--out",
                    &parts,
                ],
                &[],
            );
        }
        let merged = format!("merged-{count}");
        ok(d, &["sweep", "merge", &parts, "--out", &merged], &[]);
        assert!(
            files(&d.join(&merged)) == want,
            "{count} parts differ from the whole sweep"
        );
    }
}

#[test]
fn job_array_variables_choose_the_part() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("grid.sweep"), SPEC).unwrap();
    let slurm = [
        ("SLURM_ARRAY_TASK_ID", "1"),
        ("SLURM_ARRAY_TASK_COUNT", "3"),
        ("SLURM_ARRAY_TASK_MIN", "0"),
        ("SLURM_ARRAY_TASK_MAX", "2"),
    ];
    ok(d, &["sweep", "grid.sweep", "--out", "parts"], &slurm);
    assert!(d.join("parts/part-1-of-3.json").is_file());

    // Kubernetes: the index from JOB_COMPLETION_INDEX, the count from --shards.
    let pod = [("JOB_COMPLETION_INDEX", "2")];
    let message = fails(d, &["sweep", "grid.sweep", "--out", "k8s"], &pod);
    assert!(
        message.contains("pass the number of parts with --shards N"),
        "{message}"
    );
    ok(
        d,
        &["sweep", "grid.sweep", "--shards", "3", "--out", "k8s"],
        &pod,
    );
    assert!(d.join("k8s/part-2-of-3.json").is_file());
}

#[test]
fn bad_shards_and_bad_merges_fail_with_one_line_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("grid.sweep"), SPEC).unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &["--shard", "3/3"],
            "part 3 does not exist, the parts are 0..2",
        ),
        (
            &["--shard", "0/0"],
            "the number of parts must be at least 1",
        ),
        (&["--shard", "one/3"], "expected I/N"),
    ];
    for (extra, want) in cases {
        let mut args = vec!["sweep", "grid.sweep", "--out", "out"];
        args.extend_from_slice(extra);
        let message = fails(d, &args, &[]);
        assert!(message.contains(want), "{extra:?}: {message}");
        assert!(!d.join("out").exists(), "{extra:?} wrote files");
    }

    for index in [0, 2] {
        ok(
            d,
            &[
                "sweep",
                "grid.sweep",
                "--shard",
                &format!("{index}/3"),
                "--out",
                "parts",
            ],
            &[],
        );
    }
    let message = fails(d, &["sweep", "merge", "parts", "--out", "merged"], &[]);
    assert!(message.contains("missing part(s) 1 of 3"), "{message}");
    ok(
        d,
        &["sweep", "grid.sweep", "--shard", "0/3", "--out", "again"],
        &[],
    );
    let message = fails(
        d,
        &["sweep", "merge", "parts", "again", "--out", "merged"],
        &[],
    );
    assert!(message.contains("part 0 of 3 is given twice"), "{message}");

    // A part of another grid (one more seed) is foreign.
    std::fs::write(
        d.join("other.sweep"),
        SPEC.replace("seeds = 0 1", "seeds = 0 1 2"),
    )
    .unwrap();
    ok(
        d,
        &["sweep", "other.sweep", "--shard", "1/3", "--out", "other"],
        &[],
    );
    let message = fails(
        d,
        &["sweep", "merge", "parts", "other", "--out", "merged"],
        &[],
    );
    assert!(message.contains("configuration"), "{message}");
    assert!(message.contains("part-1-of-3.json"), "{message}");
    assert!(!d.join("merged").exists(), "a failed merge wrote files");

    let message = fails(d, &["sweep", "missing.sweep", "--out", "out"], &[]);
    assert!(
        message.starts_with("error: missing.sweep: cannot read"),
        "{message}"
    );
}

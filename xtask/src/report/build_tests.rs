//! The report as a build: a claim that no longer holds fails it and writes nothing, and a
//! report merged from N parts is byte-identical to the one made in one go, for every N.

use super::artifacts::Artifacts;
use super::claims::Finding;
use super::parts::{Config, Measured, Results, Unit, merge, read_parts, run_shard, write_part};
use super::{Experiment, Plan, Section, Written};
use anyhow::Result;
use std::path::Path;
use unstuck::shard::Shard;

/// Floats that a lossy round trip would change: shortest-representation edge cases.
const AWKWARD: [f64; 6] = [0.1 + 0.2, 1e-300, -0.0, f64::MAX / 32.0, 5e-324, 2.0 / 3.0];

fn units(plan: &Plan) -> Vec<Unit> {
    (0..if plan.quick { 5 } else { 7 })
        .map(|i| Unit::new(format!("u{i}"), 1.0 + (i % 3) as f64))
        .collect()
}

fn run(plan: &Plan, key: &str) -> Result<Measured> {
    let i: usize = key[1..].parse()?;
    let values: Vec<f64> = AWKWARD
        .iter()
        .map(|a| a * (i as f64 + plan.seed as f64))
        .collect();
    Measured::of(&values)
}

fn assemble_with(
    plan: &Plan,
    results: &Results<'_>,
    artifacts: &mut Artifacts,
    holds: bool,
) -> Result<Section> {
    let mut text = String::new();
    for unit in units(plan) {
        let values: Vec<f64> = results.get(&unit.key)?;
        // Debug prints the shortest string that reads back to the same bits.
        text.push_str(&format!("{}: {values:?}\n", unit.key));
    }
    artifacts.write("figures/numbers.txt", text.as_bytes())?;
    let mut finding = Finding::new("A fake experiment.");
    finding.claim(
        "numbers-are-there",
        "The numbers are there.",
        !text.is_empty(),
        "non-empty",
    );
    finding.claim(
        "the-fake-claim",
        "A claim the numbers contradict.",
        holds,
        "holds was set",
    );
    Ok(Section {
        title: "Fake".into(),
        finding,
        body: text,
    })
}

fn fake(name: &'static str, seed: u64) -> Experiment {
    Experiment {
        name,
        seed,
        units,
        run,
        assemble: |plan, results, artifacts| assemble_with(plan, results, artifacts, true),
    }
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                out.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Writes a report to `out`, its timings beside it.
fn write_report(
    all: &[Experiment],
    config: &Config,
    units: &std::collections::BTreeMap<String, serde_json::Value>,
    timings: &[(String, f64)],
    out: &Path,
) -> Result<()> {
    let timings_file = out.with_extension("timings.md");
    let to = Written {
        out,
        timings: &timings_file,
        update: false,
    };
    super::write_report(all, config, units, timings, &to)
}

fn whole(all: &[Experiment], config: &Config, out: &Path) {
    let merged = super::run_whole(all, config).unwrap();
    write_report(all, config, &merged.units, &merged.timings, out).unwrap();
}

#[test]
fn a_claim_that_no_longer_holds_fails_the_build_and_writes_nothing() {
    let broken = Experiment {
        name: "broken",
        seed: 3,
        units,
        run,
        assemble: |plan, results, artifacts| assemble_with(plan, results, artifacts, false),
    };
    let all = [fake("fine", 1), broken];
    let config = Config {
        quick: true,
        only: None,
    };
    let merged = super::run_whole(&all, &config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let error = write_report(&all, &config, &merged.units, &merged.timings, &out).unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("experiment `broken`"), "{message}");
    assert!(
        message.contains("claim `the-fake-claim` no longer holds"),
        "{message}"
    );
    assert!(!message.contains("numbers-are-there"), "{message}");
    assert!(!out.exists(), "nothing may be written when a claim fails");
}

#[test]
fn a_report_merged_from_n_parts_is_byte_identical_to_the_whole_report() {
    let all = [
        fake("first", 1),
        super::saddle::experiment(1),
        fake("third", 9),
    ];
    for quick in [true, false] {
        let config = Config { quick, only: None };
        let dir = tempfile::tempdir().unwrap();
        let reference = dir.path().join("whole");
        whole(&all, &config, &reference);
        let want = files(&reference);
        assert!(want.iter().any(|(name, _)| name == "figures/saddle.svg"));
        // More parts than units too: some parts are then empty.
        for count in [1, 2, 3, 4, 20] {
            let parts = dir.path().join(format!("parts-{count}"));
            for index in 0..count {
                let part = run_shard(&all, &config, Shard { index, count }).unwrap();
                write_part(&part, &parts).unwrap();
            }
            let read = read_parts(&[parts]).unwrap();
            let merged = merge(&all, &read).unwrap();
            assert_eq!(merged.config, config);
            let out = dir.path().join(format!("merged-{count}"));
            write_report(&all, &config, &merged.units, &merged.timings, &out).unwrap();
            let got = files(&out);
            assert!(
                got == want,
                "{count} parts (quick: {quick}) differ from the whole report"
            );
        }
    }
}

#[test]
fn a_merge_refuses_missing_duplicated_and_foreign_parts() {
    let all = [fake("only", 1)];
    let config = Config {
        quick: true,
        only: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let parts = dir.path().join("parts");
    for index in 0..3 {
        write_part(
            &run_shard(&all, &config, Shard { index, count: 3 }).unwrap(),
            &parts,
        )
        .unwrap();
    }
    let error = |dirs: &[&Path]| -> String {
        let dirs: Vec<_> = dirs.iter().map(|d| d.to_path_buf()).collect();
        match read_parts(&dirs).and_then(|read| merge(&all, &read).map(|_| ())) {
            Ok(()) => panic!("the merge should fail"),
            Err(e) => format!("{e:#}"),
        }
    };

    let missing = dir.path().join("missing");
    std::fs::create_dir(&missing).unwrap();
    for i in [0, 2] {
        let name = Shard { index: i, count: 3 }.file_name();
        std::fs::copy(parts.join(&name), missing.join(&name)).unwrap();
    }
    assert_eq!(error(&[&missing]), "missing part(s) 1 of 3");
    assert!(error(&[&parts, &missing]).starts_with("part 0 of 3 is given twice"));

    let full = dir.path().join("full");
    write_part(
        &run_shard(
            &all,
            &Config {
                quick: false,
                only: None,
            },
            Shard { index: 1, count: 3 },
        )
        .unwrap(),
        &full,
    )
    .unwrap();
    let message = error(&[&missing, &full]);
    assert!(
        message.contains("part-1-of-3.json: configuration full"),
        "{message}"
    );

    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    let name = Shard { index: 1, count: 3 }.file_name();
    let text = std::fs::read_to_string(parts.join(&name)).unwrap();
    let source = super::source::source_id();
    std::fs::write(foreign.join(&name), text.replace(&source, "0000000")).unwrap();
    let message = error(&[&missing, &foreign]);
    assert!(message.contains("source 0000000 differs"), "{message}");

    let garbled = dir.path().join("garbled");
    std::fs::create_dir(&garbled).unwrap();
    std::fs::write(garbled.join(&name), "{ not json").unwrap();
    let message = error(&[&missing, &garbled]);
    assert!(
        message.contains("part-1-of-3.json: not a report part"),
        "{message}"
    );
    assert!(!message.contains('\n'), "one line: {message}");
}

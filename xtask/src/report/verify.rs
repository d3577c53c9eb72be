//! `--verify`: the checked-in `docs/report/` is what this commit generates.
//!
//! The full report is regenerated in a temporary directory and compared file by file with
//! `docs/report/`: every artifact and `manifest.json` byte for byte, and no file there that
//! the report does not write (`timings.md` aside, which only `--update` refreshes).
//!
//! The hashes hold for one family of CPUs: faer picks AVX-512 or AVX2+FMA matrix kernels at
//! run time, and the two can differ in the last bits of a product. The manifest records the
//! family it was made with. On a machine of the same family (CI's runners are the same kind
//! as the machine that checks the report in) everything is compared; on another family the
//! check says so and compares what does not depend on the kernels: the list of artifacts,
//! and every claim, which the regeneration has already checked.

use super::manifest::Manifest;
use super::parts::Config;
use super::{default_out, experiments, source};
use anyhow::{Context as _, Result, bail};
use std::collections::BTreeSet;
use std::path::Path;

pub fn run() -> Result<()> {
    let checked_in = default_out(false);
    let scratch = tempfile::tempdir().context("creating a temporary directory")?;
    let fresh = scratch.path();
    eprintln!(
        "report --verify: regenerating the full report in {}",
        fresh.display()
    );
    let all = experiments();
    let config = Config {
        quick: false,
        only: None,
    };
    let merged = super::run_whole(&all, &config)?;
    super::build(&all, &config, &merged.units, fresh)?.commit(&[])?;
    let problems = compare(&checked_in, fresh)?;
    if problems.is_empty() {
        eprintln!("report --verify: docs/report/ is what this commit generates");
        return Ok(());
    }
    for line in &problems {
        eprintln!("report --verify: {line}");
    }
    bail!(
        "{} difference(s) between docs/report/ and this commit's report: run `cargo xtask report` and commit the result",
        problems.len()
    )
}

/// The differences between the checked-in report and a fresh one, one line each.
pub fn compare(checked_in: &Path, fresh: &Path) -> Result<Vec<String>> {
    let old = Manifest::load(checked_in)?;
    let new = Manifest::load(fresh)?;
    let mut problems = Vec::new();
    let old_paths: BTreeSet<&String> = old.artifacts.keys().collect();
    let new_paths: BTreeSet<&String> = new.artifacts.keys().collect();
    for path in new_paths.difference(&old_paths) {
        problems.push(format!("{path}: generated, but not checked in"));
    }
    for path in old_paths.difference(&new_paths) {
        problems.push(format!("{path}: checked in, but no longer generated"));
    }
    for path in files_under(checked_in)? {
        let listed =
            path == "manifest.json" || path == "timings.md" || old.artifacts.contains_key(&path);
        if !listed {
            problems.push(format!("{path}: in docs/report/ but not in its manifest"));
        }
    }
    if old.kernels != new.kernels {
        eprintln!(
            "report --verify: docs/report/ was made with {} kernels, this machine uses {}; \
             the last bits of the numbers may differ, so only the file list and the claims are compared",
            old.kernels,
            source::kernel_family()
        );
        return Ok(problems);
    }
    for path in new
        .artifacts
        .keys()
        .map(String::as_str)
        .chain(["manifest.json"])
    {
        let want = std::fs::read(fresh.join(path))?;
        match std::fs::read(checked_in.join(path)) {
            Ok(got) if got == want => {}
            Ok(_) => problems.push(format!("{path}: differs from what this commit generates")),
            Err(err) => problems.push(format!("{path}: cannot be read ({err})")),
        }
    }
    Ok(problems)
}

/// Every file below `dir`, as a relative path with `/` separators, sorted.
fn files_under(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in
            std::fs::read_dir(&current).with_context(|| format!("listing {}", current.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                let parts: Vec<String> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::artifacts::Artifacts;

    fn report(dir: &Path, figure: &[u8]) {
        let mut artifacts = Artifacts::new(dir);
        artifacts.write("README.md", b"# report\n").unwrap();
        artifacts.write("figures/a.svg", figure).unwrap();
        let manifest = Manifest::describe(false, vec![], artifacts.hashed());
        artifacts
            .write_unhashed("manifest.json", manifest.to_json().unwrap().as_bytes())
            .unwrap();
        artifacts.commit(&[]).unwrap();
    }

    #[test]
    fn an_identical_report_passes_and_a_changed_or_stray_file_is_named() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        report(a.path(), b"<svg/>");
        report(b.path(), b"<svg/>");
        std::fs::write(a.path().join("timings.md"), "whatever").unwrap();
        assert_eq!(compare(a.path(), b.path()).unwrap(), Vec::<String>::new());

        report(b.path(), b"<svg></svg>");
        let problems = compare(a.path(), b.path()).unwrap();
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("figures/a.svg: differs")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("manifest.json: differs")),
            "{problems:?}"
        );

        report(b.path(), b"<svg/>");
        std::fs::write(a.path().join("figures/old.svg"), "stale").unwrap();
        let problems = compare(a.path(), b.path()).unwrap();
        assert_eq!(
            problems,
            vec!["figures/old.svg: in docs/report/ but not in its manifest"]
        );
    }
}

//! `manifest.json`: what produced the report, and the SHA-256 of every artifact.

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExperimentRecord {
    pub name: String,
    pub seed: u64,
    /// How many independent units (seeds, grid points) it ran: what a shard gets.
    pub units: usize,
}

/// Only what is the same on every run on the same kind of machine: no clock, no host
/// name, no compiler banner (those go to the timings file, outside the checked-in tree).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub generator: String,
    pub quick: bool,
    /// The matrix-product kernels faer used (see `source::kernel_family`): the hashes below
    /// hold for this family of CPUs.
    pub kernels: String,
    pub crate_versions: BTreeMap<String, String>,
    pub experiments: Vec<ExperimentRecord>,
    /// Relative path -> SHA-256 (hex) of every artifact that must be reproducible.
    pub artifacts: BTreeMap<String, String>,
}

impl Manifest {
    pub fn describe(
        quick: bool,
        experiments: Vec<ExperimentRecord>,
        artifacts: BTreeMap<String, String>,
    ) -> Self {
        let version = env!("CARGO_PKG_VERSION").to_string();
        let crate_versions = [
            "unstuck-autodiff",
            "unstuck-data",
            "unstuck-hessian",
            "unstuck-models",
            "unstuck-optim",
            "xtask",
        ]
        .iter()
        .map(|name| (name.to_string(), version.clone()))
        .collect();
        Manifest {
            generator: "cargo xtask report".to_string(),
            quick,
            kernels: super::source::kernel_family().to_string(),
            crate_versions,
            experiments,
            artifacts,
        }
    }

    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)? + "\n")
    }

    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// One file whose bytes no longer match the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub path: String,
    pub problem: String,
}

/// Checks that every artifact listed in `dir/manifest.json` is present with its hash.
pub fn verify(dir: &Path) -> Result<Vec<Mismatch>> {
    let manifest = Manifest::load(dir)?;
    let mut mismatches = Vec::new();
    for (path, want) in &manifest.artifacts {
        match std::fs::read(dir.join(path)) {
            Ok(bytes) => {
                let got = super::artifacts::sha256_hex(&bytes);
                if &got != want {
                    mismatches.push(Mismatch {
                        path: path.clone(),
                        problem: format!("SHA-256 {got} but the manifest says {want}"),
                    });
                }
            }
            Err(err) => mismatches.push(Mismatch {
                path: path.clone(),
                problem: format!("cannot be read: {err}"),
            }),
        }
    }
    Ok(mismatches)
}

/// The differences between two artifact lists, one line per path.
pub fn compare(
    left_name: &str,
    left: &BTreeMap<String, String>,
    right_name: &str,
    right: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut lines = Vec::new();
    for (path, hash) in left {
        match right.get(path) {
            None => lines.push(format!("{path}: in {left_name}, missing from {right_name}")),
            Some(other) if other != hash => lines.push(format!(
                "{path}: differs ({left_name} {}, {right_name} {})",
                &hash[..12],
                &other[..12]
            )),
            Some(_) => {}
        }
    }
    for path in right.keys().filter(|p| !left.contains_key(*p)) {
        lines.push(format!("{path}: in {right_name}, missing from {left_name}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::artifacts::Artifacts;

    fn sample_report(dir: &Path) {
        let mut artifacts = Artifacts::new(dir);
        artifacts.write("README.md", b"# report\n").unwrap();
        artifacts.write("figures/a.svg", b"<svg/>").unwrap();
        let manifest = Manifest::describe(true, vec![], artifacts.hashed());
        artifacts
            .write_unhashed("manifest.json", manifest.to_json().unwrap().as_bytes())
            .unwrap();
        artifacts.commit(&[]).unwrap();
    }

    #[test]
    fn an_untouched_report_verifies() {
        let dir = tempfile::tempdir().unwrap();
        sample_report(dir.path());
        assert_eq!(verify(dir.path()).unwrap(), vec![]);
    }

    #[test]
    fn changing_one_byte_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        sample_report(dir.path());
        let copy = tempfile::tempdir().unwrap();
        for name in ["README.md", "manifest.json"] {
            std::fs::copy(dir.path().join(name), copy.path().join(name)).unwrap();
        }
        std::fs::create_dir(copy.path().join("figures")).unwrap();
        std::fs::write(copy.path().join("figures/a.svg"), b"<svg/>").unwrap();
        assert_eq!(verify(copy.path()).unwrap(), vec![]);
        std::fs::write(copy.path().join("figures/a.svg"), b"<svG/>").unwrap();
        let mismatches = verify(copy.path()).unwrap();
        assert_eq!(mismatches.len(), 1);
        assert_eq!(mismatches[0].path, "figures/a.svg");
    }

    #[test]
    fn compare_lists_added_missing_and_changed_files() {
        let left: BTreeMap<String, String> =
            [("a".into(), "0".repeat(64)), ("b".into(), "1".repeat(64))].into();
        let right: BTreeMap<String, String> =
            [("a".into(), "2".repeat(64)), ("c".into(), "3".repeat(64))].into();
        let lines = compare("one", &left, "two", &right);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].starts_with("a: differs"));
        assert!(lines[1].starts_with("b: in one, missing from two"));
        assert!(lines[2].starts_with("c: in two, missing from one"));
    }
}

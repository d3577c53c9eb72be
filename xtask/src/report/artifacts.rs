//! Files of the report: written atomically, hashed with SHA-256.

use anyhow::{Context as _, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The report's output directory and what will be written to it.
///
/// Nothing touches the disk until [`Artifacts::commit`]: a report that fails (an
/// experiment errs, a claim no longer holds) writes nothing.
#[derive(Debug)]
pub struct Artifacts {
    dir: PathBuf,
    files: BTreeMap<String, Vec<u8>>,
    hashed: BTreeMap<String, String>,
}

impl Artifacts {
    pub fn new(dir: &Path) -> Self {
        Artifacts {
            dir: dir.to_path_buf(),
            files: BTreeMap::new(),
            hashed: BTreeMap::new(),
        }
    }

    /// An artifact whose bytes must not change between runs; its hash is recorded.
    pub fn write(&mut self, relative: &str, bytes: &[u8]) -> Result<()> {
        self.hashed.insert(relative.to_string(), sha256_hex(bytes));
        self.files.insert(relative.to_string(), bytes.to_vec());
        Ok(())
    }

    /// A file outside the hashes (the manifest itself).
    pub fn write_unhashed(&mut self, relative: &str, bytes: &[u8]) -> Result<()> {
        self.files.insert(relative.to_string(), bytes.to_vec());
        Ok(())
    }

    /// Relative path -> SHA-256 of every hashed artifact, sorted by path.
    pub fn hashed(&self) -> BTreeMap<String, String> {
        self.hashed.clone()
    }

    /// Writes every file atomically, then removes the artifacts that `stale` (the previous
    /// manifest's list) names and this report no longer has.
    pub fn commit(&self, stale: &[String]) -> Result<()> {
        for (relative, bytes) in &self.files {
            write_atomic(&self.dir.join(relative), bytes)?;
        }
        for relative in stale.iter().filter(|r| !self.files.contains_key(*r)) {
            let path = self.dir.join(relative);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => {
                    return Err(err).with_context(|| format!("removing {}", path.display()));
                }
            }
        }
        Ok(())
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Creates the folder if needed, then writes the file with [`unstuck::write_atomic`]: a
/// crash leaves either the old file or the new one, never half of one.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    unstuck::write_atomic(path, bytes).with_context(|| format!("writing {}", path.display()))
}

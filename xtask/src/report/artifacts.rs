//! Files of the report: written atomically, hashed with SHA-256.

use anyhow::{Context as _, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The report's output directory and the hashes of what was written to it.
#[derive(Debug)]
pub struct Artifacts {
    dir: PathBuf,
    hashed: BTreeMap<String, String>,
}

impl Artifacts {
    pub fn new(dir: &Path) -> Self {
        Artifacts {
            dir: dir.to_path_buf(),
            hashed: BTreeMap::new(),
        }
    }

    /// Writes an artifact whose bytes must not change between runs, and records its hash.
    pub fn write(&mut self, relative: &str, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.dir.join(relative), bytes)?;
        self.hashed.insert(relative.to_string(), sha256_hex(bytes));
        Ok(())
    }

    /// Writes a file that may differ between runs (timings, the manifest itself).
    pub fn write_unhashed(&self, relative: &str, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.dir.join(relative), bytes)
    }

    /// Relative path -> SHA-256 of every hashed artifact, sorted by path.
    pub fn hashed(&self) -> BTreeMap<String, String> {
        self.hashed.clone()
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
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    unstuck::write_atomic(path, bytes).with_context(|| format!("writing {}", path.display()))
}

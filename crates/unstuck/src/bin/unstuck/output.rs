//! Output files: everything is rendered in memory first, then each file is written to a
//! temporary file in the target directory and renamed over its name, so a reader (or a
//! crash) never sees half a file, and a failed command writes nothing.

use crate::error::{CliError, Result};
use std::path::{Path, PathBuf};

/// Files to write into one directory, held in memory until [`Outputs::commit`].
#[derive(Debug, Default)]
pub(crate) struct Outputs {
    files: Vec<(String, Vec<u8>)>,
}

impl Outputs {
    pub(crate) fn add(&mut self, name: &str, bytes: Vec<u8>) {
        self.files.push((name.to_string(), bytes));
    }

    /// Creates `dir` if needed and writes every file atomically; returns their paths.
    pub(crate) fn commit(self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|error| {
            CliError::file(dir, format!("cannot create the directory: {error}"))
        })?;
        let mut written = Vec::new();
        for (name, bytes) in self.files {
            let path = dir.join(&name);
            unstuck::write_atomic(&path, &bytes)
                .map_err(|error| CliError::file(&path, format!("cannot write: {error}")))?;
            written.push(path);
        }
        Ok(written)
    }
}

//! Output files: everything is rendered in memory first, then each file is written to a
//! temporary file in the target directory and renamed over its name, so a reader (or a
//! crash) never sees half a file, and a failed command writes nothing.

use crate::error::{CliError, Result};
use std::io::Write;
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
            write_atomic(&path, &bytes)?;
            written.push(path);
        }
        Ok(written)
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let fail = |error: std::io::Error| CliError::file(path, format!("cannot write: {error}"));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .map_err(fail)?;
    file.persist(path).map_err(|error| fail(error.error))?;
    Ok(())
}

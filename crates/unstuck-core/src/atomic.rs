//! Writing a file so that a reader, or a crash, sees the old contents or the new ones,
//! never half of them.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Replaces `path` with `bytes` atomically: writes a temporary file in the same folder,
/// flushes it to disk, renames it over `path`, and flushes the folder (so the rename
/// itself survives a power cut). The folder must exist.
///
/// The file gets the mode a plain `File::create` would give (`0o666` less the umask:
/// `-rw-r--r--` under the usual umask 022), not the private `0o600` of temporary-file
/// helpers. On any error the temporary file is removed and `path` is left as it was.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("unstuck-core-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("weights.bin");
/// unstuck_core::write_atomic(&path, b"new")?;
/// assert_eq!(std::fs::read(&path)?, b"new");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let (mut file, temporary) = create_temporary(dir, &name.to_string_lossy())?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            std::fs::rename(&temporary.path, path)
        });
    match written {
        Ok(()) => {
            temporary.keep();
            sync_dir(dir)
        }
        // Dropping `temporary` removes the file.
        Err(error) => Err(error),
    }
}

/// A temporary file that is removed unless [`Temporary::keep`] is called.
struct Temporary {
    path: PathBuf,
    keep: bool,
}

impl Temporary {
    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if !self.keep {
            // Best effort: the write already failed, and that error is what matters.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Creates `.name.<pid>.<n>.tmp` in `dir`, new (never an existing file), with the
/// default mode, so the umask decides the permissions.
fn create_temporary(dir: &Path, name: &str) -> io::Result<(File, Temporary)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((file, Temporary { path, keep: false })),
            // Left behind by an earlier process with the same id: take the next name.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
}

/// Flushes a folder's entries (the rename) to disk. Only Unix can open a folder for this.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "unstuck-core-{name}-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
    static COUNT: AtomicU64 = AtomicU64::new(0);

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = scratch("replace");
        let path = dir.join("a.json");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new contents").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new contents");
        assert_eq!(entries(&dir), vec!["a.json".to_string()]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_cleans_up() {
        let dir = scratch("fail");
        let path = dir.join("a.json");
        write_atomic(&path, b"old").unwrap();
        // Renaming a file over a non-empty folder fails after the temporary file exists.
        let blocker = dir.join("blocker");
        std::fs::create_dir(&blocker).unwrap();
        std::fs::write(blocker.join("inside"), b"x").unwrap();
        assert!(write_atomic(&blocker, b"new").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(
            entries(&dir),
            vec!["a.json".to_string(), "blocker".to_string()]
        );
        // A missing folder is an error, not a panic.
        assert!(write_atomic(&dir.join("no/such/folder/f"), b"x").is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn the_mode_comes_from_the_umask() {
        use rustix::fs::Mode;
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("mode");
        let path = dir.join("history.json");
        // The umask is per process; this is the only test here that creates files with
        // a mode that matters, and it restores the umask it found.
        let previous = rustix::process::umask(Mode::from_raw_mode(0o022));
        let result = write_atomic(&path, b"{}");
        rustix::process::umask(previous);
        result.unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{mode:o}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

//! The run folder `unstuck train --out DIR` writes, consistent at every instant.
//!
//! ```text
//! DIR/run.json             what defines the run (written once, before training)
//! DIR/history.jsonl        every record as JSON Lines, appended after each epoch
//! DIR/states/epoch-NNNNNN/ one whole state: weights.safetensors, checkpoint.json,
//!                          history.json, loss.svg and manifest.json
//! DIR/state                a symbolic link to the current states/epoch-NNNNNN
//! DIR/weights.safetensors  (and the other three) links through DIR/state
//! ```
//!
//! A state is written into a temporary folder, renamed into `states/`, and made current
//! by renaming a new `state` link over the old one: that last rename is the one commit
//! point, so a reader who goes through `state` always sees the files of one state.
//! The manifest says how many bytes of `history.jsonl` belong to the state; the log may
//! hold more (epochs after the last checkpoint), which a resume cuts off.
//! Temporaries (`.NAME.tmp`) and states that `state` does not name are removed on the
//! next start.

use crate::error::{CliError, Result};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use unstuck::{Checkpoint, History, HistoryMark};

pub(crate) const RUN: &str = "run.json";
const LOG: &str = "history.jsonl";
const STATE: &str = "state";
const STATES: &str = "states";
const MANIFEST: &str = "manifest.json";
const MANIFEST_FORMAT: u32 = 1;
/// The state's files that get a link at the top of the folder.
const LINKED: [&str; 4] = [
    "weights.safetensors",
    "checkpoint.json",
    "history.json",
    "loss.svg",
];

/// `states/epoch-NNNNNN/manifest.json`: what the state holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    /// Epochs done: the checkpoint continues with this epoch.
    epochs_done: u64,
    /// The prefix of `history.jsonl` that belongs to this state.
    history_bytes: u64,
}

/// One state's files, rendered in memory.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) epochs_done: u64,
    /// `(name, bytes)` for the files in [`LINKED`].
    pub(crate) files: Vec<(&'static str, Vec<u8>)>,
}

/// What a run folder's current state holds.
#[derive(Debug)]
pub(crate) struct Committed {
    pub(crate) checkpoint: Checkpoint,
    /// The committed part of `history.jsonl`.
    pub(crate) history_log: Vec<u8>,
}

/// A run folder being written.
#[derive(Debug)]
pub(crate) struct RunFolder {
    dir: PathBuf,
    mark: HistoryMark,
    history_bytes: u64,
    epochs_committed: Option<u64>,
}

fn io_error(path: &Path, what: &str) -> impl Fn(std::io::Error) -> CliError {
    let path = path.to_path_buf();
    let what = what.to_string();
    move |error| CliError::file(&path, format!("cannot {what}: {error}"))
}

/// Checks that `--out DIR` can hold a run, without creating anything: DIR is a folder
/// we can write in, or does not exist yet and its nearest existing parent is one.
pub(crate) fn check_out(dir: &Path) -> Result<()> {
    let mut probe_in = dir;
    while !probe_in.exists() {
        match probe_in.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => probe_in = parent,
            _ => {
                probe_in = Path::new(".");
                break;
            }
        }
    }
    if !probe_in.is_dir() {
        let message = if probe_in == dir {
            "is not a folder".to_string()
        } else {
            format!("{} is not a folder", probe_in.display())
        };
        return Err(CliError::argument(
            "--out",
            &dir.display().to_string(),
            message,
        ));
    }
    let probe = probe_in.join(format!(".unstuck-probe.{}.tmp", std::process::id()));
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            // Best effort: the probe only told us the folder is writable.
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(error) => Err(CliError::argument(
            "--out",
            &dir.display().to_string(),
            format!("cannot write in {}: {error}", probe_in.display()),
        )),
    }
}

/// Whether `a` and `b` name the same folder (`run` and `./run` do).
pub(crate) fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Whether DIR already holds a run (its record or a state).
pub(crate) fn holds_run(dir: &Path) -> bool {
    dir.join(RUN).exists() || dir.join(STATE).symlink_metadata().is_ok()
}

/// Reads the state `DIR/state` names, if the run has committed one.
pub(crate) fn read_committed(dir: &Path) -> Result<Option<Committed>> {
    let Some(state_dir) = current_state(dir)? else {
        return Ok(None);
    };
    let manifest_path = state_dir.join(MANIFEST);
    let bytes = std::fs::read(&manifest_path).map_err(io_error(&manifest_path, "read"))?;
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|error| CliError::file(&manifest_path, format!("malformed: {error}")))?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(CliError::file(
            &manifest_path,
            format!(
                "format {} is not the supported {MANIFEST_FORMAT}",
                manifest.format
            ),
        ));
    }
    let checkpoint_path = state_dir.join("checkpoint.json");
    let checkpoint = Checkpoint::load(&checkpoint_path)?;
    let log_path = dir.join(LOG);
    let mut history_log = std::fs::read(&log_path).map_err(io_error(&log_path, "read"))?;
    let length = usize::try_from(manifest.history_bytes).unwrap_or(usize::MAX);
    if checkpoint.next_epoch != manifest.epochs_done {
        return Err(CliError::file(
            &checkpoint_path,
            format!(
                "continues with epoch {}, its manifest says {}",
                checkpoint.next_epoch, manifest.epochs_done
            ),
        ));
    }
    if history_log.len() < length {
        return Err(CliError::file(
            &log_path,
            format!(
                "shorter than the {} bytes its state {} names",
                manifest.history_bytes,
                state_dir.display()
            ),
        ));
    }
    history_log.truncate(length);
    Ok(Some(Committed {
        checkpoint,
        history_log,
    }))
}

/// The folder `DIR/state` points to, if any.
fn current_state(dir: &Path) -> Result<Option<PathBuf>> {
    let link = dir.join(STATE);
    match std::fs::read_link(&link) {
        Ok(target) => Ok(Some(dir.join(target))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(CliError::file(&link, format!("cannot read: {error}"))),
    }
}

impl RunFolder {
    /// Starts a new run in `dir`: cleans what an interrupted start left, writes the run
    /// record and an empty history, and links the state's files. `history_log` is the
    /// committed history of the run this one continues (empty for a new run).
    pub(crate) fn create(dir: &Path, record: &[u8], history_log: &[u8]) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(io_error(dir, "create the folder"))?;
        remove_strays(dir, None)?;
        let log = dir.join(LOG);
        write_synced(&log, history_log)?;
        for name in LINKED {
            let link = dir.join(name);
            if link.symlink_metadata().is_err() {
                symlink(&Path::new(STATE).join(name), &link)?;
            }
        }
        write_file_atomic(dir, RUN, record)?;
        RunFolder::at(dir, history_log, None)
    }

    /// The folder `dir`, whose `history.jsonl` holds `history_log`.
    fn at(dir: &Path, history_log: &[u8], epochs_committed: Option<u64>) -> Result<Self> {
        let history = History::from_json_lines(&String::from_utf8_lossy(history_log))
            .map_err(|error| CliError::file(&dir.join(LOG), error))?;
        Ok(RunFolder {
            dir: dir.to_path_buf(),
            mark: history.mark(),
            history_bytes: history_log.len() as u64,
            epochs_committed,
        })
    }

    /// Continues writing the run in `dir`, whose committed state is `committed` (or none):
    /// cuts `history.jsonl` back to that state and removes strays.
    pub(crate) fn reopen(dir: &Path, committed: Option<&Committed>) -> Result<Self> {
        let current = current_state(dir)?;
        remove_strays(dir, current.as_deref())?;
        let log_path = dir.join(LOG);
        let (history_log, epochs_committed) = match committed {
            Some(c) => (c.history_log.as_slice(), Some(c.checkpoint.next_epoch)),
            None => (&[][..], None),
        };
        let log = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&log_path)
            .map_err(io_error(&log_path, "open"))?;
        log.set_len(history_log.len() as u64)
            .and_then(|()| log.sync_all())
            .map_err(io_error(&log_path, "cut back"))?;
        RunFolder::at(dir, history_log, epochs_committed)
    }

    /// Appends the records `history` gained since the last call, flushed to disk.
    pub(crate) fn append_history(&mut self, history: &History) -> Result<()> {
        let lines = history.json_lines_since(self.mark);
        let path = self.dir.join(LOG);
        let mut log = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_error(&path, "open"))?;
        log.write_all(lines.as_bytes())
            .and_then(|()| log.sync_data())
            .map_err(io_error(&path, "append to"))?;
        self.mark = history.mark();
        self.history_bytes += lines.len() as u64;
        Ok(())
    }

    /// Removes what [`RunFolder::create`] wrote if the run failed before it recorded
    /// anything (divergence in the first epoch): a failed command writes nothing.
    pub(crate) fn discard_if_empty(self) {
        if self.epochs_committed.is_some() || self.history_bytes > 0 {
            return;
        }
        // Best effort: the error that stopped the run is the one to report.
        for name in LINKED.iter().chain(&[LOG, RUN]) {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
        let _ = std::fs::remove_dir(self.dir.join(STATES));
        let _ = std::fs::remove_dir(&self.dir);
    }

    /// Whether the state after `epochs_done` epochs is the committed one already.
    pub(crate) fn has_committed(&self, epochs_done: u64) -> bool {
        self.epochs_committed == Some(epochs_done)
    }

    /// Makes `state` the current one (after appending the history it includes).
    pub(crate) fn commit(&mut self, state: State) -> Result<()> {
        let states = self.dir.join(STATES);
        std::fs::create_dir_all(&states).map_err(io_error(&states, "create the folder"))?;
        let name = format!("epoch-{:06}", state.epochs_done);
        let temporary = states.join(format!(".{name}.{}.tmp", std::process::id()));
        if temporary.exists() {
            std::fs::remove_dir_all(&temporary).map_err(io_error(&temporary, "remove"))?;
        }
        std::fs::create_dir(&temporary).map_err(io_error(&temporary, "create the folder"))?;
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            epochs_done: state.epochs_done,
            history_bytes: self.history_bytes,
        };
        let manifest = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
        for (file, bytes) in state.files.iter().map(|(n, b)| (*n, b.as_slice())) {
            write_synced(&temporary.join(file), bytes)?;
        }
        write_synced(&temporary.join(MANIFEST), &manifest)?;
        sync_dir(&temporary)?;
        let target = states.join(&name);
        // Left by a run interrupted before it made this state current.
        if target.exists() {
            std::fs::remove_dir_all(&target).map_err(io_error(&target, "remove"))?;
        }
        rename(&temporary, &target)?;
        sync_dir(&states)?;
        let link = self
            .dir
            .join(format!(".{STATE}.{}.tmp", std::process::id()));
        symlink(&Path::new(STATES).join(&name), &link)?;
        rename(&link, &self.dir.join(STATE))?;
        sync_dir(&self.dir)?;
        self.epochs_committed = Some(state.epochs_done);
        crash_point();
        remove_strays(&self.dir, Some(&target))
    }
}

/// Removes temporaries (`.NAME.tmp`) in `dir` and `dir/states`, and every state but
/// `keep`.
fn remove_strays(dir: &Path, keep: Option<&Path>) -> Result<()> {
    let states = dir.join(STATES);
    for folder in [dir, states.as_path()] {
        let Ok(entries) = std::fs::read_dir(folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let temporary = name.starts_with('.') && name.ends_with(".tmp");
            let old_state =
                folder == states && keep.is_none_or(|k| k.file_name() != path.file_name());
            if !(temporary || old_state) {
                continue;
            }
            let removed = match entry.file_type() {
                Ok(kind) if kind.is_dir() => std::fs::remove_dir_all(&path),
                _ => std::fs::remove_file(&path),
            };
            removed.map_err(io_error(&path, "remove"))?;
        }
    }
    Ok(())
}

/// Writes `bytes` to `dir/name` through a temporary and a rename (a crash point).
fn write_file_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    write_synced(&temporary, bytes)?;
    rename(&temporary, &dir.join(name))?;
    sync_dir(dir)
}

/// Creates (or truncates) `path` with the umask's mode, writes `bytes` and flushes them.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    File::create(path)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .map_err(io_error(path, "write"))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|folder| folder.sync_all())
        .map_err(io_error(dir, "flush"))
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    crash_point();
    std::fs::rename(from, to).map_err(io_error(to, "rename into place"))
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> Result<()> {
    std::os::unix::fs::symlink(target, link).map_err(io_error(link, "create the link"))
}

#[cfg(not(unix))]
fn symlink(_target: &Path, link: &Path) -> Result<()> {
    Err(CliError::file(
        link,
        "run folders need symbolic links, which only Unix gives every user",
    ))
}

/// Test hook: with `UNSTUCK_TEST_CRASH_AT=N` the process aborts just before its Nth
/// rename (or cleanup) in a run folder, as a kill at that instant would stop it.
fn crash_point() {
    static AT: OnceLock<Option<u64>> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let at = AT.get_or_init(|| {
        std::env::var("UNSTUCK_TEST_CRASH_AT")
            .ok()
            .and_then(|n| n.parse().ok())
    });
    if let Some(at) = at
        && COUNT.fetch_add(1, Ordering::Relaxed) + 1 == *at
    {
        eprintln!("crash point {at}");
        std::process::abort();
    }
}

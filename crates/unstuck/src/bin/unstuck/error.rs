//! The command line's error: every message names the argument or the file it is about.

use std::path::{Path, PathBuf};
use unstuck::TrainError;

/// What can stop a command.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// A command-line value that does not work.
    #[error("{arg} {value}: {message}")]
    Argument {
        /// The flag, e.g. `--optim`.
        arg: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file that cannot be read, parsed or written.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Training (or the analysis) failed.
    #[error("{0}")]
    Train(#[from] TrainError),
    /// A result could not be rendered (a figure, a JSON report).
    #[error("{0}")]
    Output(String),
}

impl CliError {
    pub(crate) fn argument(arg: &'static str, value: &str, message: impl ToString) -> Self {
        CliError::Argument {
            arg,
            value: value.to_string(),
            message: message.to_string(),
        }
    }

    pub(crate) fn file(path: &Path, message: impl ToString) -> Self {
        CliError::File {
            path: path.to_path_buf(),
            message: message.to_string(),
        }
    }
}

pub(crate) type Result<T, E = CliError> = std::result::Result<T, E>;

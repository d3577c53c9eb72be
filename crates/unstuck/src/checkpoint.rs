//! Checkpoints: parameters, running statistics, optimizer state, step and shuffling
//! position, written atomically.

use crate::TrainError;
use crate::history::History;
use serde::{Deserialize, Serialize};
use std::path::Path;
use unstuck_optim::OptimizerState;

/// Everything a [`crate::Trainer`] needs to continue bit-identically.
///
/// Checkpoints are taken at epoch boundaries, where the shuffling position is just
/// `(seed, next_epoch)`: the data crate seeds each epoch's order from that pair alone.
/// JSON keeps every `f64` exactly (serde_json's `float_roundtrip`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The file format's version.
    pub format: u32,
    /// The shuffling seed.
    pub seed: u64,
    /// The parameters.
    pub theta: Vec<f64>,
    /// The model's buffers (batch norm's running statistics) in the order of its
    /// `buffer_layout`; empty for a model without any. A format-1 file has none.
    #[serde(default)]
    pub buffers: Vec<f64>,
    /// The optimizer's state (moments, step count).
    pub optimizer: OptimizerState,
    /// Optimizer steps taken.
    pub step: u64,
    /// The epoch to run next.
    pub next_epoch: u64,
    /// The history so far.
    pub history: History,
    /// The stuck detector's current run of stalled steps.
    pub stuck_run: usize,
    /// How many times the stuck detector has fired.
    pub stuck_events: usize,
    /// The curvature instrument's last top eigenvector, Lanczos's warm start for its next
    /// measurement (format 3); `None` before the first measurement, without the
    /// instrument, or in an older file (a resumed run then starts Lanczos afresh).
    #[serde(default)]
    pub curvature_start: Option<Vec<f64>>,
}

impl Checkpoint {
    /// The current format version: 2 adds the buffers, 3 the curvature instrument's warm
    /// start. Formats 1 and 2 are still read (as a checkpoint without buffers, and
    /// without a warm start), so older runs resume.
    pub const FORMAT: u32 = 3;

    /// Writes the checkpoint to a temporary file beside `path`, then renames it over
    /// `path`: a crash leaves the previous checkpoint intact.
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        let fail = |message: String| TrainError::Checkpoint {
            path: path.to_path_buf(),
            message,
        };
        let json = serde_json::to_vec(self).map_err(|e| fail(e.to_string()))?;
        unstuck_core::write_atomic(path, &json).map_err(|e| fail(e.to_string()))
    }

    /// Reads a checkpoint written by [`Checkpoint::save`].
    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let fail = |message: String| TrainError::Checkpoint {
            path: path.to_path_buf(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let checkpoint: Checkpoint =
            serde_json::from_slice(&bytes).map_err(|e| fail(format!("malformed: {e}")))?;
        if !(1..=Self::FORMAT).contains(&checkpoint.format) {
            return Err(fail(format!(
                "format {} is not one of the supported 1 to {}",
                checkpoint.format,
                Self::FORMAT
            )));
        }
        Ok(checkpoint)
    }
}

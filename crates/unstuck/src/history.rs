//! What a training run records.

use serde::{Deserialize, Serialize};
use unstuck_hessian::CriticalPointKind;

/// One optimizer step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The step (0-based, counted over the whole run).
    pub step: u64,
    /// The epoch it belongs to.
    pub epoch: u64,
    /// The mini-batch loss before the update.
    pub loss: f64,
    /// The mini-batch gradient's Euclidean norm.
    pub grad_norm: f64,
    /// The learning rate used for this step.
    pub lr: f64,
}

/// One epoch's evaluation on the full training and validation sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The epoch (0-based).
    pub epoch: u64,
    /// Loss on the whole training set after the epoch.
    pub train_loss: f64,
    /// Accuracy on the whole training set (classification losses only).
    pub train_accuracy: Option<f64>,
    /// Loss on the validation set, if one was given.
    pub validation_loss: Option<f64>,
    /// Accuracy on the validation set, if one was given and the loss classifies.
    pub validation_accuracy: Option<f64>,
    /// Wall time of the epoch in seconds; the only field that differs between runs.
    pub seconds: f64,
}

/// Something the trainer noticed or did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// The gradient norm stayed under the tolerance while the loss stayed high.
    Stuck {
        /// The step at which the detector fired.
        step: u64,
        /// Full-training-set loss at that point.
        loss: f64,
        /// Full-training-set gradient norm.
        grad_norm: f64,
        /// The second-order verdict (`saddle`, `strict_local_min`, ...): from every
        /// eigenvalue of a small model, from the Lanczos extremes of a large one.
        classification: Option<CriticalPointKind>,
        /// The smallest Hessian eigenvalue (a Lanczos upper bound for a large model).
        min_eigenvalue: Option<f64>,
        /// The lecture's minimum ratio (fraction of positive eigenvalues), when every
        /// eigenvalue was computed.
        minimum_ratio: Option<f64>,
    },
    /// A step along the most negative eigenvector that lowered the loss.
    Escaped {
        /// The step after which it was taken.
        step: u64,
        /// Full-training-set loss before.
        loss_before: f64,
        /// Full-training-set loss after.
        loss_after: f64,
        /// The step length along the unit eigenvector.
        alpha: f64,
    },
}

/// Everything a run recorded, serializable to JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Per step.
    pub steps: Vec<StepRecord>,
    /// Per epoch.
    pub epochs: Vec<EpochRecord>,
    /// Stuck detections and escapes.
    pub events: Vec<Event>,
}

impl History {
    /// JSON, pretty-printed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a History always serializes")
    }

    /// The same history with wall times zeroed: two runs with the same seed compare equal.
    pub fn without_timings(&self) -> History {
        let mut copy = self.clone();
        for epoch in &mut copy.epochs {
            epoch.seconds = 0.0;
        }
        copy
    }

    /// The last recorded training loss (per epoch), if any.
    pub fn final_train_loss(&self) -> Option<f64> {
        self.epochs.last().map(|e| e.train_loss)
    }
}

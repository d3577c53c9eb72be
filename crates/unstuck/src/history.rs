//! What a training run records.

mod block_values;

pub use block_values::BlockValues;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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

/// The gradient-only instruments of one step (`norms`): per tensor (by `state_dict`
/// name) `grad_norm/NAME`, `weight_norm/NAME` and `update_ratio/NAME` (`|Δθ| / |θ|` of the
/// step), the dead ReLU fraction and the logit scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormsRecord {
    /// The step.
    pub step: u64,
    /// The mean over the batch of each example's largest `|logit|`.
    pub logit_scale: f64,
    /// The fraction of ReLU units that are zero for the whole batch (`None` without ReLU).
    pub dead_relu_fraction: Option<f64>,
    /// The per-tensor series, named `KIND/NAME` (in JSON, one key each beside `step`).
    #[serde(flatten)]
    pub blocks: BlockValues,
}

/// The gradient noise of one step (`noise`), from per-example gradients: unbiased
/// estimates of `|G|²` and `tr(Σ)`, the simple noise scale, and per tensor
/// `variance/NAME` (`tr(Σ_b)`) and `snr/NAME` (mean per-parameter `ḡ²/σ²`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoiseRecord {
    /// The step.
    pub step: u64,
    /// The examples in the batch.
    pub batch_size: usize,
    /// The unbiased estimate of the true gradient's squared norm (may be negative).
    pub grad_sq: f64,
    /// The unbiased estimate of the per-example gradient covariance's trace.
    pub trace_sigma: f64,
    /// `trace_sigma / grad_sq` when `grad_sq > 0`.
    pub b_simple: Option<f64>,
    /// Tensors without per-example gradients, left out of every sum.
    pub excluded: Vec<String>,
    /// The per-tensor series, named `KIND/NAME`.
    #[serde(flatten)]
    pub blocks: BTreeMap<String, f64>,
}

/// Step quality along the update (`alpha`, Cockpit's α).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlphaRecord {
    /// The step.
    pub step: u64,
    /// Where the step landed on the fitted parabola: -1 stayed, 0 minimum, +1 the other
    /// side at the same height; `None` for a step of length 0.
    pub alpha: Option<f64>,
    /// The fitted parabola opens downwards (α is then -1, Cockpit's convention).
    pub concave: bool,
    /// The batch loss before the step.
    pub loss_before: f64,
    /// The same batch's loss after the step.
    pub loss_after: f64,
    /// The directional derivative along the unit step direction before the step.
    pub slope_before: f64,
    /// The same after the step.
    pub slope_after: f64,
    /// `|θ₁ - θ₀|`.
    pub step_length: f64,
}

/// Curvature at one step (`curvature`), on the step's batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvatureRecord {
    /// The step.
    pub step: u64,
    /// The largest Hessian eigenvalue (Lanczos, warm-started).
    pub lambda_max: f64,
    /// Its Ritz residual bound.
    pub residual: f64,
    /// Lanczos steps (Hessian-vector products) used.
    pub lanczos_steps: usize,
    /// The learning rate of the step.
    pub lr: f64,
    /// `lambda_max * lr`.
    pub lambda_max_lr: f64,
    /// Plain gradient descent's stability limit for `lambda_max_lr`, 2.
    pub stability_limit: f64,
    /// Hutchinson's estimate of the Hessian trace.
    pub trace: Option<f64>,
    /// Its standard error.
    pub trace_std_error: Option<f64>,
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
    /// The `norms` instrument's records.
    #[serde(default)]
    pub norms: Vec<NormsRecord>,
    /// The `noise` instrument's records.
    #[serde(default)]
    pub noise: Vec<NoiseRecord>,
    /// The `alpha` instrument's records.
    #[serde(default)]
    pub alpha: Vec<AlphaRecord>,
    /// The `curvature` instrument's records.
    #[serde(default)]
    pub curvature: Vec<CurvatureRecord>,
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

/// One line of a history written as it happens (JSON Lines, `history.jsonl` in a run
/// folder): one record, tagged with its kind (`{"step": {...}}`, `{"epoch": {...}}`,
/// `{"event": {...}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryLine {
    /// A [`StepRecord`].
    Step(StepRecord),
    /// An [`EpochRecord`].
    Epoch(EpochRecord),
    /// An [`Event`].
    Event(Event),
    /// A [`NormsRecord`].
    Norms(NormsRecord),
    /// A [`NoiseRecord`].
    Noise(NoiseRecord),
    /// An [`AlphaRecord`].
    Alpha(AlphaRecord),
    /// A [`CurvatureRecord`].
    Curvature(CurvatureRecord),
}

/// How many records of each kind a [`History`] holds: the point from which
/// [`History::json_lines_since`] continues.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryMark {
    /// Step records.
    pub steps: usize,
    /// Epoch records.
    pub epochs: usize,
    /// Events.
    pub events: usize,
    /// Instrument records: norms, noise, alpha, curvature.
    #[serde(default)]
    pub instruments: [usize; 4],
}

/// A line of JSON Lines history that is not a record.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct HistoryLineError {
    /// The line (1-based).
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl History {
    /// How many records of each kind are here.
    pub fn mark(&self) -> HistoryMark {
        HistoryMark {
            steps: self.steps.len(),
            epochs: self.epochs.len(),
            events: self.events.len(),
            instruments: [
                self.norms.len(),
                self.noise.len(),
                self.alpha.len(),
                self.curvature.len(),
            ],
        }
    }

    /// The records added since `mark` as JSON Lines (each line ends in `\n`): the steps,
    /// the instruments' records (norms, noise, alpha, curvature), the events, then the
    /// epochs. Appending this after every epoch gives a file
    /// that [`History::from_json_lines`] reads back into this history.
    pub fn json_lines_since(&self, mark: HistoryMark) -> String {
        let mut text = String::new();
        let steps = self
            .steps
            .iter()
            .skip(mark.steps)
            .cloned()
            .map(HistoryLine::Step);
        let events = self
            .events
            .iter()
            .skip(mark.events)
            .cloned()
            .map(HistoryLine::Event);
        let epochs = self
            .epochs
            .iter()
            .skip(mark.epochs)
            .cloned()
            .map(HistoryLine::Epoch);
        let [norms, noise, alpha, curvature] = mark.instruments;
        let instruments = (self
            .norms
            .iter()
            .skip(norms)
            .cloned()
            .map(HistoryLine::Norms))
        .chain(
            self.noise
                .iter()
                .skip(noise)
                .cloned()
                .map(HistoryLine::Noise),
        )
        .chain(
            self.alpha
                .iter()
                .skip(alpha)
                .cloned()
                .map(HistoryLine::Alpha),
        )
        .chain((self.curvature.iter().skip(curvature).cloned()).map(HistoryLine::Curvature));
        for line in steps.chain(instruments).chain(events).chain(epochs) {
            text.push_str(&serde_json::to_string(&line).expect("a history line always serializes"));
            text.push('\n');
        }
        text
    }

    /// Reads JSON Lines written by [`History::json_lines_since`]. A last line without its
    /// `\n` is a record still being written and is left out; any other line that is not a
    /// record is an error naming the line.
    pub fn from_json_lines(text: &str) -> Result<History, HistoryLineError> {
        let mut history = History::default();
        let complete = match text.rfind('\n') {
            Some(end) => &text[..=end],
            None => "",
        };
        for (index, line) in complete.lines().enumerate() {
            let record: HistoryLine =
                serde_json::from_str(line).map_err(|error| HistoryLineError {
                    line: index + 1,
                    message: error.to_string(),
                })?;
            match record {
                HistoryLine::Step(step) => history.steps.push(step),
                HistoryLine::Epoch(epoch) => history.epochs.push(epoch),
                HistoryLine::Event(event) => history.events.push(event),
                HistoryLine::Norms(record) => history.norms.push(record),
                HistoryLine::Noise(record) => history.noise.push(record),
                HistoryLine::Alpha(record) => history.alpha.push(record),
                HistoryLine::Curvature(record) => history.curvature.push(record),
            }
        }
        Ok(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> History {
        History {
            steps: (0..3)
                .map(|step| StepRecord {
                    step,
                    epoch: step / 2,
                    loss: 1.0 / (step as f64 + 3.0),
                    grad_norm: 0.1 + step as f64,
                    lr: 1e-3,
                })
                .collect(),
            epochs: vec![EpochRecord {
                epoch: 0,
                train_loss: 0.1 + 0.2,
                train_accuracy: Some(0.75),
                validation_loss: None,
                validation_accuracy: None,
                seconds: 0.5,
            }],
            events: vec![Event::Escaped {
                step: 1,
                loss_before: 0.5,
                loss_after: 0.25,
                alpha: 1e-3,
            }],
            norms: vec![NormsRecord {
                step: 1,
                logit_scale: 2.5,
                dead_relu_fraction: Some(0.25),
                blocks: BlockValues::from(BTreeMap::from([(
                    "grad_norm/0.weight".to_string(),
                    0.5,
                )])),
            }],
            curvature: vec![CurvatureRecord {
                step: 0,
                lambda_max: 3.0,
                residual: 1e-6,
                lanczos_steps: 7,
                lr: 0.1,
                lambda_max_lr: 0.30000000000000004,
                stability_limit: 2.0,
                trace: None,
                trace_std_error: None,
            }],
            ..History::default()
        }
    }

    #[test]
    fn json_lines_written_in_pieces_read_back_exactly() {
        let history = sample();
        let mut partial = history.clone();
        partial.steps.truncate(1);
        partial.epochs.clear();
        partial.events.clear();
        partial.norms.clear();
        let text = partial.json_lines_since(HistoryMark::default())
            + &history.json_lines_since(partial.mark());
        assert_eq!(History::from_json_lines(&text).unwrap(), history);
    }

    #[test]
    fn a_line_still_being_written_is_left_out_and_a_bad_line_is_named() {
        let history = sample();
        let text = history.json_lines_since(HistoryMark::default());
        let cut = &text[..text.len() - 5];
        let read = History::from_json_lines(cut).unwrap();
        assert_eq!(read.epochs.len(), 0);
        assert_eq!(read.steps, history.steps);
        let bad = format!("{text}{{\"step\": 3}}\n");
        let error = History::from_json_lines(&bad).unwrap_err();
        assert_eq!(error.line, 8);
    }
}

//! Per-example scores of a trained model: the loss of every row, whether it was
//! classified correctly, and the logits' scale. Every mean the diagnosis prints and every
//! interval it computes comes from these.

use crate::TrainError;
use unstuck_autodiff::{Tape, Tensor};
use unstuck_data::{Dataset, Targets};
use unstuck_models::{Loss, Model, Pass};

/// One model on one set of rows, row by row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scores {
    /// The loss of each row; their mean is the set's loss.
    pub(crate) losses: Vec<f64>,
    /// 1 for a row classified correctly, else 0 (classification only).
    pub(crate) correct: Option<Vec<f64>>,
    /// The predicted class of each row (classification only).
    pub(crate) predictions: Option<Vec<usize>>,
    /// Root mean square of the logits.
    pub(crate) logit_rms: f64,
}

impl Scores {
    pub(crate) fn loss(&self) -> f64 {
        mean(&self.losses)
    }

    pub(crate) fn accuracy(&self) -> Option<f64> {
        self.correct.as_deref().map(mean)
    }
}

pub(crate) fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// `ln(1 + e^x)` without overflow.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// Scores `model` at `theta` on every row of `data`, in eval mode with `buffers` (the
/// running statistics the trainer kept), as PyTorch's `model.eval()` would.
pub(crate) fn score(
    model: &dyn Model<f64>,
    theta: &[f64],
    buffers: &[f64],
    data: &Dataset<f64>,
    loss: Loss,
) -> Result<Scores, TrainError> {
    let tape = Tape::new();
    let theta_var = tape.constant(Tensor::vector(theta.to_vec()));
    let x = tape.constant(
        Tensor::matrix(data.features().to_vec(), data.n_rows(), data.n_features())
            .map_err(unstuck_models::ModelError::from)?,
    );
    let mut pass = Pass::eval(buffers);
    let logits = tape.value(model.forward_pass(&tape, theta_var, x, &mut pass));
    let width = logits.dims().last().copied().unwrap_or(1).max(1);
    let values = logits.data();
    let logit_rms = (values.iter().map(|z| z * z).sum::<f64>() / values.len().max(1) as f64).sqrt();
    let rows = values.chunks_exact(width);
    let (losses, correct, predictions) = match data.targets() {
        Targets::Classes { labels, .. } => {
            let mut losses = Vec::with_capacity(labels.len());
            let mut predictions = Vec::with_capacity(labels.len());
            for (row, &label) in rows.zip(labels) {
                let (row_loss, predicted) = if width == 1 {
                    let z = row[0];
                    let y = if label == 1 { 1.0 } else { 0.0 };
                    (softplus(z) - z * y, usize::from(z > 0.0))
                } else {
                    let peak = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let log_sum = peak + row.iter().map(|z| (z - peak).exp()).sum::<f64>().ln();
                    let predicted = row
                        .iter()
                        .enumerate()
                        .fold((0, f64::NEG_INFINITY), |best, (j, &z)| {
                            if z > best.1 { (j, z) } else { best }
                        })
                        .0;
                    (log_sum - row[label], predicted)
                };
                losses.push(row_loss);
                predictions.push(predicted);
            }
            let correct = predictions
                .iter()
                .zip(labels)
                .map(|(p, l)| if p == l { 1.0 } else { 0.0 })
                .collect();
            (losses, Some(correct), Some(predictions))
        }
        Targets::Real {
            values: targets, ..
        } => {
            let losses = rows
                .zip(targets.chunks_exact(width))
                .map(|(row, target)| {
                    row.iter()
                        .zip(target)
                        .map(|(z, y)| (z - y) * (z - y))
                        .sum::<f64>()
                        / width as f64
                })
                .collect();
            (losses, None, None)
        }
    };
    if losses.iter().any(|l: &f64| !l.is_finite()) && loss.is_classification() {
        // Non-finite logits (a diverged run's last point is finite by construction, so
        // this is the data's doing): report it rather than average infinities.
        return Err(TrainError::InvalidSetting {
            setting: "the data",
            problem: "a model's loss on it is not finite".into(),
        });
    }
    Ok(Scores {
        losses,
        correct,
        predictions,
        logit_rms,
    })
}

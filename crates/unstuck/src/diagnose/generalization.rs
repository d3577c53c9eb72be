//! The held-out branch's evidence: how far the held-out losses sit above the training
//! loss, how the validation loss moved over the epochs, and whether the held-out
//! features come from the training distribution at all.

use super::run::Trained;
use super::two_sample::{TwoSampleSettings, TwoSampleTest, two_sample_test};
use super::{DiagnoseConfig, DiagnoseData};
use crate::TrainError;
use serde::{Deserialize, Serialize};

/// What the held-out branch measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneralizationEvidence {
    /// Validation loss minus training loss, at the end.
    pub validation_gap: f64,
    /// Test loss minus training loss, at the end, if a test set was given.
    pub test_gap: Option<f64>,
    /// The epoch with the lowest validation loss (where early stopping would stop).
    pub best_epoch: u64,
    /// That lowest validation loss.
    pub best_validation_loss: f64,
    /// How much the validation loss rose from its lowest point to the end.
    pub validation_growth: f64,
    /// Training features against held-out features (test if given, else validation).
    pub two_sample: TwoSampleTest,
}

/// Reads the gaps off the user's run and runs the two-sample test.
pub(crate) fn investigate(
    user: &Trained,
    data: &DiagnoseData<'_>,
    config: &DiagnoseConfig,
) -> Result<GeneralizationEvidence, TrainError> {
    let summary = &user.summary;
    let train_loss = summary.train.loss;
    let final_validation = summary.validation.loss;
    let (best_epoch, best_validation_loss) = user
        .history
        .epochs
        .iter()
        .filter_map(|epoch| epoch.validation_loss.map(|loss| (epoch.epoch, loss)))
        // The first minimum: ties keep the earlier epoch.
        .fold(None, |best: Option<(u64, f64)>, (epoch, loss)| match best {
            Some((_, best_loss)) if best_loss <= loss => best,
            _ => Some((epoch, loss)),
        })
        .unwrap_or((0, final_validation));
    let (compared_with, held_out) = match data.test {
        Some(test) => ("test", test),
        None => ("validation", data.validation),
    };
    let settings = TwoSampleSettings {
        max_rows: config.reference.two_sample_max_rows,
        width: config.reference.two_sample_width,
        epochs: config.reference.two_sample_epochs,
        seed: config.seed,
        alpha: config.thresholds.two_sample_alpha,
        min_accuracy: config.thresholds.two_sample_min_accuracy,
    };
    Ok(GeneralizationEvidence {
        validation_gap: final_validation - train_loss,
        test_gap: summary.test.map(|test| test.loss - train_loss),
        best_epoch,
        best_validation_loss,
        validation_growth: (final_validation - best_validation_loss).max(0.0),
        two_sample: two_sample_test(data.train, held_out, compared_with, settings)?,
    })
}

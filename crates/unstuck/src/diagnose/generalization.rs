//! The held-out branch's evidence: how far the held-out losses sit above the training
//! loss (with bootstrap intervals, and the accuracies beside them), how the validation
//! loss moved over the epochs, and whether the held-out features come from the training
//! distribution at all.

use super::run::Trained;
use super::stats::{Interval, independent_difference};
use super::two_sample::{TwoSampleSettings, TwoSampleTest, two_sample_test};
use super::{DiagnoseConfig, DiagnoseData, Registries};
use crate::TrainError;
use serde::{Deserialize, Serialize};
use unstuck_models::mix_seeds;

/// What the held-out branch measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneralizationEvidence {
    /// Validation loss minus training loss, at the end, with its interval (the two sets
    /// resampled independently).
    pub validation_gap: Interval,
    /// Test loss minus training loss, if a test set was given.
    pub test_gap: Option<Interval>,
    /// Test loss minus validation loss: a test-only gap means mismatch only when this is
    /// significant (the validation and test gaps are two noisy estimates of the same
    /// thing when both sets come from the same distribution).
    pub test_minus_validation: Option<Interval>,
    /// Training accuracy minus validation accuracy (classification).
    pub validation_accuracy_gap: Option<Interval>,
    /// Training accuracy minus test accuracy (classification, with a test set).
    pub test_accuracy_gap: Option<Interval>,
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
    registries: &Registries,
) -> Result<GeneralizationEvidence, TrainError> {
    let final_validation = user.summary.validation.loss;
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
    let scores = &user.scores;
    let seed = |tag: u64| mix_seeds(config.seed, tag);
    let accuracy_gap = |held: Option<&Vec<f64>>, tag: u64| match (&scores.train.correct, held) {
        (Some(train), Some(held)) => Some(independent_difference(train, held, seed(tag))),
        _ => None,
    };
    Ok(GeneralizationEvidence {
        validation_gap: independent_difference(
            &scores.validation.losses,
            &scores.train.losses,
            seed(11),
        ),
        test_gap: scores
            .test
            .as_ref()
            .map(|test| independent_difference(&test.losses, &scores.train.losses, seed(12))),
        test_minus_validation: scores
            .test
            .as_ref()
            .map(|test| independent_difference(&test.losses, &scores.validation.losses, seed(13))),
        validation_accuracy_gap: accuracy_gap(scores.validation.correct.as_ref(), 14),
        test_accuracy_gap: accuracy_gap(scores.test.as_ref().and_then(|t| t.correct.as_ref()), 15),
        best_epoch,
        best_validation_loss,
        validation_growth: (final_validation - best_validation_loss).max(0.0),
        two_sample: two_sample_test(data.train, held_out, compared_with, settings, registries)?,
    })
}

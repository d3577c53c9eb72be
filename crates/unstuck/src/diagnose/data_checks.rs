//! Checks of the data before the guide: duplicated rows, rows shared between the
//! training and held-out sets (a leak), constant or unscaled features, class imbalance;
//! and, once the models are trained, a collapse onto the majority class and held-out
//! accuracy at chance ("check the labels").

use super::DiagnoseData;
use super::stats::{binomial_upper_tail, wilson};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use unstuck_data::Dataset;

/// A fraction of held-out rows found in the training set at or above this is a leak.
/// A few exact repeats happen in quantised data (8x8 digits); a twentieth does not.
pub const LEAK_FRACTION: f64 = 0.05;
/// A fraction of duplicated training rows at or above this is reported.
pub const DUPLICATE_FRACTION: f64 = 0.05;
/// A feature whose mean or standard deviation exceeds this in absolute value, or a set
/// whose largest standard deviation is this squared times its smallest, is unscaled:
/// gradient descent then sees a badly conditioned problem (the lecture's error surface
/// with very different slopes along different parameters).
pub const SCALE_LIMIT: f64 = 10.0;
/// Classes are imbalanced when the majority holds at least this share of the rows.
pub const IMBALANCE_SHARE: f64 = 0.8;
/// The model collapsed onto the majority class when it predicts it for at least this
/// share of the held-out rows while the true share is lower by more than 0.1.
pub const COLLAPSE_SHARE: f64 = 0.95;
/// Held-out accuracy is at chance when the one-sided binomial test against the majority
/// share does not reject at this level ...
pub const CHANCE_ALPHA: f64 = 0.01;
/// ... and the accuracy's 95% Wilson interval rules out beating the majority share by
/// this much: a small validation set that cannot tell is not "at chance".
pub const CHANCE_MARGIN: f64 = 0.1;

/// A problem the checks found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataIssue {
    /// Many training rows are exact copies of others.
    DuplicateRows,
    /// Held-out rows also appear in the training set: held-out losses are optimistic.
    Leak,
    /// Some features never change.
    ConstantFeatures,
    /// Features far from unit scale (not standardised).
    UnscaledFeatures,
    /// One class holds most of the rows.
    ClassImbalance,
    /// The user's model predicts the majority class for nearly every held-out row.
    MajorityCollapse,
    /// No trained model beats the majority share on held-out rows.
    ChanceAccuracy,
}

/// One finding of the checks, in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataWarning {
    /// What was found.
    pub issue: DataIssue,
    /// The finding with its numbers.
    pub message: String,
}

/// What the data checks measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataChecks {
    /// Training rows.
    pub n_train: usize,
    /// Training rows whose features repeat an earlier training row.
    pub duplicate_train_rows: usize,
    /// Validation rows whose features appear in the training set.
    pub validation_rows_in_train: usize,
    /// Test rows whose features appear in the training set.
    pub test_rows_in_train: Option<usize>,
    /// Features constant over the training set.
    pub constant_features: Vec<usize>,
    /// Largest absolute feature mean on the training set.
    pub max_abs_mean: f64,
    /// Smallest and largest standard deviation of the non-constant features.
    pub std_range: (f64, f64),
    /// Share of each class in the training set (classification).
    pub class_shares: Option<Vec<f64>>,
    /// How far the best validation accuracy's 95% upper bound sits below the majority
    /// share plus `CHANCE_MARGIN` (positive: at chance; classification).
    pub chance_margin: Option<f64>,
    /// What was found.
    pub warnings: Vec<DataWarning>,
}

impl DataChecks {
    /// Whether `issue` was found.
    pub fn has(&self, issue: DataIssue) -> bool {
        self.warnings.iter().any(|w| w.issue == issue)
    }

    /// The training set's majority share (classification).
    pub fn majority_share(&self) -> Option<f64> {
        self.class_shares
            .as_ref()
            .map(|shares| shares.iter().copied().fold(0.0, f64::max))
    }

    fn warn(&mut self, issue: DataIssue, message: String) {
        self.warnings.push(DataWarning { issue, message });
    }
}

/// A row's features as bit patterns (with -0 read as 0), for exact comparisons.
pub(crate) fn row_key(row: &[f64]) -> Vec<u64> {
    row.iter().map(|&v| (v + 0.0).to_bits()).collect()
}

/// How many rows of `held_out` have features equal to some row of `seen`.
fn shared_rows(seen: &HashSet<Vec<u64>>, held_out: &Dataset<f64>) -> usize {
    held_out
        .features()
        .chunks_exact(held_out.n_features().max(1))
        .filter(|row| seen.contains(&row_key(row)))
        .count()
}

/// The checks that need only the data.
pub(crate) fn check(data: &DiagnoseData<'_>) -> DataChecks {
    let train = data.train;
    let d = train.n_features().max(1);
    let mut seen = HashSet::with_capacity(train.n_rows());
    let mut duplicates = 0;
    for row in train.features().chunks_exact(d) {
        if !seen.insert(row_key(row)) {
            duplicates += 1;
        }
    }
    let n = train.n_rows() as f64;
    let mut constant = Vec::new();
    let (mut max_abs_mean, mut low, mut high) = (0.0f64, f64::INFINITY, 0.0f64);
    for feature in 0..d {
        let column = train.features().iter().skip(feature).step_by(d);
        let mean = column.clone().sum::<f64>() / n;
        let std = (column.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
        max_abs_mean = max_abs_mean.max(mean.abs());
        if std <= 1e-12 * mean.abs().max(1.0) {
            constant.push(feature);
        } else {
            low = low.min(std);
            high = high.max(std);
        }
    }
    if !low.is_finite() {
        low = 0.0;
    }
    let class_shares = train
        .class_counts()
        .map(|counts| counts.iter().map(|&c| c as f64 / n).collect::<Vec<f64>>());
    let mut checks = DataChecks {
        n_train: train.n_rows(),
        duplicate_train_rows: duplicates,
        validation_rows_in_train: shared_rows(&seen, data.validation),
        test_rows_in_train: data.test.map(|test| shared_rows(&seen, test)),
        constant_features: constant,
        max_abs_mean,
        std_range: (low, high),
        class_shares,
        chance_margin: None,
        warnings: Vec::new(),
    };
    let share = duplicates as f64 / n;
    if share >= DUPLICATE_FRACTION {
        checks.warn(
            DataIssue::DuplicateRows,
            format!(
                "{duplicates} of the {} training rows ({:.0}%) repeat another row",
                train.n_rows(),
                100.0 * share
            ),
        );
    }
    let held = [
        (
            "validation",
            Some(checks.validation_rows_in_train),
            Some(data.validation),
        ),
        ("test", checks.test_rows_in_train, data.test),
    ];
    for (name, shared, set) in held {
        let (Some(shared), Some(set)) = (shared, set) else {
            continue;
        };
        let fraction = shared as f64 / set.n_rows().max(1) as f64;
        if fraction >= LEAK_FRACTION {
            checks.warn(
                DataIssue::Leak,
                format!(
                    "{shared} of the {} {name} rows ({:.0}%) also appear in the training set: the {name} loss is optimistic (a leak between the splits)",
                    set.n_rows(),
                    100.0 * fraction
                ),
            );
        }
    }
    if !checks.constant_features.is_empty() {
        let count = checks.constant_features.len();
        checks.warn(
            DataIssue::ConstantFeatures,
            format!(
                "{count} of the {d} features are constant on the training set and carry nothing"
            ),
        );
    }
    if max_abs_mean > SCALE_LIMIT
        || high > SCALE_LIMIT
        || (low > 0.0 && high / low > SCALE_LIMIT * SCALE_LIMIT)
    {
        checks.warn(
            DataIssue::UnscaledFeatures,
            format!(
                "the features are not standardised: means up to {max_abs_mean:.3}, standard deviations from {low:.3e} to {high:.3e}"
            ),
        );
    }
    if let Some(majority) = checks.majority_share().filter(|&m| m >= IMBALANCE_SHARE) {
        checks.warn(
            DataIssue::ClassImbalance,
            format!(
                "the majority class holds {:.0}% of the training rows: accuracy near that share is what predicting it always gives",
                100.0 * majority
            ),
        );
    }
    checks
}

/// The checks that need trained models: the user's predictions on the validation set,
/// and the best validation accuracy any trained model reached.
pub(crate) fn check_predictions(
    checks: &mut DataChecks,
    validation: &Dataset<f64>,
    user_predictions: Option<&[usize]>,
    best_validation_accuracy: Option<(f64, &str)>,
) {
    let (Some(shares), Some(labels)) = (checks.class_shares.clone(), validation.labels()) else {
        return;
    };
    let majority = shares
        .iter()
        .enumerate()
        .fold(
            (0, 0.0),
            |best, (class, &share)| if share > best.1 { (class, share) } else { best },
        )
        .0;
    let m = labels.len().max(1);
    let true_share = labels.iter().filter(|&&l| l == majority).count() as f64 / m as f64;
    if let Some(predictions) = user_predictions {
        let predicted_share =
            predictions.iter().filter(|&&p| p == majority).count() as f64 / m as f64;
        if predicted_share >= COLLAPSE_SHARE && true_share < predicted_share - 0.1 {
            checks.warn(
                DataIssue::MajorityCollapse,
                format!(
                    "your model predicts the majority class {majority} for {:.0}% of the validation rows, which hold {:.0}% of it: it collapsed onto the majority class",
                    100.0 * predicted_share,
                    100.0 * true_share
                ),
            );
        }
    }
    if let Some((accuracy, who)) = best_validation_accuracy {
        let chance = shares.iter().copied().fold(0.0, f64::max);
        let correct = (accuracy * m as f64).round() as usize;
        let p_value = binomial_upper_tail(m, correct, chance);
        let interval = wilson(correct, m);
        checks.chance_margin = Some(chance + CHANCE_MARGIN - interval.high);
        if p_value >= CHANCE_ALPHA && interval.high < chance + CHANCE_MARGIN {
            checks.warn(
                DataIssue::ChanceAccuracy,
                format!(
                    "the best validation accuracy of any model trained ({accuracy:.3}, the {who}) does not beat the majority share {chance:.3} (binomial p = {p_value:.2}; 95% interval up to {:.3}): check the labels",
                    interval.high
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(rows: &[[f64; 2]], labels: &[usize]) -> Dataset<f64> {
        Dataset::classification(rows.concat(), 2, labels.to_vec(), 2).unwrap()
    }

    #[test]
    fn leaks_duplicates_and_scale_are_found() {
        let train = set(
            &[[0.0, 100.0], [1.0, 300.0], [1.0, 300.0], [2.0, 200.0]],
            &[0, 1, 1, 0],
        );
        let validation = set(&[[0.0, 100.0], [5.0, 5.0]], &[0, 1]);
        let data = DiagnoseData {
            train: &train,
            validation: &validation,
            test: None,
        };
        let checks = check(&data);
        assert_eq!(checks.duplicate_train_rows, 1);
        assert_eq!(checks.validation_rows_in_train, 1);
        assert!(checks.has(DataIssue::Leak) && checks.has(DataIssue::DuplicateRows));
        assert!(checks.has(DataIssue::UnscaledFeatures), "{checks:?}");
        assert!(!checks.has(DataIssue::ClassImbalance));
    }

    #[test]
    fn collapse_and_chance_need_the_predictions() {
        let labels: Vec<usize> = (0..100).map(|i| usize::from(i % 10 < 3)).collect();
        let rows: Vec<[f64; 2]> = (0..100).map(|i| [i as f64 / 100.0, 0.5]).collect();
        let validation = set(&rows, &labels);
        let mut checks = check(&DiagnoseData {
            train: &validation,
            validation: &validation,
            test: None,
        });
        assert_eq!(checks.constant_features, vec![1]);
        let all_zero = vec![0; 100];
        // 70% is exactly the majority share: at chance.
        check_predictions(
            &mut checks,
            &validation,
            Some(&all_zero),
            Some((0.7, "user")),
        );
        assert!(checks.has(DataIssue::MajorityCollapse), "{checks:?}");
        assert!(checks.has(DataIssue::ChanceAccuracy));
        let mut better = check(&DiagnoseData {
            train: &validation,
            validation: &validation,
            test: None,
        });
        check_predictions(&mut better, &validation, None, Some((0.9, "user")));
        assert!(!better.has(DataIssue::ChanceAccuracy));
    }
}

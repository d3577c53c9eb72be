//! A classifier two-sample test: can a model tell training features from held-out ones?
//!
//! Under "same distribution" no classifier fitted on one half of the pooled rows can
//! beat a coin on the other, balanced half: its number of correct answers is then
//! (at most as spread as) Binomial(m, 1/2), since sampling the held-out rows without
//! replacement concentrates more than with it (Hoeffding, 1963). The p-value is that
//! binomial's upper tail at the observed count.

use super::run::evaluate;
use crate::{TrainConfig, TrainError, Trainer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use unstuck_data::{Dataset, Split, Standardizer};
use unstuck_models::{Activation, Loss, Mlp, Model};
use unstuck_optim::Registry;

/// The outcome of the two-sample test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwoSampleTest {
    /// Which held-out set was compared with the training set: `test` or `validation`.
    pub compared_with: String,
    /// Rows from each side used to fit the classifier.
    pub n_fit_per_side: usize,
    /// Rows from each side it was scored on.
    pub n_holdout_per_side: usize,
    /// Its accuracy on those rows (chance is 0.5: both sides are equally many).
    pub accuracy: f64,
    /// `P(Binomial(m, 1/2) >= correct)` with `m` the held-out rows.
    pub p_value: f64,
    /// Whether the test says the distributions differ (see `Thresholds`).
    pub distributions_differ: bool,
}

/// Settings of one test.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TwoSampleSettings {
    pub(crate) max_rows: usize,
    pub(crate) width: usize,
    pub(crate) epochs: u64,
    pub(crate) seed: u64,
    pub(crate) alpha: f64,
    pub(crate) min_accuracy: f64,
}

/// Draws the same number of rows from each side, fits a one-hidden-layer ReLU net on
/// half of them (features standardised on that half) and scores it on the other half.
pub(crate) fn two_sample_test(
    train: &Dataset<f64>,
    held_out: &Dataset<f64>,
    compared_with: &str,
    settings: TwoSampleSettings,
) -> Result<TwoSampleTest, TrainError> {
    if train.n_features() != held_out.n_features() {
        return Err(TrainError::PartMismatch {
            part: compared_with.to_string(),
            features: held_out.n_features(),
            outputs: held_out.n_outputs(),
            train_features: train.n_features(),
            train_outputs: train.n_outputs(),
        });
    }
    let per_side = train
        .n_rows()
        .min(held_out.n_rows())
        .min(settings.max_rows.max(2));
    if per_side < 2 {
        return Err(TrainError::TooFewRows {
            what: "the two-sample test",
            needed: 2,
            got: per_side,
        });
    }
    let n_fit = per_side / 2;
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let train_rows = sample(train.n_rows(), per_side, &mut rng);
    let held_rows = sample(held_out.n_rows(), per_side, &mut rng);
    let pooled = |take: std::ops::Range<usize>| -> Result<Dataset<f64>, TrainError> {
        let d = train.n_features();
        let mut features = Vec::with_capacity(2 * take.len() * d);
        let mut labels = Vec::with_capacity(2 * take.len());
        for (label, (data, rows)) in [(train, &train_rows), (held_out, &held_rows)]
            .into_iter()
            .enumerate()
        {
            for &row in &rows[take.clone()] {
                features.extend_from_slice(data.row(row).expect("sampled rows exist"));
                labels.push(label);
            }
        }
        Ok(Dataset::classification(features, d, labels, 2)?)
    };
    let mut parts = Split {
        train: pooled(0..n_fit)?,
        validation: None,
        test: Some(pooled(n_fit..per_side)?),
    };
    Standardizer::fit_split(&mut parts)?;
    let holdout = parts.test.expect("the held-out half is there");
    let accuracy = classifier_accuracy(&parts.train, &holdout, &settings)?;
    let m = holdout.n_rows();
    // accuracy is correct / m exactly, so rounding recovers the count.
    let correct = (accuracy * m as f64).round() as usize;
    let p_value = binomial_upper_tail(m, correct);
    Ok(TwoSampleTest {
        compared_with: compared_with.to_string(),
        n_fit_per_side: n_fit,
        n_holdout_per_side: per_side - n_fit,
        accuracy,
        p_value,
        distributions_differ: p_value < settings.alpha && accuracy >= settings.min_accuracy,
    })
}

/// Fits the one-hidden-layer ReLU classifier on `fit` and returns its accuracy on
/// `holdout`.
fn classifier_accuracy(
    fit: &Dataset<f64>,
    holdout: &Dataset<f64>,
    settings: &TwoSampleSettings,
) -> Result<f64, TrainError> {
    let model = Mlp::builder(&[fit.n_features(), settings.width.max(1), 2])
        .activation(Activation::Relu)
        .build()?;
    let config = TrainConfig {
        batch_size: 32.min(fit.n_rows()),
        epochs: settings.epochs,
        seed: settings.seed,
        loss: Loss::CrossEntropy,
        stuck: None,
        progress: false,
        ..TrainConfig::default()
    };
    let optimizer = Registry::<f64>::builtin().build("adam:lr=0.01")?;
    let mut trainer = Trainer::new(&model, optimizer, config, model.init(settings.seed))?;
    // A diverged classifier keeps its last finite parameters; it is scored as it is.
    match trainer.fit(fit, None) {
        Ok(_) | Err(TrainError::Diverged { .. }) => {}
        Err(other) => return Err(other),
    }
    Ok(
        evaluate(&model, holdout, Loss::CrossEntropy, trainer.theta())?
            .accuracy
            .unwrap_or(0.5),
    )
}

/// `count` distinct indices below `n`, in a seeded random order (partial Fisher-Yates).
fn sample(n: usize, count: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..n).collect();
    for i in 0..count.min(n) {
        let j = rng.random_range(i..n);
        indices.swap(i, j);
    }
    indices.truncate(count);
    indices
}

/// `P(X >= k)` for `X ~ Binomial(m, 1/2)`, summed in log space (exact up to rounding
/// for any `m`, no overflow).
pub(crate) fn binomial_upper_tail(m: usize, k: usize) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > m {
        return 0.0;
    }
    // ln C(m, j) for j = 0..=m by the recurrence C(m, j+1) = C(m, j) (m - j) / (j + 1).
    let mut log_choose = Vec::with_capacity(m + 1);
    let mut current = 0.0f64;
    log_choose.push(current);
    for j in 0..m {
        current += ((m - j) as f64).ln() - ((j + 1) as f64).ln();
        log_choose.push(current);
    }
    let terms = &log_choose[k..];
    let peak = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = terms.iter().map(|t| (t - peak).exp()).sum();
    (peak + sum.ln() - m as f64 * std::f64::consts::LN_2)
        .exp()
        .min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_tail_matches_small_cases_exactly() {
        // m = 4: P(X >= 3) = (4 + 1) / 16; P(X >= 4) = 1 / 16. Sums of a handful of
        // exp/ln round trips: 1e-14 is far above their rounding.
        assert!((binomial_upper_tail(4, 3) - 5.0 / 16.0).abs() < 1e-14);
        assert!((binomial_upper_tail(4, 4) - 1.0 / 16.0).abs() < 1e-14);
        assert_eq!(binomial_upper_tail(4, 0), 1.0);
        assert_eq!(binomial_upper_tail(4, 5), 0.0);
        // Symmetry: P(X >= m/2) for even m is 1/2 + P(X = m/2) / 2.
        let m = 1000;
        let middle = binomial_upper_tail(m, 500) - binomial_upper_tail(m, 501);
        assert!((binomial_upper_tail(m, 500) - (0.5 + middle / 2.0)).abs() < 1e-12);
        // Far in the tail it is tiny but not zero.
        let tail = binomial_upper_tail(m, 700);
        assert!(tail > 0.0 && tail < 1e-30, "{tail}");
    }
}

//! A classifier two-sample test: can a model tell training features from held-out ones?
//!
//! Under "same distribution" no classifier fitted on one half of the pooled rows can
//! beat a coin on the other, balanced half: its number of correct answers is then
//! (at most as spread as) Binomial(m, 1/2), since sampling the held-out rows without
//! replacement concentrates more than with it (Hoeffding, 1963). The p-value is that
//! binomial's upper tail at the observed count.
//!
//! The test runs on de-duplicated rows: exact repeats within a side, and held-out rows
//! that also appear in the training set (a leak), are dropped first, so that copies do
//! not read as "different distributions" (a classifier memorises them). It reports its
//! power to see a classifier accuracy of `min_accuracy`, and says "undetermined" below
//! [`MIN_POWER`] instead of "the features look alike".

use super::Registries;
use super::data_checks::row_key;
use super::scores::score;
use super::stats::{binomial_power, binomial_upper_tail};
use crate::{TrainConfig, TrainError, Trainer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use unstuck_data::{Dataset, Split, Standardizer};
use unstuck_models::variants::one_hidden_layer;
use unstuck_models::{Activation, Loss, Model};

/// Below this power a test that finds nothing is undetermined.
pub const MIN_POWER: f64 = 0.8;
/// Rows of the per-feature shift table.
const SHIFT_ROWS: usize = 5;

/// One feature's shift between the training and held-out rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureShift {
    /// The feature's index.
    pub feature: usize,
    /// Its mean on the training rows.
    pub train_mean: f64,
    /// Its mean on the held-out rows.
    pub held_out_mean: f64,
    /// The difference of the means over the pooled standard deviation (Cohen's d).
    pub standardized_difference: f64,
}

/// The outcome of the two-sample test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwoSampleTest {
    /// Which held-out set was compared with the training set: `test` or `validation`.
    pub compared_with: String,
    /// Distinct training rows available after de-duplication.
    pub n_train_distinct: usize,
    /// Distinct held-out rows not in the training set.
    pub n_held_out_distinct: usize,
    /// Rows from each side used to fit the classifier.
    pub n_fit_per_side: usize,
    /// Rows from each side it was scored on.
    pub n_holdout_per_side: usize,
    /// Its accuracy on those rows (chance is 0.5: both sides are equally many).
    pub accuracy: f64,
    /// `P(Binomial(m, 1/2) >= correct)` with `m` the held-out rows.
    pub p_value: f64,
    /// The chance that the test rejects when a classifier could reach `min_accuracy`.
    pub power: f64,
    /// Whether the test says the distributions differ (see `Thresholds`).
    pub distributions_differ: bool,
    /// No difference found, and too little power to say the features look alike.
    pub undetermined: bool,
    /// The features whose means moved most, largest first.
    pub shifts: Vec<FeatureShift>,
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

/// The rows of `data` whose features were not seen before (in `seen` or earlier in
/// `data`), in order; `seen` gains them.
fn distinct_rows(data: &Dataset<f64>, seen: &mut HashSet<Vec<u64>>) -> Vec<usize> {
    (0..data.n_rows())
        .filter(|&row| seen.insert(row_key(data.row(row).expect("row below n_rows"))))
        .collect()
}

/// Draws the same number of distinct rows from each side, fits a one-hidden-layer ReLU
/// net on half of them (features standardised on that half) and scores it on the other
/// half.
pub(crate) fn two_sample_test(
    train: &Dataset<f64>,
    held_out: &Dataset<f64>,
    compared_with: &str,
    settings: TwoSampleSettings,
    registries: &Registries,
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
    let mut seen = HashSet::new();
    let train_distinct = distinct_rows(train, &mut seen);
    let held_distinct = distinct_rows(held_out, &mut seen);
    let per_side = train_distinct
        .len()
        .min(held_distinct.len())
        .min(settings.max_rows.max(2));
    if per_side < 2 {
        return Err(TrainError::TooFewRows {
            what: "the two-sample test (distinct held-out rows not in the training set)",
            needed: 2,
            got: per_side,
        });
    }
    let n_fit = per_side / 2;
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let train_rows = sample(&train_distinct, per_side, &mut rng);
    let held_rows = sample(&held_distinct, per_side, &mut rng);
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
    let accuracy = classifier_accuracy(&parts.train, &holdout, &settings, registries)?;
    let m = holdout.n_rows();
    // accuracy is correct / m exactly, so rounding recovers the count.
    let correct = (accuracy * m as f64).round() as usize;
    let p_value = binomial_upper_tail(m, correct, 0.5);
    let power = binomial_power(m, 0.5, settings.min_accuracy, settings.alpha);
    let distributions_differ = p_value < settings.alpha && accuracy >= settings.min_accuracy;
    Ok(TwoSampleTest {
        compared_with: compared_with.to_string(),
        n_train_distinct: train_distinct.len(),
        n_held_out_distinct: held_distinct.len(),
        n_fit_per_side: n_fit,
        n_holdout_per_side: per_side - n_fit,
        accuracy,
        p_value,
        power,
        distributions_differ,
        undetermined: !distributions_differ && power < MIN_POWER,
        shifts: shifts(train, &train_distinct, held_out, &held_distinct),
    })
}

/// The features whose standardised mean moved most between the distinct rows.
fn shifts(
    train: &Dataset<f64>,
    train_rows: &[usize],
    held_out: &Dataset<f64>,
    held_rows: &[usize],
) -> Vec<FeatureShift> {
    let moments = |data: &Dataset<f64>, rows: &[usize], feature: usize| {
        let n = rows.len().max(1) as f64;
        let values = rows
            .iter()
            .map(|&r| data.row(r).expect("row below n_rows")[feature]);
        let mean = values.clone().sum::<f64>() / n;
        let variance = values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        (mean, variance)
    };
    let mut all: Vec<FeatureShift> = (0..train.n_features())
        .map(|feature| {
            let (train_mean, train_var) = moments(train, train_rows, feature);
            let (held_out_mean, held_var) = moments(held_out, held_rows, feature);
            let pooled = ((train_var + held_var) / 2.0).sqrt();
            let difference = held_out_mean - train_mean;
            FeatureShift {
                feature,
                train_mean,
                held_out_mean,
                standardized_difference: if pooled > 0.0 {
                    difference / pooled
                } else {
                    0.0
                },
            }
        })
        .collect();
    all.sort_by(|a, b| {
        b.standardized_difference
            .abs()
            .total_cmp(&a.standardized_difference.abs())
            .then(a.feature.cmp(&b.feature))
    });
    all.truncate(SHIFT_ROWS);
    all
}

/// Fits the one-hidden-layer ReLU classifier on `fit` and returns its accuracy on
/// `holdout`. It is diagnose's own tool, so it is built from the built-in registries.
fn classifier_accuracy(
    fit: &Dataset<f64>,
    holdout: &Dataset<f64>,
    settings: &TwoSampleSettings,
    registries: &Registries,
) -> Result<f64, TrainError> {
    let spec = one_hidden_layer(fit.n_features(), settings.width, 2, Activation::Relu)?;
    let model = registries.models.build(&spec)?;
    let model: &dyn Model<f64> = model.as_ref();
    let config = TrainConfig {
        batch_size: 32.min(fit.n_rows()),
        epochs: settings.epochs,
        seed: settings.seed,
        loss: Loss::CrossEntropy,
        stuck: None,
        progress: false,
        ..TrainConfig::default()
    };
    let optimizer = unstuck_optim::Registry::<f64>::builtin().build("adam:lr=0.01")?;
    let mut trainer = Trainer::new(model, optimizer, config, model.init(settings.seed))?;
    // A diverged classifier keeps its last finite parameters; it is scored as it is.
    match trainer.fit(fit, None) {
        Ok(_) | Err(TrainError::Diverged { .. }) => {}
        Err(other) => return Err(other),
    }
    let scores = score(
        model,
        trainer.theta(),
        trainer.buffers(),
        holdout,
        Loss::CrossEntropy,
    )?;
    Ok(scores.accuracy().unwrap_or(0.5))
}

/// `count` of `rows`, in a seeded random order (partial Fisher-Yates).
fn sample(rows: &[usize], count: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut indices = rows.to_vec();
    let n = indices.len();
    for i in 0..count.min(n) {
        let j = rng.random_range(i..n);
        indices.swap(i, j);
    }
    indices.truncate(count);
    indices
}

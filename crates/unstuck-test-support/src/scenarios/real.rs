//! Scenarios built from the bundled real data (the 8x8 digits and the breast-cancer
//! set), one or more per cause, plus a leak and shuffled labels:
//!
//! 1. **Model bias**: a 2-unit bottleneck (`64-2-10:relu`) on the digits.
//! 2. **Optimization**: plain SGD on the unscaled breast-cancer features (areas in the
//!    thousands): the step is far too large for the curvature and the run diverges.
//! 3. **Overfitting**: a wide net on a tenth of the digits, 30% of labels flipped.
//! 4. **Mismatch (covariate shift)**: tested on digits shifted two pixels right.
//! 5. **Mismatch (concept drift)**: breast-cancer test rows with their labels flipped:
//!    the features did not move, the rule did.
//! 6. **Healthy**: a small net on the digits.
//! 7. **Leak**: the healthy digits run with half of the validation rows copied from the
//!    training rows.
//! 8. **Shuffled labels**: breast-cancer labels permuted over the rows.

use super::{Scenario, Size, config, prepare, prepare_scaled};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use unstuck::TrainError;
use unstuck::data::{Dataset, breast_cancer, digits};
use unstuck::diagnose::{DataIssue, Verdict};

/// A seeded permutation of `0..n`.
fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    order
}

/// `n` rows of `data` drawn without replacement, and the rest.
fn draw(
    data: &Dataset<f64>,
    n: usize,
    seed: u64,
) -> Result<(Dataset<f64>, Dataset<f64>), TrainError> {
    let order = permutation(data.n_rows(), seed);
    let n = n.min(data.n_rows());
    Ok((data.select(&order[..n])?, data.select(&order[n..])?))
}

/// `data` with new labels.
fn relabel(data: &Dataset<f64>, labels: Vec<usize>) -> Result<Dataset<f64>, TrainError> {
    let classes = data.n_classes().expect("a classification set");
    Ok(Dataset::classification(
        data.features().to_vec(),
        data.n_features(),
        labels,
        classes,
    )?)
}

/// Each label replaced, with probability `fraction`, by another class drawn at random.
fn flip_labels(data: &Dataset<f64>, fraction: f64, seed: u64) -> Result<Dataset<f64>, TrainError> {
    use rand::Rng;
    let classes = data.n_classes().expect("a classification set");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let labels = data
        .labels()
        .expect("a classification set")
        .iter()
        .map(|&label| {
            if rng.random::<f64>() < fraction {
                (label + rng.random_range(1..classes)) % classes
            } else {
                label
            }
        })
        .collect();
    relabel(data, labels)
}

fn scenario(
    name: &'static str,
    cause: &'static str,
    setup: String,
    true_cause: Verdict,
    expected_issue: Option<DataIssue>,
    parts: super::Prepared,
    config: unstuck::diagnose::DiagnoseConfig,
) -> Scenario {
    let (train, validation, test) = parts;
    Scenario {
        name,
        cause,
        setup,
        true_cause,
        expected_issue,
        train,
        validation,
        test,
        config,
    }
}

pub(super) fn digits_bottleneck(size: Size, seed: u64) -> Result<Scenario, TrainError> {
    let n = size.pick(900, 500);
    let (rows, _) = draw(&digits::<f64>(), n, seed)?;
    Ok(scenario(
        "digits bottleneck",
        "model bias",
        format!("bottleneck net 64-2-10:relu on {n} digits"),
        Verdict::ModelBias,
        None,
        prepare(&rows, None, 0.25, seed)?,
        config(
            "64-2-10:relu",
            "adam:lr=0.01",
            32,
            size.pick(30, 25) as u64,
            seed,
        ),
    ))
}

pub(super) fn cancer_unscaled(size: Size, seed: u64) -> Result<Scenario, TrainError> {
    let data = breast_cancer::<f64>();
    Ok(scenario(
        "cancer unscaled",
        "optimization",
        format!(
            "30-32-2:relu with plain SGD (lr 0.01) on the {} breast-cancer rows, features not standardised",
            data.n_rows()
        ),
        Verdict::Optimization,
        Some(DataIssue::UnscaledFeatures),
        prepare_scaled(&data, None, 0.25, seed, false)?,
        config(
            "30-32-2:relu",
            "sgd:lr=0.01",
            32,
            size.pick(20, 10) as u64,
            seed,
        ),
    ))
}

pub(super) fn digits_overfitting(size: Size, seed: u64) -> Result<Scenario, TrainError> {
    let n = size.pick(1000, 600);
    let (rows, _) = draw(&digits::<f64>(), n, seed)?;
    let noisy = flip_labels(&rows, 0.3, seed)?;
    let parts = prepare(&noisy, None, 0.85, seed)?;
    let n_train = parts.0.n_rows();
    Ok(scenario(
        "digits overfitting",
        "overfitting",
        format!("wide net 64-256-256-10:relu on {n_train} digits, 30% of labels flipped"),
        Verdict::Overfitting,
        None,
        parts,
        config(
            "64-256-256-10:relu",
            "adam:lr=0.01",
            16,
            size.pick(150, 100) as u64,
            seed,
        ),
    ))
}

/// Every 8x8 image moved `shift` pixels to the right (zeros enter on the left).
fn shift_right(data: &Dataset<f64>, shift: usize) -> Result<Dataset<f64>, TrainError> {
    let mut features = data.features().to_vec();
    for image in features.chunks_exact_mut(64) {
        let original = image.to_vec();
        for row in 0..8 {
            for column in 0..8 {
                image[row * 8 + column] = match column.checked_sub(shift) {
                    Some(from) => original[row * 8 + from],
                    None => 0.0,
                };
            }
        }
    }
    Ok(Dataset::classification(
        features,
        64,
        data.labels().expect("digits have labels").to_vec(),
        10,
    )?)
}

pub(super) fn digits_shifted(size: Size, seed: u64) -> Result<Scenario, TrainError> {
    let n = size.pick(900, 500);
    let (rows, rest) = draw(&digits::<f64>(), n, seed)?;
    let (target, _) = draw(&rest, size.pick(600, 300), seed)?;
    let shifted = shift_right(&target, 2)?;
    Ok(scenario(
        "digits shifted",
        "mismatch",
        format!(
            "64-64-10:relu trained on {n} digits, tested on {} others shifted two pixels right",
            shifted.n_rows()
        ),
        Verdict::Mismatch,
        None,
        prepare(&rows, Some(shifted), 0.25, seed)?,
        config("64-64-10:relu", "adam:lr=0.01", 32, 20, seed),
    ))
}

pub(super) fn cancer_concept_drift(size: Size, seed: u64) -> Result<Scenario, TrainError> {
    let data = breast_cancer::<f64>();
    let (rows, target) = draw(&data, size.pick(400, 380), seed)?;
    let flipped_labels = target
        .labels()
        .expect("labels")
        .iter()
        .map(|&label| 1 - label)
        .collect();
    let drifted = relabel(&target, flipped_labels)?;
    Ok(scenario(
        "cancer concept drift",
        "mismatch",
        format!(
            "30-16-2:relu on {} breast-cancer rows, tested on {} others whose labels are flipped (same features, another rule)",
            rows.n_rows(),
            drifted.n_rows()
        ),
        Verdict::Mismatch,
        None,
        prepare(&rows, Some(drifted), 0.25, seed)?,
        config("30-16-2:relu", "adam:lr=0.01", 32, 30, seed),
    ))
}

fn digits_healthy_parts(size: Size, seed: u64) -> Result<(usize, super::Prepared), TrainError> {
    let n = size.pick(1200, 600);
    let (rows, _) = draw(&digits::<f64>(), n, seed)?;
    Ok((n, prepare(&rows, None, 0.25, seed)?))
}

pub(super) fn digits_healthy(size: Size, seed: u64) -> Result<Scenario, TrainError> {
    let (n, parts) = digits_healthy_parts(size, seed)?;
    Ok(scenario(
        "digits healthy",
        "healthy",
        format!("small net 64-64-10:relu on {n} digits"),
        Verdict::Healthy,
        None,
        parts,
        config("64-64-10:relu", "adam:lr=0.01", 32, 20, seed),
    ))
}

pub(super) fn digits_leak(size: Size, seed: u64) -> Result<Scenario, TrainError> {
    let (n, (train, validation, test)) = digits_healthy_parts(size, seed)?;
    // Half of the validation rows replaced by copies of training rows.
    let half = validation.n_rows() / 2;
    let copies = train.select(&permutation(train.n_rows(), seed ^ 1)[..half])?;
    let (kept, _) = draw(&validation, validation.n_rows() - half, seed)?;
    let mut features = kept.features().to_vec();
    features.extend_from_slice(copies.features());
    let mut labels = kept.labels().expect("labels").to_vec();
    labels.extend_from_slice(copies.labels().expect("labels"));
    let leaky = Dataset::classification(features, 64, labels, 10)?;
    Ok(scenario(
        "digits leak",
        "leak",
        format!(
            "the healthy digits run ({n} digits) with {half} of its validation rows copied from the training rows"
        ),
        Verdict::Healthy,
        Some(DataIssue::Leak),
        (train, leaky, test),
        config("64-64-10:relu", "adam:lr=0.01", 32, 20, seed),
    ))
}

pub(super) fn cancer_shuffled_labels(size: Size, seed: u64) -> Result<Scenario, TrainError> {
    let data = breast_cancer::<f64>();
    let labels = data.labels().expect("labels");
    let order = permutation(labels.len(), seed);
    let shuffled = relabel(&data, order.iter().map(|&i| labels[i]).collect())?;
    Ok(scenario(
        "cancer shuffled labels",
        "shuffled labels",
        format!(
            "30-64-2:relu on the {} breast-cancer rows with their labels permuted",
            data.n_rows()
        ),
        Verdict::CheckLabels,
        Some(DataIssue::ChanceAccuracy),
        prepare(&shuffled, None, 0.25, seed)?,
        config(
            "30-64-2:relu",
            "adam:lr=0.01",
            32,
            size.pick(30, 20) as u64,
            seed,
        ),
    ))
}

//! Gaussian blobs: an easy, nearly separable baseline.

use rand::Rng;

use super::{Stream, check_at_least, check_non_negative, rng, standard_normal};
use crate::dataset::{Dataset, try_with_capacity};
use crate::error::Result;
use unstuck_core::Element;

/// Isotropic Gaussian clusters, one per class, with centres drawn uniformly in a box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlobsConfig {
    /// Number of rows (row `i` belongs to class `i % n_classes`).
    pub n: usize,
    /// Number of classes (one blob each).
    pub n_classes: usize,
    /// Dimension of the inputs.
    pub n_features: usize,
    /// Standard deviation of each blob.
    pub std: f64,
    /// Centres are uniform in `[-center_box, center_box]^n_features`.
    pub center_box: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for BlobsConfig {
    fn default() -> Self {
        Self {
            n: 600,
            n_classes: 3,
            n_features: 2,
            std: 1.0,
            center_box: 10.0,
            seed: 0,
        }
    }
}

/// Draws the centres, then each row as its class centre plus `std` times a standard
/// normal vector.
///
/// ```
/// use unstuck_data::{blobs, BlobsConfig};
/// let data = blobs::<f64>(&BlobsConfig { n: 90, n_features: 5, ..BlobsConfig::default() })?;
/// assert_eq!((data.n_features(), data.class_counts()), (5, Some(vec![30, 30, 30])));
/// # Ok::<(), unstuck_data::DataError>(())
/// ```
pub fn blobs<T: Element>(config: &BlobsConfig) -> Result<Dataset<T>> {
    check_at_least("n", config.n, 1)?;
    check_at_least("n_classes", config.n_classes, 1)?;
    check_at_least("n_features", config.n_features, 1)?;
    check_non_negative("std", config.std)?;
    check_non_negative("center_box", config.center_box)?;
    let mut rng = rng(config.seed, Stream::Samples);
    let mut centers = try_with_capacity("centres", &[config.n_classes, config.n_features])?;
    centers.extend(
        (0..config.n_classes * config.n_features)
            .map(|_| config.center_box * (2.0 * rng.random::<f64>() - 1.0)),
    );
    let mut features = try_with_capacity("features", &[config.n, config.n_features])?;
    let mut labels = Vec::with_capacity(config.n);
    for row in 0..config.n {
        let class = row % config.n_classes;
        let center = &centers[class * config.n_features..(class + 1) * config.n_features];
        for &c in center {
            features.push(T::from_f64(c + config.std * standard_normal(&mut rng)));
        }
        labels.push(class);
    }
    Dataset::classification(features, config.n_features, labels, config.n_classes)
}

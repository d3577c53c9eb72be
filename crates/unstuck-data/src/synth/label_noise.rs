//! Label noise: flip a fraction of labels so a large model can memorise them
//! (training loss falls, validation loss rises: overfitting on purpose).

use rand::Rng;

use super::{Stream, rng};
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use unstuck_core::Element;

/// Which fraction of labels to flip, and the seed that picks them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelNoiseConfig {
    /// Fraction of rows whose label changes, in `[0, 1]`; exactly
    /// `round(fraction x n_rows)` rows are flipped.
    pub fraction: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for LabelNoiseConfig {
    fn default() -> Self {
        Self {
            fraction: 0.2,
            seed: 0,
        }
    }
}

/// Returns a copy with `round(fraction x n_rows)` labels changed, each to a different
/// class drawn uniformly, and the flipped row indices (ascending).
///
/// ```
/// use unstuck_data::{blobs, flip_labels, BlobsConfig, LabelNoiseConfig};
/// let clean = blobs::<f32>(&BlobsConfig::default())?;
/// let (noisy, flipped) = flip_labels(&clean, &LabelNoiseConfig { fraction: 0.1, seed: 4 })?;
/// assert_eq!(flipped.len(), 60);
/// let changed = (0..600).filter(|&i| clean.labels().unwrap()[i] != noisy.labels().unwrap()[i]).count();
/// assert_eq!(changed, 60);
/// # Ok::<(), unstuck_data::DataError>(())
/// ```
pub fn flip_labels<T: Element>(
    dataset: &Dataset<T>,
    config: &LabelNoiseConfig,
) -> Result<(Dataset<T>, Vec<usize>)> {
    let (Some(labels), Some(n_classes)) = (dataset.labels(), dataset.n_classes()) else {
        return Err(DataError::WrongTargetKind {
            op: "label noise",
            needed: "class",
        });
    };
    if !(0.0..=1.0).contains(&config.fraction) {
        return Err(DataError::InvalidConfig {
            field: "fraction",
            reason: format!("{} is not in [0, 1]", config.fraction),
        });
    }
    let n_rows = dataset.n_rows();
    // fraction is in [0, 1], so the product is in [0, n_rows] and the cast is exact.
    let n_flips = (config.fraction * n_rows as f64).round() as usize;
    if n_flips > 0 && n_classes < 2 {
        return Err(DataError::InvalidConfig {
            field: "fraction",
            reason: format!("cannot flip labels with {n_classes} class"),
        });
    }
    let mut rng = rng(config.seed, Stream::LabelNoise);
    // Partial Fisher-Yates: the first n_flips entries become a uniform sample of rows.
    let mut rows: Vec<usize> = (0..n_rows).collect();
    for i in 0..n_flips {
        let j = rng.random_range(i..n_rows);
        rows.swap(i, j);
    }
    let mut flipped = rows[..n_flips].to_vec();
    flipped.sort_unstable();
    let mut new_labels = labels.to_vec();
    for &row in &flipped {
        // Uniform over the other n_classes - 1 classes.
        let other = rng.random_range(0..n_classes - 1);
        new_labels[row] = if other >= labels[row] {
            other + 1
        } else {
            other
        };
    }
    Ok((dataset.clone().with_labels(new_labels)?, flipped))
}

//! Feature standardisation: fitted on the training part, applied to every part.

use crate::dataset::{Dataset, check_finite};
use crate::error::{DataError, Result};
use crate::split::Split;
use unstuck_core::Element;

/// Per-feature mean and scale, so that `(x - mean) / scale` has mean 0 and standard
/// deviation 1 on the data it was fitted on.
///
/// Statistics are computed in `f64` with two passes (mean, then squared deviations)
/// and the population standard deviation (divide by `n`). A constant feature keeps
/// scale 1: it is centred to 0 rather than divided by (nearly) zero. "Constant" means
/// a standard deviation of at most `16 x f64::EPSILON x |mean|`, which absorbs the
/// rounding of the mean itself (a column of equal values can give a tiny nonzero
/// deviation when the mean is not exactly representable).
///
/// ```
/// use unstuck_data::{Dataset, Standardizer};
/// let train = Dataset::<f64>::classification(vec![0.0, 5.0, 4.0, 5.0], 2, vec![0, 0], 1)?;
/// let standardizer = Standardizer::fit(&train);
/// assert_eq!(standardizer.mean(), &[2.0, 5.0]);
/// assert_eq!(standardizer.scale(), &[2.0, 1.0]); // feature 1 is constant: scale 1
/// let scaled = standardizer.transform(&train)?;
/// assert_eq!(scaled.features(), &[-1.0, 0.0, 1.0, 0.0]);
/// # Ok::<(), unstuck_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    mean: Vec<f64>,
    scale: Vec<f64>,
}

impl Standardizer {
    /// Fits mean and scale on a dataset (normally the training part).
    pub fn fit<T: Element>(dataset: &Dataset<T>) -> Self {
        let d = dataset.n_features();
        let n = dataset.n_rows() as f64;
        let mut mean = vec![0.0; d];
        for row in dataset.features().chunks_exact(d) {
            for (sum, x) in mean.iter_mut().zip(row) {
                *sum += x.to_f64();
            }
        }
        for sum in &mut mean {
            *sum /= n;
        }
        let mut variance = vec![0.0; d];
        for row in dataset.features().chunks_exact(d) {
            for ((sum, x), mu) in variance.iter_mut().zip(row).zip(&mean) {
                let deviation = x.to_f64() - mu;
                *sum += deviation * deviation;
            }
        }
        let scale = variance
            .iter()
            .zip(&mean)
            .map(|(sum, mu)| {
                let std = (sum / n).sqrt();
                if std <= 16.0 * f64::EPSILON * mu.abs() || std == 0.0 {
                    1.0
                } else {
                    std
                }
            })
            .collect();
        Self { mean, scale }
    }

    /// Per-feature means.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Per-feature scales (standard deviations, or 1 for constant features).
    pub fn scale(&self) -> &[f64] {
        &self.scale
    }

    /// Standardises a dataset's features in place. A feature count other than the
    /// fitted one is an error, as is a result too large for the element type.
    pub fn transform_in_place<T: Element>(&self, dataset: &mut Dataset<T>) -> Result<()> {
        let d = dataset.n_features();
        if d != self.mean.len() {
            return Err(DataError::ShapeMismatch {
                what: "features per row (as fitted)",
                expected: self.mean.len(),
                got: d,
            });
        }
        let features = dataset.features_mut();
        for row in features.chunks_exact_mut(d) {
            for ((x, mu), scale) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
                *x = T::from_f64((x.to_f64() - mu) / scale);
            }
        }
        check_finite("standardised features", features, d)
    }

    /// A standardised copy of a dataset.
    pub fn transform<T: Element>(&self, dataset: &Dataset<T>) -> Result<Dataset<T>> {
        let mut copy = dataset.clone();
        self.transform_in_place(&mut copy)?;
        Ok(copy)
    }

    /// Fits on `split.train` and standardises all parts in place.
    pub fn fit_split<T: Element>(split: &mut Split<T>) -> Result<Self> {
        let standardizer = Self::fit(&split.train);
        standardizer.transform_in_place(&mut split.train)?;
        for part in [&mut split.validation, &mut split.test]
            .into_iter()
            .flatten()
        {
            standardizer.transform_in_place(part)?;
        }
        Ok(standardizer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitted_part_gets_zero_mean_unit_std() {
        let features: Vec<f64> = (0..300)
            .map(|i| (i as f64 * 0.37).sin() * 5.0 + 2.0)
            .collect();
        let data = Dataset::classification(features, 3, vec![0; 100], 1).unwrap();
        let scaled = Standardizer::fit(&data).transform(&data).unwrap();
        let refit = Standardizer::fit(&scaled);
        // 100 values of magnitude ~1 summed in f64: rounding error is far below 1e-12.
        for (mu, scale) in refit.mean().iter().zip(refit.scale()) {
            assert!(mu.abs() < 1e-12, "mean {mu}");
            assert!((scale - 1.0).abs() < 1e-12, "scale {scale}");
        }
    }

    #[test]
    fn constant_feature_keeps_scale_one_even_with_rounded_mean() {
        // 0.1 is not representable; the computed mean differs from 0.1 in the last bit.
        let data =
            Dataset::<f64>::classification(vec![0.1, 0.0, 0.1, 1.0, 0.1, 2.0], 2, vec![0; 3], 1)
                .unwrap();
        let standardizer = Standardizer::fit(&data);
        assert_eq!(standardizer.scale()[0], 1.0);
        assert!(standardizer.scale()[1] > 0.8);
        let scaled = standardizer.transform(&data).unwrap();
        // Centred constant: |0.1 - mean| is a few ulps of 0.1.
        assert!(scaled.features()[0].abs() < 1e-15);
    }

    #[test]
    fn wrong_feature_count_is_an_error() {
        let two = Dataset::<f32>::classification(vec![0.0, 1.0], 2, vec![0], 1).unwrap();
        let one = Dataset::<f32>::classification(vec![0.0, 1.0], 1, vec![0, 0], 1).unwrap();
        assert!(matches!(
            Standardizer::fit(&two).transform(&one),
            Err(DataError::ShapeMismatch {
                expected: 2,
                got: 1,
                ..
            })
        ));
    }
}

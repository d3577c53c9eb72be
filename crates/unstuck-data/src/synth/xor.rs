//! XOR: the smallest problem that needs a hidden layer.

use rand::Rng;

use super::{Stream, check_at_least, check_non_negative, rng, standard_normal};
use crate::dataset::{Dataset, try_with_capacity};
use crate::error::Result;
use unstuck_core::Element;

/// Points in the square `[-1, 1]^2`, labelled by the quadrant's sign pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct XorConfig {
    /// Number of rows.
    pub n: usize,
    /// Standard deviation of the Gaussian noise added to each coordinate after
    /// labelling (so noisy points can cross the axes).
    pub noise: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for XorConfig {
    fn default() -> Self {
        Self {
            n: 1000,
            noise: 0.0,
            seed: 0,
        }
    }
}

/// Label 1 when exactly one coordinate of the clean point is positive.
///
/// ```
/// use unstuck_data::{xor, XorConfig};
/// let data = xor::<f64>(&XorConfig::default())?;
/// for (row, &label) in data.features().chunks(2).zip(data.labels().unwrap()) {
///     assert_eq!(label, usize::from((row[0] > 0.0) != (row[1] > 0.0)));
/// }
/// # Ok::<(), unstuck_data::DataError>(())
/// ```
pub fn xor<T: Element>(config: &XorConfig) -> Result<Dataset<T>> {
    check_at_least("n", config.n, 1)?;
    check_non_negative("noise", config.noise)?;
    let mut rng = rng(config.seed, Stream::Samples);
    let mut features = try_with_capacity("features", &[config.n, 2])?;
    let mut labels = Vec::with_capacity(config.n);
    for _ in 0..config.n {
        let x = 2.0 * rng.random::<f64>() - 1.0;
        let y = 2.0 * rng.random::<f64>() - 1.0;
        labels.push(usize::from((x > 0.0) != (y > 0.0)));
        let noisy_x = x + config.noise * standard_normal(&mut rng);
        let noisy_y = y + config.noise * standard_normal(&mut rng);
        features.extend([T::from_f64(noisy_x), T::from_f64(noisy_y)]);
    }
    Dataset::classification(features, 2, labels, 2)
}

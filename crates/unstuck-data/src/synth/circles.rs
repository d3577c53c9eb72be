//! Two concentric circles: separable, but not by a line.

use std::f64::consts::PI;

use rand::Rng;

use super::{Stream, check_at_least, check_non_negative, rng, standard_normal};
use crate::dataset::{Dataset, try_with_capacity};
use crate::error::{DataError, Result};
use unstuck_core::Element;

/// An outer circle of radius 1 (class 0) around an inner circle of radius `factor`
/// (class 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CirclesConfig {
    /// Number of rows (row `i` has class `i % 2`).
    pub n: usize,
    /// Standard deviation of the Gaussian noise added to each coordinate.
    pub noise: f64,
    /// Inner radius over outer radius, in `(0, 1)`.
    pub factor: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for CirclesConfig {
    fn default() -> Self {
        Self {
            n: 1000,
            noise: 0.05,
            factor: 0.5,
            seed: 0,
        }
    }
}

/// Each row is a uniform angle on its class's circle, plus noise.
///
/// ```
/// use unstuck_data::{circles, CirclesConfig};
/// let data = circles::<f32>(&CirclesConfig { n: 10, noise: 0.0, ..CirclesConfig::default() })?;
/// let radius = |row: &[f32]| (row[0] * row[0] + row[1] * row[1]).sqrt();
/// assert!((radius(data.row(0).unwrap()) - 1.0).abs() < 1e-6); // class 0: outer
/// assert!((radius(data.row(1).unwrap()) - 0.5).abs() < 1e-6); // class 1: inner
/// # Ok::<(), unstuck_data::DataError>(())
/// ```
pub fn circles<T: Element>(config: &CirclesConfig) -> Result<Dataset<T>> {
    check_at_least("n", config.n, 1)?;
    check_non_negative("noise", config.noise)?;
    if !(config.factor > 0.0 && config.factor < 1.0) {
        return Err(DataError::InvalidConfig {
            field: "factor",
            reason: format!("{} is not in (0, 1)", config.factor),
        });
    }
    let mut rng = rng(config.seed, Stream::Samples);
    let mut features = try_with_capacity("features", &[config.n, 2])?;
    let mut labels = Vec::with_capacity(config.n);
    for row in 0..config.n {
        let class = row % 2;
        let radius = if class == 0 { 1.0 } else { config.factor };
        let angle = 2.0 * PI * rng.random::<f64>();
        let x = radius * angle.cos() + config.noise * standard_normal(&mut rng);
        let y = radius * angle.sin() + config.noise * standard_normal(&mut rng);
        features.extend([T::from_f64(x), T::from_f64(y)]);
        labels.push(class);
    }
    Dataset::classification(features, 2, labels, 2)
}

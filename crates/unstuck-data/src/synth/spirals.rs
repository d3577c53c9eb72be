//! Two interleaved spirals: a classic that a linear model cannot fit (model bias).

use std::f64::consts::PI;

use rand::Rng;

use super::{Stream, check_at_least, check_non_negative, rng, standard_normal};
use crate::dataset::{Dataset, try_with_capacity};
use crate::error::Result;
use unstuck_core::Element;

/// Two spirals in the plane, one per class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpiralsConfig {
    /// Number of rows (classes alternate, so they differ by at most one).
    pub n: usize,
    /// Standard deviation of the Gaussian noise added to each coordinate; the spirals
    /// reach radius 1, and adjacent arms are `1 / (2 x turns)` apart.
    pub noise: f64,
    /// Turns of each spiral.
    pub turns: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for SpiralsConfig {
    fn default() -> Self {
        Self {
            n: 1000,
            noise: 0.05,
            turns: 1.5,
            seed: 0,
        }
    }
}

/// Row `i` has class `i % 2`, radius `t` and angle `2 pi turns t + pi class` for a
/// uniform `t` in `[0, 1)`, plus noise.
///
/// ```
/// use unstuck_data::{spirals, SpiralsConfig};
/// let data = spirals::<f32>(&SpiralsConfig { n: 100, ..SpiralsConfig::default() })?;
/// assert_eq!((data.n_features(), data.class_counts()), (2, Some(vec![50, 50])));
/// # Ok::<(), unstuck_data::DataError>(())
/// ```
pub fn spirals<T: Element>(config: &SpiralsConfig) -> Result<Dataset<T>> {
    check_at_least("n", config.n, 1)?;
    check_non_negative("noise", config.noise)?;
    check_non_negative("turns", config.turns)?;
    let mut rng = rng(config.seed, Stream::Samples);
    let mut features = try_with_capacity("features", &[config.n, 2])?;
    let mut labels = Vec::with_capacity(config.n);
    for row in 0..config.n {
        let class = row % 2;
        let t: f64 = rng.random();
        let angle = 2.0 * PI * config.turns * t + PI * class as f64;
        let x = t * angle.cos() + config.noise * standard_normal(&mut rng);
        let y = t * angle.sin() + config.noise * standard_normal(&mut rng);
        features.extend([T::from_f64(x), T::from_f64(y)]);
        labels.push(class);
    }
    Dataset::classification(features, 2, labels, 2)
}

//! 1-D regression: a sine wave plus Gaussian noise.

use rand::Rng;

use super::{Stream, check_at_least, check_finite_value, check_non_negative, rng, standard_normal};
use crate::dataset::{Dataset, try_with_capacity};
use crate::error::{DataError, Result};
use unstuck_core::Element;

/// `y = sin(frequency x) + noise`, `x` uniform in `[x_min, x_max)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SineConfig {
    /// Number of rows.
    pub n: usize,
    /// Standard deviation of the Gaussian noise on `y`.
    pub noise: f64,
    /// Angular frequency.
    pub frequency: f64,
    /// Lower end of the input range.
    pub x_min: f64,
    /// Upper end of the input range (must exceed `x_min`).
    pub x_max: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for SineConfig {
    fn default() -> Self {
        Self {
            n: 200,
            noise: 0.1,
            frequency: 1.0,
            x_min: -std::f64::consts::PI,
            x_max: std::f64::consts::PI,
            seed: 0,
        }
    }
}

/// One feature `x`, one real target `y`.
///
/// ```
/// use unstuck_data::{sine, SineConfig, Targets};
/// let data = sine::<f64>(&SineConfig { noise: 0.0, ..SineConfig::default() })?;
/// let Targets::Real { values, n_outputs: 1 } = data.targets() else { unreachable!() };
/// for (x, y) in data.features().iter().zip(values) {
///     assert!((x.sin() - y).abs() < 1e-12);
/// }
/// # Ok::<(), unstuck_data::DataError>(())
/// ```
pub fn sine<T: Element>(config: &SineConfig) -> Result<Dataset<T>> {
    check_at_least("n", config.n, 1)?;
    check_non_negative("noise", config.noise)?;
    check_finite_value("frequency", config.frequency)?;
    check_finite_value("x_min", config.x_min)?;
    check_finite_value("x_max", config.x_max)?;
    if config.x_max <= config.x_min {
        return Err(DataError::InvalidConfig {
            field: "x_max",
            reason: format!("{} must exceed x_min {}", config.x_max, config.x_min),
        });
    }
    let mut rng = rng(config.seed, Stream::Samples);
    let mut features = try_with_capacity("features", &[config.n])?;
    let mut values = Vec::with_capacity(config.n);
    for _ in 0..config.n {
        let x = config.x_min + (config.x_max - config.x_min) * rng.random::<f64>();
        let y = (config.frequency * x).sin() + config.noise * standard_normal(&mut rng);
        features.push(T::from_f64(x));
        values.push(T::from_f64(y));
    }
    Dataset::regression(features, 1, values, 1)
}

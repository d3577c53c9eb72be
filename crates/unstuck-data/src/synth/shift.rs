//! Covariate shift: train and test inputs from different distributions, labelled by
//! the same rule (a teacher network), so a model that fits train fails on test
//! (mismatch on purpose).

use super::teacher::normal_inputs;
use super::{Stream, check_at_least, check_finite_value, check_non_negative, rng};
use crate::dataset::Dataset;
use crate::error::Result;
use crate::synth::{Teacher, TeacherConfig};
use unstuck_core::Element;

/// Train inputs `N(0, I)`; test inputs `N(mu, test_std^2 I)` with `mu` at distance
/// `shift` from the origin along the diagonal `(1, ..., 1) / sqrt(d)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CovariateShiftConfig {
    /// Training rows.
    pub n_train: usize,
    /// Test rows.
    pub n_test: usize,
    /// The labelling rule, shared by both parts.
    pub teacher: TeacherConfig,
    /// Distance between the train and test input means.
    pub shift: f64,
    /// Standard deviation of the test inputs.
    pub test_std: f64,
    /// Noise on real targets (see [`TeacherStudentConfig`](crate::TeacherStudentConfig)).
    pub noise: f64,
    /// Seed of inputs and noise.
    pub seed: u64,
}

impl Default for CovariateShiftConfig {
    fn default() -> Self {
        Self {
            n_train: 1000,
            n_test: 1000,
            teacher: TeacherConfig::default(),
            shift: 2.0,
            test_std: 1.0,
            noise: 0.0,
            seed: 0,
        }
    }
}

/// The two parts of a covariate shift and the rule that labels both.
#[derive(Debug, Clone, PartialEq)]
pub struct ShiftedData<T> {
    /// Training part (unshifted inputs).
    pub train: Dataset<T>,
    /// Test part (shifted inputs).
    pub test: Dataset<T>,
    /// The shared labelling rule.
    pub teacher: Teacher,
}

/// Draws both parts.
///
/// ```
/// use unstuck_data::{covariate_shift, CovariateShiftConfig};
/// let shifted = covariate_shift::<f64>(&CovariateShiftConfig { shift: 3.0, ..CovariateShiftConfig::default() })?;
/// let mean = |data: &unstuck_data::Dataset<f64>| data.features().iter().sum::<f64>() / data.features().len() as f64;
/// // Train mean ~ 0, test mean ~ 3 / sqrt(10) ~ 0.95 per coordinate.
/// assert!(mean(&shifted.train).abs() < 0.1 && (mean(&shifted.test) - 0.95).abs() < 0.1);
/// # Ok::<(), unstuck_data::DataError>(())
/// ```
pub fn covariate_shift<T: Element>(config: &CovariateShiftConfig) -> Result<ShiftedData<T>> {
    check_at_least("n_train", config.n_train, 1)?;
    check_at_least("n_test", config.n_test, 1)?;
    check_finite_value("shift", config.shift)?;
    check_non_negative("test_std", config.test_std)?;
    check_non_negative("noise", config.noise)?;
    let teacher = Teacher::new(&config.teacher)?;
    let d = teacher.n_inputs();
    let mut train_rng = rng(config.seed, Stream::Samples);
    let train_inputs = normal_inputs(config.n_train, d, 0.0, 1.0, &mut train_rng)?;
    let train = teacher.label(&train_inputs, config.noise, &mut train_rng)?;
    let mut test_rng = rng(config.seed, Stream::ShiftedSamples);
    let test_inputs = normal_inputs(
        config.n_test,
        d,
        config.shift,
        config.test_std,
        &mut test_rng,
    )?;
    let test = teacher.label(&test_inputs, config.noise, &mut test_rng)?;
    Ok(ShiftedData {
        train,
        test,
        teacher,
    })
}

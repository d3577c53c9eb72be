//! Seeded synthetic datasets, each built to show one behaviour on purpose.
//!
//! Every generator takes a small config struct with a `Default` and an explicit seed,
//! draws from `ChaCha8Rng`, computes in `f64`, and converts to the element type once.
//! Each kind of random draw uses its own ChaCha stream of the seed (see [`Stream`]),
//! so for instance a teacher network and the inputs fed to it never share random
//! numbers even when they share a seed.

mod blobs;
mod circles;
mod label_noise;
mod shift;
mod sine;
mod spec;
mod spirals;
mod teacher;
mod xor;

pub use blobs::{BlobsConfig, blobs};
pub use circles::{CirclesConfig, circles};
pub use label_noise::{LabelNoiseConfig, flip_labels};
pub use shift::{CovariateShiftConfig, ShiftedData, covariate_shift};
pub use sine::{SineConfig, sine};
pub use spec::{GENERATOR_NAMES, Generated, Generator, GeneratorSpec, generate, generator_keys};
pub use spirals::{SpiralsConfig, spirals};
pub use teacher::{
    DenseLayer, Teacher, TeacherConfig, TeacherStudentConfig, TeacherTarget, teacher_student,
};
pub use xor::{XorConfig, xor};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::error::{DataError, Result};

/// The ChaCha stream used for each kind of random draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
enum Stream {
    /// Inputs and their noise.
    Samples = 0,
    /// Teacher network weights.
    TeacherWeights = 1,
    /// Which labels to flip and to what.
    LabelNoise = 2,
    /// Test inputs of a covariate shift.
    ShiftedSamples = 3,
}

fn rng(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream as u64);
    rng
}

fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample(StandardNormal)
}

/// At least `minimum`.
fn check_at_least(field: &'static str, value: usize, minimum: usize) -> Result<()> {
    if value < minimum {
        return Err(DataError::InvalidConfig {
            field,
            reason: format!("{value} is below the minimum {minimum}"),
        });
    }
    Ok(())
}

/// Finite and not negative.
fn check_non_negative(field: &'static str, value: f64) -> Result<()> {
    if !(value.is_finite() && value >= 0.0) {
        return Err(DataError::InvalidConfig {
            field,
            reason: format!("{value} must be finite and not negative"),
        });
    }
    Ok(())
}

/// Finite.
fn check_finite_value(field: &'static str, value: f64) -> Result<()> {
    if !value.is_finite() {
        return Err(DataError::InvalidConfig {
            field,
            reason: format!("{value} must be finite"),
        });
    }
    Ok(())
}

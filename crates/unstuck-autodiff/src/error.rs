//! The crate's error type.

/// What can go wrong when user input reaches the autodiff crate.
///
/// Inside the tape, a shape mismatch between two `Var`s is a programming error and
/// panics with the op's name and both shapes; this enum is for the public entry points
/// that take user data (tensors, parameter vectors, directions).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AutodiffError {
    /// Two lengths that must agree do not.
    #[error("{what}: expected length {expected}, got {got}")]
    LengthMismatch {
        /// What was measured.
        what: &'static str,
        /// The length required.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A tensor's data does not fill its shape, or the rank is unsupported.
    #[error("tensor of shape {shape:?} needs {expected} elements, got {got}")]
    BadShape {
        /// The shape asked for.
        shape: Vec<usize>,
        /// The element count that shape needs.
        expected: usize,
        /// The element count given.
        got: usize,
    },
    /// Only ranks 0 to 4 are supported.
    #[error("tensors of rank {rank} are not supported (ranks 0 to 4 are)")]
    UnsupportedRank {
        /// The rank asked for.
        rank: usize,
    },
    /// A function that must return a scalar returned something else.
    #[error("expected a scalar output, got shape {shape:?}")]
    NotScalar {
        /// The shape returned.
        shape: Vec<usize>,
    },
    /// An input or an output holds NaN or an infinity.
    #[error("{what} is not finite at index {index}")]
    NonFinite {
        /// Which quantity.
        what: &'static str,
        /// The first offending index.
        index: usize,
    },
    /// A sum of parts was asked for with no parts.
    #[error("a sum of parts needs at least one part")]
    NoParts,
    /// A finite-difference step that cannot work.
    #[error("finite-difference step must be positive and finite, got {0}")]
    BadStep(f64),
}

/// Fails with [`AutodiffError::NonFinite`] at the first NaN or infinity of `xs`.
pub(crate) fn ensure_finite<T: crate::Element>(
    what: &'static str,
    xs: &[T],
) -> Result<(), AutodiffError> {
    match unstuck_core::first_non_finite(xs) {
        Some(index) => Err(AutodiffError::NonFinite { what, index }),
        None => Ok(()),
    }
}

/// Fails with [`AutodiffError::LengthMismatch`] unless `got == expected`.
pub(crate) fn ensure_len(
    what: &'static str,
    expected: usize,
    got: usize,
) -> Result<(), AutodiffError> {
    if expected == got {
        Ok(())
    } else {
        Err(AutodiffError::LengthMismatch {
            what,
            expected,
            got,
        })
    }
}

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
    /// A finite-difference step that cannot work.
    #[error("finite-difference step must be positive and finite, got {0}")]
    BadStep(f64),
}

/// Returns the first index of a non-finite element.
pub(crate) fn first_non_finite<T: crate::Element>(xs: &[T]) -> Option<usize> {
    // A branch-free test per chunk vectorizes (a `position` loop exits per element and
    // does not): on a 269k-parameter step the scan was 6% of the time.
    const CHUNK: usize = 256;
    let bad_chunk = xs
        .chunks(CHUNK)
        .position(|chunk| chunk.iter().fold(false, |bad, x| bad | !x.is_finite()))?;
    let at = bad_chunk * CHUNK;
    xs[at..].iter().position(|x| !x.is_finite()).map(|i| at + i)
}

/// Fails with [`AutodiffError::NonFinite`] at the first NaN or infinity of `xs`.
pub(crate) fn ensure_finite<T: crate::Element>(
    what: &'static str,
    xs: &[T],
) -> Result<(), AutodiffError> {
    match first_non_finite(xs) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_non_finite_element_is_found_in_any_chunk() {
        let mut xs = vec![0.5f32; 1000];
        assert_eq!(first_non_finite(&xs), None);
        xs[700] = f32::NEG_INFINITY;
        xs[900] = f32::NAN;
        assert_eq!(first_non_finite(&xs), Some(700));
        xs[3] = f32::NAN;
        assert_eq!(first_non_finite(&xs), Some(3));
        assert_eq!(first_non_finite(&[1.0, f64::INFINITY]), Some(1));
        assert_eq!(first_non_finite::<f64>(&[]), None);
    }
}

//! The crate's one error type.

/// Everything that can go wrong in `unstuck-hessian`.
///
/// Variants carry what was wrong and where, so a caller can report it without a debugger.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum HessianError {
    /// An input held NaN or an infinity.
    #[error("{what} is not finite at index {index}")]
    NonFinite {
        /// Which input (`"theta"`, `"vector"`, ...).
        what: &'static str,
        /// The first offending position.
        index: usize,
    },
    /// A slice had the wrong length.
    #[error("{what}: expected length {expected}, got {got}")]
    LengthMismatch {
        /// Which input.
        what: &'static str,
        /// The length the operator or function needs.
        expected: usize,
        /// The length it was given.
        got: usize,
    },
    /// More eigenpairs were asked for than the operator has dimensions.
    #[error("{op}: asked for {k} eigenpairs of a {dim}-dimensional operator")]
    TooManyEigenpairs {
        /// The function asked.
        op: &'static str,
        /// Number requested.
        k: usize,
        /// The operator's dimension P.
        dim: usize,
    },
    /// A parameter block had no parameters.
    #[error("parameter block `{name}` is empty")]
    EmptyBlock {
        /// The block's name as the caller gave it.
        name: String,
    },
    /// A parameter block reached past the last parameter.
    #[error("parameter block `{name}` covers {start}..{end} but the operator has {dim} parameters")]
    BlockOutOfRange {
        /// The block's name.
        name: String,
        /// First index of the block.
        start: usize,
        /// One past its last index.
        end: usize,
        /// The operator's dimension.
        dim: usize,
    },
    /// A configuration value was out of its domain.
    #[error("invalid {field}: {reason}")]
    InvalidConfig {
        /// The configuration field.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// The operator has zero dimensions, so there is nothing to analyse.
    #[error("{op}: the operator has dimension 0")]
    EmptyOperator {
        /// The function asked.
        op: &'static str,
    },
    /// The dense eigensolver did not converge.
    #[error("eigendecomposition of a {dim}x{dim} matrix did not converge")]
    EigenNoConvergence {
        /// Matrix size.
        dim: usize,
    },
    /// An escape step was asked for where the curvature has no negative direction.
    #[error("no negative curvature: the smallest eigenvalue is {min_eigenvalue}")]
    NoNegativeCurvature {
        /// The smallest eigenvalue found.
        min_eigenvalue: f64,
    },
    /// Neither sign of the escape direction lowered the loss, even after backing off.
    #[error("no descent along the escape direction after {halvings} halvings (loss {loss})")]
    NoDescent {
        /// Number of times the step was halved.
        halvings: usize,
        /// The loss at the starting point.
        loss: f64,
    },
    /// The autodiff tape refused the function or the point (a non-scalar `f`, NaN in
    /// theta, a length mismatch).
    #[error("autodiff: {0}")]
    Autodiff(#[from] unstuck_autodiff::AutodiffError),
    /// The objective or operator failed; `message` is its own report.
    #[error("{op} failed: {message}")]
    Backend {
        /// What was being evaluated (`"hvp"`, `"value_and_gradient"`, ...).
        op: &'static str,
        /// The backend's error, rendered.
        message: String,
    },
}

/// Returns the first non-finite entry of `xs` as an error naming `what`.
/// Checks a request for `k` eigenpairs of a `dim`-dimensional operator: a non-empty
/// operator, and `1 <= k <= dim`.
pub(crate) fn check_eigenpairs(op: &'static str, k: usize, dim: usize) -> Result<(), HessianError> {
    if dim == 0 {
        return Err(HessianError::EmptyOperator { op });
    }
    if k == 0 {
        return Err(HessianError::InvalidConfig {
            field: "k",
            reason: "must be at least 1".into(),
        });
    }
    if k > dim {
        return Err(HessianError::TooManyEigenpairs { op, k, dim });
    }
    Ok(())
}

pub(crate) fn check_finite(what: &'static str, xs: &[f64]) -> Result<(), HessianError> {
    match unstuck_core::first_non_finite(xs) {
        Some(index) => Err(HessianError::NonFinite { what, index }),
        None => Ok(()),
    }
}

/// Checks that `xs` has length `expected`.
pub(crate) fn check_len(
    what: &'static str,
    xs: &[f64],
    expected: usize,
) -> Result<(), HessianError> {
    if xs.len() == expected {
        Ok(())
    } else {
        Err(HessianError::LengthMismatch {
            what,
            expected,
            got: xs.len(),
        })
    }
}

//! The second-order test: minimum, maximum, saddle or degenerate, from the spectrum.

use std::fmt;

use crate::error::{HessianError, check_finite};

/// Tolerances of the second-order test.
///
/// * An eigenvalue counts as **zero** when `|lambda| <= eigenvalue_rel * max_i |lambda_i|`:
///   relative to the spectrum's own scale, so rescaling the loss never changes the verdict.
///   The default 1e-10 sits far above the rounding of an exact f64 Hessian (about
///   `P * 1e-16` relative) and far below curvature that matters.
/// * The point counts as **critical** when `||gradient|| <= gradient_abs`. This one is
///   absolute: the gradient (loss per parameter) and the eigenvalues (loss per parameter
///   squared) share no scale without a length, and how small a gradient means "stalled" is
///   the caller's call. Default 1e-8.
///
/// The defaults reproduce the golden files' classification (relative tolerance 1e-10).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassifyTolerances {
    /// Relative threshold under which an eigenvalue is zero.
    pub eigenvalue_rel: f64,
    /// Absolute threshold under which the gradient norm is zero.
    pub gradient_abs: f64,
}

impl Default for ClassifyTolerances {
    fn default() -> Self {
        Self {
            eigenvalue_rel: 1e-10,
            gradient_abs: 1e-8,
        }
    }
}

/// What kind of point the second-order test says we are at.
///
/// Serialised (and displayed) as the snake-case name of [`CriticalPointKind::as_str`],
/// everywhere; the CamelCase names are accepted when reading, for files written before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CriticalPointKind {
    /// The gradient is not zero: not a critical point at all.
    #[serde(alias = "NotCritical")]
    NotCritical,
    /// All eigenvalues positive: a strict local minimum.
    #[serde(alias = "StrictLocalMin")]
    StrictLocalMin,
    /// All eigenvalues negative: a strict local maximum.
    #[serde(alias = "StrictLocalMax")]
    StrictLocalMax,
    /// At least one positive and one negative eigenvalue: a saddle, whatever the zeros.
    #[serde(alias = "Saddle")]
    Saddle,
    /// No negative eigenvalue, some zero: leans towards a minimum, but higher-order terms
    /// decide (a valley floor, or a saddle hidden in the flat directions).
    #[serde(alias = "DegeneratePsd")]
    DegeneratePsd,
    /// No positive eigenvalue, some zero: leans towards a maximum.
    #[serde(alias = "DegenerateNsd")]
    DegenerateNsd,
    /// Every eigenvalue is zero: the second-order test says nothing.
    #[serde(alias = "DegenerateFlat")]
    DegenerateFlat,
}

impl CriticalPointKind {
    /// The snake-case name used by the golden files (`"saddle"`, `"strict_local_min"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotCritical => "not_critical",
            Self::StrictLocalMin => "strict_local_min",
            Self::StrictLocalMax => "strict_local_max",
            Self::Saddle => "saddle",
            Self::DegeneratePsd => "degenerate_psd",
            Self::DegenerateNsd => "degenerate_nsd",
            Self::DegenerateFlat => "degenerate_flat",
        }
    }
}

impl fmt::Display for CriticalPointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many eigenvalues are negative, zero and positive under a relative tolerance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignCounts {
    /// Eigenvalues below `-zero_threshold`.
    pub negative: usize,
    /// Eigenvalues with `|lambda| <= zero_threshold`.
    pub zero: usize,
    /// Eigenvalues above `zero_threshold`.
    pub positive: usize,
    /// The absolute threshold used: `eigenvalue_rel * max |lambda|`.
    pub zero_threshold: f64,
}

/// Counts signs of `eigenvalues` (any order) with zero meaning
/// `|lambda| <= eigenvalue_rel * max |lambda|`.
pub fn sign_counts(eigenvalues: &[f64], eigenvalue_rel: f64) -> Result<SignCounts, HessianError> {
    check_finite("eigenvalues", eigenvalues)?;
    if !(eigenvalue_rel >= 0.0 && eigenvalue_rel.is_finite()) {
        return Err(HessianError::InvalidConfig {
            field: "eigenvalue_rel",
            reason: format!("must be finite and non-negative, got {eigenvalue_rel}"),
        });
    }
    let scale = eigenvalues.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    let zero_threshold = eigenvalue_rel * scale;
    let mut counts = SignCounts {
        negative: 0,
        zero: 0,
        positive: 0,
        zero_threshold,
    };
    for &lambda in eigenvalues {
        if lambda > zero_threshold {
            counts.positive += 1;
        } else if lambda < -zero_threshold {
            counts.negative += 1;
        } else {
            counts.zero += 1;
        }
    }
    Ok(counts)
}

/// The second-order test on a spectrum, assuming the gradient vanishes.
///
/// Reads only the signs (see [`ClassifyTolerances`] for what "zero" means).
pub fn classify_spectrum(
    eigenvalues: &[f64],
    eigenvalue_rel: f64,
) -> Result<CriticalPointKind, HessianError> {
    if eigenvalues.is_empty() {
        return Err(HessianError::EmptyOperator {
            op: "classify_spectrum",
        });
    }
    let c = sign_counts(eigenvalues, eigenvalue_rel)?;
    Ok(match (c.negative > 0, c.zero > 0, c.positive > 0) {
        (true, _, true) => CriticalPointKind::Saddle,
        (false, false, true) => CriticalPointKind::StrictLocalMin,
        (true, false, false) => CriticalPointKind::StrictLocalMax,
        (false, true, true) => CriticalPointKind::DegeneratePsd,
        (true, true, false) => CriticalPointKind::DegenerateNsd,
        (false, true, false) => CriticalPointKind::DegenerateFlat,
        (false, false, false) => unreachable!("a non-empty spectrum has at least one sign"),
    })
}

/// The full test: [`CriticalPointKind::NotCritical`] if the gradient norm exceeds
/// `tolerances.gradient_abs`, else [`classify_spectrum`].
///
/// # Example
/// ```
/// use unstuck_hessian::{ClassifyTolerances, CriticalPointKind, classify_critical_point};
/// let tol = ClassifyTolerances::default();
/// // The lecture's saddle of (1 - w1 w2)^2 at the origin.
/// assert_eq!(classify_critical_point(0.0, &[-2.0, 2.0], tol)?, CriticalPointKind::Saddle);
/// assert_eq!(classify_critical_point(0.0, &[0.0, 4.0], tol)?, CriticalPointKind::DegeneratePsd);
/// assert_eq!(classify_critical_point(3.4, &[-2.8, 5.3], tol)?, CriticalPointKind::NotCritical);
/// # Ok::<(), unstuck_hessian::HessianError>(())
/// ```
pub fn classify_critical_point(
    gradient_norm: f64,
    eigenvalues: &[f64],
    tolerances: ClassifyTolerances,
) -> Result<CriticalPointKind, HessianError> {
    if !gradient_norm.is_finite() {
        return Err(HessianError::NonFinite {
            what: "gradient_norm",
            index: 0,
        });
    }
    // Classify first so a bad spectrum is reported even at a non-critical point.
    let kind = classify_spectrum(eigenvalues, tolerances.eigenvalue_rel)?;
    Ok(if gradient_norm > tolerances.gradient_abs {
        CriticalPointKind::NotCritical
    } else {
        kind
    })
}

/// The lecture's minimum ratio: the fraction of eigenvalues that are positive (zero under
/// the relative tolerance does not count). 1 at a strict minimum; training usually stalls
/// with it around 0.5, at a saddle.
pub fn minimum_ratio(eigenvalues: &[f64], eigenvalue_rel: f64) -> Result<f64, HessianError> {
    if eigenvalues.is_empty() {
        return Err(HessianError::EmptyOperator {
            op: "minimum_ratio",
        });
    }
    let c = sign_counts(eigenvalues, eigenvalue_rel)?;
    Ok(c.positive as f64 / eigenvalues.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialise_as_their_snake_case_name_and_read_both_spellings() {
        use CriticalPointKind::*;
        for kind in [
            NotCritical,
            StrictLocalMin,
            StrictLocalMax,
            Saddle,
            DegeneratePsd,
            DegenerateNsd,
            DegenerateFlat,
        ] {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(
                serde_json::from_str::<CriticalPointKind>(&json).unwrap(),
                kind
            );
            let old = format!("\"{kind:?}\"");
            assert_eq!(
                serde_json::from_str::<CriticalPointKind>(&old).unwrap(),
                kind
            );
        }
    }

    fn kind(eigs: &[f64]) -> CriticalPointKind {
        classify_spectrum(eigs, 1e-10).unwrap()
    }

    #[test]
    fn every_sign_pattern_has_its_kind() {
        assert_eq!(kind(&[1.0, 2.0]), CriticalPointKind::StrictLocalMin);
        assert_eq!(kind(&[-1.0, -2.0]), CriticalPointKind::StrictLocalMax);
        assert_eq!(kind(&[-1.0, 0.0, 2.0]), CriticalPointKind::Saddle);
        assert_eq!(kind(&[0.0, 2.0]), CriticalPointKind::DegeneratePsd);
        assert_eq!(kind(&[-3.0, 0.0]), CriticalPointKind::DegenerateNsd);
        assert_eq!(kind(&[0.0, 0.0]), CriticalPointKind::DegenerateFlat);
    }

    #[test]
    fn zero_is_relative_to_the_largest_eigenvalue() {
        // 1e-12 next to 4 is rounding noise: zero.
        assert_eq!(kind(&[1e-12, 4.0]), CriticalPointKind::DegeneratePsd);
        assert_eq!(kind(&[-1e-12, 4.0]), CriticalPointKind::DegeneratePsd);
        // The same eigenvalue on its own scale is real curvature.
        assert_eq!(kind(&[1e-12, 4e-12]), CriticalPointKind::StrictLocalMin);
        // Rescaling the loss does not change the verdict.
        assert_eq!(kind(&[-1e-3, 1e5]), kind(&[-1e-9, 1e-1]));
    }

    #[test]
    fn minimum_ratio_counts_positive_eigenvalues() {
        assert_eq!(minimum_ratio(&[-1.0, 0.0, 1.0, 2.0], 1e-10).unwrap(), 0.5);
        assert_eq!(minimum_ratio(&[1.0, 2.0], 1e-10).unwrap(), 1.0);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(matches!(
            classify_spectrum(&[], 1e-10),
            Err(HessianError::EmptyOperator { .. })
        ));
        assert!(matches!(
            classify_spectrum(&[1.0, f64::NAN], 1e-10),
            Err(HessianError::NonFinite { index: 1, .. })
        ));
        assert!(matches!(
            classify_spectrum(&[1.0], -1.0),
            Err(HessianError::InvalidConfig { .. })
        ));
        let tol = ClassifyTolerances::default();
        assert!(matches!(
            classify_critical_point(f64::INFINITY, &[1.0], tol),
            Err(HessianError::NonFinite { .. })
        ));
    }
}

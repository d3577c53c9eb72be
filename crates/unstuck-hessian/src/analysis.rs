//! Critical-point analysis at one point: gradient, spectrum, verdict, way out.

use crate::classify::{
    ClassifyTolerances, CriticalPointKind, SignCounts, classify_critical_point, sign_counts,
};
use crate::dense::{DenseHessian, full_hessian};
use crate::error::{HessianError, check_finite, check_len};
use crate::surface::{LossSurface, check_point};
use crate::vector::norm;

/// The most negative eigenvalue and its unit eigenvector: the lecture's way out of a saddle.
#[derive(Debug, Clone, PartialEq)]
pub struct EscapeDirection {
    /// The eigenvalue (negative).
    pub eigenvalue: f64,
    /// Its unit eigenvector, largest entry positive; `-direction` works as well.
    pub direction: Vec<f64>,
}

/// Everything the second-order test says about a point.
#[derive(Debug, Clone, PartialEq)]
pub struct CriticalPointAnalysis {
    /// The loss at the point.
    pub value: f64,
    /// `||gradient||`.
    pub gradient_norm: f64,
    /// All Hessian eigenvalues, ascending.
    pub eigenvalues: Vec<f64>,
    /// Negative / zero / positive counts under the relative tolerance.
    pub counts: SignCounts,
    /// The verdict.
    pub kind: CriticalPointKind,
    /// Fraction of positive eigenvalues (the lecture's minimum ratio).
    pub minimum_ratio: f64,
    /// The escape direction, when some eigenvalue is negative beyond the zero tolerance.
    pub escape: Option<EscapeDirection>,
    /// `max |H_ij - H_ji|` of the assembled Hessian before symmetrising.
    pub asymmetry: f64,
}

/// Analyses a point from its loss, gradient and dense Hessian.
pub fn analyze_dense(
    value: f64,
    gradient: &[f64],
    hessian: &DenseHessian,
    tolerances: ClassifyTolerances,
) -> Result<CriticalPointAnalysis, HessianError> {
    check_len("gradient", gradient, hessian.dim())?;
    check_finite("gradient", gradient)?;
    check_finite("value", &[value])?;
    let eigen = hessian.eigen()?;
    let eigenvalues = eigen.values().to_vec();
    let gradient_norm = norm(gradient);
    let counts = sign_counts(&eigenvalues, tolerances.eigenvalue_rel)?;
    let kind = classify_critical_point(gradient_norm, &eigenvalues, tolerances)?;
    let minimum_ratio = counts.positive as f64 / eigenvalues.len() as f64;
    let escape = (counts.negative > 0).then(|| EscapeDirection {
        eigenvalue: eigenvalues[0],
        direction: eigen.vector(0).to_vec(),
    });
    Ok(CriticalPointAnalysis {
        value,
        gradient_norm,
        eigenvalues,
        counts,
        kind,
        minimum_ratio,
        escape,
        asymmetry: hessian.asymmetry(),
    })
}

/// Analyses `obj` at `theta` with the dense Hessian (P HVPs and an O(P^3) eigensolve; for
/// larger models use [`crate::lanczos`] on `obj.curvature(theta)`).
///
/// # Example
/// ```
/// use unstuck_hessian::{ClassifyTolerances, CriticalPointKind, ExplicitObjective, analyze_critical_point};
/// let saddle = ExplicitObjective::new(
///     2,
///     |w: &[f64]| (w[0] * w[0] - w[1] * w[1], vec![2.0 * w[0], -2.0 * w[1]]),
///     |_w: &[f64]| vec![2.0, 0.0, 0.0, -2.0],
/// );
/// let res = analyze_critical_point(&saddle, &[0.0, 0.0], ClassifyTolerances::default())?;
/// assert_eq!(res.kind, CriticalPointKind::Saddle);
/// assert_eq!(res.escape.unwrap().direction, vec![0.0, 1.0]);
/// # Ok::<(), unstuck_hessian::HessianError>(())
/// ```
pub fn analyze_critical_point<F: LossSurface + ?Sized>(
    obj: &F,
    theta: &[f64],
    tolerances: ClassifyTolerances,
) -> Result<CriticalPointAnalysis, HessianError> {
    check_point(obj, theta)?;
    let (value, gradient) = obj.value_and_gradient(theta)?;
    let curvature = obj.curvature(theta)?;
    let hessian = full_hessian(&*curvature)?;
    analyze_dense(value, &gradient, &hessian, tolerances)
}

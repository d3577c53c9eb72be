//! Gradient checking against central finite differences, like PyTorch's `gradcheck`
//! and `gradgradcheck`, with tolerances fitted to f64 (see [`CheckOptions`]).

use crate::AutodiffError;
use crate::curvature::{Curvature, gradient};
use crate::error::{ensure_finite, ensure_len};
use crate::tape::{Tape, Var};

/// Step and tolerances of a finite-difference check.
///
/// An entry passes when `|analytic - numeric| <= atol + rtol * |numeric|`, PyTorch's rule,
/// but with tolerances chosen for what central differences deliver in f64 rather than
/// PyTorch's `gradcheck` defaults (`rtol = 1e-3`, which let a rule wrong by 1e-4 pass).
///
/// The error of a central difference is about `step² |f'''| / 6 + eps |f| / step`
/// (`eps = 2.2e-16`): truncation against rounding. Measured over every op case of this
/// crate's tests (`calibrate_finite_difference_errors`, `|f|` up to about 40), the largest
/// error is 1.2e-8 at `step = 1e-6` (rounding dominates), 8e-9 at `2e-6`, 1.6e-7 at `1e-5`
/// and 1.6e-5 at `1e-4` (truncation dominates). So the default step is `2e-6`, `atol`
/// is `1e-7` (twelve times the worst error seen) and `rtol` is `1e-7`: a rule wrong by a
/// factor `1 + 1e-4` errs by `1e-4 |entry|`, which fails for any entry above `1e-3`, and
/// the crate's tests check that it does for every rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckOptions {
    /// The finite-difference step.
    pub step: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            step: 2e-6,
            atol: 1e-7,
            rtol: 1e-7,
        }
    }
}

/// The outcome of a check: the worst entry, so a failure says where to look.
#[derive(Debug, Clone, PartialEq)]
pub struct GradCheck {
    /// Index of the entry with the largest scaled error.
    pub worst_index: usize,
    /// The exact derivative there.
    pub analytic: f64,
    /// The finite-difference estimate there.
    pub numeric: f64,
    /// `|analytic - numeric| / (atol + rtol * |numeric|)` there: at most 1 passes.
    pub scaled_error: f64,
    /// The largest `|analytic - numeric|` over all entries.
    pub max_abs_error: f64,
}

impl GradCheck {
    /// Whether every entry is within tolerance.
    pub fn passed(&self) -> bool {
        self.scaled_error <= 1.0
    }
}

impl std::fmt::Display for GradCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: worst entry {} has analytic {:e} vs numeric {:e} ({:.3} of the tolerance); max abs error {:e}",
            if self.passed() { "passed" } else { "FAILED" },
            self.worst_index,
            self.analytic,
            self.numeric,
            self.scaled_error,
            self.max_abs_error
        )
    }
}

fn compare(analytic: &[f64], numeric: &[f64], options: &CheckOptions) -> GradCheck {
    let mut report = GradCheck {
        worst_index: 0,
        analytic: analytic.first().copied().unwrap_or(0.0),
        numeric: numeric.first().copied().unwrap_or(0.0),
        scaled_error: 0.0,
        max_abs_error: 0.0,
    };
    for (i, (&a, &n)) in analytic.iter().zip(numeric).enumerate() {
        let abs = (a - n).abs();
        let scaled = abs / (options.atol + options.rtol * n.abs());
        report.max_abs_error = report.max_abs_error.max(abs);
        // NaN counts as the worst possible entry.
        if scaled > report.scaled_error || scaled.is_nan() {
            report.worst_index = i;
            report.analytic = a;
            report.numeric = n;
            report.scaled_error = if scaled.is_nan() {
                f64::INFINITY
            } else {
                scaled
            };
        }
    }
    report
}

fn check_step(options: &CheckOptions) -> Result<(), AutodiffError> {
    if options.step > 0.0 && options.step.is_finite() {
        Ok(())
    } else {
        Err(AutodiffError::BadStep(options.step))
    }
}

/// Compares the gradient of `f` at `theta` with central differences, entry by entry.
///
/// ```
/// use unstuck_autodiff::{check_grad, CheckOptions};
/// let f = |tape: &unstuck_autodiff::Tape<f64>, x| tape.sum(tape.tanh(tape.square(x)));
/// let report = check_grad(f, &[0.3, -1.2], &CheckOptions::default()).unwrap();
/// assert!(report.passed(), "{report}");
/// ```
pub fn check_grad<F>(
    f: F,
    theta: &[f64],
    options: &CheckOptions,
) -> Result<GradCheck, AutodiffError>
where
    F: Fn(&Tape<f64>, Var) -> Var,
{
    check_step(options)?;
    let (_, analytic) = gradient(&f, theta)?;
    let mut probe = theta.to_vec();
    let mut numeric = Vec::with_capacity(theta.len());
    for i in 0..theta.len() {
        probe[i] = theta[i] + options.step;
        let plus = gradient(&f, &probe)?.0;
        probe[i] = theta[i] - options.step;
        let minus = gradient(&f, &probe)?.0;
        probe[i] = theta[i];
        numeric.push((plus - minus) / (2.0 * options.step));
    }
    Ok(compare(&analytic, &numeric, options))
}

/// Compares `H · v` of `f` at `theta` with central differences of the gradient along `v`.
///
/// ```
/// use unstuck_autodiff::{check_hvp, CheckOptions};
/// let f = |tape: &unstuck_autodiff::Tape<f64>, x| tape.sum(tape.exp(tape.mul(x, x)));
/// let report = check_hvp(f, &[0.3, -0.4], &[1.0, 2.0], &CheckOptions::default()).unwrap();
/// assert!(report.passed(), "{report}");
/// ```
pub fn check_hvp<F>(
    f: F,
    theta: &[f64],
    v: &[f64],
    options: &CheckOptions,
) -> Result<GradCheck, AutodiffError>
where
    F: Fn(&Tape<f64>, Var) -> Var,
{
    check_step(options)?;
    ensure_len("check_hvp direction", theta.len(), v.len())?;
    ensure_finite("check_hvp direction", v)?;
    let analytic = Curvature::new(&f, theta)?.hvp(v)?;
    let shifted = |sign: f64| -> Vec<f64> {
        theta
            .iter()
            .zip(v)
            .map(|(&t, &d)| t + sign * options.step * d)
            .collect()
    };
    let (_, plus) = gradient(&f, &shifted(1.0))?;
    let (_, minus) = gradient(&f, &shifted(-1.0))?;
    let numeric: Vec<f64> = plus
        .iter()
        .zip(&minus)
        .map(|(p, m)| (p - m) / (2.0 * options.step))
        .collect();
    Ok(compare(&analytic, &numeric, options))
}

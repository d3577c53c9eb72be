//! The lecture's way out of a saddle: step along a negative-curvature eigenvector.

use crate::error::{HessianError, check_finite, check_len};
use crate::lanczos::{LanczosConfig, SpectrumEnd, lanczos};
use crate::surface::{LossSurface, check_point};
use crate::vector::{axpy, dot, norm};

/// Settings for [`escape_step`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EscapeConfig {
    /// A lower bound on the loss (0 for mean squared error and cross-entropy). The first
    /// step is the one where the quadratic model predicts reaching it.
    pub loss_floor: f64,
    /// An upper bound on the first step length.
    pub max_step: f64,
    /// How many times the step may be halved before giving up.
    pub max_halvings: usize,
}

impl Default for EscapeConfig {
    fn default() -> Self {
        Self {
            loss_floor: 0.0,
            max_step: f64::INFINITY,
            max_halvings: 40,
        }
    }
}

/// A step that lowered the loss.
#[derive(Debug, Clone, PartialEq)]
pub struct EscapeStep {
    /// The new point `theta + alpha * u`.
    pub theta: Vec<f64>,
    /// The signed step length along the unit direction `u` (the sign that worked).
    pub alpha: f64,
    /// The loss at the start.
    pub loss_before: f64,
    /// The loss at the new point.
    pub loss_after: f64,
    /// `loss_before - loss_after`, positive.
    pub loss_drop: f64,
    /// The drop the quadratic model predicted for this step.
    pub predicted_drop: f64,
    /// How many times the first step was halved.
    pub halvings: usize,
}

/// Steps from `theta` along `direction` (an eigenvector of the negative eigenvalue
/// `eigenvalue`), checking that the true loss falls.
///
/// Along the unit direction `u` the quadratic model is
/// `m(a) = f + a g·u + a^2 lambda / 2`, which with `lambda < 0` falls without bound. The first
/// step length `a0` is where the model's drop `|g·u| a + |lambda| a^2 / 2` reaches
/// `f - loss_floor` (capped at `max_step`). Both signs `±a` are tried and the lower true loss
/// kept; if neither is below `f`, the step is halved, up to `max_halvings` times.
///
/// # Example
/// ```
/// use unstuck_hessian::{EscapeConfig, ExplicitObjective, escape_step};
/// let loss = ExplicitObjective::new(
///     2,
///     |w: &[f64]| { let r = 1.0 - w[0] * w[1]; (r * r, vec![-2.0 * r * w[1], -2.0 * r * w[0]]) },
///     |w: &[f64]| { let r = 1.0 - w[0] * w[1]; let c = 2.0 * w[0] * w[1] - 2.0 * r;
///                    vec![2.0 * w[1] * w[1], c, c, 2.0 * w[0] * w[0]] },
/// );
/// let s = 0.5f64.sqrt();
/// let step = escape_step(&loss, &[0.0, 0.0], &[s, s], -2.0, EscapeConfig::default())?;
/// assert!(step.loss_after < 1.0);
/// # Ok::<(), unstuck_hessian::HessianError>(())
/// ```
pub fn escape_step<F: LossSurface + ?Sized>(
    obj: &F,
    theta: &[f64],
    direction: &[f64],
    eigenvalue: f64,
    config: EscapeConfig,
) -> Result<EscapeStep, HessianError> {
    check_point(obj, theta)?;
    check_len("direction", direction, theta.len())?;
    check_finite("direction", direction)?;
    if eigenvalue.is_nan() || eigenvalue >= 0.0 {
        return Err(HessianError::NoNegativeCurvature {
            min_eigenvalue: eigenvalue,
        });
    }
    if config.max_step.is_nan() || config.max_step <= 0.0 {
        return Err(HessianError::InvalidConfig {
            field: "max_step",
            reason: format!("must be positive, got {}", config.max_step),
        });
    }
    let length = norm(direction);
    if length == 0.0 {
        return Err(HessianError::InvalidConfig {
            field: "direction",
            reason: "is the zero vector".into(),
        });
    }
    let u: Vec<f64> = direction.iter().map(|x| x / length).collect();
    let (loss, gradient) = obj.value_and_gradient(theta)?;
    let slope = dot(&gradient, &u);
    let curvature = -eigenvalue;
    let target = loss - config.loss_floor;
    if target.is_nan() || target <= 0.0 {
        // Already at the floor: nothing to gain if the floor is a true lower bound.
        return Err(HessianError::NoDescent { halvings: 0, loss });
    }
    // Positive root of curvature/2 a^2 + |slope| a - target = 0, written to avoid
    // cancellation when |slope| is large.
    let a0 = 2.0 * target / (slope.abs() + (slope * slope + 2.0 * curvature * target).sqrt());
    let mut a = a0.min(config.max_step);
    for halvings in 0..=config.max_halvings {
        let mut best: Option<(f64, f64, Vec<f64>)> = None;
        for sign in [1.0, -1.0] {
            let mut trial = theta.to_vec();
            axpy(sign * a, &u, &mut trial);
            let trial_loss = obj.value(&trial)?;
            if trial_loss.is_finite() && best.as_ref().is_none_or(|(l, _, _)| trial_loss < *l) {
                best = Some((trial_loss, sign, trial));
            }
        }
        if let Some((loss_after, sign, new_theta)) = best
            && loss_after < loss
        {
            let predicted_drop = -(sign * a * slope) + 0.5 * curvature * a * a;
            return Ok(EscapeStep {
                theta: new_theta,
                alpha: sign * a,
                loss_before: loss,
                loss_after,
                loss_drop: loss - loss_after,
                predicted_drop,
                halvings,
            });
        }
        a *= 0.5;
    }
    Err(HessianError::NoDescent {
        halvings: config.max_halvings,
        loss,
    })
}

/// Finds the most negative eigenpair of the Hessian at `theta` by Lanczos (seeded, so
/// matrix-free and fine for large P) and takes [`escape_step`] along it.
///
/// Errors with [`HessianError::NoNegativeCurvature`] when the smallest eigenvalue is not
/// negative, i.e. there is no saddle to escape.
pub fn escape_saddle<F: LossSurface + ?Sized>(
    obj: &F,
    theta: &[f64],
    lanczos_config: LanczosConfig,
    config: EscapeConfig,
) -> Result<EscapeStep, HessianError> {
    check_point(obj, theta)?;
    let curvature = obj.curvature(theta)?;
    let res = lanczos(
        &*curvature,
        LanczosConfig {
            k: 1,
            end: SpectrumEnd::Smallest,
            ..lanczos_config
        },
    )?;
    let pair = &res.smallest[0];
    if pair.value >= 0.0 {
        return Err(HessianError::NoNegativeCurvature {
            min_eigenvalue: pair.value,
        });
    }
    escape_step(obj, theta, &pair.vector, pair.value, config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::ExplicitObjective;

    /// f = x^2 - y^2 + y^4: a saddle at 0 with minima at y = ±1/sqrt(2), f = -1/4.
    fn saddle_with_floor() -> impl LossSurface {
        ExplicitObjective::new(
            2,
            |w: &[f64]| {
                let (x, y) = (w[0], w[1]);
                (
                    x * x - y * y + y.powi(4),
                    vec![2.0 * x, -2.0 * y + 4.0 * y.powi(3)],
                )
            },
            |w: &[f64]| vec![2.0, 0.0, 0.0, -2.0 + 12.0 * w[1] * w[1]],
        )
    }

    #[test]
    fn overshooting_steps_are_halved_until_the_loss_falls() {
        let f = saddle_with_floor();
        // Floor far below the true minimum: the model asks for a huge step, which the
        // quartic term punishes, so the step must back off.
        let config = EscapeConfig {
            loss_floor: -100.0,
            ..Default::default()
        };
        let step = escape_step(&f, &[0.0, 0.0], &[0.0, 1.0], -2.0, config).unwrap();
        assert!(step.halvings > 0);
        assert!(step.loss_after < 0.0 && step.loss_drop > 0.0);
        assert_eq!(step.theta[0], 0.0);
        assert!(
            step.alpha.abs() < 2f64.sqrt(),
            "f(0, y) < 0 needs |y| < 1: {}",
            step.alpha
        );
    }

    #[test]
    fn escape_saddle_finds_the_direction_itself() {
        let f = saddle_with_floor();
        let config = EscapeConfig {
            loss_floor: -0.25,
            ..Default::default()
        };
        let step = escape_saddle(&f, &[0.0, 0.0], LanczosConfig::default(), config).unwrap();
        // Model: y^2 = 0.25 at |y| = 0.5, where f = -0.25 + 0.0625: halved 0 times.
        assert_eq!(step.halvings, 0);
        assert!((step.alpha.abs() - 0.5).abs() < 1e-12);
        assert!((step.loss_after + 0.1875).abs() < 1e-12);
    }

    #[test]
    fn no_negative_curvature_no_escape() {
        let f = saddle_with_floor();
        assert!(matches!(
            escape_step(&f, &[0.0, 0.0], &[1.0, 0.0], 2.0, EscapeConfig::default()),
            Err(HessianError::NoNegativeCurvature { .. })
        ));
        // At the minimum (0, 1/sqrt 2) the Hessian is diag(2, 4).
        let s = 0.5f64.sqrt();
        assert!(matches!(
            escape_saddle(
                &f,
                &[0.0, s],
                LanczosConfig::default(),
                EscapeConfig::default()
            ),
            Err(HessianError::NoNegativeCurvature { .. })
        ));
        assert!(matches!(
            escape_step(
                &f,
                &[f64::NAN, 0.0],
                &[1.0, 0.0],
                -2.0,
                EscapeConfig::default()
            ),
            Err(HessianError::NonFinite {
                what: "theta",
                index: 0
            })
        ));
    }
}

//! Newton-style refinement toward a nearby critical point (of any kind, saddles included).

use crate::error::HessianError;
use crate::operator::{HvpOperator, apply_checked};
use crate::surface::{LossSurface, check_point};
use crate::vector::{axpy, dot, norm};

/// Settings for [`refine_critical_point`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefineConfig {
    /// Outer (Levenberg–Marquardt) iterations.
    pub max_iter: usize,
    /// Stop when `||gradient|| <= gradient_tol`.
    pub gradient_tol: f64,
    /// Initial damping, relative to the curvature scale `(||H g|| / ||g||)^2`.
    pub initial_damping: f64,
    /// Conjugate-gradient iterations per linear solve (2 HVPs each).
    pub cg_max_iter: usize,
    /// CG stops at relative residual `cg_tol`.
    pub cg_tol: f64,
    /// Damping increases (each x4) allowed per outer iteration before giving up.
    pub max_rejections: usize,
}

impl Default for RefineConfig {
    fn default() -> Self {
        Self {
            max_iter: 100,
            gradient_tol: 1e-10,
            initial_damping: 1e-6,
            cg_max_iter: 200,
            cg_tol: 1e-12,
            max_rejections: 30,
        }
    }
}

/// Where refinement ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Refinement {
    /// The final point.
    pub theta: Vec<f64>,
    /// The loss there.
    pub value: f64,
    /// `||gradient||` at the start and after each accepted step.
    pub gradient_norms: Vec<f64>,
    /// Whether `gradient_tol` was reached.
    pub converged: bool,
    /// HVPs used.
    pub n_hvp: usize,
}

/// Moves `theta` toward a nearby critical point by minimising `||grad f||^2 / 2` with
/// Levenberg–Marquardt steps.
///
/// The residual is the gradient `g(theta)`, its Jacobian the Hessian `H`, so each step solves
/// `(H^2 + mu I) d = -H g` (matrix-free, by conjugate gradients, 2 HVPs per iteration).
/// For small `mu` this is the Newton step `-H^{-1} g`, which is attracted to every critical
/// point, saddles included; that is the point, since the saddles are where training stalls.
/// Saddle-free Newton (`|H|^{-1}`) would be repelled by them and damped gradient descent
/// would slide off. The step is accepted only if `||g||` falls; otherwise `mu` grows
/// fourfold (a shorter step, closer to gradient descent on `||g||^2`), and after a success
/// `mu` shrinks threefold. Every accepted step therefore lowers the gradient norm.
pub fn refine_critical_point<F: LossSurface + ?Sized>(
    obj: &F,
    theta: &[f64],
    config: RefineConfig,
) -> Result<Refinement, HessianError> {
    check_point(obj, theta)?;
    if config.max_iter == 0 || config.cg_max_iter == 0 {
        return Err(HessianError::InvalidConfig {
            field: "max_iter/cg_max_iter",
            reason: "must be at least 1".into(),
        });
    }
    if !(config.initial_damping > 0.0 && config.initial_damping.is_finite()) {
        return Err(HessianError::InvalidConfig {
            field: "initial_damping",
            reason: format!("must be positive, got {}", config.initial_damping),
        });
    }
    let mut theta = theta.to_vec();
    let (mut value, mut gradient) = obj.value_and_gradient(&theta)?;
    let mut gradient_norms = vec![norm(&gradient)];
    let mut n_hvp = 0;
    let mut damping = config.initial_damping;
    for _iteration in 0..config.max_iter {
        let g_norm = norm(&gradient);
        if g_norm <= config.gradient_tol {
            break;
        }
        let curvature = obj.curvature(&theta)?;
        let op: &dyn HvpOperator = &*curvature;
        let hg = apply_checked(op, &gradient, 1)?;
        n_hvp += 1;
        // mu is relative to the squared curvature along g, so the damping means the same
        // for any scaling of the loss.
        let scale = (norm(&hg) / g_norm).powi(2).max(f64::MIN_POSITIVE);
        let rhs: Vec<f64> = hg.iter().map(|x| -x).collect();
        let mut accepted = false;
        for _rejection in 0..=config.max_rejections {
            let mu = damping * scale;
            let (step, used) = conjugate_gradient(op, &rhs, mu, config.cg_max_iter, config.cg_tol)?;
            n_hvp += used;
            let mut trial = theta.clone();
            axpy(1.0, &step, &mut trial);
            let (trial_value, trial_gradient) = obj.value_and_gradient(&trial)?;
            let trial_norm = norm(&trial_gradient);
            if trial_value.is_finite() && trial_norm < g_norm {
                theta = trial;
                value = trial_value;
                gradient = trial_gradient;
                gradient_norms.push(trial_norm);
                damping = (damping / 3.0).max(1e-15);
                accepted = true;
                break;
            }
            damping *= 4.0;
        }
        if !accepted {
            break;
        }
    }
    let converged = norm(&gradient) <= config.gradient_tol;
    Ok(Refinement {
        theta,
        value,
        gradient_norms,
        converged,
        n_hvp,
    })
}

/// Solves `(H^2 + mu I) x = b` by conjugate gradients from `x = 0`; returns `x` and the
/// number of HVPs used. `H^2 + mu I` is symmetric positive definite for `mu > 0`.
fn conjugate_gradient(
    op: &dyn HvpOperator,
    b: &[f64],
    mu: f64,
    max_iter: usize,
    tol: f64,
) -> Result<(Vec<f64>, usize), HessianError> {
    let apply = |p: &[f64]| -> Result<Vec<f64>, HessianError> {
        let hp = apply_checked(op, p, 1)?;
        let mut hhp = apply_checked(op, &hp, 1)?;
        axpy(mu, p, &mut hhp);
        Ok(hhp)
    };
    let mut x = vec![0.0; b.len()];
    let mut r = b.to_vec();
    let mut p = r.clone();
    let mut rr = dot(&r, &r);
    let stop = tol * tol * rr;
    let mut used = 0;
    for _iteration in 0..max_iter {
        if rr <= stop || rr == 0.0 {
            break;
        }
        let ap = apply(&p)?;
        used += 2;
        let pap = dot(&p, &ap);
        if pap.is_nan() || pap <= 0.0 {
            break;
        }
        let step = rr / pap;
        axpy(step, &p, &mut x);
        axpy(-step, &ap, &mut r);
        let rr_new = dot(&r, &r);
        let beta = rr_new / rr;
        for (pi, ri) in p.iter_mut().zip(&r) {
            *pi = ri + beta * *pi;
        }
        rr = rr_new;
    }
    Ok((x, used))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::ExplicitObjective;

    fn lecture_loss() -> impl LossSurface {
        ExplicitObjective::new(
            2,
            |w: &[f64]| {
                let r = 1.0 - w[0] * w[1];
                (r * r, vec![-2.0 * r * w[1], -2.0 * r * w[0]])
            },
            |w: &[f64]| {
                let r = 1.0 - w[0] * w[1];
                let c = 2.0 * w[0] * w[1] - 2.0 * r;
                vec![2.0 * w[1] * w[1], c, c, 2.0 * w[0] * w[0]]
            },
        )
    }

    #[test]
    fn refinement_finds_the_saddle_that_gradient_descent_leaves() {
        let f = lecture_loss();
        let res = refine_critical_point(&f, &[0.1, -0.05], RefineConfig::default()).unwrap();
        assert!(res.converged, "{:?}", res.gradient_norms);
        assert!(
            res.gradient_norms.windows(2).all(|w| w[1] < w[0]),
            "gradient norm must fall every step"
        );
        // The nearby critical point is the saddle at the origin (value 1), not a minimum.
        assert!(res.theta.iter().all(|x| x.abs() < 1e-9), "{:?}", res.theta);
        assert!((res.value - 1.0).abs() < 1e-12);
    }

    #[test]
    fn refinement_lands_on_the_valley_of_minima_from_nearby() {
        let f = lecture_loss();
        let res = refine_critical_point(&f, &[1.3, 0.9], RefineConfig::default()).unwrap();
        assert!(res.converged);
        // Every point with w1 w2 = 1 is a minimum with loss 0.
        assert!((res.theta[0] * res.theta[1] - 1.0).abs() < 1e-9);
        assert!(res.value < 1e-18);
    }

    #[test]
    fn rosenbrock_gradient_norm_falls_to_zero() {
        let f = ExplicitObjective::new(
            2,
            |w: &[f64]| {
                let (x, y) = (w[0], w[1]);
                let value = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
                (
                    value,
                    vec![
                        -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
                        200.0 * (y - x * x),
                    ],
                )
            },
            |w: &[f64]| {
                let (x, y) = (w[0], w[1]);
                let xy = -400.0 * x;
                vec![2.0 - 400.0 * (y - x * x) + 800.0 * x * x, xy, xy, 200.0]
            },
        );
        // Rosenbrock's curved valley makes any method that insists on a falling ||g||
        // crawl along it (about 80 steps here), before the quadratic endgame.
        let config = RefineConfig {
            max_iter: 200,
            ..Default::default()
        };
        let res = refine_critical_point(&f, &[0.8, 0.7], config).unwrap();
        assert!(res.gradient_norms.windows(2).all(|w| w[1] < w[0]));
        assert!(res.converged, "{:?}", res.gradient_norms);
        assert!((res.theta[0] - 1.0).abs() < 1e-9 && (res.theta[1] - 1.0).abs() < 1e-9);
    }
}

//! Sharpness of a minimum: the top eigenvalue and Keskar et al.'s epsilon-sharpness.

use rand::Rng;

use crate::error::HessianError;
use crate::lanczos::{EigenPair, LanczosConfig, SpectrumEnd, lanczos};
use crate::operator::HvpOperator;
use crate::surface::{LossSurface, check_point};
use crate::vector::rng;

/// `lambda_max`, the largest eigenvalue of the Hessian, and its eigenvector, by Lanczos.
///
/// The simplest sharpness measure: the curvature of the steepest direction, which also caps
/// the stable learning rate of gradient descent at `2 / lambda_max`.
pub fn lambda_max<O: HvpOperator + ?Sized>(
    op: &O,
    config: LanczosConfig,
) -> Result<EigenPair, HessianError> {
    let res = lanczos(
        op,
        LanczosConfig {
            k: 1,
            end: SpectrumEnd::Largest,
            ..config
        },
    )?;
    Ok(res
        .largest
        .into_iter()
        .next()
        .expect("lanczos returns k = 1 pair"))
}

/// Settings for [`epsilon_sharpness`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SharpnessConfig {
    /// The box size epsilon (Keskar et al. report 1e-3 and 5e-4).
    pub epsilon: f64,
    /// Projected ascent steps per start.
    pub n_steps: usize,
    /// Step length as a fraction of each coordinate's box half-width.
    pub step_fraction: f64,
    /// Random starts inside the box besides the start at the centre.
    pub n_random_starts: usize,
    /// Seed of the random starts.
    pub seed: u64,
}

impl Default for SharpnessConfig {
    fn default() -> Self {
        Self {
            epsilon: 1e-3,
            n_steps: 20,
            step_fraction: 0.25,
            n_random_starts: 2,
            seed: 0,
        }
    }
}

/// The result of [`epsilon_sharpness`].
#[derive(Debug, Clone, PartialEq)]
pub struct EpsilonSharpness {
    /// `f(theta)`.
    pub loss: f64,
    /// The largest loss found in the box.
    pub max_loss: f64,
    /// `max_loss - loss`, the raw increase (never negative: the centre is in the box).
    pub increase: f64,
    /// Keskar et al.'s normalised value `100 * increase / (1 + loss)`.
    pub sharpness: f64,
    /// The perturbation that reached `max_loss`.
    pub delta: Vec<f64>,
    /// Loss evaluations (value and gradient) used.
    pub n_evals: usize,
}

/// Keskar et al. (2017)'s epsilon-sharpness, searched by projected gradient ascent.
///
/// With the box `C_eps = { delta : |delta_i| <= eps (|theta_i| + 1) }` (their `A = I`),
///
/// ```text
/// phi(theta, eps) = 100 * ( max_{delta in C_eps} f(theta + delta) - f(theta) ) / ( 1 + f(theta) )
/// ```
///
/// The maximum is searched by projected steepest ascent in the box's own norm: with
/// `r_i = eps (|theta_i| + 1)`, `delta <- clip(delta + step_fraction * r * sign(grad f(theta + delta)), -r, r)`,
/// from `delta = 0` and from `n_random_starts` seeded uniform points in the box, keeping the
/// best value seen (an ascent finds a lower bound of the true maximum; more starts and steps
/// tighten it). Keskar et al. used L-BFGS-B for the same inner problem.
pub fn epsilon_sharpness<F: LossSurface + ?Sized>(
    obj: &F,
    theta: &[f64],
    config: SharpnessConfig,
) -> Result<EpsilonSharpness, HessianError> {
    check_point(obj, theta)?;
    if !(config.epsilon > 0.0 && config.epsilon.is_finite()) {
        return Err(HessianError::InvalidConfig {
            field: "epsilon",
            reason: format!("must be positive and finite, got {}", config.epsilon),
        });
    }
    if !(config.step_fraction > 0.0 && config.step_fraction.is_finite()) {
        return Err(HessianError::InvalidConfig {
            field: "step_fraction",
            reason: format!("must be positive and finite, got {}", config.step_fraction),
        });
    }
    let radius: Vec<f64> = theta
        .iter()
        .map(|t| config.epsilon * (t.abs() + 1.0))
        .collect();
    let loss = obj.value(theta)?;
    let mut n_evals = 1;
    let mut best_loss = loss;
    let mut best_delta = vec![0.0; theta.len()];
    let mut rng = rng(config.seed);
    for start in 0..=config.n_random_starts {
        let mut delta: Vec<f64> = if start == 0 {
            vec![0.0; theta.len()]
        } else {
            radius
                .iter()
                .map(|r| r * (2.0 * rng.random::<f64>() - 1.0))
                .collect()
        };
        for _step in 0..=config.n_steps {
            let point: Vec<f64> = theta.iter().zip(&delta).map(|(t, d)| t + d).collect();
            let (value, gradient) = obj.value_and_gradient(&point)?;
            n_evals += 1;
            if value > best_loss {
                best_loss = value;
                best_delta.clone_from(&delta);
            }
            for ((d, g), r) in delta.iter_mut().zip(&gradient).zip(&radius) {
                // sign(0) = 0: a coordinate with no slope stays put.
                let sign = if *g > 0.0 {
                    1.0
                } else if *g < 0.0 {
                    -1.0
                } else {
                    0.0
                };
                let moved = *d + config.step_fraction * r * sign;
                *d = moved.clamp(-r, *r);
            }
        }
    }
    let increase = best_loss - loss;
    Ok(EpsilonSharpness {
        loss,
        max_loss: best_loss,
        increase,
        sharpness: 100.0 * increase / (1.0 + loss),
        delta: best_delta,
        n_evals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::DenseOperator;
    use crate::surface::ExplicitObjective;

    fn quadratic(diag: Vec<f64>) -> impl LossSurface {
        let d2 = diag.clone();
        let n = diag.len();
        ExplicitObjective::new(
            n,
            move |w: &[f64]| {
                let value = 0.5 * w.iter().zip(&diag).map(|(x, a)| a * x * x).sum::<f64>();
                (value, w.iter().zip(&diag).map(|(x, a)| a * x).collect())
            },
            move |_w: &[f64]| {
                (0..n * n)
                    .map(|idx| if idx / n == idx % n { d2[idx / n] } else { 0.0 })
                    .collect()
            },
        )
    }

    #[test]
    fn sharpness_of_a_quadratic_bowl_is_its_corner() {
        let f = quadratic(vec![4.0, 1.0, 0.25]);
        let eps = 1e-2;
        let res = epsilon_sharpness(
            &f,
            &[0.0; 3],
            SharpnessConfig {
                epsilon: eps,
                ..Default::default()
            },
        )
        .unwrap();
        // At theta = 0 the box half-width is eps in each coordinate and the maximum of a
        // convex bowl is at a corner: (4 + 1 + 0.25) eps^2 / 2.
        let want = 0.5 * 5.25 * eps * eps;
        assert!(
            (res.increase - want).abs() < 1e-15,
            "{} vs {want}",
            res.increase
        );
        assert!((res.sharpness - 100.0 * want).abs() < 1e-12);
        assert!(res.delta.iter().all(|d| (d.abs() - eps).abs() < 1e-15));
    }

    #[test]
    fn the_box_scales_with_the_parameters() {
        let f = quadratic(vec![2.0]);
        let res = epsilon_sharpness(
            &f,
            &[3.0],
            SharpnessConfig {
                epsilon: 1e-3,
                ..Default::default()
            },
        )
        .unwrap();
        // Radius 1e-3 * (3 + 1) = 4e-3, pushed outward: f(3.004) - f(3).
        let want = 3.004f64.powi(2) - 9.0;
        assert!(
            (res.increase - want).abs() < 1e-12,
            "{} vs {want}",
            res.increase
        );
        assert!((res.delta[0] - 4e-3).abs() < 1e-15);
    }

    #[test]
    fn lambda_max_of_a_known_matrix() {
        let op =
            DenseOperator::from_fn(20, |i, j| if i == j { (i as f64).sin() } else { 0.0 }).unwrap();
        let top = lambda_max(&op, LanczosConfig::default()).unwrap();
        let want = (0..20)
            .map(|i| (i as f64).sin())
            .fold(f64::NEG_INFINITY, f64::max);
        assert!((top.value - want).abs() < 1e-10);
    }

    #[test]
    fn bad_epsilon_is_an_error() {
        let f = quadratic(vec![1.0]);
        let config = SharpnessConfig {
            epsilon: 0.0,
            ..Default::default()
        };
        assert!(matches!(
            epsilon_sharpness(&f, &[0.0], config),
            Err(HessianError::InvalidConfig { .. })
        ));
    }
}

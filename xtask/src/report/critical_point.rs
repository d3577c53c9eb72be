//! Driving a point onto a nearby critical point of a small network: a trust-region Newton
//! method on φ(θ) = ½‖∇L(θ)‖², with φ's exact Hessian.
//!
//! φ is zero exactly at the critical points of L, saddles included, so minimising it finds
//! whichever kind is near (descent on L would only ever find minima). Its gradient is H g
//! and its Hessian H² + T[g], where T[g] = d/dt H(θ + t g) is the third derivative of L
//! along the gradient. Levenberg–Marquardt keeps only H², which is nearly zero in the flat
//! directions of a tanh network: there it takes tiny steps for hundreds of iterations.
//! With T[g] (central differences of the dense Hessian, P ≤ a few dozen here) the model is
//! exact to second order and the trust region handles its indefiniteness (Moré–Sorensen,
//! from the eigendecomposition).

use anyhow::Result;
use unstuck::hessian::{DenseHessian, LossSurface};

/// Where the method ended.
#[derive(Debug, Clone)]
pub struct Refined {
    pub theta: Vec<f64>,
    pub iterations: usize,
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn hessian(objective: &impl LossSurface, theta: &[f64]) -> Result<DenseHessian> {
    Ok(unstuck::hessian::full_hessian(
        &*objective.curvature(theta)?,
    )?)
}

fn matvec(h: &DenseHessian, v: &[f64]) -> Vec<f64> {
    let n = h.dim();
    (0..n)
        .map(|i| (0..n).map(|j| h.data()[i * n + j] * v[j]).sum())
        .collect()
}

/// `φ`'s gradient `H g` and Hessian `H² + T[g]` at `theta`.
fn model(
    objective: &impl LossSurface,
    theta: &[f64],
    g: &[f64],
) -> Result<(Vec<f64>, DenseHessian)> {
    let n = theta.len();
    let h = hessian(objective, theta)?;
    let g_norm = norm(g);
    // T[g] by central differences along the unit gradient, scaled back by ‖g‖.
    let step = 1e-4;
    let along = |sign: f64| -> Vec<f64> {
        theta
            .iter()
            .zip(g)
            .map(|(t, gi)| t + sign * step * gi / g_norm)
            .collect()
    };
    let (plus, minus) = (
        hessian(objective, &along(1.0))?,
        hessian(objective, &along(-1.0))?,
    );
    let mut b = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let h2: f64 = (0..n)
                .map(|k| h.data()[i * n + k] * h.data()[k * n + j])
                .sum();
            let third = (plus.data()[i * n + j] - minus.data()[i * n + j]) / (2.0 * step) * g_norm;
            b[i * n + j] = h2 + third;
        }
    }
    Ok((matvec(&h, g), DenseHessian::from_row_major(n, b)?))
}

/// The step minimising `c·d + ½ dᵀBd` within `‖d‖ ≤ radius` (Moré–Sorensen on the
/// eigendecomposition of B; the "hard case" is left to the next iteration's smaller radius).
fn trust_region_step(c: &[f64], b: &DenseHessian, radius: f64) -> Result<Vec<f64>> {
    let eigen = b.eigen()?;
    let values = eigen.values();
    let coefficients: Vec<f64> = (0..values.len())
        .map(|j| eigen.vector(j).iter().zip(c).map(|(u, ci)| u * ci).sum())
        .collect();
    let length = |shift: f64| -> f64 {
        coefficients
            .iter()
            .zip(values)
            .map(|(a, l)| (a / (l + shift)).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let lowest = values[0];
    let shift = if lowest > 0.0 && length(0.0) <= radius {
        0.0
    } else {
        // ‖d(shift)‖ falls from infinity (at -lowest) to 0: bisect for ‖d‖ = radius.
        let mut lo = (-lowest).max(0.0);
        let mut hi = lo + norm(c) / radius + values.iter().fold(0.0_f64, |m, l| m.max(l.abs()));
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if length(mid) > radius {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    };
    let mut d = vec![0.0; c.len()];
    for (j, (&a, &l)) in coefficients.iter().zip(values).enumerate() {
        let factor = -a / (l + shift);
        for (di, u) in d.iter_mut().zip(eigen.vector(j)) {
            *di += factor * u;
        }
    }
    Ok(d)
}

/// Minimises ½‖∇L‖² from `theta` until `‖∇L‖ ≤ tolerance` or `max_iter` iterations.
pub fn drive_to_critical_point(
    objective: &impl LossSurface,
    theta: &[f64],
    tolerance: f64,
    max_iter: usize,
) -> Result<Refined> {
    let mut theta = theta.to_vec();
    let (_, mut g) = objective.value_and_gradient(&theta)?;
    let mut phi = 0.5 * norm(&g).powi(2);
    let mut radius = 0.1 * norm(&theta).max(1.0);
    let mut iterations = 0;
    while iterations < max_iter && norm(&g) > tolerance && radius > 1e-14 {
        iterations += 1;
        let (c, b) = model(objective, &theta, &g)?;
        let d = trust_region_step(&c, &b, radius)?;
        let bd = matvec(&b, &d);
        let predicted = -(c.iter().zip(&d).map(|(x, y)| x * y).sum::<f64>()
            + 0.5 * d.iter().zip(&bd).map(|(x, y)| x * y).sum::<f64>());
        let trial: Vec<f64> = theta.iter().zip(&d).map(|(t, s)| t + s).collect();
        let (_, trial_g) = objective.value_and_gradient(&trial)?;
        let trial_phi = 0.5 * norm(&trial_g).powi(2);
        let ratio = if predicted > 0.0 {
            (phi - trial_phi) / predicted
        } else {
            -1.0
        };
        if ratio < 0.25 {
            radius = 0.25 * norm(&d);
        } else if ratio > 0.75 && norm(&d) >= 0.99 * radius {
            radius *= 2.0;
        }
        if trial_phi < phi {
            (theta, g, phi) = (trial, trial_g, trial_phi);
        }
    }
    Ok(Refined { theta, iterations })
}

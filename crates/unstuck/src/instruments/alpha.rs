//! Step quality along the update: Cockpit's α (Schneider, Dangel and Hennig, "Cockpit",
//! NeurIPS 2021, `cockpit/quantities/alpha.py`).
//!
//! Along the update `d = θ₁ - θ₀`, the loss of the step's batch is `f(s) = L(θ₀ + s d)`.
//! Four numbers are observed: `f(0)`, `f(1)` and the directional derivatives
//! `f'(0) = ∇L(θ₀)·d`, `f'(1) = ∇L(θ₁)·d`. A parabola `c + a s + b s²` is fitted to them by
//! least squares (four equations, three unknowns; in `s`, all four are in units of the
//! loss). Cockpit weights the equations by the variances of the observations because its
//! end point is measured on the next step's batch; ours is measured on the same batch,
//! so the observations are exact and the weights equal. With the parabola's minimum at
//! `s* = -a / (2b)`, `α = 1/s* - 1 = -2b/a - 1`: `-1` is a step that stayed where it was
//! (undershoot), `0` one that landed on the minimum, `+1` one that landed at the same
//! height on the other side (overshoot). As in Cockpit, a concave fit (`b ≤ 0`, still
//! going downhill) is recorded as `-1`, and flagged.

use crate::history::AlphaRecord;

/// α and the fit behind it, from the two ends of one step on one batch.
///
/// ```
/// use unstuck::instruments::step_alpha;
/// // f(θ) = θ², a step from 1 to -1 lands at the same height on the other side.
/// let record = step_alpha(0, &[1.0], &[-1.0], (1.0, &[2.0]), (1.0, &[-2.0]));
/// assert!((record.alpha.unwrap() - 1.0).abs() < 1e-12);
/// ```
pub fn step_alpha(
    step: u64,
    theta_before: &[f64],
    theta_after: &[f64],
    (loss_before, grad_before): (f64, &[f64]),
    (loss_after, grad_after): (f64, &[f64]),
) -> AlphaRecord {
    let direction: Vec<f64> = theta_after
        .iter()
        .zip(theta_before)
        .map(|(a, b)| a - b)
        .collect();
    let length = direction.iter().map(|d| d * d).sum::<f64>().sqrt();
    let dot = |g: &[f64]| g.iter().zip(&direction).map(|(g, d)| g * d).sum::<f64>();
    let (p0, p1) = (dot(grad_before), dot(grad_after));
    let (a, b) = fit_parabola(loss_before, loss_after, p0, p1);
    let concave = b <= 0.0;
    let alpha = if length == 0.0 {
        None
    } else if concave {
        Some(-1.0)
    } else if a != 0.0 {
        Some(-2.0 * b / a - 1.0)
    } else {
        None
    };
    let per_unit = |p: f64| if length > 0.0 { p / length } else { 0.0 };
    AlphaRecord {
        step,
        alpha,
        concave,
        loss_before,
        loss_after,
        slope_before: per_unit(p0),
        slope_after: per_unit(p1),
        step_length: length,
    }
}

/// The least-squares `(a, b)` of `c + a s + b s²` through `f(0) = f0`, `f(1) = f1`,
/// `f'(0) = p0`, `f'(1) = p1`: the normal equations of the 4 x 3 system, solved exactly.
fn fit_parabola(f0: f64, f1: f64, p0: f64, p1: f64) -> (f64, f64) {
    // Rows (1,0,0) (1,1,1) (0,1,0) (0,1,2); ΦᵀΦ and Φᵀy written out.
    let m = [[2.0, 1.0, 1.0], [1.0, 3.0, 3.0], [1.0, 3.0, 5.0]];
    let y = [f0 + f1, f1 + p0 + p1, f1 + 2.0 * p1];
    let det3 = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let with_column = |k: usize| {
        let mut copy = m;
        for (row, value) in copy.iter_mut().zip(y) {
            row[k] = value;
        }
        det3(copy)
    };
    let det = det3(m);
    (with_column(1) / det, with_column(2) / det)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_alpha(step_size: f64, expected: f64) {
        // f(θ) = 2 θ², minimum at 0; a gradient step from θ = 1 with learning rate η.
        let f = |t: f64| 2.0 * t * t;
        let g = |t: f64| 4.0 * t;
        let after = 1.0 - step_size * g(1.0);
        let record = step_alpha(
            0,
            &[1.0],
            &[after],
            (f(1.0), &[g(1.0)]),
            (f(after), &[g(after)]),
        );
        assert!(
            (record.alpha.unwrap() - expected).abs() < 1e-12,
            "step {step_size}: {record:?}"
        );
    }

    #[test]
    fn alpha_reads_undershoot_minimum_and_overshoot_on_a_parabola() {
        check_alpha(0.125, -0.5);
        check_alpha(0.25, 0.0);
        check_alpha(0.5, 1.0);
    }

    #[test]
    fn a_concave_stretch_is_minus_one_and_flagged() {
        let record = step_alpha(0, &[0.0], &[1.0], (0.0, &[-1.0]), (-2.0, &[-3.0]));
        assert!(record.concave);
        assert_eq!(record.alpha, Some(-1.0));
    }
}

//! Experiment `minimum-ratio`: where training stalls, is it a minimum?
//!
//! Many small networks are trained from different seeds, then refined with the Hessian
//! crate's damped Newton step until the gradient (nearly) vanishes; the dense Hessian at
//! each end point gives its classification and the lecture's minimum ratio (the fraction
//! of positive eigenvalues).

use super::markdown::table;
use super::{Context, Section};
use anyhow::Result;
use std::collections::BTreeMap;
use unstuck::data;
use unstuck::hessian::{ClassifyTolerances, TapeObjective, analyze_critical_point, hessian_of};
use unstuck::models::{Architecture, Loss, Mlp, Model, Objective};
use unstuck::optim::Registry;
use unstuck::plot::{self, Series};
use unstuck::task::full_objective;

const MODEL: &str = "1-6-1:tanh";
/// A gradient norm under this counts as stalled (the loss starts near 0.5 with ‖∇L‖ near 1).
const STALLED: f64 = 1e-2;

pub fn run(ctx: &mut Context) -> Result<Section> {
    let n_seeds = if ctx.quick { 6 } else { 40 };
    let train_steps = if ctx.quick { 600 } else { 2000 };
    let sine = data::generate::<f64>(&format!("sine:n=32,noise=0.1,seed={}", ctx.seed))?.train;
    let model = Mlp::from_spec(MODEL)?;
    let objective = full_objective(&model, &sine, Loss::Mse)?;
    let tape_objective = TapeObjective::new(model.n_params(), |tape, theta| {
        objective.record(tape, theta)
    });

    let mut rows = Vec::new();
    let mut by_kind: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut n_critical = 0;
    let mut n_stalled = 0;
    let mut n_minima = 0;
    for seed in 0..n_seeds {
        let mut theta: Vec<f64> = model.init(ctx.seed * 1000 + seed);
        // Full-batch Adam brings the network near a critical point...
        let mut optimizer = Registry::builtin().build("adam:lr=0.02")?;
        for _ in 0..train_steps {
            let (_, gradient) = objective.gradient(&theta)?;
            optimizer.step(&mut theta, &gradient)?;
        }
        let (trained_loss, trained_gradient) = objective.gradient(&theta)?;
        let trained_norm = trained_gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
        // ...and Newton's method drives it onto one (of any kind).
        let refined = newton_to_critical_point(&objective, theta)?;
        let analysis =
            analyze_critical_point(&tape_objective, &refined, ClassifyTolerances::default())?;
        // Where training stalls the gradient is small, rarely exactly zero; the spectrum's
        // signs say which kind of critical point the stall sits next to.
        let kind = if analysis.counts.negative == 0 {
            "minimum-like"
        } else {
            "saddle-like"
        };
        if analysis.gradient_norm < STALLED {
            n_stalled += 1;
            if analysis.counts.negative == 0 {
                n_minima += 1;
            }
        }
        if analysis.gradient_norm < 1e-6 {
            n_critical += 1;
        }
        let kind = format!("{kind} ({:?})", analysis.kind);
        by_kind
            .entry(kind.clone())
            .or_default()
            .push((analysis.minimum_ratio, analysis.value));
        rows.push(vec![
            seed.to_string(),
            format!("{trained_loss:.5}"),
            format!("{trained_norm:.1e}"),
            format!("{:.5}", analysis.value),
            format!("{:.1e}", analysis.gradient_norm),
            format!("{:.4}", analysis.eigenvalues[0]),
            format!(
                "{}/{}/{}",
                analysis.counts.negative, analysis.counts.zero, analysis.counts.positive
            ),
            format!("{:.3}", analysis.minimum_ratio),
            kind,
        ]);
    }
    let ratio_range = by_kind
        .values()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(r, _)| {
            (lo.min(r), hi.max(r))
        });
    let groups: Vec<Series> = by_kind
        .iter()
        .map(|(kind, points)| Series::new(kind.clone(), points.clone()))
        .collect();
    let figure = plot::scatter(
        &format!("{MODEL} on 32 noisy sine points: loss against minimum ratio"),
        "minimum ratio (fraction of positive eigenvalues)",
        "training loss (MSE) at the critical point",
        &groups,
    )?;
    ctx.artifacts
        .write("figures/minimum-ratio.svg", figure.as_bytes())?;
    let body = format!(
        "{}\n![minimum ratio](figures/minimum-ratio.svg)\n",
        table(
            &[
                "seed",
                "loss after Adam",
                "‖∇L‖ after Adam",
                "loss after Newton",
                "‖∇L‖ after Newton",
                "λ_min",
                "eigenvalues − / 0 / +",
                "minimum ratio",
                "classification",
            ],
            &rows,
        )
    );
    let finding = format!(
        "{n_seeds} networks {MODEL} (P = {}) were trained with full-batch Adam for {train_steps} \
         steps, then moved by Newton's method (dense Hessian, pseudo-inverse, backtracking on ‖∇L‖) \
         toward the nearest critical point. {n_stalled} ended stalled (‖∇L‖ < {STALLED:.0e}); of \
         those, {n_minima} have no negative Hessian eigenvalue (minimum-like) and {} have at least \
         one (saddle-like), with minimum ratios between {:.2} and {:.2}. Only {n_critical} reached \
         ‖∇L‖ < 1e-6: tanh networks have nearly flat directions in which Newton's method crawls. \
         A small gradient alone does not tell a minimum from a saddle; the spectrum does.",
        model.n_params(),
        n_stalled - n_minima,
        ratio_range.0,
        ratio_range.1,
    );
    Ok(Section {
        title: "Minimum ratio: is a stalled point a minimum?".into(),
        finding,
        body,
    })
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Newton's method on `∇L = 0` with the dense Hessian's pseudo-inverse (eigenvalues under
/// 1e-10 of the largest are ignored) and step halving until `‖∇L‖` falls. It converges to
/// the nearby critical point whatever its kind, which is what this experiment needs:
/// descent methods would only ever find minima.
fn newton_to_critical_point(
    objective: &Objective<'_, f64>,
    mut theta: Vec<f64>,
) -> Result<Vec<f64>> {
    for _ in 0..100 {
        let (_, gradient) = objective.gradient(&theta)?;
        let g_norm = norm(&gradient);
        if g_norm < 1e-12 {
            break;
        }
        let hessian = hessian_of(|tape, th| objective.record(tape, th), &theta)?;
        let eigen = hessian.eigen()?;
        let scale = eigen.values().iter().map(|l| l.abs()).fold(0.0, f64::max);
        let mut step = vec![0.0; theta.len()];
        for (j, &lambda) in eigen.values().iter().enumerate() {
            if lambda.abs() > 1e-10 * scale {
                let u = eigen.vector(j);
                let coefficient =
                    -u.iter().zip(&gradient).map(|(a, b)| a * b).sum::<f64>() / lambda;
                for (s, &ui) in step.iter_mut().zip(u) {
                    *s += coefficient * ui;
                }
            }
        }
        let mut t = 1.0;
        let mut improved = false;
        for _ in 0..30 {
            let trial: Vec<f64> = theta.iter().zip(&step).map(|(a, s)| a + t * s).collect();
            if objective
                .gradient(&trial)
                .is_ok_and(|(_, g)| norm(&g) < g_norm)
            {
                theta = trial;
                improved = true;
                break;
            }
            t *= 0.5;
        }
        if !improved {
            break;
        }
    }
    Ok(theta)
}

//! Experiment `minimum-ratio`: where training stalls, is it a minimum?
//!
//! Small networks are trained from many seeds with full-batch Adam, then driven onto a
//! critical point by a trust-region Newton method on ½‖∇L‖² (`critical_point.rs`, attracted
//! by saddles and minima alike) until ‖∇L‖ ≤ 1e-8. The dense Hessian there is classified with a tolerance scaled to what is
//! left of the gradient: an eigenvalue counts only when it is farther from zero than the
//! Hessian can move between this point and the critical point the Newton step predicts;
//! the others are undetermined, and so is a point whose verdict hangs on them.

use super::artifacts::Artifacts;
use super::claims::Finding;
use super::critical_point::drive_to_critical_point;
use super::markdown::table;
use super::parts::{Measured, Results, Unit};
use super::{Experiment, Plan, Section};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use unstuck::data;
use unstuck::hessian::{DenseHessian, LossSurface, TapeObjective, full_hessian};
use unstuck::models::{Loss, Model, ModelRegistry};
use unstuck::optim::Registry;
use unstuck::plot::{self, Axes, Series};
use unstuck::task::full_objective;

const MODEL: &str = "1-6-1:tanh";
/// Weight decay: the loss is MSE + DECAY/2 ‖θ‖², so that every critical point lies at a
/// finite distance (without it a tanh network's gradient can fade as weights grow, with no
/// critical point in reach of any method).
const DECAY: f64 = 1e-3;
/// Trust-region iterations allowed per point.
const MAX_ITERATIONS: usize = 2000;
/// ‖∇L‖ at or under this counts as a critical point.
const CRITICAL: f64 = 1e-8;
/// Eigenvalues within this fraction of the largest are rounding, whatever the gradient.
const ROUNDING: f64 = 1e-10;

pub fn experiment(seed: u64) -> Experiment {
    Experiment {
        name: "minimum-ratio",
        seed,
        units: |plan| {
            (0..sizes(plan).0)
                .map(|s| Unit::new(format!("seed-{s}"), 0.3))
                .collect()
        },
        run,
        assemble,
    }
}

/// Seeds, and full-batch Adam steps before the drive to a critical point.
fn sizes(plan: &Plan) -> (u64, u64) {
    if plan.quick { (6, 600) } else { (40, 2000) }
}

/// The outcome of one seed.
#[derive(Debug, Serialize, Deserialize)]
struct Point {
    seed: u64,
    trained_loss: f64,
    trained_gradient_norm: f64,
    loss: f64,
    gradient_norm: f64,
    /// Trust-region iterations it took.
    iterations: usize,
    reached: bool,
    eigenvalues: Vec<f64>,
    /// Eigenvalues within this of zero are undetermined.
    tolerance: f64,
    negative: usize,
    undetermined: usize,
    positive: usize,
}

impl Point {
    fn verdict(&self) -> &'static str {
        if self.negative > 0 {
            "saddle"
        } else if self.undetermined == 0 {
            "minimum"
        } else {
            "undetermined"
        }
    }

    fn minimum_ratio(&self) -> f64 {
        self.positive as f64 / self.eigenvalues.len() as f64
    }
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn seed_of(key: &str) -> Result<u64> {
    key.strip_prefix("seed-")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("unit `{key}` is not `seed-N`"))
}

fn run(plan: &Plan, key: &str) -> Result<Measured> {
    let seed = seed_of(key)?;
    let train_steps = sizes(plan).1;
    let sine = data::generate::<f64>(&format!("sine:n=32,noise=0.1,seed={}", plan.seed))?.train;
    let model = ModelRegistry::builtin().build(MODEL)?;
    let model: &dyn Model<f64> = model.as_ref();
    let objective = full_objective(model, &sine, Loss::Mse)?;
    let tape_objective = TapeObjective::new(model.n_params(), |tape, theta| {
        let penalty = tape.scale(tape.sum(tape.square(theta)), 0.5 * DECAY);
        tape.add(objective.record(tape, theta), penalty)
    });
    let mut theta: Vec<f64> = model.init(plan.seed * 1000 + seed);
    let mut optimizer = Registry::builtin().build("adam:lr=0.02")?;
    for _ in 0..train_steps {
        let (_, gradient) = tape_objective.value_and_gradient(&theta)?;
        optimizer.step(&mut theta, &gradient)?;
    }
    let (trained_loss, trained_gradient) = tape_objective.value_and_gradient(&theta)?;
    let refined = drive_to_critical_point(&tape_objective, &theta, 1e-11, MAX_ITERATIONS)?;
    let (loss, gradient) = tape_objective.value_and_gradient(&refined.theta)?;
    let hessian = full_hessian(&*tape_objective.curvature(&refined.theta)?)?;
    let eigenvalues = hessian.eigenvalues()?;
    let tolerance = tolerance(&tape_objective, &refined.theta, &gradient, &hessian)?;
    let count = |f: &dyn Fn(f64) -> bool| eigenvalues.iter().filter(|&&l| f(l)).count();
    Measured::of(&Point {
        seed,
        trained_loss,
        trained_gradient_norm: norm(&trained_gradient),
        loss,
        gradient_norm: norm(&gradient),
        iterations: refined.iterations,
        reached: norm(&gradient) <= CRITICAL,
        negative: count(&|l| l < -tolerance),
        undetermined: count(&|l| l.abs() <= tolerance),
        positive: count(&|l| l > tolerance),
        eigenvalues,
        tolerance,
    })
}

/// How far an eigenvalue here may be from the same eigenvalue at the critical point this
/// point approximates: the Newton step `δ = -H⁺ g` estimates the way there, and by Weyl's
/// inequality no eigenvalue moves by more than `‖H(θ + δ) - H(θ)‖₂`. Never under the
/// rounding of the eigensolver, `ROUNDING · max |λ|`.
fn tolerance(
    objective: &impl LossSurface,
    theta: &[f64],
    gradient: &[f64],
    hessian: &DenseHessian,
) -> Result<f64> {
    let eigen = hessian.eigen()?;
    let scale = eigen.values().iter().fold(0.0_f64, |m, l| m.max(l.abs()));
    let mut moved = theta.to_vec();
    for (j, &lambda) in eigen.values().iter().enumerate() {
        if lambda.abs() > ROUNDING * scale {
            let u = eigen.vector(j);
            let along = -u.iter().zip(gradient).map(|(a, b)| a * b).sum::<f64>() / lambda;
            for (m, &ui) in moved.iter_mut().zip(u) {
                *m += along * ui;
            }
        }
    }
    let there = full_hessian(&*objective.curvature(&moved)?)?;
    let difference: Vec<f64> = there
        .data()
        .iter()
        .zip(hessian.data())
        .map(|(a, b)| a - b)
        .collect();
    let change = DenseHessian::from_row_major(hessian.dim(), difference)?
        .eigenvalues()?
        .iter()
        .fold(0.0_f64, |m, l| m.max(l.abs()));
    Ok(change.max(ROUNDING * scale))
}

fn assemble(plan: &Plan, results: &Results<'_>, artifacts: &mut Artifacts) -> Result<Section> {
    let (n_seeds, train_steps) = sizes(plan);
    let points: Vec<Point> = (0..n_seeds)
        .map(|s| results.get(&format!("seed-{s}")))
        .collect::<Result<_>>()?;
    let rows: Vec<Vec<String>> = points
        .iter()
        .map(|pt| {
            vec![
                pt.seed.to_string(),
                format!("{:.5}", pt.trained_loss),
                format!("{:.1e}", pt.trained_gradient_norm),
                format!("{:.5}", pt.loss),
                pt.iterations.to_string(),
                format!("{:.1e}", pt.gradient_norm),
                format!("{:.2e}", pt.eigenvalues[0]),
                format!("{:.1e}", pt.tolerance),
                format!("{}/{}/{}", pt.negative, pt.undetermined, pt.positive),
                format!("{:.3}", pt.minimum_ratio()),
                pt.verdict().to_string(),
            ]
        })
        .collect();
    let figure = figure(&points)?;
    artifacts.write("figures/minimum-ratio.svg", figure.as_bytes())?;

    let finding = claims(&points, train_steps);
    let body = format!(
        "{}\n![minimum ratio](figures/minimum-ratio.svg)\n\n\
         The tolerance of each point is ‖H(θ + δ) − H(θ)‖₂ with δ = −H⁺∇L the Newton step to the \
         critical point the point approximates: by Weyl's inequality no eigenvalue moves farther \
         between the two (and never under {ROUNDING:.0e} of the largest eigenvalue, the solver's \
         rounding). Counts are negative / undetermined / positive; the minimum ratio is the \
         fraction of positive eigenvalues.\n",
        table(
            &[
                "seed",
                "loss after Adam",
                "‖∇L‖ after Adam",
                "loss at the critical point",
                "trust-region iterations",
                "‖∇L‖ there",
                "λ_min",
                "tolerance",
                "eigenvalues − / ? / +",
                "minimum ratio",
                "verdict",
            ],
            &rows,
        )
    );
    Ok(Section {
        title: "Minimum ratio: is a stalled point a minimum?".into(),
        finding,
        body,
    })
}

/// Loss against minimum ratio at every critical point, one colour per verdict.
fn figure(points: &[Point]) -> Result<String> {
    let verdicts = ["saddle", "minimum", "undetermined"];
    let groups: Vec<Series> = verdicts
        .iter()
        .map(|v| {
            Series::new(
                *v,
                points
                    .iter()
                    .filter(|pt| pt.verdict() == *v)
                    .map(|pt| (pt.minimum_ratio(), pt.loss))
                    .collect(),
            )
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    let figure = plot::scatter(
        &format!("{MODEL} on 32 noisy sine points, at the critical points (‖∇L‖ ≤ 1e-8)"),
        &Axes::new(
            "minimum ratio: fraction of Hessian eigenvalues above the tolerance",
            "training loss (MSE + decay) at the critical point",
        ),
        &groups,
    )?;
    Ok(figure)
}

/// The finding: how many points became critical, how they classify, and whether the
/// gradient Adam left could have told.
fn claims(points: &[Point], train_steps: u64) -> Finding {
    let p = points[0].eigenvalues.len();
    let n_seeds = points.len();
    let reached = points.iter().filter(|pt| pt.reached).count();
    let count = |v: &str| points.iter().filter(|pt| pt.verdict() == v).count();
    let (saddles, minima, undetermined) =
        (count("saddle"), count("minimum"), count("undetermined"));
    let worst_gradient = points.iter().map(|pt| pt.gradient_norm).fold(0.0, f64::max);
    let mut finding = Finding::new(format!(
        "{n_seeds} networks {MODEL} (P = {p}) were trained with full-batch Adam for {train_steps} \
         steps on MSE + {DECAY:.0e}·‖θ‖²/2, then driven onto the nearest critical point by a \
         trust-region Newton method on ½‖∇L‖² (attracted by saddles and minima alike); the dense \
         Hessian there is classified with a tolerance scaled to the remaining gradient (an \
         eigenvalue within the tolerance is undetermined). Weight decay puts every critical point \
         at a finite distance: without it a tanh network's gradient can fade as its weights grow, \
         with no critical point in reach."
    ));
    finding.claim(
        "refinement-reaches-critical-points",
        format!(
            "{reached} of {n_seeds} end points have ‖∇L‖ ≤ 1e-8 (the largest is {worst_gradient:.1e}): \
             these are critical points, not just places where training slowed down."
        ),
        reached == n_seeds,
        format!("{reached} of {n_seeds} reached ‖∇L‖ ≤ 1e-8"),
    );
    finding.claim(
        "the-spectrum-decides-every-point",
        format!(
            "{saddles} are saddles (a negative eigenvalue beyond the tolerance), {minima} are \
             minima (every eigenvalue positive beyond it) and {undetermined} undetermined."
        ),
        undetermined == 0,
        format!("{undetermined} undetermined = 0"),
    );
    let range = |verdict: &str| {
        points.iter().filter(|pt| pt.verdict() == verdict).fold(
            (f64::INFINITY, 0.0_f64),
            |(lo, hi), pt| {
                (
                    lo.min(pt.trained_gradient_norm),
                    hi.max(pt.trained_gradient_norm),
                )
            },
        )
    };
    let (saddle_range, minimum_range) = (range("saddle"), range("minimum"));
    let overlap = saddle_range.0.max(minimum_range.0) <= saddle_range.1.min(minimum_range.1);
    finding.claim(
        "a-small-gradient-does-not-tell-a-saddle-from-a-minimum",
        format!(
            "Both kinds occur after the same training, and the gradient Adam left does not tell \
             them apart: ‖∇L‖ after Adam was {:.1e} to {:.1e} where the nearby critical point is a \
             saddle, {:.1e} to {:.1e} where it is a minimum. The spectrum decides.",
            saddle_range.0, saddle_range.1, minimum_range.0, minimum_range.1
        ),
        saddles > 0 && minima > 0 && overlap,
        format!("{saddles} saddle(s) and {minima} minima, gradient ranges overlap: {overlap}"),
    );
    finding
}

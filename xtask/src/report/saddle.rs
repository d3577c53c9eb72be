//! Experiment `saddle`: the lecture's network y = w1 w2 x with L = (1 - w1 w2)^2.
//!
//! Where the gradient vanishes, the Hessian's eigenvalues tell a saddle from a minimum,
//! and the negative eigenvalue's eigenvector is the way out.

use super::artifacts::Artifacts;
use super::claims::{Claim, Finding};
use super::markdown::table;
use super::parts::{Measured, Results, Unit};
use super::{Experiment, Plan, Section};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use unstuck::plot::{self, Marker, Series};
use unstuck_autodiff::{Tape, Var, gradient};
use unstuck_hessian::{
    ClassifyTolerances, EscapeConfig, TapeObjective, analyze_tape_function, escape_step,
};

/// L(w1, w2) = (1 - w1 w2)^2 on the tape.
fn loss(tape: &Tape<f64>, w: Var) -> Var {
    let product = tape.mul(tape.slice(w, 0, 1), tape.slice(w, 1, 1));
    tape.sum(tape.square(tape.shift(tape.neg(product), 1.0)))
}

fn loss_at(w1: f64, w2: f64) -> f64 {
    (1.0 - w1 * w2).powi(2)
}

/// Plain gradient descent; stops early once the loss is tiny.
fn descend(start: [f64; 2], lr: f64, steps: usize) -> Result<Vec<[f64; 2]>> {
    let mut path = vec![start];
    let mut w = start;
    for _ in 0..steps {
        let (value, g) = gradient(loss, &w)?;
        if value < 1e-12 {
            break;
        }
        w = [w[0] - lr * g[0], w[1] - lr * g[1]];
        path.push(w);
    }
    Ok(path)
}

fn grad_norm(w: [f64; 2]) -> Result<f64> {
    let (_, g) = gradient(loss, &w)?;
    Ok(g[0].hypot(g[1]))
}

/// The number of consecutive steps, from the longest run, with `||g|| < tol` and loss > 0.5.
fn longest_stall(path: &[[f64; 2]], tol: f64) -> Result<usize> {
    let (mut best, mut run) = (0, 0);
    for &w in path {
        if grad_norm(w)? < tol && loss_at(w[0], w[1]) > 0.5 {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    Ok(best)
}

fn series(name: &str, path: &[[f64; 2]]) -> Series {
    Series::new(name, path.iter().map(|w| (w[0], w[1])).collect())
}

/// Coordinates near zero, where four decimals would print "-0.0000".
fn fmt_sci(v: &[f64]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x:.2e}")).collect();
    format!("({})", parts.join(", "))
}

fn fmt_vec(v: &[f64]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x:.4}")).collect();
    format!("({})", parts.join(", "))
}

pub fn experiment(seed: u64) -> Experiment {
    Experiment {
        name: "saddle",
        seed,
        units: |_| vec![Unit::new("all", 0.05)],
        run,
        assemble,
    }
}

/// Everything the experiment measures (one unit: it takes milliseconds).
#[derive(Debug, Serialize, Deserialize)]
struct Numbers {
    rows: Vec<Vec<String>>,
    origin_eigenvalues: Vec<f64>,
    origin_kind: String,
    valley_kind: String,
    valley_loss: f64,
    lr: f64,
    stall_steps: usize,
    stalling: Vec<[f64; 2]>,
    escaping: Vec<[f64; 2]>,
    rescued: Vec<[f64; 2]>,
    stall_index: usize,
    stalled: [f64; 2],
    stalled_gradient_norm: f64,
    stalled_value: f64,
    stalled_eigenvalues: Vec<f64>,
    stalled_kind: String,
    escape: Option<Escape>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Escape {
    alpha: f64,
    direction: Vec<f64>,
    eigenvalue: f64,
    loss_before: f64,
    loss_after: f64,
    predicted_drop: f64,
    /// Gradient-descent steps from the escaped point to L < 1e-6 (None: not within the budget).
    steps_to_solve: Option<usize>,
}

const POINTS: [[f64; 2]; 6] = [
    [0.0, 0.0],
    [1.0, 1.0],
    [-1.0, -1.0],
    [2.0, 0.5],
    [0.5, -1.0],
    [0.3, 0.2],
];

/// The second-order test at each of [`POINTS`]: table rows, the verdicts, and the
/// origin's eigenvalues.
fn second_order_table(tolerances: ClassifyTolerances) -> Result<SecondOrder> {
    let mut rows = Vec::new();
    let mut kinds = Vec::new();
    let mut origin_eigenvalues = Vec::new();
    for w in POINTS {
        let a = analyze_tape_function(loss, &w, tolerances)?;
        let h = unstuck_hessian::hessian_of(loss, &w)?;
        if w == [0.0, 0.0] {
            origin_eigenvalues = a.eigenvalues.clone();
        }
        kinds.push(a.kind.as_str().to_string());
        rows.push(vec![
            fmt_vec(&w),
            format!("{:.4}", a.value),
            format!("{:.4}", a.gradient_norm),
            format!(
                "[[{:.2}, {:.2}], [{:.2}, {:.2}]]",
                h.data()[0],
                h.data()[1],
                h.data()[2],
                h.data()[3]
            ),
            fmt_vec(&a.eigenvalues),
            a.kind.as_str().to_string(),
            format!("{:.2}", a.minimum_ratio),
        ]);
    }

    Ok(SecondOrder {
        rows,
        kinds,
        origin_eigenvalues,
    })
}

/// The second-order test at the six points.
struct SecondOrder {
    rows: Vec<Vec<String>>,
    kinds: Vec<String>,
    origin_eigenvalues: Vec<f64>,
}

fn run(plan: &Plan, _key: &str) -> Result<Measured> {
    let tolerances = ClassifyTolerances::default();
    let SecondOrder {
        rows,
        kinds,
        origin_eigenvalues,
    } = second_order_table(tolerances)?;
    // Gradient descent started on the saddle's stable manifold (w1 = -w2), nudged by 1e-9,
    // against one started off it.
    let lr = 0.05;
    let steps = if plan.quick { 300 } else { 600 };
    let stalling = descend([0.8, -0.8 + 1e-9], lr, steps)?;
    let escaping = descend([0.8, -0.5], lr, steps)?;
    let stall_steps = longest_stall(&stalling, 1e-2)?;

    // Where the stalled run is flattest while the loss is still high: next to the saddle.
    let mut stall_index = 0;
    let mut flattest = f64::INFINITY;
    for (i, &w) in stalling
        .iter()
        .enumerate()
        .filter(|(_, w)| loss_at(w[0], w[1]) > 0.5)
    {
        let g = grad_norm(w)?;
        if g < flattest {
            (stall_index, flattest) = (i, g);
        }
    }
    let stalled = stalling[stall_index];
    let analysis = analyze_tape_function(loss, &stalled, tolerances)?;
    let objective = TapeObjective::new(2, loss);
    let (escape, rescued) = match &analysis.escape {
        Some(direction) => {
            let step = escape_step(
                &objective,
                &stalled,
                &direction.direction,
                direction.eigenvalue,
                EscapeConfig::default(),
            )?;
            let mut rescued = descend([step.theta[0], step.theta[1]], lr, steps)?;
            let last = *rescued.last().expect("the start is always there");
            let steps_to_solve =
                (loss_at(last[0], last[1]) < 1e-6).then(|| rescued.len().saturating_sub(1));
            rescued.insert(0, stalled);
            let escape = Escape {
                alpha: step.alpha.abs(),
                direction: direction.direction.clone(),
                eigenvalue: direction.eigenvalue,
                loss_before: step.loss_before,
                loss_after: step.loss_after,
                predicted_drop: step.predicted_drop,
                steps_to_solve,
            };
            (Some(escape), rescued)
        }
        None => (None, vec![stalled]),
    };
    Measured::of(&Numbers {
        rows,
        origin_eigenvalues,
        origin_kind: kinds[0].clone(),
        valley_kind: kinds[1].clone(),
        valley_loss: loss_at(1.0, 1.0),
        lr,
        stall_steps,
        stalling,
        escaping,
        rescued,
        stall_index,
        stalled,
        stalled_gradient_norm: analysis.gradient_norm,
        stalled_value: analysis.value,
        stalled_eigenvalues: analysis.eigenvalues.clone(),
        stalled_kind: analysis.kind.as_str().to_string(),
        escape,
    })
}

fn assemble(_plan: &Plan, results: &Results<'_>, artifacts: &mut Artifacts) -> Result<Section> {
    let n: Numbers = results.get("all")?;
    let critical_table = table(
        &[
            "point (w1, w2)",
            "L",
            "‖∇L‖",
            "Hessian",
            "eigenvalues",
            "classification",
            "minimum ratio",
        ],
        &n.rows,
    );
    let figure = plot::surface(
        &plot::SurfacePlot {
            title: "L(w1, w2) = (1 - w1 w2)^2: gradient descent near the saddle",
            x_label: "w1",
            y_label: "w2",
            x_range: (-1.5, 1.5),
            y_range: (-1.5, 1.5),
        },
        &loss_at,
        &[
            series("GD from (0.8, -0.8): stalls at the saddle", &n.stalling),
            series("GD from (0.8, -0.5): escapes", &n.escaping),
            series("escape step along the eigenvector, then GD", &n.rescued),
            Series::new(
                "eigenvector of λ = -2 at the saddle",
                vec![(-0.7, -0.7), (0.7, 0.7)],
            ),
        ],
        &[
            Marker {
                at: (0.0, 0.0),
                label: "saddle".into(),
            },
            Marker {
                at: (1.0, 1.0),
                label: "minimum".into(),
            },
            Marker {
                at: (-1.0, -1.0),
                label: "minimum".into(),
            },
        ],
    )?;
    artifacts.write("figures/saddle.svg", figure.as_bytes())?;

    let finding = claims(&n);
    let body = format!("{critical_table}\n![saddle](figures/saddle.svg)\n");
    Ok(Section {
        title: "Critical points: a saddle is not a minimum".into(),
        finding,
        body,
    })
}

/// The finding: what the six points and the stalled run show, each sentence checked.
fn claims(n: &Numbers) -> Finding {
    let mut finding = Finding::new(format!(
        "The lecture's network y = w1 w2 x with L = (1 - w1 w2)²; the second-order test at six \
         points, then gradient descent (lr {}) started next to the saddle's stable manifold.",
        n.lr
    ));
    let origin_is_saddle = n.origin_kind == "saddle"
        && n.origin_eigenvalues.len() == 2
        && (n.origin_eigenvalues[0] + 2.0).abs() < 1e-12
        && (n.origin_eigenvalues[1] - 2.0).abs() < 1e-12;
    finding.claim(
        "origin-is-a-saddle",
        "At the origin the gradient vanishes and the Hessian [[0, -2], [-2, 0]] has eigenvalues \
         -2 and 2: a saddle, not a minimum.",
        origin_is_saddle,
        format!(
            "kind {} with eigenvalues {:?}",
            n.origin_kind, n.origin_eigenvalues
        ),
    );
    finding.claim(
        "valley-floor-is-a-degenerate-minimum",
        "On the curve w1 w2 = 1 the eigenvalues are 0 and w1² + w2² > 0: degenerate, and a \
         minimum because L = 0 there.",
        n.valley_kind == "degenerate_psd" && n.valley_loss == 0.0,
        format!("kind at (1, 1) {}, L = {}", n.valley_kind, n.valley_loss),
    );
    finding.claim(
        "gradient-descent-stalls-at-the-saddle",
        format!(
            "Gradient descent spends {} consecutive steps with ‖∇L‖ < 1e-2 at a loss near 1.",
            n.stall_steps
        ),
        n.stall_steps >= 50,
        format!("{} stalled steps >= 50", n.stall_steps),
    );
    let negative = n.stalled_eigenvalues.first().is_some_and(|&l| l < 0.0);
    finding.claim(
        "the-stall-is-next-to-the-saddle",
        format!(
            "At step {} it sits at {} with ‖∇L‖ = {:.2e} and L = {:.4}; the Hessian there has \
             eigenvalues {}: one negative, so this is the saddle's neighbourhood, not a minimum \
             (strictly {}: the gradient is small, not zero).",
            n.stall_index,
            fmt_sci(&n.stalled),
            n.stalled_gradient_norm,
            n.stalled_value,
            fmt_vec(&n.stalled_eigenvalues),
            n.stalled_kind,
        ),
        negative && n.stalled_value > 0.5,
        format!(
            "smallest eigenvalue {:?} < 0 and L {} > 0.5",
            n.stalled_eigenvalues.first(),
            n.stalled_value
        ),
    );
    finding.claims.push(escape_claim(n));
    finding
}

/// One step along the negative eigenvector, then gradient descent to the minimum.
fn escape_claim(n: &Numbers) -> Claim {
    if let Some(e) = &n.escape {
        Claim::new(
            "one-eigenvector-step-escapes",
            format!(
                "One step of length {:.3} along the eigenvector {} of λ = {:.3} lowers L from {:.4} \
                 to {:.4} (the quadratic model predicted a drop of {:.4}), and gradient descent \
                 from there reaches L < 1e-6 in {} steps.",
                e.alpha,
                fmt_vec(&e.direction),
                e.eigenvalue,
                e.loss_before,
                e.loss_after,
                e.predicted_drop,
                e.steps_to_solve.map_or("no".to_string(), |s| s.to_string()),
            ),
            e.loss_after < e.loss_before && e.steps_to_solve.is_some(),
            format!(
                "L after {} < L before {} and L < 1e-6 reached: {}",
                e.loss_after,
                e.loss_before,
                e.steps_to_solve.is_some()
            ),
        )
    } else {
        Claim::new(
            "one-eigenvector-step-escapes",
            "The stalled point has a negative eigenvalue to escape along.",
            false,
            "no negative eigenvalue at the stalled point",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::parts::{Config, merge, run_shard};
    use unstuck::shard::Shard;

    #[test]
    fn the_critical_point_table_reads_as_expected() {
        let all = [experiment(1)];
        let config = Config {
            quick: true,
            only: None,
        };
        let part = run_shard(&all, &config, Shard::WHOLE).unwrap();
        let units = merge(&all, &[("part".into(), part)]).unwrap().units;
        let dir = tempfile::tempdir().unwrap();
        let mut artifacts = Artifacts::new(dir.path());
        let results = crate::report::parts::results_of(&all[0], &units);
        let section = assemble(&all[0].plan(true), &results, &mut artifacts).unwrap();
        section.finding.check("saddle").unwrap();
        insta::assert_snapshot!(section.body);
        assert!(artifacts.hashed().contains_key("figures/saddle.svg"));
    }
}

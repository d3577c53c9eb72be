//! Experiment `saddle`: the lecture's network y = w1 w2 x with L = (1 - w1 w2)^2.
//!
//! Where the gradient vanishes, the Hessian's eigenvalues tell a saddle from a minimum,
//! and the negative eigenvalue's eigenvector is the way out.

use super::markdown::table;
use super::{Context, Section};
use anyhow::Result;
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

pub fn run(ctx: &mut Context) -> Result<Section> {
    let tolerances = ClassifyTolerances::default();
    let points = [
        [0.0, 0.0],
        [1.0, 1.0],
        [-1.0, -1.0],
        [2.0, 0.5],
        [0.5, -1.0],
        [0.3, 0.2],
    ];
    let mut rows = Vec::new();
    for w in points {
        let a = analyze_tape_function(loss, &w, tolerances)?;
        let h = unstuck_hessian::hessian_of(loss, &w)?;
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
            format!("{:?}", a.kind),
            format!("{:.2}", a.minimum_ratio),
        ]);
    }
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
        &rows,
    );

    // Gradient descent started on the saddle's stable manifold (w1 = -w2), nudged by 1e-9,
    // against one started off it.
    let lr = 0.05;
    let steps = if ctx.quick { 300 } else { 600 };
    let stalling = descend([0.8, -0.8 + 1e-9], lr, steps)?;
    let escaping = descend([0.8, -0.5], lr, steps)?;
    let stall_steps = longest_stall(&stalling, 1e-2)?;

    // At the stalled point, the second-order test and one escape step along the eigenvector.
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
    let (escape_text, rescued) = match &analysis.escape {
        Some(direction) => {
            let step = escape_step(
                &objective,
                &stalled,
                &direction.direction,
                direction.eigenvalue,
                EscapeConfig::default(),
            )?;
            let mut rescued = descend([step.theta[0], step.theta[1]], lr, steps)?;
            rescued.insert(0, stalled);
            let text = format!(
                "At step {stall_index} gradient descent sits at {} with ‖∇L‖ = {:.2e} and L = {:.4}; \
                 the Hessian there has eigenvalues {}: one negative, so this is the saddle's \
                 neighbourhood, not a minimum (strictly, {:?}: the gradient is small, not zero). One step of length {:.3} along the \
                 eigenvector {} of λ = {:.3} lowers L from {:.4} to {:.4} (the quadratic model predicted \
                 a drop of {:.4}), and gradient descent from there reaches L < 1e-6 in {} steps.",
                fmt_sci(&stalled),
                analysis.gradient_norm,
                analysis.value,
                fmt_vec(&analysis.eigenvalues),
                analysis.kind,
                step.alpha.abs(),
                fmt_vec(&direction.direction),
                direction.eigenvalue,
                step.loss_before,
                step.loss_after,
                step.predicted_drop,
                rescued.len() - 2,
            );
            (text, rescued)
        }
        None => (
            format!(
                "At step {stall_index} the Hessian has no negative eigenvalue ({:?}).",
                analysis.kind
            ),
            vec![stalled],
        ),
    };

    let figure = plot::surface(
        "L(w1, w2) = (1 - w1 w2)^2: gradient descent near the saddle",
        &loss_at,
        (-1.5, 1.5),
        (-1.5, 1.5),
        &[
            series("GD from (0.8, -0.8): stalls at the saddle", &stalling),
            series("GD from (0.8, -0.5): escapes", &escaping),
            series("escape step along the eigenvector, then GD", &rescued),
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
    ctx.artifacts
        .write("figures/saddle.svg", figure.as_bytes())?;

    let finding = format!(
        "At the origin the gradient vanishes and the Hessian [[0, -2], [-2, 0]] has eigenvalues -2 \
         and 2: a saddle, not a minimum. On the curve w1 w2 = 1 the eigenvalues are 0 and \
         w1² + w2² > 0 (degenerate but a minimum: L = 0). Gradient descent (lr {lr}) started near the \
         saddle's stable manifold spends {stall_steps} consecutive steps with ‖∇L‖ < 1e-2 at a loss \
         near 1. {escape_text}"
    );
    let body = format!("{critical_table}\n![saddle](figures/saddle.svg)\n");
    Ok(Section {
        title: "Critical points: a saddle is not a minimum".into(),
        finding,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::artifacts::Artifacts;

    #[test]
    fn the_critical_point_table_reads_as_expected() {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = Context {
            quick: true,
            seed: 1,
            artifacts: Artifacts::new(dir.path()),
            timings: Vec::new(),
        };
        let section = run(&mut ctx).unwrap();
        insta::assert_snapshot!(section.body);
        assert!(dir.path().join("figures/saddle.svg").exists());
    }
}

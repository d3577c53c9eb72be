//! The files of a finished sweep: `sweep.csv` (every grid point, full precision),
//! `sweep.md` (the same, rounded, and a summary over seeds), `sweep.json` and one figure.
//! Everything is a pure function of the spec and the results, so a merge of parts writes
//! the same bytes as the one-machine run.

use crate::error::{CliError, Result};
use crate::output::Outputs;
use crate::sweep::PointResult;
use crate::sweep_spec::{GridPoint, SweepSpec};
use serde::Serialize;
use std::collections::BTreeMap;
use unstuck::plot::{Axes, Series, lines};

fn cell(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn rounded(value: Option<f64>) -> String {
    value
        .map(|v| format!("{v:.4}"))
        .unwrap_or_else(|| "–".into())
}

fn status(result: &PointResult) -> String {
    match result.diverged_at {
        Some(step) => format!("diverged at step {step}"),
        None => "ok".into(),
    }
}

/// The number the summary and the figure compare: the final validation loss, or the
/// training loss when there is no validation part.
fn score(result: &PointResult) -> Option<f64> {
    result.validation_loss.or(result.train_loss)
}

#[derive(Serialize)]
struct JsonPoint<'a> {
    model: &'a str,
    optimizer: &'a str,
    optimizer_spec: &'a str,
    lr: Option<f64>,
    batch: usize,
    seed: u64,
    result: &'a PointResult,
}

/// Renders every output file of the sweep into `outputs`.
pub(crate) fn render(
    spec: &SweepSpec,
    results: &BTreeMap<usize, PointResult>,
    outputs: &mut Outputs,
) -> Result<()> {
    let points = spec.points();
    let rows: Vec<(&GridPoint, &PointResult)> = points
        .iter()
        .enumerate()
        .map(|(i, p)| results.get(&i).map(|r| (p, r)))
        .collect::<Option<_>>()
        .ok_or_else(|| CliError::Parts("a grid point has no result".into()))?;
    outputs.add("sweep.csv", csv(&rows).into_bytes());
    outputs.add("sweep.md", markdown(spec, &rows).into_bytes());
    let json: Vec<JsonPoint<'_>> = rows
        .iter()
        .map(|(p, r)| JsonPoint {
            model: &p.model,
            optimizer: &p.optimizer,
            optimizer_spec: &p.optimizer_spec,
            lr: p.lr,
            batch: p.batch,
            seed: p.seed,
            result: r,
        })
        .collect();
    let text =
        serde_json::to_string_pretty(&serde_json::json!({ "spec": spec, "points": json }))
            .map_err(|error| CliError::Parts(format!("cannot serialise the results: {error}")))?;
    outputs.add("sweep.json", (text + "\n").into_bytes());
    outputs.add("sweep.svg", figure(spec, &rows)?.into_bytes());
    Ok(())
}

fn csv(rows: &[(&GridPoint, &PointResult)]) -> String {
    let mut out = String::from(
        "model,optimizer,lr,batch,seed,epochs,steps,train_loss,train_accuracy,validation_loss,validation_accuracy,status\n",
    );
    for (p, r) in rows {
        let quoted = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{}\n",
            quoted(&p.model),
            quoted(&p.optimizer_spec),
            cell(p.lr),
            p.batch,
            p.seed,
            r.epochs,
            r.steps,
            cell(r.train_loss),
            cell(r.train_accuracy),
            cell(r.validation_loss),
            cell(r.validation_accuracy),
            status(r)
        ));
    }
    out
}

/// Grid points that differ only in their seed.
fn configurations<'a>(
    rows: &'a [(&'a GridPoint, &'a PointResult)],
) -> Vec<(String, Vec<&'a (&'a GridPoint, &'a PointResult)>)> {
    let mut groups: Vec<(String, Vec<&(&GridPoint, &PointResult)>)> = Vec::new();
    for row in rows {
        let p = row.0;
        let name = format!("{} | `{}` | {}", p.model, p.optimizer_spec, p.batch);
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, members)) => members.push(row),
            None => groups.push((name, vec![row])),
        }
    }
    groups
}

fn markdown(spec: &SweepSpec, rows: &[(&GridPoint, &PointResult)]) -> String {
    let what = if rows.iter().any(|(_, r)| r.validation_loss.is_some()) {
        "validation loss"
    } else {
        "training loss"
    };
    let mut out = format!(
        "# Sweep on `{}`\n\n{} grid points: {} model(s) x {} optimizer(s) x {} learning rate(s) x {} \
         batch size(s) x {} seed(s), {} epochs each.\n\n## Summary over seeds ({what} at the end)\n\n\
         | model | optimizer | batch | mean | min | max | diverged |\n|---|---|---|---|---|---|---|\n",
        spec.data,
        rows.len(),
        spec.models.len(),
        spec.optimizers.len(),
        spec.learning_rates.len().max(1),
        spec.batch_sizes.len(),
        spec.seeds.len(),
        spec.epochs
    );
    for (name, members) in configurations(rows) {
        let scores: Vec<f64> = members.iter().filter_map(|(_, r)| score(r)).collect();
        let diverged = members
            .iter()
            .filter(|(_, r)| r.diverged_at.is_some())
            .count();
        let (mean, min, max) = if scores.is_empty() {
            (None, None, None)
        } else {
            (
                Some(scores.iter().sum::<f64>() / scores.len() as f64),
                scores.iter().copied().reduce(f64::min),
                scores.iter().copied().reduce(f64::max),
            )
        };
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {diverged} of {} |\n",
            rounded(mean),
            rounded(min),
            rounded(max),
            members.len()
        ));
    }
    out.push_str(
        "\n## Every grid point\n\n| model | optimizer | batch | seed | train loss | train accuracy | \
         validation loss | validation accuracy | status |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for (p, r) in rows {
        out.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
            p.model,
            p.optimizer_spec,
            p.batch,
            p.seed,
            rounded(r.train_loss),
            rounded(r.train_accuracy),
            rounded(r.validation_loss),
            rounded(r.validation_accuracy),
            status(r)
        ));
    }
    out.push_str("\n![sweep](sweep.svg)\n");
    out
}

/// The mean score over seeds against the learning rate (log10), or the batch size when
/// there is one rate, one line per remaining configuration.
fn figure(spec: &SweepSpec, rows: &[(&GridPoint, &PointResult)]) -> Result<String> {
    let by_lr = spec.learning_rates.len() > 1;
    let mut series: Vec<Series> = Vec::new();
    let mut sums: BTreeMap<(String, u64), (f64, usize)> = BTreeMap::new();
    let mut names: Vec<String> = Vec::new();
    for (p, r) in rows {
        let (name, x) = if by_lr {
            (
                format!("{} {} b{}", p.model, p.optimizer, p.batch),
                p.lr.map_or(0.0, f64::log10),
            )
        } else {
            (format!("{} {}", p.model, p.optimizer_spec), p.batch as f64)
        };
        if !names.contains(&name) {
            names.push(name.clone());
        }
        if let Some(s) = score(r) {
            let entry = sums.entry((name, x.to_bits())).or_insert((0.0, 0));
            entry.0 += s;
            entry.1 += 1;
        }
    }
    for name in names {
        let mut points: Vec<(f64, f64)> = sums
            .iter()
            .filter(|((n, _), _)| *n == name)
            .map(|((_, x), (sum, count))| (f64::from_bits(*x), sum / *count as f64))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        series.push(Series::new(name, points));
    }
    let x_label = if by_lr {
        "learning rate (log10)"
    } else {
        "batch size"
    };
    let y_label = if rows.iter().any(|(_, r)| r.validation_loss.is_some()) {
        "final validation loss, mean over seeds"
    } else {
        "final training loss, mean over seeds"
    };
    // A log scale only where the losses span more than a decade.
    let (lo, hi) = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold((f64::INFINITY, 0.0_f64), |(lo, hi), y| {
            (lo.min(y), hi.max(y))
        });
    let axes = Axes::new(x_label, y_label);
    let axes = if lo > 0.0 && hi / lo > 10.0 {
        axes.log_y()
    } else {
        axes
    };
    lines(
        &format!("Sweep on {}: {} epochs", spec.data, spec.epochs),
        &axes,
        &series,
    )
    .map_err(|error| CliError::Parts(error.to_string()))
}

//! The diagnosis as text: verdict and reason first, then the data checks, the numbers,
//! the evidence, the notes and the remedies. Every number has a fixed precision, so the
//! text is as reproducible as the numbers.

use super::run::{Metrics, RunSummary};
use super::{Diagnosis, GeneralizationEvidence, OptimizationEvidence};
use std::fmt::{self, Write as _};

fn metrics(m: &Metrics) -> String {
    match (m.accuracy, m.r2) {
        (Some(accuracy), _) => format!("{:.4} / {:.3}", m.loss, accuracy),
        (None, Some(r2)) => format!("{:.4} / R² {:.3}", m.loss, r2),
        (None, None) => format!("{:.4}", m.loss),
    }
}

fn run_row(run: &RunSummary, note: &str) -> String {
    let test = run.test.as_ref().map(metrics).unwrap_or_else(|| "-".into());
    let diverged = run
        .diverged_at_step
        .map(|step| format!(" (diverged at step {step})"))
        .unwrap_or_default();
    format!(
        "  {:<18} {:<28} {:>8} {:>17} {:>17} {:>17} {:>9.2}{note}{diverged}\n",
        run.role,
        run.model,
        run.n_params,
        metrics(&run.train),
        metrics(&run.validation),
        test,
        run.logit_rms
    )
}

fn optimization(out: &mut String, e: &OptimizationEvidence) -> fmt::Result {
    writeln!(
        out,
        "\nWhere training ended (your model, full training set):"
    )?;
    if let Some(trend) = &e.trend {
        writeln!(
            out,
            "  loss slope per epoch over the last {} epochs {} -> {}",
            trend.epochs_used,
            trend.slope_per_epoch,
            if trend.still_descending {
                "still descending"
            } else {
                "stalled"
            }
        )?;
    }
    writeln!(
        out,
        "  loss flat (within 1% of chance) from epoch {}, mean mini-batch gradient norm there {:.3e}",
        e.stalled_from_epoch, e.stalled_grad_norm
    )?;
    writeln!(
        out,
        "  gradient norm at the end {:.3e}; one curvature-limited gradient step would still gain {:.3e}",
        e.grad_norm, e.gradient_gain
    )?;
    let layers: Vec<String> = e
        .layer_gradients
        .iter()
        .map(|l| format!("{} {:.2e}", l.layer, l.rms))
        .collect();
    writeln!(
        out,
        "  per-layer RMS gradient: {}{}",
        layers.join(", "),
        if e.gradient_vanishes {
            " (vanishing)"
        } else {
            ""
        }
    )?;
    if let Some(dead) = e.dead_relu_fraction {
        writeln!(
            out,
            "  dead ReLU units (zero on every training row): {:.1}%",
            100.0 * dead
        )?;
    }
    writeln!(
        out,
        "  Hessian extremes (Lanczos, {} HVPs{}): min {:.4e}, max {:.4e} -> {}{}",
        e.lanczos_hvps,
        if e.lanczos_converged {
            ""
        } else {
            ", not converged"
        },
        e.lambda_min,
        e.lambda_max,
        e.curvature,
        if e.at_saddle {
            " (a saddle: the gradient is small against the curvature)"
        } else {
            ""
        }
    )?;
    match &e.escape {
        Some(escape) if escape.alpha != 0.0 => writeln!(
            out,
            "  escape step along the min eigenvector (alpha {:.3e}): loss {:.4} -> {:.4}; quadratic model g·d {:.3e}, ½d·H·d {:.3e}: {:.0}% from curvature",
            escape.alpha,
            escape.loss_before,
            escape.loss_after,
            escape.gradient_term,
            escape.curvature_term,
            100.0 * escape.curvature_share
        )?,
        Some(escape) => writeln!(
            out,
            "  escape step along the min eigenvector: no step length lowers the loss {:.4}",
            escape.loss_before
        )?,
        None => writeln!(out, "  no negative curvature: no escape step to take")?,
    }
    for other in &e.alternatives {
        writeln!(
            out,
            "  same model with {}: training {}, advantage {} of chance{}",
            other.run.optimizer,
            metrics(&other.run.train),
            other.train_loss_advantage,
            other
                .run
                .diverged_at_step
                .map(|s| format!(" (diverged at step {s})"))
                .unwrap_or_default()
        )?;
    }
    if let Some(range) = &e.lr_range {
        writeln!(
            out,
            "  learning-rate range test ({} steps): loss falls fastest at {:.1e}, lowest at {:.1e}; yours {:.1e}",
            range.lrs.len(),
            range.steepest_lr,
            range.lowest_loss_lr,
            range.user_lr
        )?;
    }
    Ok(())
}

fn generalization(out: &mut String, e: &GeneralizationEvidence) -> fmt::Result {
    writeln!(out, "\nHeld-out data (95% bootstrap intervals):")?;
    writeln!(out, "  validation - training loss {}", e.validation_gap)?;
    if let Some(gap) = e.validation_accuracy_gap {
        writeln!(out, "  training - validation accuracy {gap}")?;
    }
    if let Some(gap) = e.test_gap {
        writeln!(out, "  test - training loss {gap}")?;
    }
    if let Some(gap) = e.test_minus_validation {
        writeln!(out, "  test - validation loss {gap}")?;
    }
    writeln!(
        out,
        "  validation loss lowest at epoch {} ({:.4}), risen by {:.4} since",
        e.best_epoch, e.best_validation_loss, e.validation_growth
    )?;
    let t = &e.two_sample;
    writeln!(
        out,
        "  two-sample test, training vs {} features ({} and {} distinct rows): accuracy {:.3} on {} + {} held-out rows (chance 0.5), p = {:.2e}, power {:.2} -> {}",
        t.compared_with,
        t.n_train_distinct,
        t.n_held_out_distinct,
        t.accuracy,
        t.n_holdout_per_side,
        t.n_holdout_per_side,
        t.p_value,
        t.power,
        if t.distributions_differ {
            "different distributions"
        } else if t.undetermined {
            "undetermined (too little power)"
        } else {
            "no difference found"
        }
    )?;
    for shift in &t.shifts {
        writeln!(
            out,
            "    feature {:>4}: mean {:+.3} -> {:+.3} ({:+.2} sd)",
            shift.feature, shift.train_mean, shift.held_out_mean, shift.standardized_difference
        )?;
    }
    Ok(())
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        writeln!(out, "Diagnosis: {}", self.verdict)?;
        writeln!(out, "  {}.", self.reason)?;
        writeln!(out, "  (deciding rule's margin {:.3})", self.margin)?;
        if let Some(seeds) = &self.seeds {
            writeln!(
                out,
                "  The same verdict with {:.0}% of {} seeds (95% interval {:.0}%-{:.0}%).",
                100.0 * seeds.agreement.estimate,
                seeds.seeds.len(),
                100.0 * seeds.agreement.low,
                100.0 * seeds.agreement.high
            )?;
        }
        if !self.data.warnings.is_empty() {
            writeln!(out, "\nData checks:")?;
            for warning in &self.data.warnings {
                writeln!(out, "  - {}", warning.message)?;
            }
        }
        writeln!(
            out,
            "\nLoss {} (chance loss {:.4}); loss / accuracy at the end, and the logits' RMS:",
            self.loss, self.chance_loss
        )?;
        writeln!(
            out,
            "  {:<18} {:<28} {:>8} {:>17} {:>17} {:>17} {:>9}",
            "run", "model", "params", "train", "validation", "test", "logits"
        )?;
        out.push_str(&run_row(&self.user, ""));
        for reference in self.references.iter().chain(&self.bigger) {
            let note = format!(
                "  ({} your family; advantage {} of chance)",
                if reference.expressible_by_your_model {
                    "inside"
                } else {
                    "outside"
                },
                reference.train_loss_advantage
            );
            out.push_str(&run_row(&reference.run, &note));
        }
        if let Some(evidence) = &self.optimization {
            optimization(&mut out, evidence)?;
        }
        if let Some(evidence) = &self.generalization {
            generalization(&mut out, evidence)?;
        }
        if !self.notes.is_empty() {
            writeln!(out, "\nNotes:")?;
            for note in &self.notes {
                writeln!(out, "  - {note}")?;
            }
        }
        writeln!(out, "\nWhat to do ({}):", self.verdict)?;
        for remedy in &self.remedies {
            writeln!(out, "  - {remedy}")?;
        }
        let t = &self.thresholds;
        write!(
            out,
            "\nThresholds (fractions of the chance loss): training loss large above {}, better by more than {} (interval above 0), held-out gap large above {} (interval above 0); two-sample p < {} and accuracy >= {}.",
            t.train_large_ratio,
            t.reference_margin,
            t.gap_ratio,
            t.two_sample_alpha,
            t.two_sample_min_accuracy
        )?;
        f.write_str(&out)
    }
}

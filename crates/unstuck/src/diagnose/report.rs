//! The diagnosis as text: verdict and reason first, then the numbers, then the remedies.
//! Every number has a fixed precision, so the text is as reproducible as the numbers.

use super::run::{Metrics, RunSummary};
use super::{Diagnosis, GeneralizationEvidence, OptimizationEvidence};
use std::fmt::{self, Write as _};

fn metrics(m: &Metrics) -> String {
    match m.accuracy {
        Some(accuracy) => format!("{:.4} / {:.3}", m.loss, accuracy),
        None => format!("{:.4}", m.loss),
    }
}

fn run_row(run: &RunSummary, note: &str) -> String {
    let test = run.test.as_ref().map(metrics).unwrap_or_else(|| "-".into());
    let diverged = run
        .diverged_at_step
        .map(|step| format!(" (diverged at step {step})"))
        .unwrap_or_default();
    format!(
        "  {:<18} {:<28} {:>8} {:>17} {:>17} {:>17}{note}{diverged}\n",
        run.role,
        run.model,
        run.n_params,
        metrics(&run.train),
        metrics(&run.validation),
        test
    )
}

fn optimization(out: &mut String, e: &OptimizationEvidence) -> fmt::Result {
    writeln!(
        out,
        "\nWhere training stalled (your model, full training set):"
    )?;
    writeln!(
        out,
        "  loss flat (within 1% of chance) from epoch {}, mean mini-batch gradient norm there {:.3e}",
        e.stalled_from_epoch, e.stalled_grad_norm
    )?;
    writeln!(out, "  gradient norm at the end   {:.3e}", e.grad_norm)?;
    writeln!(
        out,
        "  Hessian extremes (Lanczos, {} HVPs{}): min {:.4e}, max {:.4e} -> {}",
        e.lanczos_hvps,
        if e.lanczos_converged {
            ""
        } else {
            ", not converged"
        },
        e.lambda_min,
        e.lambda_max,
        e.curvature
    )?;
    match &e.escape {
        Some(escape) if escape.alpha != 0.0 => writeln!(
            out,
            "  escape step along the min eigenvector (alpha {:.3e}): loss {:.4} -> {:.4}",
            escape.alpha, escape.loss_before, escape.loss_after
        )?,
        Some(escape) => writeln!(
            out,
            "  escape step along the min eigenvector: no step length lowers the loss {:.4}",
            escape.loss_before
        )?,
        None => writeln!(out, "  no negative curvature: no escape step to take")?,
    }
    for run in &e.alternatives {
        writeln!(
            out,
            "  same model with {}: training {}{}",
            run.optimizer,
            metrics(&run.train),
            run.diverged_at_step
                .map(|s| format!(" (diverged at step {s})"))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}

fn generalization(out: &mut String, e: &GeneralizationEvidence) -> fmt::Result {
    writeln!(out, "\nHeld-out data:")?;
    write!(out, "  validation - training loss {:.4}", e.validation_gap)?;
    if let Some(gap) = e.test_gap {
        write!(out, ", test - training loss {gap:.4}")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "  validation loss lowest at epoch {} ({:.4}), risen by {:.4} since",
        e.best_epoch, e.best_validation_loss, e.validation_growth
    )?;
    let t = &e.two_sample;
    writeln!(
        out,
        "  two-sample test, training vs {} features: accuracy {:.3} on {} + {} held-out rows (chance 0.5), p = {:.2e} -> {}",
        t.compared_with,
        t.accuracy,
        t.n_holdout_per_side,
        t.n_holdout_per_side,
        t.p_value,
        if t.distributions_differ {
            "different distributions"
        } else {
            "no difference found"
        }
    )
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        writeln!(out, "Diagnosis: {}", self.verdict)?;
        writeln!(out, "  {}.", self.reason)?;
        writeln!(
            out,
            "\nLoss {} (chance loss {:.4}); loss / accuracy at the end:",
            self.loss, self.chance_loss
        )?;
        writeln!(
            out,
            "  {:<18} {:<28} {:>8} {:>17} {:>17} {:>17}",
            "run", "model", "params", "train", "validation", "test"
        )?;
        out.push_str(&run_row(&self.user, ""));
        for reference in &self.references {
            let note = if reference.expressible_by_your_model {
                "  (inside your family)"
            } else {
                "  (outside your family)"
            };
            out.push_str(&run_row(&reference.run, note));
        }
        if let Some(evidence) = &self.optimization {
            optimization(&mut out, evidence)?;
        }
        if let Some(evidence) = &self.generalization {
            generalization(&mut out, evidence)?;
        }
        writeln!(out, "\nWhat to do ({} branch of the guide):", self.verdict)?;
        for remedy in &self.remedies {
            writeln!(out, "  - {remedy}")?;
        }
        let t = &self.thresholds;
        write!(
            out,
            "\nThresholds (fractions of the chance loss): training loss large above {}, better by more than {}, held-out gap large above {}; two-sample p < {} and accuracy >= {}.",
            t.train_large_ratio,
            t.reference_margin,
            t.gap_ratio,
            t.two_sample_alpha,
            t.two_sample_min_accuracy
        )?;
        f.write_str(&out)
    }
}

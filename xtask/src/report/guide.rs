//! Experiment `guide`: the lecture's general guide (its Fig. 1) on five seeded runs, each
//! built to fail in one known way (or not at all), diagnosed by `unstuck::diagnose`.
//!
//! The table puts the cause each run was built with next to the diagnosis and the
//! evidence the guide used; the experiment fails unless all five agree.

use super::markdown::table;
use super::{Context, Section};
use anyhow::{Result, bail};
use std::time::Instant;
use unstuck::diagnose::{Diagnosis, Verdict, diagnose};
use unstuck_test_support::scenarios::{Scenario, scenarios};

/// The numbers that decided, in one table cell.
fn evidence(d: &Diagnosis) -> String {
    let chance = d.chance_loss;
    let user = &d.user;
    let share = |loss: f64| format!("{:.0}%", 100.0 * loss / chance);
    if let Some(o) = &d.optimization {
        let shallow = &d.references[1];
        let mut parts = vec![
            format!(
                "train loss {:.3} ({} of chance)",
                user.train.loss,
                share(user.train.loss)
            ),
            format!(
                "shallow {} {:.3} ({} family)",
                shallow.run.model,
                shallow.run.train.loss,
                if shallow.expressible_by_your_model {
                    "inside"
                } else {
                    "outside"
                }
            ),
            format!(
                "‖g‖ {:.1e}, λ ∈ [{:.2e}, {:.2e}] ({})",
                o.grad_norm, o.lambda_min, o.lambda_max, o.curvature
            ),
        ];
        if let Some(escape) = &o.escape {
            parts.push(format!(
                "escape {:.3} → {:.3}",
                escape.loss_before, escape.loss_after
            ));
        }
        for run in &o.alternatives {
            parts.push(format!("{} {:.3}", run.optimizer, run.train.loss));
        }
        return parts.join("; ");
    }
    let mut parts = vec![format!(
        "train {:.3} ({} of chance), validation {:.3}",
        user.train.loss,
        share(user.train.loss),
        user.validation.loss
    )];
    if let Some(test) = &user.test {
        parts.push(format!("test {:.3}", test.loss));
    }
    if let Some(g) = &d.generalization {
        parts.push(format!(
            "validation lowest at epoch {} ({:.3})",
            g.best_epoch, g.best_validation_loss
        ));
        parts.push(format!(
            "two-sample accuracy {:.2} vs {} (p = {:.1e})",
            g.two_sample.accuracy, g.two_sample.compared_with, g.two_sample.p_value
        ));
    }
    parts.join("; ")
}

fn file_name(scenario: &Scenario) -> String {
    format!("guide/{}.json", scenario.name.replace(' ', "_"))
}

pub fn run(ctx: &mut Context) -> Result<Section> {
    let started = Instant::now();
    let all = scenarios(ctx.quick, ctx.seed)?;
    let mut rows = Vec::new();
    let mut reasons = String::new();
    let mut wrong = Vec::new();
    for scenario in &all {
        let diagnosis = diagnose(&scenario.data(), &scenario.config)?;
        let json = file_name(scenario);
        ctx.artifacts.write(&json, diagnosis.to_json().as_bytes())?;
        let agrees = diagnosis.verdict == scenario.true_cause;
        if !agrees {
            wrong.push(format!(
                "{} diagnosed as {}",
                scenario.name, diagnosis.verdict
            ));
        }
        rows.push(vec![
            scenario.setup.clone(),
            scenario.true_cause.name().to_string(),
            format!(
                "{}{}",
                diagnosis.verdict.name(),
                if agrees { "" } else { " (wrong)" }
            ),
            evidence(&diagnosis),
            format!("[json]({json})"),
        ]);
        reasons.push_str(&format!("- **{}**: {}.\n", scenario.name, diagnosis.reason));
    }
    ctx.timings.push((
        "five diagnoses".to_string(),
        started.elapsed().as_secs_f64(),
    ));
    if !wrong.is_empty() {
        bail!("the guide misdiagnosed: {}", wrong.join(", "));
    }
    let verdicts: Vec<&str> = Verdict::ALL.iter().map(|v| v.name()).collect();
    let finding = format!(
        "All {} runs, each built to fail in one known way ({}), get the diagnosis they were built for. \
         A deeper net with a higher training loss than the shallow net it can express is an optimization problem; \
         a linear model that only bigger models beat is model bias; \
         the held-out branch separates overfitting from mismatch with a two-sample test on the features.",
        all.len(),
        verdicts.join(", ")
    );
    let thresholds = unstuck::diagnose::Thresholds::default();
    let body = format!(
        "{}\n\
         Why, in the guide's words:\n\n{reasons}\n\
         The rules, with losses in units of the chance loss (the loss of predicting the class \
         frequencies): the training loss is large above {} of it, or when a reference model is \
         lower by more than {}; then a better model *inside* the user's family (the linear model, \
         or a shallow net of the same activation no wider than the narrowest hidden layer), \
         another optimizer or an escape step along the Hessian's most negative eigenvector means \
         optimization, anything else model bias. With a small training loss, a held-out loss \
         above it by more than {} is large; a classifier that tells training from held-out \
         features (held-out accuracy at least {} with binomial p < {}) means mismatch, otherwise \
         overfitting. Each JSON file holds the whole diagnosis: every run's losses, the Lanczos \
         extremes, the escape step, the other optimizers and the two-sample test. The same \
         diagnosis is printed by `unstuck diagnose`.\n",
        table(
            &["run", "built to show", "diagnosis", "evidence", "details"],
            &rows
        ),
        thresholds.train_large_ratio,
        thresholds.reference_margin,
        thresholds.gap_ratio,
        thresholds.two_sample_min_accuracy,
        thresholds.two_sample_alpha,
    );
    Ok(Section {
        title: "The general guide: model bias, optimization, overfitting or mismatch".to_string(),
        finding,
        body,
    })
}

//! The verdicts of the guide and its decision rules (see [`super::Thresholds`]); every
//! rule records its number, its threshold and its margin.

use super::data_checks::{DataChecks, DataIssue};
use super::generalization::GeneralizationEvidence;
use super::optimization::OptimizationEvidence;
use super::run::RunSummary;
use super::stats::Interval;
use super::{Reference, Thresholds};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where the guide ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Large training loss, and nothing inside the model's family does better: the
    /// family cannot express a good answer.
    ModelBias,
    /// Large training loss, but a model the family contains, another optimizer, a step
    /// out of a saddle or more training does better: the answer is there, training does
    /// not find it.
    Optimization,
    /// Small training loss, large held-out loss, same distribution.
    Overfitting,
    /// Small training loss, large held-out loss, and the held-out data come from another
    /// distribution.
    Mismatch,
    /// Small training loss, small held-out loss.
    Healthy,
    /// No model trained, however flexible, predicts held-out labels better than the
    /// majority class: there is nothing to learn in the labels as given.
    CheckLabels,
}

impl Verdict {
    /// All verdicts, in the guide's order.
    pub const ALL: [Verdict; 6] = [
        Verdict::ModelBias,
        Verdict::Optimization,
        Verdict::Overfitting,
        Verdict::Mismatch,
        Verdict::Healthy,
        Verdict::CheckLabels,
    ];

    /// A short human name: `model bias`, `optimization`, ...
    pub fn name(self) -> &'static str {
        match self {
            Verdict::ModelBias => "model bias",
            Verdict::Optimization => "optimization",
            Verdict::Overfitting => "overfitting",
            Verdict::Mismatch => "mismatch",
            Verdict::Healthy => "healthy",
            Verdict::CheckLabels => "check the labels",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One decision rule as evaluated: its number (in units of the chance loss unless said
/// otherwise), the threshold, whether it held, and by how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleCheck {
    /// The rule, in words.
    pub rule: String,
    /// What it compared, with its interval.
    pub value: Interval,
    /// The threshold.
    pub threshold: f64,
    /// Whether the rule held.
    pub holds: bool,
    /// `|estimate - threshold|`: how far the number sat from flipping the rule.
    pub margin: f64,
}

/// The verdict with its reason, the rules it evaluated and the deciding rule's margin.
#[derive(Debug, Clone)]
pub(crate) struct Decision {
    pub(crate) verdict: Verdict,
    pub(crate) reason: String,
    pub(crate) margin: f64,
}

/// The rules evaluated so far and the notes to the user.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    pub(crate) rules: Vec<RuleCheck>,
    pub(crate) notes: Vec<String>,
}

impl Ledger {
    fn rule(
        &mut self,
        rule: impl Into<String>,
        value: Interval,
        threshold: f64,
        holds: bool,
    ) -> f64 {
        let margin = (value.estimate - threshold).abs();
        self.rules.push(RuleCheck {
            rule: rule.into(),
            value,
            threshold,
            holds,
            margin,
        });
        margin
    }
}

/// Formats a loss for the reasons: 4 decimals, fixed.
fn loss(x: f64) -> String {
    format!("{x:.4}")
}

impl Reference {
    /// Better than the user's model by the guide's rule (see [`Thresholds`]).
    pub(crate) fn better(&self, margin: f64) -> bool {
        self.train_loss_advantage.estimate > margin
            && self.train_loss_advantage.low > 0.0
            && !self.accuracy_contradicts()
    }

    /// Lower loss, but significantly lower accuracy than the user's model.
    pub(crate) fn accuracy_contradicts(&self) -> bool {
        self.train_accuracy_advantage.is_some_and(|a| a.high < 0.0)
    }

    fn describe(&self) -> String {
        let accuracy = self
            .run
            .train
            .accuracy
            .map(|a| format!(", accuracy {a:.3}"))
            .unwrap_or_default();
        format!(
            "the {} {} reaches a training loss of {}{accuracy} (lower than yours by {:.3} [{:.3}, {:.3}] of the chance loss)",
            self.run.role,
            self.run.model,
            loss(self.run.train.loss),
            self.train_loss_advantage.estimate,
            self.train_loss_advantage.low,
            self.train_loss_advantage.high
        )
    }
}

/// Records the rule "better than yours" for each candidate, notes a loss that
/// contradicts the accuracy, and returns the best of those that are better.
fn best_better<'a>(
    candidates: impl Iterator<Item = &'a Reference>,
    what: &str,
    thresholds: &Thresholds,
    ledger: &mut Ledger,
) -> Option<(&'a Reference, f64)> {
    let mut best: Option<(&Reference, f64)> = None;
    for candidate in candidates {
        let holds = candidate.better(thresholds.reference_margin);
        let margin = ledger.rule(
            format!(
                "{what} {} better than yours (training loss, chance units)",
                candidate.run.model
            ),
            candidate.train_loss_advantage,
            thresholds.reference_margin,
            holds,
        );
        if candidate.train_loss_advantage.estimate > thresholds.reference_margin
            && candidate.accuracy_contradicts()
        {
            ledger.notes.push(format!(
                "the {} {} has a lower training loss but a lower accuracy ({:.3} against yours): the loss and the accuracy disagree (large logits on a few rows), so it is not counted as better",
                candidate.run.role,
                candidate.run.model,
                candidate.run.train.accuracy.unwrap_or(f64::NAN)
            ));
        }
        if holds && best.is_none_or(|(b, _)| candidate.run.train.loss < b.run.train.loss) {
            best = Some((candidate, margin));
        }
    }
    best
}

/// Rule 0: held-out accuracy at chance for every model trained.
pub(crate) fn labels_at_chance(data: &DataChecks) -> Option<Decision> {
    let warning = data
        .warnings
        .iter()
        .find(|w| w.issue == DataIssue::ChanceAccuracy)?;
    Some(Decision {
        verdict: Verdict::CheckLabels,
        reason: warning.message.clone(),
        margin: data.chance_margin.unwrap_or(0.0).abs(),
    })
}

/// Is the training loss large? `Some((reason, margin))` if so (rule 1).
pub(crate) fn training_is_large(
    user: &RunSummary,
    references: &[Reference],
    chance: f64,
    thresholds: &Thresholds,
    ledger: &mut Ledger,
) -> Option<(String, f64)> {
    if let Some(step) = user.diverged_at_step {
        return Some((format!("the run diverged at step {step}"), f64::INFINITY));
    }
    let ratio = user.train.loss / chance;
    let large = ratio > thresholds.train_large_ratio;
    let margin = ledger.rule(
        "training loss / chance loss above the limit",
        Interval::exact(ratio),
        thresholds.train_large_ratio,
        large,
    );
    if large {
        return Some((
            format!(
                "the training loss {} is {:.0}% of the chance loss {} (above {:.0}%)",
                loss(user.train.loss),
                100.0 * ratio,
                loss(chance),
                100.0 * thresholds.train_large_ratio
            ),
            margin,
        ));
    }
    best_better(references.iter(), "reference", thresholds, ledger)
        .map(|(best, margin)| (best.describe(), margin))
}

/// The runs the large-loss branch compares: the user's, the references, the bigger model.
pub(crate) struct Runs<'a> {
    pub(crate) user: &'a RunSummary,
    pub(crate) references: &'a [Reference],
    pub(crate) bigger: Option<&'a Reference>,
}

/// Rule 2: optimisation or model bias, given a large training loss.
pub(crate) fn after_large_training_loss(
    (why_large, large_margin): (&str, f64),
    Runs {
        user,
        references,
        bigger,
    }: Runs<'_>,
    evidence: &OptimizationEvidence,
    chance: f64,
    thresholds: &Thresholds,
    ledger: &mut Ledger,
) -> Decision {
    let decision = |verdict, reason, margin| Decision {
        verdict,
        reason,
        margin,
    };
    if user.diverged_at_step.is_some() {
        return decision(
            Verdict::Optimization,
            format!("{why_large}: the optimizer failed before the model could be judged"),
            large_margin,
        );
    }
    let inside = references.iter().filter(|r| r.expressible_by_your_model);
    if let Some((inside, margin)) = best_better(inside, "inside-family", thresholds, ledger) {
        return decision(
            Verdict::Optimization,
            format!(
                "{why_large}; {}, and your model can express it: a better answer is inside your model's family",
                inside.describe()
            ),
            margin,
        );
    }
    if let Some((other, margin)) = best_better(
        evidence.alternatives.iter(),
        "optimizer",
        thresholds,
        ledger,
    ) {
        return decision(
            Verdict::Optimization,
            format!(
                "{why_large}; the same model trained with {} reaches {}: the optimizer, not the model, is the limit",
                other.run.optimizer,
                loss(other.run.train.loss)
            ),
            margin,
        );
    }
    if let Some(escape) = &evidence.escape {
        let gain = (escape.loss_before - escape.loss_after) / chance;
        let holds = evidence.at_saddle
            && gain > thresholds.reference_margin
            && escape.curvature_share >= 0.5;
        let margin = ledger.rule(
            "escape step's gain at a saddle (chance units)",
            Interval::exact(gain),
            thresholds.reference_margin,
            holds,
        );
        if holds {
            return decision(
                Verdict::Optimization,
                format!(
                    "{why_large}; training stalled at a saddle (gradient gain {:.1e} against a chance loss of {}, λ_min {:.3e}), and one step along the negative-curvature direction lowers the loss from {} to {}, {:.0}% of it explained by the curvature",
                    evidence.gradient_gain,
                    loss(chance),
                    evidence.lambda_min,
                    loss(escape.loss_before),
                    loss(escape.loss_after),
                    100.0 * escape.curvature_share
                ),
                margin,
            );
        }
    }
    // The models outside the user's family: the references it cannot express, and the
    // bigger version of it.
    let outside = || {
        references
            .iter()
            .filter(|r| !r.expressible_by_your_model)
            .chain(bigger)
    };
    let outside_best = outside()
        .filter(|r| r.better(thresholds.reference_margin))
        .map(|r| r.run.train.loss)
        .min_by(f64::total_cmp);
    if let Some(trend) = &evidence.trend {
        let slope = trend.slope_per_epoch.scaled(1.0 / chance);
        let margin = ledger.rule(
            "loss slope per epoch (chance units) below zero",
            slope,
            0.0,
            trend.still_descending,
        );
        // A descent too slow to reach what a bigger family already reaches is not the
        // reason the loss is large: the model bias rule below gets to decide.
        let closes_gap =
            outside_best.is_none_or(|best| trend.projected_gain() >= user.train.loss - best);
        if trend.still_descending && !closes_gap {
            ledger.notes.push(format!(
                "the run is still descending, but as many epochs again at its slope would lower the loss by about {}, short of the {} a bigger model family already reaches",
                loss(trend.projected_gain()),
                loss(outside_best.unwrap_or(f64::NAN))
            ));
        }
        if trend.still_descending && closes_gap {
            return decision(
                Verdict::Optimization,
                format!(
                    "{why_large}; the run is still descending: its training loss falls by {:.4} [{:.4}, {:.4}] per epoch over the last {} epochs, so the budget, not the model, is the limit",
                    -trend.slope_per_epoch.estimate,
                    -trend.slope_per_epoch.high,
                    -trend.slope_per_epoch.low,
                    trend.epochs_used
                ),
                margin,
            );
        }
    }
    match best_better(outside(), "outside-family", thresholds, ledger) {
        Some((better, margin)) => {
            let described = better.describe();
            // The large-loss reason may already name the same reference.
            let better_part = if why_large.contains(&described) {
                String::new()
            } else {
                format!("; {described}")
            };
            let descent = if evidence.trend.as_ref().is_some_and(|t| t.still_descending) {
                "the run's remaining descent is too slow to close the gap"
            } else {
                "the run has stopped descending"
            };
            decision(
                Verdict::ModelBias,
                format!(
                    "{why_large}{better_part}, while neither another optimizer nor an escape step helps and {descent}: the model family is too small"
                ),
                margin,
            )
        }
        None => {
            ledger.notes.push("no bigger model did better either: model bias is the guide's answer by elimination, not confirmed by a bigger model".into());
            decision(
                Verdict::ModelBias,
                format!(
                    "{why_large}; no reference, bigger model, other optimizer or escape step does better: the model family cannot fit the data"
                ),
                large_margin,
            )
        }
    }
}

/// Rules 3 and 4: overfitting, mismatch or healthy, given a small training loss.
pub(crate) fn after_small_training_loss(
    user: &RunSummary,
    evidence: &GeneralizationEvidence,
    chance: f64,
    thresholds: &Thresholds,
    ledger: &mut Ledger,
) -> Decision {
    let limit = thresholds.gap_ratio * chance;
    let large = |gap: &Interval| gap.estimate > limit && gap.low > 0.0;
    let validation_large = large(&evidence.validation_gap);
    let validation_margin = ledger.rule(
        "validation - training loss (chance units) above the limit",
        evidence.validation_gap.scaled(1.0 / chance),
        thresholds.gap_ratio,
        validation_large,
    );
    let test_large = evidence.test_gap.as_ref().is_some_and(large);
    let test_margin = evidence.test_gap.map(|gap| {
        ledger.rule(
            "test - training loss (chance units) above the limit",
            gap.scaled(1.0 / chance),
            thresholds.gap_ratio,
            test_large,
        )
    });
    let small_train = format!(
        "the training loss {} is small ({:.0}% of the chance loss {})",
        loss(user.train.loss),
        100.0 * user.train.loss / chance,
        loss(chance)
    );
    if !validation_large && !test_large {
        let test = evidence
            .test_gap
            .map(|gap| format!(" and the test loss by {gap}"))
            .unwrap_or_default();
        return Decision {
            verdict: Verdict::Healthy,
            reason: format!(
                "{small_train}, the validation loss exceeds it by {}{test}, within {}",
                evidence.validation_gap,
                loss(limit)
            ),
            margin: test_margin.map_or(validation_margin, |t| t.min(validation_margin)),
        };
    }
    let (set, gap, gap_margin) = match (evidence.test_gap, test_margin) {
        (Some(gap), Some(margin)) if test_large => ("test", gap, margin),
        _ => ("validation", evidence.validation_gap, validation_margin),
    };
    let accuracy_gap = if set == "test" {
        evidence.test_accuracy_gap
    } else {
        evidence.validation_accuracy_gap
    };
    if let Some(accuracy) = accuracy_gap.filter(|a| a.low <= 0.0) {
        ledger.notes.push(format!(
            "the {set} loss is above the training loss but the accuracy gap {accuracy} is not significant: the loss gap comes from confident mistakes on a few rows (large logits), not from fewer right answers"
        ));
    }
    let large_text = format!(
        "{small_train} but the {set} loss exceeds it by {gap} (more than {})",
        loss(limit)
    );
    let two_sample = &evidence.two_sample;
    let ts_margin = ledger.rule(
        "two-sample classifier accuracy above the minimum",
        Interval::exact(two_sample.accuracy),
        thresholds.two_sample_min_accuracy,
        two_sample.distributions_differ,
    );
    if two_sample.distributions_differ {
        return Decision {
            verdict: Verdict::Mismatch,
            reason: format!(
                "{large_text}; a classifier tells training from {} features with held-out accuracy {:.3} on {} + {} distinct rows (p = {:.1e}): they come from different distributions",
                two_sample.compared_with,
                two_sample.accuracy,
                two_sample.n_holdout_per_side,
                two_sample.n_holdout_per_side,
                two_sample.p_value
            ),
            margin: ts_margin.min(gap_margin),
        };
    }
    if let (true, false, Some(drift)) =
        (test_large, validation_large, evidence.test_minus_validation)
    {
        let holds = drift.low > 0.0;
        let margin = ledger.rule(
            "test - validation loss (chance units) above zero",
            drift.scaled(1.0 / chance),
            0.0,
            holds,
        );
        if holds {
            return Decision {
                verdict: Verdict::Mismatch,
                reason: format!(
                    "{large_text}, while the validation loss is close to the training loss and the test loss exceeds the validation loss by {drift}: the test data follow another rule than the training data, although their features look alike (two-sample accuracy {:.3})",
                    two_sample.accuracy
                ),
                margin,
            };
        }
        ledger.notes.push(format!("only the test gap is large, but test minus validation ({drift}) is not significant: both gaps measure the same thing"));
    }
    let alike = if two_sample.undetermined {
        format!(
            "the two-sample test has too little power to tell (power {:.2} on {} rows a side)",
            two_sample.power, two_sample.n_holdout_per_side
        )
    } else {
        format!(
            "the held-out features look like the training features (two-sample accuracy {:.3}, p = {:.2}, power {:.2})",
            two_sample.accuracy, two_sample.p_value, two_sample.power
        )
    };
    Decision {
        verdict: Verdict::Overfitting,
        reason: format!(
            "{large_text}; the validation loss was lowest at epoch {} ({}) and rose by {} since, and {alike}",
            evidence.best_epoch,
            loss(evidence.best_validation_loss),
            loss(evidence.validation_growth),
        ),
        margin: gap_margin,
    }
}

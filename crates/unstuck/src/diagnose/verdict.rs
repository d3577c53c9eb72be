//! The verdicts of the guide, its decision rules (see [`super::Thresholds`]), and the
//! lecture's remedies for each branch.

use super::generalization::GeneralizationEvidence;
use super::optimization::OptimizationEvidence;
use super::run::RunSummary;
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
    /// Large training loss, but a model the family contains, another optimizer or a step
    /// out of a saddle does better: the answer is there, training does not find it.
    Optimization,
    /// Small training loss, large held-out loss, same distribution.
    Overfitting,
    /// Small training loss, large held-out loss, and the held-out data come from another
    /// distribution.
    Mismatch,
    /// Small training loss, small held-out loss.
    Healthy,
}

impl Verdict {
    /// All verdicts, in the guide's order.
    pub const ALL: [Verdict; 5] = [
        Verdict::ModelBias,
        Verdict::Optimization,
        Verdict::Overfitting,
        Verdict::Mismatch,
        Verdict::Healthy,
    ];

    /// A short human name: `model bias`, `optimization`, ...
    pub fn name(self) -> &'static str {
        match self {
            Verdict::ModelBias => "model bias",
            Verdict::Optimization => "optimization",
            Verdict::Overfitting => "overfitting",
            Verdict::Mismatch => "mismatch",
            Verdict::Healthy => "healthy",
        }
    }

    /// The lecture's remedies for this branch of the guide.
    pub fn remedies(self) -> &'static [&'static str] {
        match self {
            Verdict::ModelBias => &[
                "The model family is too small: no parameters in it give a low loss (a needle not in the haystack).",
                "Make the model more flexible: more input features, more neurons per layer, more layers (deep learning).",
                "Check that a bigger model really lowers the training loss before worrying about generalisation.",
            ],
            Verdict::Optimization => &[
                "A better answer is inside the family; gradient descent does not reach it (a needle in the haystack you cannot find).",
                "Start from models that are easy to optimise (linear, shallow) and make sure a deeper model reaches at least their training loss.",
                "Where the gradient is small, look at the Hessian: at a saddle, step along the eigenvector u of a negative eigenvalue (theta = theta0 + alpha u).",
                "Use momentum, so the update keeps moving across plateaus and saddles.",
                "Use an adaptive learning rate (Adagrad, RMSProp, Adam) and a schedule (warm-up, then decay).",
                "Use small batches: their noise helps escape critical points.",
                "If training diverged, lower the learning rate or add warm-up.",
            ],
            Verdict::Overfitting => &[
                "The training loss is small but the held-out loss is large: the model fits the training set's noise.",
                "Get more training data, or augment it.",
                "Constrain the model: fewer parameters or shared parameters, fewer features, regularisation, dropout.",
                "Stop early, at the epoch with the lowest validation loss.",
                "Prefer small batches: they tend to find flat minima, which generalise better than sharp ones.",
            ],
            Verdict::Mismatch => &[
                "Training and held-out data come from different distributions: more training data of the same kind will not help.",
                "Collect training data that looks like the data the model will see, or reweight the training set towards it.",
                "Validate on data from the target distribution so that model choices are made where it matters.",
            ],
            Verdict::Healthy => &[
                "The training loss is small and the held-out loss is close to it: nothing in the guide to fix.",
                "To improve further, compare a bigger model: if the validation loss falls too, capacity was the limit.",
            ],
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Formats a loss for the reasons: 4 decimals, fixed.
fn loss(x: f64) -> String {
    format!("{x:.4}")
}

/// Is the training loss large? `Some(reason)` if so (rule 1).
pub(crate) fn training_is_large(
    user: &RunSummary,
    references: &[Reference],
    chance: f64,
    thresholds: &Thresholds,
) -> Option<String> {
    if let Some(step) = user.diverged_at_step {
        return Some(format!("the run diverged at step {step}"));
    }
    let ratio = user.train.loss / chance;
    if ratio > thresholds.train_large_ratio {
        return Some(format!(
            "the training loss {} is {:.0}% of the chance loss {} (above {:.0}%)",
            loss(user.train.loss),
            100.0 * ratio,
            loss(chance),
            100.0 * thresholds.train_large_ratio
        ));
    }
    let margin = thresholds.reference_margin * chance;
    references
        .iter()
        .filter(|r| r.run.train.loss < user.train.loss - margin)
        .min_by(|a, b| a.run.train.loss.total_cmp(&b.run.train.loss))
        .map(|best| {
            format!(
                "the {} {} reaches a training loss of {} against your {}",
                best.run.role,
                best.run.model,
                loss(best.run.train.loss),
                loss(user.train.loss)
            )
        })
}

/// Rule 2: optimisation or model bias, given a large training loss.
pub(crate) fn after_large_training_loss(
    why_large: &str,
    user: &RunSummary,
    references: &[Reference],
    evidence: &OptimizationEvidence,
    chance: f64,
    thresholds: &Thresholds,
) -> (Verdict, String) {
    if user.diverged_at_step.is_some() {
        return (
            Verdict::Optimization,
            format!("{why_large}: the optimizer failed before the model could be judged"),
        );
    }
    let better = user.train.loss - thresholds.reference_margin * chance;
    if let Some(inside) = references
        .iter()
        .filter(|r| r.expressible_by_your_model && r.run.train.loss < better)
        .min_by(|a, b| a.run.train.loss.total_cmp(&b.run.train.loss))
    {
        return (
            Verdict::Optimization,
            format!(
                "{why_large}; the {} {}, which your model can express, reaches {}: a better answer is inside your model's family",
                inside.run.role,
                inside.run.model,
                loss(inside.run.train.loss)
            ),
        );
    }
    if let Some(other) = evidence
        .alternatives
        .iter()
        .filter(|r| r.train.loss < better)
        .min_by(|a, b| a.train.loss.total_cmp(&b.train.loss))
    {
        return (
            Verdict::Optimization,
            format!(
                "{why_large}; the same model trained with {} reaches {}: the optimizer, not the model, is the limit",
                other.optimizer,
                loss(other.train.loss)
            ),
        );
    }
    if let Some(escape) = evidence.escape.as_ref().filter(|e| e.loss_after < better) {
        return (
            Verdict::Optimization,
            format!(
                "{why_large}; one step along the Hessian's negative-curvature direction lowers it from {} to {}: training stalled at a saddle",
                loss(escape.loss_before),
                loss(escape.loss_after)
            ),
        );
    }
    let outside = references
        .iter()
        .filter(|r| !r.expressible_by_your_model && r.run.train.loss < better)
        .min_by(|a, b| a.run.train.loss.total_cmp(&b.run.train.loss));
    let reason = match outside {
        Some(bigger) => format!(
            "{why_large}; only the {} {}, which your model cannot express, does better ({}), and neither another optimizer nor an escape step helps: the model family is too small",
            bigger.run.role,
            bigger.run.model,
            loss(bigger.run.train.loss)
        ),
        None => format!(
            "{why_large}; no reference model, other optimizer or escape step does better: the model family cannot fit the data"
        ),
    };
    (Verdict::ModelBias, reason)
}

/// Rules 3 and 4: overfitting, mismatch or healthy, given a small training loss.
pub(crate) fn after_small_training_loss(
    user: &RunSummary,
    evidence: &GeneralizationEvidence,
    chance: f64,
    thresholds: &Thresholds,
) -> (Verdict, String) {
    let limit = thresholds.gap_ratio * chance;
    let validation_large = evidence.validation_gap > limit;
    let test_large = evidence.test_gap.is_some_and(|gap| gap > limit);
    let small_train = format!(
        "the training loss {} is small ({:.0}% of the chance loss {})",
        loss(user.train.loss),
        100.0 * user.train.loss / chance,
        loss(chance)
    );
    if !validation_large && !test_large {
        let test = evidence
            .test_gap
            .map(|gap| format!(" and the test loss by {}", loss(gap)))
            .unwrap_or_default();
        return (
            Verdict::Healthy,
            format!(
                "{small_train}, the validation loss exceeds it by {}{test}, within {}",
                loss(evidence.validation_gap),
                loss(limit)
            ),
        );
    }
    let (set, gap) = match evidence.test_gap {
        Some(gap) if test_large => ("test", gap),
        _ => ("validation", evidence.validation_gap),
    };
    let large = format!(
        "{small_train} but the {set} loss exceeds it by {} (more than {})",
        loss(gap),
        loss(limit)
    );
    let two_sample = &evidence.two_sample;
    if two_sample.distributions_differ {
        return (
            Verdict::Mismatch,
            format!(
                "{large}; a classifier tells training from {} features with held-out accuracy {:.3} (p = {:.1e}): they come from different distributions",
                two_sample.compared_with, two_sample.accuracy, two_sample.p_value
            ),
        );
    }
    if test_large && !validation_large {
        return (
            Verdict::Mismatch,
            format!(
                "{large}, while the validation loss is close to the training loss: the test data follow another rule than the training data, although their features look alike (two-sample accuracy {:.3})",
                two_sample.accuracy
            ),
        );
    }
    (
        Verdict::Overfitting,
        format!(
            "{large}; the validation loss was lowest at epoch {} ({}) and rose by {} since, and the held-out features look like the training features (two-sample accuracy {:.3}, p = {:.2})",
            evidence.best_epoch,
            loss(evidence.best_validation_loss),
            loss(evidence.validation_growth),
            two_sample.accuracy,
            two_sample.p_value
        ),
    )
}

//! Remedies chosen from the evidence that triggered the verdict, in the lecture's terms,
//! never one the diagnosis itself tried and saw fail.

use super::Diagnosis;
use super::data_checks::DataIssue;
use super::optimization::DEAD_UNITS_RATIO;
use super::verdict::Verdict;

/// Above this root-mean-square logit the model is pushed to extreme confidence, the mark
/// of a too-large learning rate (or a run far past its best epoch).
pub const LOGIT_LIMIT: f64 = 50.0;

/// The remedies for `diagnosis`, in order of relevance.
pub(crate) fn choose(d: &Diagnosis) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |text: String| {
        if !out.contains(&text) {
            out.push(text);
        }
    };
    let data = &d.data;
    if data.has(DataIssue::Leak) {
        add("Remove the rows shared between the training and held-out sets (de-duplicate before splitting): the held-out losses are optimistic until then.".into());
    }
    if data.has(DataIssue::UnscaledFeatures) {
        add("Standardise the inputs (zero mean, unit variance per feature, statistics from the training set): unscaled inputs make the error surface steep along some parameters and flat along others.".into());
    }
    if data.has(DataIssue::ClassImbalance) || data.has(DataIssue::MajorityCollapse) {
        add("Weight the loss by inverse class frequency (or resample), and judge the model by per-class accuracy, not overall accuracy.".into());
    }
    if d.user.logit_rms > LOGIT_LIMIT {
        add(format!(
            "Lower the learning rate: the logits reach {:.0} (root mean square), so a few confident mistakes dominate the loss.",
            d.user.logit_rms
        ));
    }
    match d.verdict {
        Verdict::CheckLabels => {
            add("Check the labels: are they aligned with the rows (not shuffled or offset), and do they depend on the features at all? No model trained here beats predicting the majority class.".into());
        }
        Verdict::ModelBias => {
            match &d.bigger {
                Some(bigger) if bigger.better(d.thresholds.reference_margin) => add(format!(
                    "Make the model more flexible: the bigger {} lowered the training loss to {:.4}; more neurons per layer, more layers or more input features.",
                    bigger.run.model, bigger.run.train.loss
                )),
                _ => add("Make the model more flexible: more input features, more neurons per layer, more layers (deep learning).".into()),
            }
            add("Check that a bigger model really lowers the training loss before worrying about generalisation.".into());
        }
        Verdict::Optimization => optimization(d, &mut add),
        Verdict::Overfitting => {
            add("Get more training data, or augment it.".into());
            add("Constrain the model: fewer parameters or shared parameters, fewer features, regularisation, dropout.".into());
            if let Some(g) = &d.generalization
                && g.validation_growth > 0.0
            {
                add(format!(
                    "Stop early, at epoch {} where the validation loss was lowest.",
                    g.best_epoch
                ));
            }
            add("Prefer small batches: they tend to find flat minima, which generalise better than sharp ones.".into());
        }
        Verdict::Mismatch => {
            let moved = d
                .generalization
                .as_ref()
                .filter(|g| g.two_sample.distributions_differ);
            match moved {
                Some(g) => {
                    let features: Vec<String> = g.two_sample.shifts.iter().take(3).map(|s| format!("{} ({:+.2} sd)", s.feature, s.standardized_difference)).collect();
                    add(format!("The inputs moved (features {} moved most): collect training data that covers the target's inputs, or reweight the training rows towards it.", features.join(", ")));
                }
                None => add("The inputs did not move but the answers did (concept drift): collect labelled data from the target distribution; reweighting the training rows cannot help.".into()),
            }
            add("Validate on data from the target distribution so that model choices are made where it matters.".into());
        }
        Verdict::Healthy => {
            add("Nothing in the guide to fix: the training loss is small and the held-out loss is close to it.".into());
            add("To improve further, compare a bigger model: if the validation loss falls too, capacity was the limit.".into());
        }
    }
    out
}

/// The optimisation branch's remedies, from what triggered it.
fn optimization(d: &Diagnosis, add: &mut impl FnMut(String)) {
    let Some(e) = &d.optimization else { return };
    if d.user.diverged_at_step.is_some() {
        add("The run diverged: lower the learning rate or add warm-up.".into());
    }
    if let Some(range) = &e.lr_range {
        if range.user_lr_too_large() {
            add(format!(
                "Lower the learning rate: the range test's loss stops falling near {:.1e}, below your {:.1e}; try about {:.1e}.",
                range.lowest_loss_lr, range.user_lr, range.steepest_lr
            ));
        } else if range.user_lr_too_small() {
            add(format!(
                "Raise the learning rate: the range test's loss falls fastest near {:.1e}, far above your {:.1e}.",
                range.steepest_lr, range.user_lr
            ));
        }
    }
    if e.trend.as_ref().is_some_and(|t| t.still_descending) {
        add("Train longer: the loss is still falling at the end of the budget.".into());
    }
    if e.at_saddle
        && e.escape
            .as_ref()
            .is_some_and(|s| s.loss_after < s.loss_before)
    {
        add("Training stalled at a saddle: step along the eigenvector u of a negative eigenvalue (theta = theta0 + alpha u), or use momentum to roll across it.".into());
    }
    if let Some(dead) = e.dead_relu_fraction.filter(|&d| d > DEAD_UNITS_RATIO) {
        add(format!(
            "{:.0}% of the ReLU units are dead (zero on every training row, so they get no gradient): lower the learning rate, or use a leaky ReLU or Kaiming initialisation.",
            100.0 * dead
        ));
    }
    if e.gradient_vanishes {
        add("The gradient vanishes on its way to the first layers: use an initialisation scaled to the activation (Xavier for tanh, Kaiming for ReLU), residual connections or normalisation.".into());
    }
    if let Some(better) = e
        .alternatives
        .iter()
        .find(|a| a.better(d.thresholds.reference_margin))
    {
        add(format!(
            "Switch the optimizer to {}: on the same model and budget it reached a training loss of {:.4}.",
            better.run.optimizer, better.run.train.loss
        ));
    }
    // Adaptive rates only when the diagnosis did not try one that failed, and the user's
    // optimizer is not one already.
    let adaptive = |spec: &str| {
        ["adam", "adamw", "nadam", "rmsprop", "adagrad"]
            .iter()
            .any(|k| spec.starts_with(k))
    };
    let tried_and_failed = e
        .alternatives
        .iter()
        .any(|a| adaptive(&a.run.optimizer) && !a.better(d.thresholds.reference_margin));
    if !adaptive(&d.user.optimizer) && !tried_and_failed {
        add("Use momentum and an adaptive learning rate (RMSProp, Adam), with a schedule (warm-up, then decay).".into());
    }
    if d.references
        .iter()
        .any(|r| r.expressible_by_your_model && r.better(d.thresholds.reference_margin))
    {
        add("Start from models that are easy to optimise (linear, shallow) and make sure the deeper model reaches at least their training loss.".into());
    }
}

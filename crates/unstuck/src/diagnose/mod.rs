//! The lecture's general guide (its Fig. 1), walked with evidence: *my network does
//! not train, why?*
//!
//! [`diagnose`] trains the user's model with the user's optimizer for the user's budget,
//! and next to it two reference models that are easy to optimise: a linear (softmax)
//! model trained full-batch to near convergence, and a shallow net. Then it follows the
//! guide:
//!
//! * **Training loss large?** Compared with the chance loss and with the references.
//!   * Yes: **optimization** if something inside the model's own family does better (a
//!     reference the model can express, another optimizer from the registry, a step along
//!     the Hessian's negative curvature), else **model bias**. The evidence: the gradient
//!     norm where training stalled, the Hessian's extreme eigenvalues by seeded Lanczos and
//!     their reading (saddle or minimum), the escape step, the other optimizers' losses.
//!   * No: **held-out loss large?** If not, **healthy**. If so, **mismatch** when a
//!     classifier can tell training features from held-out ones (a two-sample test with a
//!     binomial p-value), else **overfitting**, with the validation curve's minimum and
//!     its growth since.
//!
//! The rules and their thresholds are documented on [`Thresholds`]. The result,
//! [`Diagnosis`], prints as text (`Display`) and serialises to JSON; it is the same, bit
//! for bit, for the same inputs and seed, whatever the number of threads.
//!
//! ```
//! use unstuck::data::{generate, split, SplitConfig};
//! use unstuck::diagnose::{diagnose, DiagnoseConfig, DiagnoseData, Verdict};
//! let data = generate::<f64>("spirals:n=400,noise=0.1")?.train;
//! let parts = split(&data, &SplitConfig { validation: 0.25, test: 0.0, ..SplitConfig::default() })?;
//! let config = DiagnoseConfig { epochs: 40, ..DiagnoseConfig::new("2-2:identity", "adam:lr=0.05") };
//! let diagnosis = diagnose(
//!     &DiagnoseData { train: &parts.train, validation: parts.validation.as_ref().unwrap(), test: None },
//!     &config,
//! )?;
//! assert_eq!(diagnosis.verdict, Verdict::ModelBias);
//! assert!(diagnosis.to_string().starts_with("Diagnosis: model bias"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod generalization;
mod optimization;
mod reference;
mod report;
mod run;
mod two_sample;
mod verdict;

pub use config::{DiagnoseConfig, ReferenceConfig, Thresholds};
pub use generalization::GeneralizationEvidence;
pub use optimization::{EscapeOutcome, OptimizationEvidence};
pub use run::{Metrics, RunSummary};
pub use two_sample::TwoSampleTest;
pub use verdict::Verdict;

use crate::TrainError;
use crate::task::{chance_loss, check_model_fits, loss_for};
use run::{RunSpec, train};
use serde::{Deserialize, Serialize};
use unstuck_data::Dataset;
use unstuck_models::{Architecture, Mlp};

/// The data of a diagnosis. The validation set should come from the training
/// distribution (a random split); the optional test set is the data the model is meant
/// for, which may not.
#[derive(Debug, Clone, Copy)]
pub struct DiagnoseData<'a> {
    /// What the models are trained on.
    pub train: &'a Dataset<f64>,
    /// Held out from the same distribution.
    pub validation: &'a Dataset<f64>,
    /// The target data, if any.
    pub test: Option<&'a Dataset<f64>>,
}

/// A reference run and whether the user's model can express the reference model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// The run.
    pub run: RunSummary,
    /// Whether the user's model family contains this model (see the rules on
    /// [`Thresholds`]): then its lower loss is reachable by the user's model.
    pub expressible_by_your_model: bool,
}

/// The guide's answer with the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// Where the guide ended.
    pub verdict: Verdict,
    /// The rule that decided, in words, with its numbers.
    pub reason: String,
    /// The loss used (`cross_entropy`, `bce_with_logits`, `mse`).
    pub loss: String,
    /// The loss of the best constant prediction on the training set: the unit of the
    /// thresholds.
    pub chance_loss: f64,
    /// The user's run.
    pub user: RunSummary,
    /// The linear and the shallow reference.
    pub references: Vec<Reference>,
    /// Whether the training loss counted as large (rule 1).
    pub training_loss_large: bool,
    /// The optimisation branch's evidence (present when the training loss is large).
    pub optimization: Option<OptimizationEvidence>,
    /// The held-out branch's evidence (present when the training loss is small).
    pub generalization: Option<GeneralizationEvidence>,
    /// The lecture's remedies for the verdict.
    pub remedies: Vec<String>,
    /// The thresholds the rules used.
    pub thresholds: Thresholds,
}

impl Diagnosis {
    /// Pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a Diagnosis always serializes")
    }
}

/// Walks the guide on `data` for the model, optimizer and budget of `config`.
///
/// Errors are about the input (a spec that does not parse, a model that does not fit
/// the data, data with nothing to learn); a diverging run is a finding, not an error.
pub fn diagnose(data: &DiagnoseData<'_>, config: &DiagnoseConfig) -> Result<Diagnosis, TrainError> {
    let user_model = Mlp::from_spec(&config.model)?;
    check_inputs(data, &user_model, config)?;
    let loss = loss_for(data.train, user_model.output_width());
    let chance = chance_loss(data.train, loss);
    if chance.is_nan() || chance <= 0.0 {
        return Err(TrainError::NothingToLearn);
    }
    let user = train(
        &RunSpec {
            schedule: config.schedule.as_deref(),
            track_validation: true,
            ..RunSpec::on_user_budget("your model", &user_model, &config.optimizer, config)
        },
        data,
        loss,
    )?;
    let references = train_references(&user_model, data, loss, config)?;
    let thresholds = config.thresholds;
    let why_large = verdict::training_is_large(&user.summary, &references, chance, &thresholds);
    let (verdict, reason, optimization, generalization) = match &why_large {
        Some(why) => {
            let evidence =
                optimization::investigate(&user, &user_model, data, loss, chance, config)?;
            let (verdict, reason) = verdict::after_large_training_loss(
                why,
                &user.summary,
                &references,
                &evidence,
                chance,
                &thresholds,
            );
            (verdict, reason, Some(evidence), None)
        }
        None => {
            let evidence = generalization::investigate(&user, data, config)?;
            let (verdict, reason) =
                verdict::after_small_training_loss(&user.summary, &evidence, chance, &thresholds);
            (verdict, reason, None, Some(evidence))
        }
    };
    Ok(Diagnosis {
        verdict,
        reason,
        loss: loss.name().to_string(),
        chance_loss: chance,
        user: user.summary,
        references,
        training_loss_large: why_large.is_some(),
        optimization,
        generalization,
        remedies: verdict.remedies().iter().map(|r| r.to_string()).collect(),
        thresholds,
    })
}

fn check_inputs(
    data: &DiagnoseData<'_>,
    model: &Mlp,
    config: &DiagnoseConfig,
) -> Result<(), TrainError> {
    check_model_fits(model, data.train)?;
    for (name, part) in [("validation", Some(data.validation)), ("test", data.test)] {
        let Some(part) = part else { continue };
        if part.n_features() != data.train.n_features()
            || part.n_outputs() != data.train.n_outputs()
            || part.n_classes().is_some() != data.train.n_classes().is_some()
        {
            return Err(TrainError::PartMismatch {
                part: name.to_string(),
                features: part.n_features(),
                outputs: part.n_outputs(),
                train_features: data.train.n_features(),
                train_outputs: data.train.n_outputs(),
            });
        }
    }
    if config.epochs == 0 {
        return Err(TrainError::InvalidSetting {
            setting: "the budget",
            problem: "must be at least 1 epoch".into(),
        });
    }
    if config.batch_size == 0 {
        return Err(TrainError::InvalidSetting {
            setting: "batch size",
            problem: "must be at least 1".into(),
        });
    }
    Ok(())
}

/// The linear reference (full batch, near convergence) and the shallow one (the user's
/// batch size and budget).
fn train_references(
    user_model: &Mlp,
    data: &DiagnoseData<'_>,
    loss: unstuck_models::Loss,
    config: &DiagnoseConfig,
) -> Result<Vec<Reference>, TrainError> {
    let settings = &config.reference;
    let linear = reference::linear_reference(user_model.input_width(), user_model.output_width())?;
    let linear_optimizer = reference::linear_optimizer(settings);
    let shallow = reference::shallow_reference(user_model, settings)?;
    let runs = [
        RunSpec {
            batch_size: data.train.n_rows(),
            epochs: settings.linear_steps.max(1),
            ..RunSpec::on_user_budget("linear reference", &linear, &linear_optimizer, config)
        },
        RunSpec::on_user_budget(
            "shallow reference",
            &shallow,
            &settings.shallow_optimizer,
            config,
        ),
    ];
    runs.iter()
        .map(|spec| {
            Ok(Reference {
                run: train(spec, data, loss)?.summary,
                expressible_by_your_model: reference::expressible_by(spec.model, user_model),
            })
        })
        .collect()
}

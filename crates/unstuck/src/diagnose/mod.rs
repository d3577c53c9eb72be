//! The lecture's general guide (its Fig. 1), walked with evidence: *my network does
//! not train, why?*
//!
//! [`diagnose`] trains the user's model with the user's optimizer for the user's budget,
//! and next to it reference models chosen from the model's family
//! (`unstuck_models::variants`): a linear model on the flattened inputs trained
//! full-batch to near convergence, a shallower model of the same kind, and, when the
//! training loss is large, a strictly bigger version of the user's model. Before the
//! guide it checks the data (duplicates, leaks between the splits, constant or unscaled
//! features, class imbalance). Then it follows the guide:
//!
//! * **Labels at chance?** If no model trained beats the majority class on held-out
//!   rows: **check the labels**.
//! * **Training loss large?** Compared with the chance loss and, row by row with
//!   bootstrap intervals, with the references.
//!   * Yes: **optimization** if something inside the model's own family does better (a
//!     reference the model can express, another optimizer from the registry, a step along
//!     the Hessian's negative curvature at a saddle) or the run is still descending, else
//!     **model bias**, backed by the bigger model. The evidence: the loss slope, per-layer
//!     gradient norms, the gradient against the curvature scale, the Hessian's extremes by
//!     seeded Lanczos, the escape step and how much of its gain the curvature explains,
//!     the other optimizers, a learning-rate range test.
//!   * No: **held-out loss large?** If not, **healthy**. If so, **mismatch** when a
//!     classifier can tell training features from held-out ones (a two-sample test on
//!     de-duplicated rows, with its power and a per-feature shift table) or the test set
//!     alone shows a significant gap, else **overfitting**.
//!
//! Every rule records its number, threshold and margin ([`RuleCheck`]); remedies follow
//! from the evidence that triggered the verdict. With `seeds > 1` the whole diagnosis is
//! rerun with other seeds and the agreement of the verdicts is reported. The registries
//! are passed in ([`diagnose_with`]), so a user's optimizer or model works here as in the
//! trainer. [`Diagnosis`] prints as text (`Display`) and serialises to JSON; it is the
//! same, bit for bit, for the same inputs and seed, whatever the number of threads.
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
mod data_checks;
mod dynamics;
mod generalization;
mod optimization;
mod progress;
mod reference;
mod remedies;
mod report;
mod run;
mod scores;
mod stats;
mod two_sample;
mod verdict;

pub use config::{DiagnoseConfig, ReferenceConfig, Thresholds};
pub use data_checks::{DataChecks, DataIssue, DataWarning};
pub use dynamics::{LayerGradient, LossTrend, LrRangeTest};
pub use generalization::GeneralizationEvidence;
pub use optimization::{DEAD_UNITS_RATIO, EscapeOutcome, OptimizationEvidence};
pub use run::{Metrics, RunSummary};
pub use stats::{Interval, wilson};
pub use two_sample::{FeatureShift, TwoSampleTest};
pub use verdict::{RuleCheck, Verdict};

use crate::TrainError;
use crate::task::{chance_loss, check_model_fits, loss_for};
use progress::Progress;
use run::{RunSpec, Trained, train};
use serde::{Deserialize, Serialize};
use stats::paired_difference;
use unstuck_data::Dataset;
use unstuck_models::{AnyModel, ModelRegistry, mix_seeds};
use verdict::{Decision, Ledger};

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

/// The registries a diagnosis builds from: the user's optimizers and models, so that an
/// optimizer or a model registered in the user's crate works in `diagnose` as in the
/// trainer.
///
/// ```
/// use unstuck::optim::{Entry, LionConfig, Registry};
/// let mut registries = unstuck::diagnose::Registries::builtin();
/// registries.optimizers = Registry::empty();
/// registries.optimizers.register(Entry::of::<LionConfig>())?;
/// assert!(registries.optimizers.build("lion:lr=1e-4").is_ok());
/// assert!(registries.optimizers.build("adam:lr=1e-3").is_err());
/// # Ok::<(), unstuck::optim::OptimError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Registries {
    /// Optimizer specs (`adam:lr=1e-3`) to optimizers.
    pub optimizers: unstuck_optim::Registry<f64>,
    /// Model specs (`64-128-10:relu`, `1x8x8/conv(4)-...`) to models.
    pub models: ModelRegistry,
}

impl Registries {
    /// The built-in optimizers and models.
    pub fn builtin() -> Self {
        Registries {
            optimizers: unstuck_optim::Registry::builtin(),
            models: ModelRegistry::builtin(),
        }
    }
}

impl Default for Registries {
    fn default() -> Self {
        Self::builtin()
    }
}

/// A run compared with the user's, row by row on the training set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// The run.
    pub run: RunSummary,
    /// Whether the user's model family contains this model (see the rules on
    /// [`Thresholds`]): then its lower loss is reachable by the user's model.
    pub expressible_by_your_model: bool,
    /// Your training loss minus this run's, row by row, in units of the chance loss,
    /// with its paired bootstrap interval: positive means this run fits better.
    pub train_loss_advantage: Interval,
    /// This run's training accuracy minus yours, row by row (classification).
    pub train_accuracy_advantage: Option<Interval>,
}

/// How often the verdict held over the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedAgreement {
    /// The seeds, the reported one first.
    pub seeds: Vec<u64>,
    /// The verdict with each seed.
    pub verdicts: Vec<Verdict>,
    /// The share of seeds whose verdict is the reported one, with its Wilson interval.
    pub agreement: Interval,
}

/// The guide's answer with the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// Where the guide ended.
    pub verdict: Verdict,
    /// The rule that decided, in words, with its numbers.
    pub reason: String,
    /// How far the deciding rule's number sat from its threshold (chance units for
    /// losses); small margins are fragile verdicts.
    pub margin: f64,
    /// The loss used (`cross_entropy`, `bce_with_logits`, `mse`).
    pub loss: String,
    /// The loss of the best constant prediction on the training set: the unit of the
    /// thresholds.
    pub chance_loss: f64,
    /// What the data checks found.
    pub data: DataChecks,
    /// The user's run.
    pub user: RunSummary,
    /// The linear and (when the family has one) the shallower reference.
    pub references: Vec<Reference>,
    /// The bigger version of the user's model (trained when the training loss is large).
    pub bigger: Option<Reference>,
    /// Whether the training loss counted as large (rule 1).
    pub training_loss_large: bool,
    /// The optimisation branch's evidence (present when the training loss is large).
    pub optimization: Option<OptimizationEvidence>,
    /// The held-out branch's evidence (present when the training loss is small).
    pub generalization: Option<GeneralizationEvidence>,
    /// Every rule evaluated, with its number, threshold and margin.
    pub rules: Vec<RuleCheck>,
    /// Caveats: a loss that contradicts the accuracy, a verdict by elimination, ...
    pub notes: Vec<String>,
    /// What to do, chosen from the evidence.
    pub remedies: Vec<String>,
    /// The verdicts of the other seeds (with `seeds > 1`).
    pub seeds: Option<SeedAgreement>,
    /// The thresholds the rules used.
    pub thresholds: Thresholds,
}

impl Diagnosis {
    /// Pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a Diagnosis always serializes")
    }
}

/// Walks the guide on `data` for the model, optimizer and budget of `config`, with the
/// built-in registries.
///
/// Errors are about the input (a spec that does not parse, a model that does not fit
/// the data, data with nothing to learn); a diverging run is a finding, not an error.
pub fn diagnose(data: &DiagnoseData<'_>, config: &DiagnoseConfig) -> Result<Diagnosis, TrainError> {
    diagnose_with(data, config, &Registries::builtin())
}

/// [`diagnose`] with the user's registries.
pub fn diagnose_with(
    data: &DiagnoseData<'_>,
    config: &DiagnoseConfig,
    registries: &Registries,
) -> Result<Diagnosis, TrainError> {
    let seeds = config.seeds.max(1);
    let progress = Progress::new(config.progress, 4 * seeds);
    let mut diagnosis = diagnose_once(data, config, registries, &progress)?;
    if seeds > 1 {
        let mut all_seeds = vec![config.seed];
        let mut verdicts = vec![diagnosis.verdict];
        for k in 1..seeds {
            let seed = config.seed.wrapping_add(k);
            let other = DiagnoseConfig {
                seed,
                ..config.clone()
            };
            all_seeds.push(seed);
            verdicts.push(diagnose_once(data, &other, registries, &progress)?.verdict);
        }
        let agreeing = verdicts.iter().filter(|v| **v == diagnosis.verdict).count();
        diagnosis.seeds = Some(SeedAgreement {
            seeds: all_seeds,
            agreement: wilson(agreeing, verdicts.len()),
            verdicts,
        });
    }
    Ok(diagnosis)
}

/// `other` compared with the user's run on the training rows.
pub(crate) fn compare(
    user: &Trained,
    other: &Trained,
    expressible: bool,
    chance: f64,
    seed: u64,
) -> Reference {
    let (mine, theirs) = (&user.scores.train, &other.scores.train);
    Reference {
        run: other.summary.clone(),
        expressible_by_your_model: expressible,
        train_loss_advantage: paired_difference(&mine.losses, &theirs.losses, mix_seeds(seed, 21))
            .scaled(1.0 / chance),
        train_accuracy_advantage: match (&mine.correct, &theirs.correct) {
            (Some(mine), Some(theirs)) => {
                Some(paired_difference(theirs, mine, mix_seeds(seed, 22)))
            }
            _ => None,
        },
    }
}

fn diagnose_once(
    data: &DiagnoseData<'_>,
    config: &DiagnoseConfig,
    registries: &Registries,
    progress: &Progress,
) -> Result<Diagnosis, TrainError> {
    let user_model = registries.models.build(&config.model)?;
    check_inputs(data, user_model.as_ref(), config)?;
    let loss = loss_for(data.train, user_model.output_width());
    let chance = chance_loss(data.train, loss);
    if chance.is_nan() || chance <= 0.0 {
        return Err(TrainError::NothingToLearn);
    }
    let mut checks = data_checks::check(data);
    progress.stage("your model");
    let user = train(
        &RunSpec {
            schedule: config.schedule.as_deref(),
            track_validation: true,
            ..RunSpec::on_user_budget("your model", user_model.as_ref(), &config.optimizer, config)
        },
        data,
        loss,
        registries,
    )?;
    progress.stage("references");
    let task = Task {
        data,
        loss,
        chance,
        config,
        registries,
    };
    let references = compare_references(&user, user_model.as_ref(), &task, &mut checks)?;
    let thresholds = config.thresholds;
    let mut ledger = Ledger::default();
    let mut bigger = None;
    let mut optimization = None;
    let mut generalization = None;
    let why_large =
        verdict::training_is_large(&user.summary, &references, chance, &thresholds, &mut ledger);
    progress.stage("evidence");
    let decision: Decision = match (verdict::labels_at_chance(&checks), &why_large) {
        (Some(decision), _) => decision,
        (None, Some((why, margin))) => {
            let (decision, run, evidence) = large_branch(
                (why, *margin),
                &user,
                user_model.as_ref(),
                &task,
                &references,
                &mut ledger,
            )?;
            bigger = run;
            optimization = Some(evidence);
            decision
        }
        (None, None) => {
            let evidence = generalization::investigate(&user, data, config, registries)?;
            let decision = verdict::after_small_training_loss(
                &user.summary,
                &evidence,
                chance,
                &thresholds,
                &mut ledger,
            );
            generalization = Some(evidence);
            decision
        }
    };
    progress.stage("remedies");
    let mut diagnosis = Diagnosis {
        verdict: decision.verdict,
        reason: decision.reason,
        margin: decision.margin,
        loss: loss.name().to_string(),
        chance_loss: chance,
        data: checks,
        user: user.summary,
        references,
        bigger,
        training_loss_large: why_large.is_some(),
        optimization,
        generalization,
        rules: ledger.rules,
        notes: ledger.notes,
        remedies: Vec::new(),
        seeds: None,
        thresholds,
    };
    diagnosis.remedies = remedies::choose(&diagnosis);
    Ok(diagnosis)
}

/// The optimisation branch: its evidence, the bigger model, and rule 2.
fn large_branch(
    why_large: (&str, f64),
    user: &Trained,
    user_model: &dyn AnyModel,
    task: &Task<'_>,
    references: &[Reference],
    ledger: &mut Ledger,
) -> Result<(Decision, Option<Reference>, OptimizationEvidence), TrainError> {
    let (config, chance) = (task.config, task.chance);
    let evidence = optimization::investigate(
        user,
        user_model,
        task.data,
        task.loss,
        chance,
        config,
        task.registries,
    )?;
    let bigger = match reference::bigger(&config.model, config, task.registries)? {
        Some(model) => {
            let run = train_reference(&model, task)?;
            Some(compare(user, &run, false, chance, config.seed))
        }
        None => None,
    };
    let decision = verdict::after_large_training_loss(
        why_large,
        verdict::Runs {
            user: &user.summary,
            references,
            bigger: bigger.as_ref(),
        },
        &evidence,
        chance,
        &config.thresholds,
        ledger,
    );
    Ok((decision, bigger, evidence))
}

/// What every run of one diagnosis shares.
struct Task<'a> {
    data: &'a DiagnoseData<'a>,
    loss: unstuck_models::Loss,
    chance: f64,
    config: &'a DiagnoseConfig,
    registries: &'a Registries,
}

/// Trains the references and compares each with the user's run; then makes the data
/// checks that need trained models (a collapse onto the majority class, the best
/// validation accuracy against chance).
fn compare_references(
    user: &Trained,
    user_model: &dyn AnyModel,
    task: &Task<'_>,
    checks: &mut DataChecks,
) -> Result<Vec<Reference>, TrainError> {
    let config = task.config;
    let mut runs = Vec::new();
    for reference in reference::references(&config.model, user_model, config, task.registries)? {
        let run = train_reference(&reference, task)?;
        let compared = compare(
            user,
            &run,
            reference.expressible_by_user,
            task.chance,
            config.seed,
        );
        runs.push((compared, run));
    }
    let best_validation = std::iter::once(user)
        .chain(runs.iter().map(|(_, run)| run))
        .filter_map(|run| {
            run.summary
                .validation
                .accuracy
                .map(|a| (a, run.summary.role.as_str()))
        })
        .fold(None, |best: Option<(f64, &str)>, (a, who)| match best {
            Some((b, _)) if b >= a => best,
            _ => Some((a, who)),
        });
    data_checks::check_predictions(
        checks,
        task.data.validation,
        user.scores.validation.predictions.as_deref(),
        best_validation,
    );
    Ok(runs.into_iter().map(|(compared, _)| compared).collect())
}

/// Trains a reference: full batch for the linear one, else the user's batch and budget.
fn train_reference(
    reference: &reference::ReferenceModel,
    task: &Task<'_>,
) -> Result<Trained, TrainError> {
    let mut spec = RunSpec::on_user_budget(
        reference.role,
        reference.model.as_ref(),
        &reference.optimizer,
        task.config,
    );
    if let Some(steps) = reference.full_batch_steps {
        spec.batch_size = task.data.train.n_rows();
        spec.epochs = steps;
    }
    let mut run = train(&spec, task.data, task.loss, task.registries)?;
    // The spec the user can paste (a network's display may spell defaults out).
    run.summary.model = reference.spec.clone();
    Ok(run)
}

fn check_inputs(
    data: &DiagnoseData<'_>,
    model: &dyn AnyModel,
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

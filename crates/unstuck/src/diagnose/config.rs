//! What `diagnose` trains, for how long, and the thresholds of its decision rules.

use serde::{Deserialize, Serialize};

/// The decision rules' thresholds. Losses are compared in units of the **chance loss**
/// (the loss of predicting the training set's class frequencies, or its target mean for
/// regression), so one threshold works for 2 classes or 10, for cross-entropy or MSE.
///
/// The rules, in the lecture's order (Fig. 1):
///
/// A model is **better** than the user's when, scored row by row on the training set,
/// its loss is lower by more than `reference_margin * chance` (the mean difference) with
/// the 95% bootstrap interval of the difference above zero, and its training accuracy is
/// not significantly lower (else the comparison is noted as contradicted and not used).
///
/// 0. **Check the labels** when no model trained (yours, the references) reaches a
///    validation accuracy that beats the majority share (one-sided binomial, p >= 0.01).
/// 1. The training loss is **large** when the run diverged, or when
///    `train_loss > train_large_ratio * chance`, or when a reference is better.
/// 2. With a large training loss the verdict is **optimization** when the run diverged,
///    or when something inside the model's own family is better: a reference the model
///    can express (a linear model, or a shallower model of the same kind), another
///    optimizer on the same model and budget, or the escape step along the Hessian's most
///    negative eigenvector at a saddle (negative curvature, a gradient small against the
///    curvature scale, and a gain the curvature explains for the most part), or when the
///    run is still descending (its loss slope's interval below zero) fast enough that as
///    many epochs again could reach what a better bigger family reaches. Otherwise it is
///    **model bias**, backed when the bigger version of the user's model (or a reference
///    outside the family) is better.
/// 3. With a small training loss, the held-out loss is **large** when the validation
///    or the test loss exceeds the training loss by more than `gap_ratio * chance` with
///    the interval of the gap above zero. Then the verdict is **mismatch** when a
///    classifier tells training features from held-out features (test if given, else
///    validation; de-duplicated rows) with held-out accuracy at least
///    `two_sample_min_accuracy` and a binomial p-value under `two_sample_alpha`, or when
///    only the test set shows the gap and test minus validation is significant;
///    otherwise **overfitting**.
/// 4. Otherwise the run is **healthy**.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// A training loss above this fraction of the chance loss is large, whatever the
    /// references do. 0.5: the model removed less than half of what there is to learn.
    pub train_large_ratio: f64,
    /// A model counts as better only when its training loss is lower by more than this
    /// fraction of the chance loss. 0.1 sits well above seed-to-seed noise of a converged
    /// run (a few hundredths) and below the gaps the guide is about (near 1).
    pub reference_margin: f64,
    /// A held-out loss above the training loss by more than this fraction of the chance
    /// loss is large. 0.25: a quarter of what there is to learn lost on new data.
    pub gap_ratio: f64,
    /// The two-sample test rejects "same distribution" only below this p-value.
    pub two_sample_alpha: f64,
    /// ... and only when the held-out accuracy of the classifier reaches this, so that a
    /// shift too small to matter on a large data set is not called a mismatch.
    pub two_sample_min_accuracy: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            train_large_ratio: 0.5,
            reference_margin: 0.1,
            gap_ratio: 0.25,
            two_sample_alpha: 1e-3,
            two_sample_min_accuracy: 0.6,
        }
    }
}

/// How the reference models and the two-sample classifier are trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceConfig {
    /// Full-batch steps of the linear (softmax-regression) reference. Its loss is convex,
    /// so a few hundred Adam steps with a cosine decay bring it close to its optimum.
    pub linear_steps: u64,
    /// The linear reference's Adam learning rate (decayed to 0 by a cosine over
    /// `linear_steps`).
    pub linear_lr: f64,
    /// The shallow reference's optimizer spec (it gets the user's batch size and epochs).
    pub shallow_optimizer: String,
    /// Hidden width of the shallow reference when the user's model has no nonlinear
    /// hidden layer (otherwise it takes the user's narrowest hidden width).
    pub shallow_width: usize,
    /// Optimizers tried on the user's model, in order, skipping the user's own kind.
    pub alternatives: Vec<String>,
    /// How many of `alternatives` are trained.
    pub max_alternatives: usize,
    /// Lanczos iterations (Hessian-vector products) for the extreme eigenvalues.
    pub lanczos_max_iter: usize,
    /// Hidden width of the two-sample classifier.
    pub two_sample_width: usize,
    /// Epochs of the two-sample classifier.
    pub two_sample_epochs: u64,
    /// At most this many rows from each side enter the two-sample test.
    pub two_sample_max_rows: usize,
    /// The bigger model multiplies every hidden width and channel count by this.
    pub wider_factor: usize,
    /// The learning-rate range test's first and last rate.
    pub lr_range: (f64, f64),
    /// Its steps (0: no range test).
    pub lr_range_steps: u64,
}

impl Default for ReferenceConfig {
    fn default() -> Self {
        ReferenceConfig {
            linear_steps: 300,
            linear_lr: 0.05,
            shallow_optimizer: "adam:lr=0.01".into(),
            shallow_width: 64,
            alternatives: vec!["adam:lr=1e-3".into(), "sgd:lr=0.1,momentum=0.9".into()],
            max_alternatives: 1,
            lanczos_max_iter: 60,
            two_sample_width: 32,
            two_sample_epochs: 30,
            two_sample_max_rows: 1000,
            wider_factor: 2,
            lr_range: (1e-5, 10.0),
            lr_range_steps: 60,
        }
    }
}

/// Everything `diagnose` needs besides the data.
///
/// ```
/// let config = unstuck::diagnose::DiagnoseConfig::new("2-16-2:tanh", "adam:lr=0.01");
/// assert_eq!((config.batch_size, config.epochs), (32, 20));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnoseConfig {
    /// The user's model spec, e.g. `64-128-10:relu`.
    pub model: String,
    /// The user's optimizer spec, e.g. `adam:lr=1e-3`.
    pub optimizer: String,
    /// A schedule spec applied to the user's optimizer, e.g. `cosine:t_max=100`.
    pub schedule: Option<String>,
    /// Mini-batch size of the user's run (clamped to the training set's size).
    pub batch_size: usize,
    /// The budget: epochs of the user's run (and of the shallow reference).
    pub epochs: u64,
    /// Seeds initialisation, shuffling, Lanczos, the bootstrap and the two-sample split.
    pub seed: u64,
    /// How many seeds the whole diagnosis runs with (`seed`, `seed + 1`, ...): the
    /// verdict of the first is reported with how often the others agree.
    pub seeds: u64,
    /// Progress bars on a terminal.
    pub progress: bool,
    /// How the comparison models are trained.
    pub reference: ReferenceConfig,
    /// The decision rules' thresholds.
    pub thresholds: Thresholds,
}

impl DiagnoseConfig {
    /// Defaults for everything but the model and the optimizer: batch 32, 20 epochs,
    /// seed 0 and one seed, no schedule.
    pub fn new(model: &str, optimizer: &str) -> Self {
        DiagnoseConfig {
            model: model.to_string(),
            optimizer: optimizer.to_string(),
            schedule: None,
            batch_size: 32,
            epochs: 20,
            seed: 0,
            seeds: 1,
            progress: false,
            reference: ReferenceConfig::default(),
            thresholds: Thresholds::default(),
        }
    }
}

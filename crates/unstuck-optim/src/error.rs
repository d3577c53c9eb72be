//! The crate's one error type.

/// Everything that can go wrong in `unstuck-optim`, with the details needed to fix it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptimError {
    /// A hyperparameter of an optimizer or schedule is out of its range.
    #[error("{owner}: `{name}` = {value} is invalid, expected {expected}")]
    InvalidHyperparameter {
        /// Optimizer or schedule name, e.g. `"adam"` or `"cosine"`.
        owner: &'static str,
        /// Hyperparameter name, e.g. `"beta2"`.
        name: &'static str,
        /// The rejected value.
        value: f64,
        /// The allowed range, e.g. `"a finite number in [0, 1)"`.
        expected: &'static str,
    },
    /// Nesterov momentum without momentum, or with dampening (PyTorch's rule).
    #[error(
        "sgd: nesterov needs momentum > 0 and dampening = 0, got momentum {momentum} and dampening {dampening}"
    )]
    InvalidNesterov {
        /// The configured momentum.
        momentum: f64,
        /// The configured dampening.
        dampening: f64,
    },
    /// `params` and `grads` have different lengths.
    #[error("{optimizer}: params have {params} elements but grads have {grads}")]
    LengthMismatch {
        /// Optimizer name.
        optimizer: &'static str,
        /// Length of the parameter slice.
        params: usize,
        /// Length of the gradient slice.
        grads: usize,
    },
    /// The optimizer state was built for a different number of parameters.
    #[error("{optimizer}: state holds {expected} parameters but the step got {got}")]
    ParamCountChanged {
        /// Optimizer name.
        optimizer: &'static str,
        /// Number of parameters in the existing state.
        expected: usize,
        /// Number of parameters passed to `step`.
        got: usize,
    },
    /// A gradient element is NaN or infinite; the parameters were left untouched.
    #[error(
        "{optimizer}: gradient element {index} is not finite ({value}); parameters left untouched"
    )]
    NonFiniteGradient {
        /// Optimizer name.
        optimizer: &'static str,
        /// Index of the first non-finite element.
        index: usize,
        /// Its value (widened to f64).
        value: f64,
    },
    /// A schedule produced a negative or non-finite learning rate.
    #[error(
        "{optimizer}: the schedule gave learning rate {lr} at step {step}; it must be finite and >= 0"
    )]
    InvalidScheduledLr {
        /// Optimizer name.
        optimizer: &'static str,
        /// Step (number of steps already taken) the rate was asked for.
        step: u64,
        /// The rejected rate.
        lr: f64,
    },
    /// A spec string such as `"adam:lr=1e-3"` does not parse, names an unknown optimizer
    /// or schedule, or gives a key it does not take.
    #[error(transparent)]
    Spec(#[from] unstuck_core::spec::SpecError),
    /// Saved state does not fit the optimizer it is loaded into.
    #[error("{optimizer}: cannot load state: {what} is {got}, expected {expected}")]
    StateMismatch {
        /// Optimizer name.
        optimizer: &'static str,
        /// What differs, e.g. `"buffer `m` length"`.
        what: String,
        /// What this optimizer needs.
        expected: String,
        /// What the saved state holds.
        got: String,
    },
    /// Saved state JSON does not parse.
    #[error("optimizer state JSON: {message} (line {line}, column {column})")]
    StateJson {
        /// serde_json's message.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A registry already holds an optimizer of this name.
    #[error("registry already has an optimizer named `{name}`")]
    DuplicateName {
        /// The name registered twice.
        name: String,
    },
    /// Reduce-on-plateau was fed a NaN or infinite metric.
    #[error("reduce-on-plateau: metric {value} at observation {index} is not finite")]
    NonFiniteMetric {
        /// Number of metrics observed before this one.
        index: u64,
        /// The rejected metric.
        value: f64,
    },
}

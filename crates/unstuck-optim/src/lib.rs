//! Optimizers for flat parameter slices: PyTorch's, the lecture's, and your own.
//!
//! - PyTorch-exact update rules: [`SgdConfig`], [`AdagradConfig`], [`RmsPropConfig`],
//!   [`AdamConfig`], [`AdamWConfig`], [`NAdamConfig`]. Defaults are PyTorch's, and the
//!   elementwise rounding is PyTorch's too (see [`ops`]): in f64 they reproduce
//!   `torch.optim` trajectories bit for bit in 13 of 14 golden runs, all within 1e-14.
//! - The lecture's own forms: [`LectureMomentumConfig`], [`LectureAdagradConfig`],
//!   [`LectureRmsPropConfig`], each documented against its PyTorch counterpart.
//! - [`LionConfig`], written only against the public API as the extension example.
//! - Learning-rate [`schedule`]s as pure functions of the step, and the metric-driven
//!   [`ReduceLrOnPlateau`].
//! - A [`Registry`] from spec strings (`"adam:lr=1e-3"`) to `Box<dyn Optimizer<T>>`.
//!
//! Every optimizer is an [`UpdateRule`] (the math) run by a [`Driver`] (input checks,
//! step count, schedule, state), so each rule is one short file. A rule writes the math of
//! one element and hands it to [`for_each_element`], which runs it vectorised (AVX2+FMA)
//! on rayon's threads in fixed chunks: every optimizer, yours included, gets the fast
//! loop for free, with the same bits on any number of threads.
//!
//! Element types are `f32` and `f64` through one code path ([`Element`]).
//! Hyperparameters are `f64`; each step casts the scalars it needs to the parameter type
//! once and computes elementwise in that type, and optimizer state is stored in the
//! parameter type too, exactly as PyTorch keeps state in the parameter dtype.
//!
//! ```
//! use unstuck_optim::{Optimizer, Registry};
//!
//! let mut opt = Registry::<f64>::builtin().build("sgd:lr=0.1,momentum=0.9")?;
//! let mut params = vec![3.0, -1.0];
//! for _ in 0..200 {
//!     let grads: Vec<f64> = params.iter().map(|p| 2.0 * p).collect();
//!     opt.step(&mut params, &grads)?;
//! }
//! assert!(params.iter().all(|p| p.abs() < 1e-3)); // momentum 0.9 contracts ~5% per step
//!
//! // Resume bit for bit from a JSON snapshot.
//! let saved = opt.state().to_json();
//! let mut resumed = Registry::<f64>::builtin().build("sgd:lr=0.1,momentum=0.9")?;
//! resumed.load_state(&unstuck_optim::OptimizerState::from_json(&saved)?)?;
//! assert_eq!(resumed.steps_taken(), 200);
//! # Ok::<(), unstuck_optim::OptimError>(())
//! ```

#![warn(missing_docs)]

// Lets `src/lion.rs` name this crate as a user would (`use unstuck_optim::...`).
extern crate self as unstuck_optim;

mod elementwise;
mod error;
mod optimizer;
mod plateau;
mod registry;
mod state;

// The one spec grammar lives in unstuck-core; `crate::spec` names it inside this crate.
use unstuck_core::spec;

pub mod ops;
pub mod schedule;
pub mod transforms;
pub mod validate;

mod adagrad;
mod adam;
mod adamw;
mod lecture_adagrad;
mod lecture_momentum;
mod lecture_rmsprop;
mod lion;
mod nadam;
mod rmsprop;
mod sgd;

pub use elementwise::{Lane, Lanes, for_each_element};
pub use error::OptimError;
pub use optimizer::{Driver, Optimizer, UpdateRule, first_non_finite};
pub use plateau::{PlateauConfig, PlateauMode, ReduceLrOnPlateau, ThresholdMode};
pub use registry::{Entry, FromSpec, Registry};
pub use schedule::{
    Anneal, Constant, Cosine, CosineWarmRestarts, Exponential, InverseSqrt, LinearRamp, MultiStep,
    OneCycle, OneCycleConfig, Polynomial, SCHEDULE_KINDS, Schedule, ScheduleKind, Sequence,
    StepDecay, parse_schedule, schedule_from_spec, warmup_then,
};
pub use unstuck_core::Element;
pub use unstuck_core::vectorized;
// What `FromSpec` and `Entry` name in their signatures (the grammar itself is
// `unstuck_core::spec`).
pub use state::{NamedBuffer, NamedScalar, OptimizerState, RuleState, StateReader, StateWriter};
pub use unstuck_core::spec::{KeyHelp, Spec, SpecArgs, SpecError};

pub use adagrad::{Adagrad, AdagradConfig, AdagradState};
pub use adam::{Adam, AdamConfig, AdamState};
pub use adamw::{AdamW, AdamWConfig};
pub use lecture_adagrad::{LectureAdagrad, LectureAdagradConfig, LectureAdagradState};
pub use lecture_momentum::{LectureMomentum, LectureMomentumConfig, LectureMomentumState};
pub use lecture_rmsprop::{LectureRmsProp, LectureRmsPropConfig, LectureRmsPropState};
pub use lion::{Lion, LionConfig, LionState};
pub use nadam::{NAdam, NAdamConfig, NAdamState};
pub use rmsprop::{RmsProp, RmsPropConfig, RmsPropState};
pub use sgd::{Sgd, SgdConfig, SgdState};

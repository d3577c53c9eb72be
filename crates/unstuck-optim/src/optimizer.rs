//! The `Optimizer` trait and the `Driver` that turns any update rule into one.
//!
//! An optimizer is split in two (optax's `init`/`update`, burn's `SimpleOptimizer`):
//! an [`UpdateRule`] is the math of one step, a plain config struct with an `init` and an
//! `update`; the [`Driver`] does everything the rules share: it checks the inputs before
//! anything is mutated, creates the state on the first step, counts steps, asks the
//! schedule for the learning rate and saves or restores the state. Adding an optimizer
//! means writing one rule (see `src/lion.rs`), nothing else.

use std::fmt::Debug;

use crate::elementwise::{CHUNK, parallel};
use crate::schedule::{Constant, Schedule};
use crate::state::{OptimizerState, RuleState, StateReader, StateWriter};
use crate::{Element, OptimError, vectorized};
use rayon::prelude::*;

/// The math of one optimizer: hyperparameters in `self`, buffers in [`UpdateRule::State`].
pub trait UpdateRule<T: Element>: Debug + Clone + Send + Sync + 'static {
    /// Registry name, also written into saved state, e.g. `"adam"`.
    const NAME: &'static str;
    /// Per-parameter buffers.
    type State: RuleState<T>;

    /// The configured (base) learning rate; the default schedule keeps it constant.
    fn lr(&self) -> f64;

    /// Checks every hyperparameter; [`Driver::new`] refuses a rule that fails.
    fn validate(&self) -> Result<(), OptimError>;

    /// Fresh state for `n_params` parameters (PyTorch's lazily created state).
    fn init(&self, n_params: usize) -> Self::State;

    /// Applies step number `step` (1-based, PyTorch's `t`) with learning rate `lr`.
    ///
    /// The driver guarantees `params.len() == grads.len() == n_params` and that every
    /// gradient is finite, so an update cannot fail.
    fn update(&self, params: &mut [T], grads: &[T], state: &mut Self::State, lr: f64, step: u64);
}

/// A running optimizer over flat parameter slices, as the registry hands it out.
pub trait Optimizer<T: Element>: Debug + Send + Sync {
    /// Registry name, e.g. `"adam"`.
    fn name(&self) -> &'static str;

    /// Updates `params` in place from `grads`.
    ///
    /// Fails, leaving `params` and the state untouched, when the lengths differ, when
    /// the length differs from earlier steps, when a gradient is NaN or infinite (the
    /// error names the first such index) or when the schedule yields an invalid rate.
    ///
    /// The registry's optimizers run a long vector's check and update on rayon's threads,
    /// with the other workers polling between the two ([`unstuck_core::with_hot_workers`]).
    fn step(&mut self, params: &mut [T], grads: &[T]) -> Result<(), OptimError>;

    /// The learning rate the next step will use (the schedule at [`Optimizer::steps_taken`]).
    fn lr(&self) -> f64;

    /// Number of successful steps so far.
    fn steps_taken(&self) -> u64;

    /// Replaces the learning-rate schedule; it is evaluated at the optimizer's step count.
    fn set_schedule(&mut self, schedule: Box<dyn Schedule>);

    /// Uses a constant learning rate from now on (e.g. the output of
    /// [`ReduceLrOnPlateau`](crate::ReduceLrOnPlateau)).
    fn set_lr(&mut self, lr: f64) -> Result<(), OptimError>;

    /// The current schedule.
    fn schedule(&self) -> &dyn Schedule;

    /// Snapshot of everything needed to resume bit for bit (step count and buffers).
    fn state(&self) -> OptimizerState;

    /// Restores a snapshot taken by [`Optimizer::state`] from an optimizer of the same
    /// name, element type and configuration. On error nothing changes.
    fn load_state(&mut self, state: &OptimizerState) -> Result<(), OptimError>;
}

/// Runs an [`UpdateRule`] as an [`Optimizer`]: input checks, step count, schedule, state.
///
/// Each optimizer module defines an alias, e.g. `pub type Adam<T> = Driver<T, AdamConfig>;`.
///
/// ```
/// use unstuck_optim::{Adam, AdamConfig, Optimizer};
///
/// let mut opt = Adam::<f32>::new(AdamConfig { lr: 0.1, ..AdamConfig::default() })?;
/// let mut params = vec![1.0f32, -2.0];
/// for _ in 0..100 {
///     let grads: Vec<f32> = params.iter().map(|p| 2.0 * p).collect(); // d/dp of p^2
///     opt.step(&mut params, &grads)?;
/// }
/// assert!(params.iter().all(|p| p.abs() < 0.1));
/// # Ok::<(), unstuck_optim::OptimError>(())
/// ```
#[derive(Debug)]
pub struct Driver<T: Element, R: UpdateRule<T>> {
    rule: R,
    schedule: Box<dyn Schedule>,
    step: u64,
    n_params: Option<usize>,
    state: Option<R::State>,
}

impl<T: Element, R: UpdateRule<T>> Driver<T, R> {
    /// Validates `rule` and starts at step 0 with a constant learning rate `rule.lr()`.
    pub fn new(rule: R) -> Result<Self, OptimError> {
        rule.validate()?;
        let schedule = Box::new(Constant::new(rule.lr())?);
        Ok(Self {
            rule,
            schedule,
            step: 0,
            n_params: None,
            state: None,
        })
    }

    /// Builder form of [`Optimizer::set_schedule`].
    pub fn with_schedule(mut self, schedule: Box<dyn Schedule>) -> Self {
        self.schedule = schedule;
        self
    }

    /// The update rule (hyperparameters).
    pub fn rule(&self) -> &R {
        &self.rule
    }

    /// The rule's state, `None` before the first step.
    pub fn rule_state(&self) -> Option<&R::State> {
        self.state.as_ref()
    }

    fn checked_step(&mut self, params: &mut [T], grads: &[T]) -> Result<(), OptimError> {
        let lr = self.check_inputs(params, grads)?;
        let rule = &self.rule;
        let state = self.state.get_or_insert_with(|| rule.init(params.len()));
        self.n_params = Some(params.len());
        self.step += 1;
        rule.update(params, grads, state, lr, self.step);
        Ok(())
    }

    fn check_inputs(&self, params: &[T], grads: &[T]) -> Result<f64, OptimError> {
        if params.len() != grads.len() {
            return Err(OptimError::LengthMismatch {
                optimizer: R::NAME,
                params: params.len(),
                grads: grads.len(),
            });
        }
        if let Some(expected) = self.n_params
            && expected != params.len()
        {
            return Err(OptimError::ParamCountChanged {
                optimizer: R::NAME,
                expected,
                got: params.len(),
            });
        }
        if let Some(index) = first_non_finite(grads) {
            return Err(OptimError::NonFiniteGradient {
                optimizer: R::NAME,
                index,
                value: grads[index].to_f64(),
            });
        }
        let lr = self.schedule.lr(self.step);
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(OptimError::InvalidScheduledLr {
                optimizer: R::NAME,
                step: self.step,
                lr,
            });
        }
        Ok(lr)
    }
}

/// Index of the first NaN or infinite element, if any: [`unstuck_core::first_non_finite`]
/// behind a parallel test of the whole slice, for the optimizers' gradients.
///
/// The common all-finite case is one vectorised pass (an OR over the whole slice, with no
/// early exit to break vectorisation); only a failing slice is scanned again for the index.
pub fn first_non_finite<T: Element>(values: &[T]) -> Option<usize> {
    let check = |chunk: &[T]| {
        vectorized(
            #[inline(always)]
            || any_non_finite(chunk),
        )
    };
    let any_bad = if parallel(values.len()) {
        values.par_chunks(CHUNK).any(check)
    } else {
        check(values)
    };
    if any_bad {
        unstuck_core::first_non_finite(values)
    } else {
        None
    }
}

#[inline(always)]
fn any_non_finite<T: Element>(values: &[T]) -> bool {
    values.iter().fold(false, |bad, v| bad | !v.is_finite())
}

impl<T: Element, R: UpdateRule<T>> Optimizer<T> for Driver<T, R> {
    fn name(&self) -> &'static str {
        R::NAME
    }

    fn step(&mut self, params: &mut [T], grads: &[T]) -> Result<(), OptimError> {
        if parallel(params.len()) {
            // The check and the update are two parallel loops: the other workers poll
            // between them instead of being woken twice.
            unstuck_core::with_hot_workers(|| self.checked_step(params, grads))
        } else {
            self.checked_step(params, grads)
        }
    }

    fn lr(&self) -> f64 {
        self.schedule.lr(self.step)
    }

    fn steps_taken(&self) -> u64 {
        self.step
    }

    fn set_schedule(&mut self, schedule: Box<dyn Schedule>) {
        self.schedule = schedule;
    }

    fn set_lr(&mut self, lr: f64) -> Result<(), OptimError> {
        self.schedule = Box::new(Constant::new(lr)?);
        Ok(())
    }

    fn schedule(&self) -> &dyn Schedule {
        self.schedule.as_ref()
    }

    fn state(&self) -> OptimizerState {
        let mut writer = StateWriter::default();
        if let Some(state) = &self.state {
            state.save(&mut writer);
        }
        OptimizerState {
            optimizer: R::NAME.to_owned(),
            dtype: T::DTYPE.as_str().to_owned(),
            step: self.step,
            n_params: self.n_params,
            buffers: writer.buffers,
            scalars: writer.scalars,
        }
    }

    fn load_state(&mut self, saved: &OptimizerState) -> Result<(), OptimError> {
        let mismatch = |what: &str, expected: &str, got: &str| OptimError::StateMismatch {
            optimizer: R::NAME,
            what: what.to_owned(),
            expected: expected.to_owned(),
            got: got.to_owned(),
        };
        if saved.optimizer != R::NAME {
            return Err(mismatch("optimizer", R::NAME, &saved.optimizer));
        }
        if saved.dtype != T::DTYPE.as_str() {
            return Err(mismatch("dtype", T::DTYPE.as_str(), &saved.dtype));
        }
        let state = match saved.n_params {
            None if saved.buffers.is_empty() && saved.scalars.is_empty() => None,
            None => return Err(mismatch("buffers before the first step", "none", "some")),
            Some(n_params) => {
                let mut state = self.rule.init(n_params);
                state.load(&StateReader {
                    optimizer: R::NAME,
                    state: saved,
                })?;
                Some(state)
            }
        };
        self.state = state;
        self.n_params = saved.n_params;
        self.step = saved.step;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_non_finite_finds_the_first() {
        let mut v = vec![0.5f32; 1000];
        assert_eq!(first_non_finite(&v), None);
        v[700] = f32::INFINITY;
        v[900] = f32::NAN;
        assert_eq!(first_non_finite(&v), Some(700));
        assert_eq!(first_non_finite(&[f64::NAN]), Some(0));
    }
}

//! Learning-rate schedules as pure functions of the step (optax's `Schedule`).
//!
//! `lr(step)` is the learning rate used by optimizer step number `step` (0-based), i.e.
//! PyTorch's value after `step` calls of `scheduler.step()`. Because a schedule is a
//! function, not a state machine, the optimizer's step count is the only schedule state:
//! composition cannot drift and a resumed run gets the same rates for free.
//!
//! PyTorch computes most schedules recursively (`lr *= factor` each step); we use the
//! closed forms (PyTorch's own `_get_closed_form_lr` where it has one). The two agree to
//! a few ulps over the golden 120 steps (largest relative gap 5e-15); the tests allow
//! 1e-12, which is far above that round-off and far below any real difference.
//!
//! [`ReduceLrOnPlateau`](crate::ReduceLrOnPlateau) is driven by a metric, so it is not a
//! `Schedule`; it lives in `src/plateau.rs`.

mod basic;
mod cosine;
mod one_cycle;
mod sequence;

pub use basic::{Constant, Exponential, InverseSqrt, LinearRamp, MultiStep, Polynomial, StepDecay};
pub use cosine::{Cosine, CosineWarmRestarts};
pub use one_cycle::{Anneal, OneCycle, OneCycleConfig};
pub use sequence::{Sequence, warmup_then};

use crate::OptimError;
use crate::spec::{KeyHelp, Spec, SpecArgs, describe_keys, lookup, parse_spec};

/// A learning rate as a pure function of the step.
pub trait Schedule: Send + Sync + std::fmt::Debug {
    /// Learning rate for optimizer step `step` (0-based: the first step uses `lr(0)`).
    fn lr(&self, step: u64) -> f64;
}

type BuildSchedule = fn(&mut SpecArgs<'_>, f64) -> Result<Box<dyn Schedule>, OptimError>;

/// A schedule that spec strings can name.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleKind {
    /// Name used in specs, e.g. `"cosine"`.
    pub name: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// A spec using every required key (parsed by the tests).
    pub example: &'static str,
    build: BuildSchedule,
}

impl ScheduleKind {
    /// Keys with defaults, found by building [`ScheduleKind::example`].
    pub fn keys(&self) -> Vec<KeyHelp> {
        let Ok(spec) = parse_spec(self.example) else {
            return Vec::new();
        };
        let mut args = SpecArgs::new(self.example, &spec);
        // Only the recorded keys matter here; the example's validity is a test.
        let _ = (self.build)(&mut args, 0.1);
        args.keys().to_vec()
    }

    /// `summary` followed by the keys and their defaults.
    pub fn help(&self) -> String {
        format!(
            "{} Keys: {}. Example: {}",
            self.summary,
            describe_keys(&self.keys()),
            self.example
        )
    }
}

/// Every schedule a spec can name. One line here makes a schedule available everywhere.
pub const SCHEDULE_KINDS: &[ScheduleKind] = &[
    kind(
        "constant",
        "The base learning rate at every step.",
        "constant",
        basic::build_constant,
    ),
    kind(
        "step",
        "StepLR: multiply by gamma every step_size steps.",
        "step:step_size=10,gamma=0.5",
        basic::build_step,
    ),
    kind(
        "multistep",
        "MultiStepLR: multiply by gamma at each milestone.",
        "multistep:milestones=[20,50,90],gamma=0.1",
        basic::build_multistep,
    ),
    kind(
        "exponential",
        "ExponentialLR: multiply by gamma every step.",
        "exponential:gamma=0.95",
        basic::build_exponential,
    ),
    kind(
        "cosine",
        "CosineAnnealingLR: half a cosine from the base rate to eta_min over t_max steps (PyTorch continues periodically after).",
        "cosine:t_max=100,eta_min=0.001",
        cosine::build_cosine,
    ),
    kind(
        "polynomial",
        "PolynomialLR: base * (1 - min(step, total_iters) / total_iters)^power.",
        "polynomial:total_iters=100,power=2",
        basic::build_polynomial,
    ),
    kind(
        "linear",
        "LinearLR: factor moves linearly from start_factor to end_factor over total_iters steps (a warm-up when start < end).",
        "linear:start_factor=0.1,end_factor=1,total_iters=10",
        basic::build_linear,
    ),
    kind(
        "warmup",
        "Linear warm-up from start_factor * then(0) to then(0) over `steps` steps, then the schedule `then` (default constant).",
        "warmup:steps=10,start_factor=0.01,then=(cosine:t_max=110)",
        sequence::build_warmup,
    ),
    kind(
        "sequence",
        "SequentialLR: part i runs from milestone i-1 (its own step 0) to milestone i.",
        "sequence:parts=[(linear:start_factor=0.01,total_iters=10),(cosine:t_max=110)],milestones=[10]",
        sequence::build_sequence,
    ),
    kind(
        "onecycle",
        "OneCycleLR: up from max_lr/div_factor to max_lr over pct_start of total_steps, then down to max_lr/(div_factor*final_div_factor).",
        "onecycle:max_lr=1,total_steps=120",
        one_cycle::build_one_cycle,
    ),
    kind(
        "cosine_restarts",
        "CosineAnnealingWarmRestarts: cosine cycles of t_0, t_0*t_mult, ... steps.",
        "cosine_restarts:t_0=20,t_mult=2,eta_min=0",
        cosine::build_warm_restarts,
    ),
    kind(
        "inverse_sqrt",
        "Inverse square root: base / sqrt(1 + step / timescale).",
        "inverse_sqrt:timescale=100",
        basic::build_inverse_sqrt,
    ),
];

const fn kind(
    name: &'static str,
    summary: &'static str,
    example: &'static str,
    build: BuildSchedule,
) -> ScheduleKind {
    ScheduleKind {
        name,
        summary,
        example,
        build,
    }
}

/// Parses a schedule spec; `base_lr` is the optimizer's configured learning rate.
///
/// ```
/// let schedule = unstuck_optim::parse_schedule("warmup:steps=10,then=(cosine:t_max=90)", 0.1)?;
/// assert_eq!(schedule.lr(0), 0.0);
/// assert_eq!(schedule.lr(10), 0.1);
/// # Ok::<(), unstuck_optim::OptimError>(())
/// ```
pub fn parse_schedule(text: &str, base_lr: f64) -> Result<Box<dyn Schedule>, OptimError> {
    let spec = parse_spec(text)?;
    schedule_from_spec(text, &spec, base_lr)
}

/// Builds a schedule from a parsed spec (a nested one in a larger spec string `text`).
pub fn schedule_from_spec(
    text: &str,
    spec: &Spec,
    base_lr: f64,
) -> Result<Box<dyn Schedule>, OptimError> {
    let kind = lookup(text, spec, "schedule", SCHEDULE_KINDS, |k| k.name)?;
    let mut args = SpecArgs::new(text, spec);
    let schedule = (kind.build)(&mut args, base_lr)?;
    args.finish()?;
    Ok(schedule)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SpecError;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn every_schedule_gives_a_valid_rate_at_any_step(step in any::<u64>(), base in 0.0f64..10.0) {
            for kind in SCHEDULE_KINDS {
                let schedule = parse_schedule(kind.example, base).unwrap();
                let lr = schedule.lr(step);
                prop_assert!(lr.is_finite() && lr >= 0.0, "{} at {}: {}", kind.name, step, lr);
            }
        }
    }

    #[test]
    fn every_example_builds_and_has_help() {
        for kind in SCHEDULE_KINDS {
            let schedule =
                parse_schedule(kind.example, 0.1).unwrap_or_else(|e| panic!("{}: {e}", kind.name));
            assert!(
                schedule.lr(0).is_finite() && schedule.lr(0) >= 0.0,
                "{}",
                kind.name
            );
            assert!(kind.help().contains(kind.summary));
        }
    }

    #[test]
    fn names_are_unique() {
        for (i, a) in SCHEDULE_KINDS.iter().enumerate() {
            assert!(
                SCHEDULE_KINDS[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
        }
    }

    #[test]
    fn unknown_schedule_names_position() {
        let err = parse_schedule("warmup:steps=3,then=(cosin:t_max=4)", 0.1).unwrap_err();
        assert!(
            matches!(&err, OptimError::Spec(SpecError::UnknownName { position: 21, name, .. }) if name == "cosin"),
            "{err:?}"
        );
    }

    #[test]
    fn unknown_key_in_nested_schedule() {
        let err = parse_schedule("warmup:steps=3,then=(cosine:t_max=4,gamma=2)", 0.1).unwrap_err();
        assert!(
            matches!(&err, OptimError::Spec(SpecError::UnknownKey { position: 36, key, owner, .. }) if key == "gamma" && owner == "cosine"),
            "{err:?}"
        );
    }

    #[test]
    fn missing_required_key() {
        let err = parse_schedule("cosine:eta_min=0.1", 0.1).unwrap_err();
        assert!(
            matches!(
                err,
                OptimError::Spec(SpecError::MissingKey { key: "t_max", .. })
            ),
            "{err:?}"
        );
    }
}

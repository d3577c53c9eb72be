//! Schedules in sequence (PyTorch's `SequentialLR`) and linear warm-up before any schedule.

use super::{LinearRamp, Schedule, schedule_from_spec};
use crate::spec::SpecArgs;
use crate::{OptimError, validate};

/// Runs `parts[0]` until `milestones[0]`, then `parts[1]` until `milestones[1]`, and so on.
///
/// Each part sees its own step count starting at 0 when it takes over, as in PyTorch's
/// `SequentialLR`. Being a pure function of the step, it has none of `SequentialLR`'s
/// history of state bugs (double steps at a milestone, lost `last_epoch`).
#[derive(Debug)]
pub struct Sequence {
    parts: Vec<Box<dyn Schedule>>,
    milestones: Vec<u64>,
}

impl Sequence {
    /// Needs one more part than milestones, and strictly increasing milestones.
    pub fn new(parts: Vec<Box<dyn Schedule>>, milestones: Vec<u64>) -> Result<Self, OptimError> {
        let owner = "sequence";
        if parts.is_empty() || milestones.len() + 1 != parts.len() {
            return Err(OptimError::InvalidHyperparameter {
                owner,
                name: "milestones",
                value: milestones.len() as f64,
                expected: "one milestone fewer than parts (and at least one part)",
            });
        }
        if let Some(w) = milestones.windows(2).find(|w| w[0] >= w[1]) {
            return Err(OptimError::InvalidHyperparameter {
                owner,
                name: "milestones",
                value: w[1] as f64,
                expected: "strictly increasing milestones",
            });
        }
        Ok(Self { parts, milestones })
    }
}

impl Schedule for Sequence {
    fn lr(&self, step: u64) -> f64 {
        let index = self.milestones.iter().take_while(|&&m| m <= step).count();
        let offset = if index == 0 {
            0
        } else {
            self.milestones[index - 1]
        };
        self.parts[index].lr(step - offset)
    }
}

/// Linear warm-up from `start_factor * then.lr(0)` to `then.lr(0)` over `steps` steps,
/// then `then` (starting at its step 0).
///
/// ```
/// use unstuck_optim::{Cosine, Schedule, warmup_then};
///
/// let schedule = warmup_then(10, 0.01, Box::new(Cosine::new(0.1, 110, 0.0)?))?;
/// assert_eq!(schedule.lr(0), 0.001);
/// assert_eq!(schedule.lr(10), 0.1);
/// # Ok::<(), unstuck_optim::OptimError>(())
/// ```
pub fn warmup_then(
    steps: u64,
    start_factor: f64,
    then: Box<dyn Schedule>,
) -> Result<Sequence, OptimError> {
    let steps = validate::count_at_least("warmup", "steps", steps, 1)?;
    let start_factor = validate::non_negative("warmup", "start_factor", start_factor)?;
    let warmup = LinearRamp::new(then.lr(0), start_factor, 1.0, steps)?;
    Sequence::new(vec![Box::new(warmup), then], vec![steps])
}

type Built = Result<Box<dyn Schedule>, OptimError>;

pub(super) fn build_warmup(args: &mut SpecArgs<'_>, base_lr: f64) -> Built {
    let steps = args.u64_required("steps")?;
    let start_factor = args.f64("start_factor", 0.0)?;
    let then: Box<dyn Schedule> = match args.spec("then")? {
        Some(spec) => schedule_from_spec(args.text(), spec, base_lr)?,
        None => Box::new(super::Constant::new(base_lr)?),
    };
    Ok(Box::new(warmup_then(steps, start_factor, then)?))
}

pub(super) fn build_sequence(args: &mut SpecArgs<'_>, base_lr: f64) -> Built {
    let parts = args
        .spec_list_required("parts")?
        .into_iter()
        .map(|spec| schedule_from_spec(args.text(), spec, base_lr))
        .collect::<Result<Vec<_>, _>>()?;
    let milestones = args.u64_list_required("milestones")?;
    Ok(Box::new(Sequence::new(parts, milestones)?))
}

#[cfg(test)]
mod tests {
    use super::super::{Constant, Exponential};
    use super::*;

    #[test]
    fn each_part_restarts_its_own_count() {
        let s = Sequence::new(
            vec![
                Box::new(Constant::new(1.0).unwrap()),
                Box::new(Exponential::new(0.5, 0.5).unwrap()),
                Box::new(Constant::new(0.0).unwrap()),
            ],
            vec![3, 5],
        )
        .unwrap();
        let lrs: Vec<f64> = (0..7).map(|k| s.lr(k)).collect();
        // Powers of two: exact.
        assert_eq!(lrs, vec![1.0, 1.0, 1.0, 0.5, 0.25, 0.0, 0.0]);
    }

    #[test]
    fn milestone_count_and_order_are_checked() {
        let part = || -> Box<dyn Schedule> { Box::new(Constant::new(1.0).unwrap()) };
        assert!(Sequence::new(vec![part(), part()], vec![]).is_err());
        assert!(Sequence::new(vec![part(), part(), part()], vec![5, 5]).is_err());
        assert!(Sequence::new(vec![], vec![]).is_err());
    }

    #[test]
    fn warmup_reaches_the_next_schedule_start() {
        let s = warmup_then(4, 0.0, Box::new(Exponential::new(2.0, 0.5).unwrap())).unwrap();
        let lrs: Vec<f64> = (0..6).map(|k| s.lr(k)).collect();
        assert_eq!(lrs, vec![0.0, 0.5, 1.0, 1.5, 2.0, 1.0]);
    }
}

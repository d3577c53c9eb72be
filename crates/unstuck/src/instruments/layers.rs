//! Gradient-only instruments: per-tensor gradient and weight norms, the update-to-weight
//! ratio, the fraction of dead ReLU units and the logit scale.
//!
//! They read what a training step has anyway (theta, its gradient, the update, the
//! recorded activations and logits) in place, so they cost one pass over theta and its
//! gradient, one over the update and one over the activations: no extra forward or
//! backward pass, no copy. The sums of squares keep eight partial sums in a fixed order
//! (the same bits on every run and thread count) instead of one dependent chain of
//! additions, which is what lets a pass run at memory speed.

use crate::history::NormsRecord;
use std::collections::BTreeMap;
use unstuck_autodiff::{Tape, Tensor, Var};
use unstuck_models::ParamSpec;

/// Partial sums per pass: one AVX register pair, and enough independent chains to hide
/// the latency of an addition.
const LANES: usize = 8;

/// `Σ f(a_i)` over a slice in `LANES` partial sums added in a fixed order at the end.
fn one_sum(a: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let mut sums = [0.0; LANES];
    // `as_chunks` hands out whole arrays: no length check per chunk in the loop.
    let (chunks, rest) = a.as_chunks::<LANES>();
    for a in chunks {
        for lane in 0..LANES {
            sums[lane] += f(a[lane]);
        }
    }
    for (lane, a) in rest.iter().enumerate() {
        sums[lane] += f(*a);
    }
    sums.iter().sum()
}

/// `Σ (a_i - b_i)²` over two slices of equal length, in the lanes of [`one_sum`].
fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut sums = [0.0; LANES];
    let (a_chunks, a_rest) = a.as_chunks::<LANES>();
    let (b_chunks, b_rest) = b.as_chunks::<LANES>();
    for (a, b) in a_chunks.iter().zip(b_chunks) {
        for lane in 0..LANES {
            sums[lane] += (a[lane] - b[lane]) * (a[lane] - b[lane]);
        }
    }
    for (lane, (a, b)) in a_rest.iter().zip(b_rest).enumerate() {
        sums[lane] += (a - b) * (a - b);
    }
    sums.iter().sum()
}

/// `Σ x_i²` in the lanes of [`one_sum`].
fn squared_norm(x: &[f64]) -> f64 {
    one_sum(x, |x| x * x)
}

fn block<'a>(spec: &ParamSpec, values: &'a [f64]) -> &'a [f64] {
    &values[spec.offset..spec.offset + spec.len()]
}

/// `grad_norm/NAME` and `weight_norm/NAME` for every tensor of the layout.
pub fn gradient_and_weight_norms(
    layout: &[ParamSpec],
    theta: &[f64],
    grad: &[f64],
) -> BTreeMap<String, f64> {
    let mut norms = BTreeMap::new();
    for spec in layout {
        let grad_sq = squared_norm(block(spec, grad));
        let weight_sq = squared_norm(block(spec, theta));
        norms.insert(format!("grad_norm/{}", spec.name), grad_sq.sqrt());
        norms.insert(format!("weight_norm/{}", spec.name), weight_sq.sqrt());
    }
    norms
}

/// `update_ratio/NAME`: `|Δθ_b| / |θ_b|` of one step per tensor (the step against the
/// weights it changes; about 1e-3 is the folklore's healthy value). A tensor whose
/// weights were all zero before the step is left out.
pub fn update_ratios(layout: &[ParamSpec], before: &[f64], after: &[f64]) -> BTreeMap<String, f64> {
    layout
        .iter()
        .filter_map(|spec| {
            let step_sq = squared_distance(block(spec, after), block(spec, before));
            let weight_sq = squared_norm(block(spec, before));
            (weight_sq > 0.0).then(|| {
                let ratio = (step_sq / weight_sq).sqrt();
                (format!("update_ratio/{}", spec.name), ratio)
            })
        })
        .collect()
}

/// The fraction of ReLU units that are zero for every example of the batch, over every
/// ReLU recorded on `tape` (a unit is one position of a ReLU's output past the batch
/// axis); `None` when there is no ReLU.
pub fn dead_relu_fraction(tape: &Tape<f64>) -> Option<f64> {
    let (mut dead, mut units) = (0usize, 0usize);
    let mut largest = Vec::new();
    for output in tape.relu_outputs() {
        tape.read_value(output, |data, dims| {
            let rows = dims.first().copied().unwrap_or(1).max(1);
            let width = data.len() / rows;
            // A unit is alive when some example's output is positive: its largest output
            // over the batch is. `if v > m` (not `f64::max`) is one vector max
            // instruction for two units at a time, and a NaN never counts as positive.
            largest.clear();
            largest.resize(width, 0.0f64);
            for row in data.chunks_exact(width.max(1)) {
                for (m, v) in largest.iter_mut().zip(row) {
                    *m = if *v > *m { *v } else { *m };
                }
            }
            // `largest` starts at 0 and only grows, so it is never NaN.
            dead += largest.iter().filter(|m| **m <= 0.0).count();
            units += width;
        });
    }
    (units > 0).then(|| dead as f64 / units as f64)
}

/// The logit scale: the mean over the batch of each example's largest `|logit|`.
pub fn logit_scale(logits: &Tensor<f64>) -> f64 {
    logit_scale_of(logits.data(), logits.dims())
}

/// [`logit_scale`] of logits `[batch, outputs]` read in place (the trainer's tape).
pub(crate) fn logit_scale_of(data: &[f64], dims: &[usize]) -> f64 {
    let rows = dims.first().copied().unwrap_or(1).max(1);
    let width = (data.len() / rows).max(1);
    let sum: f64 = data
        .chunks_exact(width)
        // `if a > m` rather than `f64::max`: one max instruction, and a NaN is skipped
        // all the same.
        .map(|row| {
            row.iter().fold(0.0f64, |m, v| {
                let a = v.abs();
                if a > m { a } else { m }
            })
        })
        .sum();
    sum / rows as f64
}

/// The names of one tensor's series: `grad_norm/NAME`, `weight_norm/NAME`,
/// `update_ratio/NAME`.
#[derive(Debug, Clone)]
struct SeriesNames {
    grad: String,
    weight: String,
    update: String,
}

/// What the measured step read before its update.
#[derive(Debug, Clone)]
struct BeforeUpdate {
    step: u64,
    logit_scale: f64,
    dead_relu_fraction: Option<f64>,
}

/// The `norms` instrument in the trainer: the same numbers as
/// [`gradient_and_weight_norms`], [`update_ratios`], [`dead_relu_fraction`] and
/// [`logit_scale`], for a fraction of a small step's time.
///
/// A step of the digits network (64-32-10, batch 32) is about 400k instructions, so
/// what is fixed per step counts: the series' names are made once per run (not
/// formatted at every step), the gradient's sums of squares wait in a buffer for the
/// update, and theta is read once, with the update, for both the weight norms and the
/// update ratios. The record is made after the update in one go.
#[derive(Debug, Clone, Default)]
pub(crate) struct NormsMeter {
    names: Vec<SeriesNames>,
    grad_sq: Vec<f64>,
    before: Option<BeforeUpdate>,
}

impl NormsMeter {
    /// Reads the step's gradient, ReLU outputs and logits (on its tape, in place).
    pub(crate) fn before_update(
        &mut self,
        layout: &[ParamSpec],
        step: u64,
        tape: &Tape<f64>,
        logits: Var,
        grad: &[f64],
    ) {
        if self.names.len() != layout.len() {
            self.names = layout
                .iter()
                .map(|spec| SeriesNames {
                    grad: format!("grad_norm/{}", spec.name),
                    weight: format!("weight_norm/{}", spec.name),
                    update: format!("update_ratio/{}", spec.name),
                })
                .collect();
        }
        self.grad_sq.clear();
        let sums = layout.iter().map(|spec| squared_norm(block(spec, grad)));
        self.grad_sq.extend(sums);
        self.before = Some(BeforeUpdate {
            step,
            logit_scale: tape.read_value(logits, logit_scale_of),
            dead_relu_fraction: dead_relu_fraction(tape),
        });
    }

    /// The step's record, from theta before and after its update; `None` when
    /// [`NormsMeter::before_update`] did not measure this step.
    pub(crate) fn after_update(
        &mut self,
        layout: &[ParamSpec],
        before: &[f64],
        after: &[f64],
    ) -> Option<NormsRecord> {
        let measured = self.before.take()?;
        let mut series = Vec::with_capacity(3 * layout.len());
        for ((spec, names), grad_sq) in layout.iter().zip(&self.names).zip(&self.grad_sq) {
            let weight_sq = squared_norm(block(spec, before));
            let step_sq = squared_distance(block(spec, after), block(spec, before));
            series.push((names.grad.clone(), grad_sq.sqrt()));
            series.push((names.weight.clone(), weight_sq.sqrt()));
            if weight_sq > 0.0 {
                series.push((names.update.clone(), (step_sq / weight_sq).sqrt()));
            }
        }
        Some(NormsRecord {
            step: measured.step,
            logit_scale: measured.logit_scale,
            dead_relu_fraction: measured.dead_relu_fraction,
            blocks: series.into_iter().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unstuck_models::{Architecture, Loss, Mlp, Model, Objective, Targets};

    /// The trainer's meter gives the bits of the public functions it stands for.
    #[test]
    fn the_meter_matches_the_public_functions_bit_for_bit() {
        let mlp = Mlp::from_spec("3-9-4:relu").unwrap();
        let theta: Vec<f64> = <Mlp as Model<f64>>::init(&mlp, 7);
        let x = Tensor::matrix((0..15).map(|i| (i as f64 * 0.7).sin()).collect(), 5, 3).unwrap();
        let targets = Targets::Classes {
            labels: vec![0, 3, 1, 2, 3],
            n_classes: 4,
        };
        let objective = Objective::new(&mlp, x, targets, Loss::CrossEntropy).unwrap();
        let tape = Tape::<f64>::new();
        let theta_var = tape.leaf_from(&theta, &[theta.len()]);
        let mut pass = unstuck_models::Pass::train(0, &[]);
        let (logits, loss) = objective.record_pass_with_logits(&tape, theta_var, &mut pass);
        let grad = tape.grad(loss, &[theta_var]).pop().unwrap().into_data();
        let after: Vec<f64> = theta.iter().zip(&grad).map(|(t, g)| t - 0.1 * g).collect();
        let layout = mlp.layout();

        let mut meter = NormsMeter::default();
        assert!(meter.after_update(layout, &theta, &after).is_none());
        meter.before_update(layout, 4, &tape, logits, &grad);
        let record = meter.after_update(layout, &theta, &after).unwrap();

        let mut blocks = gradient_and_weight_norms(layout, &theta, &grad);
        blocks.extend(update_ratios(layout, &theta, &after));
        assert_eq!(record.step, 4);
        assert_eq!(record.blocks, blocks);
        assert_eq!(record.logit_scale, logit_scale(&tape.value(logits)));
        assert_eq!(record.dead_relu_fraction, dead_relu_fraction(&tape));
        assert_eq!(record.blocks.len(), 3 * layout.len());
    }

    #[test]
    fn a_unit_is_dead_only_when_no_example_makes_it_positive() {
        let tape = Tape::<f64>::new();
        let x = tape.leaf_from(&[-1.0, 2.0, -3.0, -4.0, 0.0, 5.0], &[2, 3]);
        tape.relu(x);
        // Units: max(0, 0) = 0 dead; max(2, 0) alive; max(0, 5) alive.
        assert_eq!(dead_relu_fraction(&tape), Some(1.0 / 3.0));
    }
}

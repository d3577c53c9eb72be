//! Gradient-only instruments: per-tensor gradient and weight norms, the update-to-weight
//! ratio, the fraction of dead ReLU units and the logit scale.
//!
//! They read what a training step has anyway (theta, its gradient, the update, the
//! recorded activations and logits) in place, so they cost one pass over the gradient,
//! one over theta before and after the update together, and one over the activations:
//! no extra forward or backward pass, no copy. The sums of squares keep eight partial
//! sums in a fixed order (the same bits on every run, thread count and instruction set)
//! instead of one dependent chain of additions, which is what lets a pass run at memory
//! speed; the trainer's meter runs them through [`unstuck_optim::vectorized`], where the
//! eight lanes are two AVX registers.

use crate::history::{BlockValues, NormsRecord};
use std::collections::BTreeMap;
use std::sync::Arc;
use unstuck_autodiff::{Tape, Tensor, Var};
use unstuck_models::ParamSpec;
use unstuck_optim::vectorized;

/// Partial sums per pass: one AVX register pair, and enough independent chains to hide
/// the latency of an addition.
const LANES: usize = 8;

/// `Σ f(a_i)` over a slice in `LANES` partial sums added in a fixed order at the end.
#[inline(always)]
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

/// `(Σ b_i², Σ (a_i - b_i)²)` over `b` (before) and `a` (after), each in the lanes of
/// [`one_sum`].
#[inline(always)]
fn weight_and_step_sq(b: &[f64], a: &[f64]) -> (f64, f64) {
    debug_assert_eq!(a.len(), b.len());
    // Two passes, not one, and the tail padded with zeros into one more whole chunk: in
    // either other form LLVM pairs the lanes into half-width vectors and scalars. The
    // slices sit in cache, and a padded lane adds `0 * 0`, which leaves its sum's bits.
    let mut step = [0.0; LANES];
    let (a_chunks, a_rest) = a.as_chunks::<LANES>();
    let (b_chunks, b_rest) = b.as_chunks::<LANES>();
    for (a, b) in a_chunks.iter().zip(b_chunks) {
        add_squared_differences(&mut step, a, b);
    }
    let (mut a_last, mut b_last) = ([0.0; LANES], [0.0; LANES]);
    a_last[..a_rest.len()].copy_from_slice(a_rest);
    b_last[..b_rest.len()].copy_from_slice(b_rest);
    add_squared_differences(&mut step, &a_last, &b_last);
    (squared_norm(b), step.iter().sum())
}

#[inline(always)]
fn add_squared_differences(sums: &mut [f64; LANES], a: &[f64; LANES], b: &[f64; LANES]) {
    for lane in 0..LANES {
        let difference = a[lane] - b[lane];
        sums[lane] += difference * difference;
    }
}

/// `Σ x_i²` in the lanes of [`one_sum`].
#[inline(always)]
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
            let (weight_sq, step_sq) = weight_and_step_sq(block(spec, before), block(spec, after));
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
    dead_relu_fraction_in(tape, &mut Vec::new())
}

/// [`dead_relu_fraction`] with the caller's scratch buffer for each unit's largest
/// output.
fn dead_relu_fraction_in(tape: &Tape<f64>, largest: &mut Vec<f64>) -> Option<f64> {
    let (mut dead, mut units) = (0usize, 0usize);
    for output in tape.relu_outputs() {
        tape.read_value(output, |data, dims| {
            let rows = dims.first().copied().unwrap_or(1).max(1);
            let width = data.len() / rows;
            dead += vectorized(
                #[inline(always)]
                || dead_units(data, width, largest),
            );
            units += width;
        });
    }
    (units > 0).then(|| dead as f64 / units as f64)
}

/// The units (columns of the rows of `data`, `width` wide) that no row makes positive.
#[inline(always)]
fn dead_units(data: &[f64], width: usize, largest: &mut Vec<f64>) -> usize {
    // A unit is alive when some example's output is positive: its largest output over
    // the batch is. `if v > m` (not `f64::max`) is one vector max instruction for two
    // units at a time, and a NaN never counts as positive.
    largest.clear();
    largest.resize(width, 0.0f64);
    for row in data.chunks_exact(width.max(1)) {
        for (m, v) in largest.iter_mut().zip(row) {
            *m = if *v > *m { *v } else { *m };
        }
    }
    // `largest` starts at 0 and only grows, so it is never NaN.
    largest.iter().filter(|m| **m <= 0.0).count()
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

/// The series' names of a layout, sorted as JSON writes them, made once per run.
#[derive(Debug, Clone)]
struct SeriesTable {
    names: Arc<[String]>,
    /// Per tensor, where its `grad_norm`, `weight_norm` and `update_ratio` are in `names`.
    slots: Vec<[usize; 3]>,
}

impl SeriesTable {
    fn new(layout: &[ParamSpec]) -> SeriesTable {
        const KINDS: [&str; 3] = ["grad_norm", "weight_norm", "update_ratio"];
        let mut named: Vec<(String, usize)> = (layout.iter().enumerate())
            .flat_map(|(k, spec)| {
                let names = KINDS.map(|kind| format!("{kind}/{}", spec.name));
                names
                    .into_iter()
                    .enumerate()
                    .map(move |(i, n)| (n, 3 * k + i))
            })
            .collect();
        named.sort();
        let mut slots = vec![[0; 3]; layout.len()];
        for (position, (_, series)) in named.iter().enumerate() {
            slots[series / 3][series % 3] = position;
        }
        let names = named.into_iter().map(|(name, _)| name).collect();
        SeriesTable { names, slots }
    }
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
/// A step of the digits network (64-32-10, batch 32) is about 420k instructions, so
/// what is fixed per step counts: the series' names are one table made once per run
/// and shared by every record (a record allocates only its values), the gradient's sums
/// of squares wait in a buffer for the update, theta is read once, with the update, for
/// both the weight norms and the update ratios, and the passes run vectorised.
#[derive(Debug, Clone, Default)]
pub(crate) struct NormsMeter {
    table: Option<SeriesTable>,
    grad_sq: Vec<f64>,
    /// Scratch for [`dead_relu_fraction`].
    largest: Vec<f64>,
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
        if (self.table.as_ref()).is_none_or(|table| table.slots.len() != layout.len()) {
            self.table = Some(SeriesTable::new(layout));
        }
        self.grad_sq.clear();
        // `#[inline(always)]`: the closure's body is compiled inside the dispatched
        // function, with its instruction set (else it stays a baseline function).
        vectorized(
            #[inline(always)]
            || {
                // A loop, not `extend(map(..))`: the adapter's closure would be a
                // baseline function again.
                for spec in layout {
                    self.grad_sq.push(squared_norm(block(spec, grad)));
                }
            },
        );
        self.before = Some(BeforeUpdate {
            step,
            logit_scale: tape.read_value(logits, logit_scale_of),
            dead_relu_fraction: dead_relu_fraction_in(tape, &mut self.largest),
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
        let table = self.table.as_ref()?;
        let mut values = vec![None; table.names.len()];
        vectorized(
            #[inline(always)]
            || {
                for ((spec, slots), grad_sq) in layout.iter().zip(&table.slots).zip(&self.grad_sq) {
                    let (weight_sq, step_sq) =
                        weight_and_step_sq(block(spec, before), block(spec, after));
                    values[slots[0]] = Some(grad_sq.sqrt());
                    values[slots[1]] = Some(weight_sq.sqrt());
                    values[slots[2]] = (weight_sq > 0.0).then(|| (step_sq / weight_sq).sqrt());
                }
            },
        );
        Some(NormsRecord {
            step: measured.step,
            logit_scale: measured.logit_scale,
            dead_relu_fraction: measured.dead_relu_fraction,
            blocks: BlockValues::over(Arc::clone(&table.names), values),
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
        assert_eq!(record.blocks.to_map(), blocks);
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

//! Gradient-only instruments: per-tensor gradient and weight norms, the update-to-weight
//! ratio, the fraction of dead ReLU units and the logit scale.
//!
//! They read what a training step has anyway (theta, its gradient, the update, the
//! recorded activations and logits) in place, so they cost one pass over theta and its
//! gradient, one over the update and one over the activations: no extra forward or
//! backward pass, no copy. The sums of squares keep eight partial sums in a fixed order
//! (the same bits on every run and thread count) instead of one dependent chain of
//! additions, which is what lets a pass run at memory speed.

use std::collections::BTreeMap;
use unstuck_autodiff::{Tape, Tensor};
use unstuck_models::ParamSpec;

/// Partial sums per pass: one AVX register pair, and enough independent chains to hide
/// the latency of an addition.
const LANES: usize = 8;

/// `Σ f(a_i, b_i)` and `Σ g(a_i, b_i)` over two slices of equal length in one pass, each
/// in `LANES` partial sums added in a fixed order at the end.
fn two_sums(
    a: &[f64],
    b: &[f64],
    f: impl Fn(f64, f64) -> f64,
    g: impl Fn(f64, f64) -> f64,
) -> (f64, f64) {
    debug_assert_eq!(a.len(), b.len());
    let (mut first, mut second) = ([0.0; LANES], [0.0; LANES]);
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (a_rest, b_rest) = (a_chunks.remainder(), b_chunks.remainder());
    for (a, b) in a_chunks.zip(b_chunks) {
        let a: &[f64; LANES] = a.try_into().expect("a chunk of LANES");
        let b: &[f64; LANES] = b.try_into().expect("a chunk of LANES");
        for lane in 0..LANES {
            first[lane] += f(a[lane], b[lane]);
            second[lane] += g(a[lane], b[lane]);
        }
    }
    for (lane, (a, b)) in a_rest.iter().zip(b_rest).enumerate() {
        first[lane] += f(*a, *b);
        second[lane] += g(*a, *b);
    }
    (first.iter().sum(), second.iter().sum())
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
        let (grad_sq, weight_sq) = two_sums(
            block(spec, grad),
            block(spec, theta),
            |g, _| g * g,
            |_, w| w * w,
        );
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
            let (step_sq, weight_sq) = two_sums(
                block(spec, after),
                block(spec, before),
                |a, b| (a - b) * (a - b),
                |_, b| b * b,
            );
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
    let mut alive = Vec::new();
    for output in tape.relu_outputs() {
        tape.read_value(output, |data, dims| {
            let rows = dims.first().copied().unwrap_or(1).max(1);
            let width = data.len() / rows;
            alive.clear();
            alive.resize(width, false);
            for row in data.chunks_exact(width.max(1)) {
                for (a, v) in alive.iter_mut().zip(row) {
                    *a |= *v > 0.0;
                }
            }
            dead += alive.iter().filter(|a| !**a).count();
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
        .map(|row| row.iter().fold(0.0f64, |m, v| m.max(v.abs())))
        .sum();
    sum / rows as f64
}

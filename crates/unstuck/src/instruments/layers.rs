//! Gradient-only instruments: per-tensor gradient and weight norms, the update-to-weight
//! ratio, the fraction of dead ReLU units and the logit scale.
//!
//! They read what a training step has anyway (theta, its gradient, the update, the
//! recorded activations and logits), so they cost a few passes over theta and the
//! activations: no extra forward or backward pass.

use std::collections::BTreeMap;
use unstuck_autodiff::{Tape, Tensor};
use unstuck_models::ParamSpec;

fn block_norms<'a>(
    layout: &'a [ParamSpec],
    values: &'a [f64],
) -> impl Iterator<Item = (&'a str, f64)> + 'a {
    layout.iter().map(move |spec| {
        let block = &values[spec.offset..spec.offset + spec.len()];
        (
            spec.name.as_str(),
            block.iter().map(|v| v * v).sum::<f64>().sqrt(),
        )
    })
}

/// `grad_norm/NAME` and `weight_norm/NAME` for every tensor of the layout.
pub fn gradient_and_weight_norms(
    layout: &[ParamSpec],
    theta: &[f64],
    grad: &[f64],
) -> BTreeMap<String, f64> {
    let mut norms = BTreeMap::new();
    for (name, norm) in block_norms(layout, grad) {
        norms.insert(format!("grad_norm/{name}"), norm);
    }
    for (name, norm) in block_norms(layout, theta) {
        norms.insert(format!("weight_norm/{name}"), norm);
    }
    norms
}

/// `update_ratio/NAME`: `|Δθ_b| / |θ_b|` of one step per tensor (the step against the
/// weights it changes; about 1e-3 is the folklore's healthy value). A tensor whose
/// weights were all zero before the step is left out.
pub fn update_ratios(layout: &[ParamSpec], before: &[f64], after: &[f64]) -> BTreeMap<String, f64> {
    let update: Vec<f64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    block_norms(layout, &update)
        .zip(block_norms(layout, before))
        .filter(|(_, (_, weight))| *weight > 0.0)
        .map(|((name, step), (_, weight))| (format!("update_ratio/{name}"), step / weight))
        .collect()
}

/// The fraction of ReLU units that are zero for every example of the batch, over every
/// ReLU recorded on `tape` (a unit is one position of a ReLU's output past the batch
/// axis); `None` when there is no ReLU.
pub fn dead_relu_fraction(tape: &Tape<f64>) -> Option<f64> {
    let (mut dead, mut units) = (0usize, 0usize);
    for output in tape.relu_outputs() {
        let value = tape.value(output);
        let rows = value.dims().first().copied().unwrap_or(1).max(1);
        let width = value.numel() / rows;
        let mut alive = vec![false; width];
        for row in value.data().chunks_exact(width.max(1)) {
            for (a, v) in alive.iter_mut().zip(row) {
                *a |= *v > 0.0;
            }
        }
        dead += alive.iter().filter(|a| !**a).count();
        units += width;
    }
    (units > 0).then(|| dead as f64 / units as f64)
}

/// The logit scale: the mean over the batch of each example's largest `|logit|`.
pub fn logit_scale(logits: &Tensor<f64>) -> f64 {
    let rows = logits.dims()[0].max(1);
    let width = (logits.numel() / rows).max(1);
    let sum: f64 = logits
        .data()
        .chunks_exact(width)
        .map(|row| row.iter().fold(0.0f64, |m, v| m.max(v.abs())))
        .sum();
    sum / rows as f64
}

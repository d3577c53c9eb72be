//! The batch-size experiment's gradient noise scale: measured during each run by the
//! trainer's `noise` instrument (per-example gradients every few steps), summarised as
//! McCandlish et al.'s critical batch size, and set against the updates each batch size
//! needed.

use super::claims::Claim;
use unstuck::History;
use unstuck::instruments::{InstrumentConfig, critical_batch_size};

/// The noise instrument measures every this many steps: often enough for a few dozen
/// records in the shortest run, rarely enough to cost about a percent of the training.
const NOISE_EVERY: u64 = 5;

/// The instruments the experiment's runs record.
pub fn instruments() -> InstrumentConfig {
    InstrumentConfig {
        noise: Some(NOISE_EVERY),
        ..InstrumentConfig::default()
    }
}

/// A run's critical batch size: the ratio of its mean `tr(Σ)` to its mean `|G|²` (None
/// for a batch of one, where one batch size gives no variance, or when the averaged
/// `|G|²` is not positive).
pub fn run_estimate(history: &History) -> Option<f64> {
    critical_batch_size(&history.noise)
}

/// The mean over the seeds that have an estimate, or "undetermined".
pub fn cell(values: &[Option<f64>]) -> String {
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    if known.is_empty() {
        return "undetermined".into();
    }
    format!("{:.0}", known.iter().sum::<f64>() / known.len() as f64)
}

/// The median of every run's estimate.
fn median(values: &[Vec<Option<f64>>]) -> Option<f64> {
    let mut known: Vec<f64> = values.iter().flatten().flatten().copied().collect();
    if known.is_empty() {
        return None;
    }
    known.sort_by(f64::total_cmp);
    let n = known.len();
    Some(if n % 2 == 1 {
        known[n / 2]
    } else {
        (known[n / 2 - 1] + known[n / 2]) / 2.0
    })
}

/// The efficiency of going from batch `b1` to `b2 > b1`: the fall in updates over the
/// rise in batch size (1: perfect scaling, `b1 / b2`: no fewer updates at all).
fn efficiency((b1, u1): (usize, f64), (b2, u2): (usize, f64)) -> f64 {
    (u1 / u2) / (b2 as f64 / b1 as f64)
}

/// The measured critical batch size and what the updates say about it. McCandlish et
/// al.'s model, `S(B) = S_min (1 + B_noise / B)` updates to reach a loss, predicts that a
/// bigger batch cuts the updates nearly in proportion below `B_crit ≈ B_noise` and
/// hardly at all above it; the sentence says whether these runs agree.
pub fn claim(batch_sizes: &[usize], estimates: &[Vec<Option<f64>>], updates: &[f64]) -> Claim {
    let Some(b_crit) = median(estimates) else {
        return Claim::new(
            "critical-batch-size",
            "No run gave a gradient noise scale (per-example gradients of batches of at least \
             two examples): the critical batch size is undetermined.",
            true,
            "no estimate",
        );
    };
    let pairs: Vec<((usize, f64), (usize, f64))> = batch_sizes
        .iter()
        .copied()
        .zip(updates.iter().copied())
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| (w[0], w[1]))
        .collect();
    let mean_efficiency = |keep: &dyn Fn(usize, usize) -> bool| {
        let values: Vec<f64> = pairs
            .iter()
            .filter(|(a, b)| keep(a.0, b.0))
            .map(|&(a, b)| efficiency(a, b))
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    // A pair of batch sizes sits on the side of B_crit where its geometric mean lies.
    let below = mean_efficiency(&|b1, b2| ((b1 * b2) as f64).sqrt() < b_crit);
    let above = mean_efficiency(&|b1, b2| ((b1 * b2) as f64).sqrt() >= b_crit);
    let verdict = match (below, above) {
        (Some(below), Some(above)) if below > above => format!(
            "growing the batch below it (pairs of batch sizes whose geometric mean is under it) cut \
             the updates with efficiency {below:.2} (1 is proportional) and above it with \
             {above:.2}: the efficiency falls past it, as McCandlish et al.'s model predicts{}",
            if below < 0.5 {
                ", though below it the scaling is far from the proportional one the model predicts"
            } else {
                ""
            }
        ),
        (Some(below), Some(above)) => format!(
            "growing the batch below it cut the updates with efficiency {below:.2} and above it \
             with {above:.2}, not the drop past it that McCandlish et al.'s model predicts"
        ),
        _ => "the batch sizes do not lie on both sides of it, so whether the updates bend there \
              is undetermined"
            .into(),
    };
    let n_runs = estimates.iter().flatten().flatten().count();
    Claim::new(
        "critical-batch-size",
        format!(
            "The gradient noise scale measured during the runs (B_simple = tr(Σ)/|G|², from \
             per-example gradients every {NOISE_EVERY} steps, McCandlish et al.'s ratio of means \
             per run) puts the critical batch size at about {b_crit:.0} (median of {n_runs} runs); \
             {verdict}."
        ),
        b_crit.is_finite() && b_crit > 0.0,
        format!("median B_simple {b_crit} positive and finite"),
    )
}

//! The gradient noise scale and the critical batch size (McCandlish, Kaplan, Amodei et
//! al., "An Empirical Model of Large-Batch Training", 2018), the gradient variance and
//! the gradient signal-to-noise ratio per block, from per-example gradient moments.
//!
//! With per-example gradients `g_i` of a batch of `B`, their mean `ḡ` is the mini-batch
//! gradient. The paper's appendix A estimates `|G|²` (the true gradient's squared norm)
//! and `tr(Σ)` (the per-example covariance's trace) without bias from two batch sizes;
//! with `B_small = 1` (each `g_i`) and `B_big = B` (`ḡ`) they are
//! `|G|² ≈ (B |ḡ|² - (1/B) Σ_i |g_i|²) / (B - 1)` and
//! `tr(Σ) ≈ (Σ_i |g_i|² - B |ḡ|²) / (B - 1)`.
//! The simple noise scale is `B_simple = tr(Σ) / |G|²`; the critical batch size (beyond
//! which a bigger batch no longer buys a proportional speed-up) is about `B_simple`, and
//! the paper estimates it from averages over many steps of the numerator and the
//! denominator, taken separately, because one step's `|G|²` is noisy and may come out
//! negative: [`critical_batch_size`] does that.

use super::per_sample::PerSampleGradients;
use crate::history::NoiseRecord;
use std::collections::BTreeMap;

/// One batch's noise-scale estimates over the covered blocks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseScale {
    /// The unbiased estimate of `|G|²`.
    pub grad_sq: f64,
    /// The unbiased estimate of `tr(Σ)`.
    pub trace_sigma: f64,
    /// `tr(Σ) / |G|²`, when the estimate of `|G|²` is positive.
    pub b_simple: Option<f64>,
}

/// The noise scale of a batch of at least two examples (`None` for one example: one
/// batch size gives no variance).
pub fn noise_scale(moments: &PerSampleGradients) -> Option<NoiseScale> {
    let b = moments.batch_size as f64;
    if moments.batch_size < 2 || moments.blocks.is_empty() {
        return None;
    }
    let (sum_sq, mean_sq) = (moments.sum_example_sq(), moments.mean_sq());
    let grad_sq = (b * mean_sq - sum_sq / b) / (b - 1.0);
    let trace_sigma = (sum_sq - b * mean_sq) / (b - 1.0);
    Some(NoiseScale {
        grad_sq,
        trace_sigma,
        b_simple: (grad_sq > 0.0).then(|| trace_sigma / grad_sq),
    })
}

/// The history record of one step: the noise scale, and per covered block its gradient
/// variance `tr(Σ_b)` (`variance/NAME`) and its gradient signal-to-noise ratio
/// (`snr/NAME`, the mean over the block's parameters of `ḡ_j² / σ²_j`, the GSNR of Liu et
/// al. 2020, over the parameters whose variance is not zero).
pub fn noise_record(step: u64, moments: &PerSampleGradients) -> Option<NoiseRecord> {
    let scale = noise_scale(moments)?;
    let b = moments.batch_size as f64;
    let mut blocks = BTreeMap::new();
    for block in &moments.blocks {
        // One pass, nothing allocated: the same values, in the same order, as
        // `BlockMoments::variances` then the mean of the ratios.
        let (mut variance, mut ratio_sum, mut n_ratios) = (0.0, 0.0, 0usize);
        for (s, m) in block.sum_sq_per_param.iter().zip(&block.mean) {
            let v = ((s - b * m * m) / (b - 1.0)).max(0.0);
            variance += v;
            if v > 0.0 {
                ratio_sum += m * m / v;
                n_ratios += 1;
            }
        }
        blocks.insert(format!("variance/{}", block.name), variance);
        if n_ratios > 0 {
            blocks.insert(format!("snr/{}", block.name), ratio_sum / n_ratios as f64);
        }
    }
    Some(NoiseRecord {
        step,
        batch_size: moments.batch_size,
        grad_sq: scale.grad_sq,
        trace_sigma: scale.trace_sigma,
        b_simple: scale.b_simple,
        excluded: moments.excluded.clone(),
        blocks,
    })
}

/// The critical batch size of a run, `mean tr(Σ) / mean |G|²` over the records (the
/// paper's ratio of averages); `None` without records or when the averaged `|G|²` is
/// not positive (the gradient's signal is lost in its noise: undetermined).
pub fn critical_batch_size(records: &[NoiseRecord]) -> Option<f64> {
    if records.is_empty() {
        return None;
    }
    let n = records.len() as f64;
    let grad_sq = records.iter().map(|r| r.grad_sq).sum::<f64>() / n;
    let trace = records.iter().map(|r| r.trace_sigma).sum::<f64>() / n;
    (grad_sq > 0.0).then(|| trace / grad_sq)
}

//! Per-example gradient moments of a convolution's weight and bias (BackPACK's
//! `SumGradSquared` for `Conv2d`, `backpack/utils/conv.py`).
//!
//! For `z = conv2d(x, W) + b` with `L = Ho·Wo` output positions, example `i`'s weight
//! gradient is `ĝ_i · unfold(x_i)ᵀ` (`[O, L] · [L, C·KH·KW]`), where `ĝ_i` is its slice
//! of `B · ∂L/∂z`, and its bias gradient is `ĝ_i`'s row sums. Unlike a linear layer's
//! outer product, the weight gradient is a sum over positions, so its entries do not
//! factor: each example's `[O, C·KH·KW]` product is formed and squared
//! ([`unstuck_autodiff::Tape::conv_weight_grad_squares`]), which costs one more weight
//! gradient.
//!
//! BackPACK's `BatchL2Grad` gets `|g_i|²` alone from `L × L` Gram matrices,
//! `⟨unfold(x_i)ᵀ unfold(x_i), ĝ_iᵀ ĝ_i⟩`, in `L²(O + C·KH·KW)` multiply-adds against
//! `L·O·C·KH·KW` for the product. The variances and the signal-to-noise ratios need the
//! per-parameter sums anyway (`|g_i|²` summed over the batch is their total), and the
//! Gram route is dearer whenever `L > O·C·KH·KW / (O + C·KH·KW)`, which holds for every
//! layer of LeNet (`L` = 576 and 64 against 5 and 15), so it is not taken.

use unstuck_autodiff::{ConvSite, Tape};

/// The per-parameter sums over the batch of the squared per-example gradients of the
/// convolution at `site`, weight then bias (if it has one), from `dz = ∂L/∂z`
/// (`[B, O, Ho, Wo]`) and `scale = B`.
pub(crate) fn conv_sums(
    tape: &Tape<f64>,
    site: &ConvSite,
    dz: &[f64],
    scale: f64,
) -> (Vec<f64>, Option<Vec<f64>>) {
    let weight = tape
        .conv_weight_grad_squares(site, dz, scale)
        .expect("a site's output gradient comes from the same tape and has its shape")
        .into_data();
    let dims = tape.dims(site.output);
    let (channels, positions) = (dims[1], dims[2] * dims[3]);
    let bias = site.bias.as_ref().map(|_| {
        let mut sums = vec![0.0; channels];
        for example in dz.chunks_exact(channels * positions) {
            for (sum, channel) in sums.iter_mut().zip(example.chunks_exact(positions)) {
                let g = scale * channel.iter().sum::<f64>();
                *sum += g * g;
            }
        }
        sums
    });
    (weight, bias)
}

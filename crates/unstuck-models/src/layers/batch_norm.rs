//! PyTorch's `nn.BatchNorm1d` and `nn.BatchNorm2d`.

use super::layer_norm::{DEFAULT_NORM_EPS, affine_params, check_norm_args, normalize};
use crate::{BufferDecl, Forward, Layer, LayerForward, Mode, ModelError, ParamDecl, ShapeMismatch};
use unstuck_autodiff::{Element, Tape, Var};

/// PyTorch's default momentum of the running statistics.
pub const DEFAULT_BN_MOMENTUM: f64 = 0.1;

/// Batch normalisation over every axis but the channels: `nn.BatchNorm1d(channels)` on
/// `[C]` or `[C, L]`, `nn.BatchNorm2d(channels)` on `[C, H, W]`.
///
/// In training it normalises with the batch's mean and biased variance and, when the pass
/// tracks buffers, records the new running statistics as PyTorch updates them:
/// `running = (1 - momentum) * running + momentum * batch`, with the **unbiased** batch
/// variance. In evaluation it normalises with the running statistics (`running_mean`
/// starts at 0, `running_var` at 1). PyTorch's third buffer, `num_batches_tracked`, is
/// not kept: it only matters with `momentum=None`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNorm {
    /// The number of channels.
    pub channels: usize,
    /// Added to the variance.
    pub eps: f64,
    /// The weight of the newest batch in the running statistics.
    pub momentum: f64,
    /// 1 for `BatchNorm1d`, 2 for `BatchNorm2d`.
    pub spatial_rank: usize,
}

impl BatchNorm {
    /// `nn.BatchNorm1d(channels)`: eps 1e-5, momentum 0.1.
    pub fn new_1d(channels: usize) -> Result<Self, ModelError> {
        Self::with_options(channels, 1, DEFAULT_NORM_EPS, DEFAULT_BN_MOMENTUM)
    }

    /// `nn.BatchNorm2d(channels)`: eps 1e-5, momentum 0.1.
    pub fn new_2d(channels: usize) -> Result<Self, ModelError> {
        Self::with_options(channels, 2, DEFAULT_NORM_EPS, DEFAULT_BN_MOMENTUM)
    }

    /// Any eps (positive, finite) and momentum (in `[0, 1]`).
    pub fn with_options(
        channels: usize,
        spatial_rank: usize,
        eps: f64,
        momentum: f64,
    ) -> Result<Self, ModelError> {
        let kind = if spatial_rank == 2 {
            "batchnorm2d"
        } else {
            "batchnorm1d"
        };
        check_norm_args(kind, channels, eps)?;
        if !(0.0..=1.0).contains(&momentum) || !(1..=2).contains(&spatial_rank) {
            return Err(ModelError::BadLayerArgument {
                layer: kind,
                message: format!("momentum must be in [0, 1], got {momentum}"),
            });
        }
        Ok(BatchNorm {
            channels,
            eps,
            momentum,
            spatial_rank,
        })
    }

    /// The running mean and variance, updated from this batch.
    fn record_running_stats<T: Element>(&self, cx: &mut Forward<'_, T>, x: Var, axes: &[usize]) {
        let tape = cx.tape;
        let c = self.channels;
        let count: usize = axes.iter().map(|&axis| tape.dims(x)[axis]).product();
        let mean = tape.mean_axes(x, axes, false);
        // Unbiased: PyTorch's running variance divides by count - 1. A count of 1 is
        // refused before training (`min_training_batch`); the cap keeps a direct call finite.
        let bessel = count as f64 / (count.max(2) - 1) as f64;
        let var = tape.scale(tape.var_axes(x, axes, false), T::from_f64(bessel));
        let m = self.momentum;
        for (start, batch) in [(0, mean), (c, var)] {
            let old = cx.buffer_constant(start..start + c, &[c]);
            let new = tape.add(
                tape.scale(old, T::from_f64(1.0 - m)),
                tape.scale(batch, T::from_f64(m)),
            );
            cx.update_buffer(start, new);
        }
    }
}

/// `v [C]` shaped to broadcast along the channel axis of a rank-`rank` batch.
fn per_channel<T: Element>(tape: &Tape<T>, v: Var, rank: usize) -> Var {
    let c = tape.dims(v)[0];
    let mut dims = vec![c];
    dims.resize(rank - 1, 1);
    tape.reshape(v, &dims)
}

impl Layer for BatchNorm {
    fn kind(&self) -> &'static str {
        if self.spatial_rank == 2 {
            "batchnorm2d"
        } else {
            "batchnorm1d"
        }
    }

    fn describe(&self) -> String {
        format!("batchnorm(eps={:?},momentum={:?})", self.eps, self.momentum)
    }

    fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>, ShapeMismatch> {
        let rank_fits = match self.spatial_rank {
            2 => input.len() == 3,
            _ => input.len() == 1 || input.len() == 2,
        };
        if rank_fits && input[0] == self.channels {
            Ok(input.to_vec())
        } else if self.spatial_rank == 2 {
            Err(ShapeMismatch::new(format!("[{}, H, W]", self.channels)))
        } else {
            let c = self.channels;
            Err(ShapeMismatch::new(format!("[{c}] or [{c}, L]")))
        }
    }

    fn params(&self) -> Vec<ParamDecl> {
        affine_params(self.channels)
    }

    /// Statistics over one value per channel have no variance (PyTorch refuses them):
    /// with no spatial extent, batch norm needs two examples.
    fn min_training_batch(&self, input: &[usize]) -> usize {
        if input.iter().skip(1).product::<usize>() == 1 {
            2
        } else {
            1
        }
    }

    fn buffers(&self) -> Vec<BufferDecl> {
        let c = self.channels;
        vec![
            BufferDecl {
                name: "running_mean".into(),
                shape: vec![c],
                initial: 0.0,
            },
            BufferDecl {
                name: "running_var".into(),
                shape: vec![c],
                initial: 1.0,
            },
        ]
    }
}

impl<T: Element> LayerForward<T> for BatchNorm {
    fn forward(&self, cx: &mut Forward<'_, T>, x: Var) -> Var {
        let tape = cx.tape;
        let rank = tape.dims(x).len();
        let c = self.channels;
        let normalized = match cx.mode() {
            Mode::Train { .. } => {
                let axes: Vec<usize> = (0..rank).filter(|&axis| axis != 1).collect();
                if cx.tracks_buffers() {
                    self.record_running_stats(cx, x, &axes);
                }
                normalize(tape, x, &axes, self.eps)
            }
            Mode::Eval => {
                let mean = per_channel(tape, cx.buffer_constant(0..c, &[c]), rank);
                let var = per_channel(tape, cx.buffer_constant(c..2 * c, &[c]), rank);
                let std = tape.sqrt(tape.shift(var, T::from_f64(self.eps)));
                tape.div(tape.sub(x, mean), std)
            }
        };
        let weight = per_channel(tape, cx.param(0), rank);
        let bias = per_channel(tape, cx.param(1), rank);
        tape.add(tape.mul(normalized, weight), bias)
    }
}

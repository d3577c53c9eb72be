//! PyTorch's `nn.LayerNorm` over the last axis.

use crate::{
    Forward, InitDistribution, Layer, LayerForward, ModelError, ParamDecl, ParamInit, ShapeMismatch,
};
use unstuck_autodiff::{Element, Tape, Var};

/// PyTorch's default `eps` of the norm layers.
pub const DEFAULT_NORM_EPS: f64 = 1e-5;

/// `nn.LayerNorm(width, eps)`: each vector along the last axis is centred and divided by
/// `sqrt(biased variance + eps)`, then scaled by `weight` (ones) and shifted by `bias`
/// (zeros). The same in training and evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerNorm {
    /// The length of the last axis.
    pub width: usize,
    /// Added to the variance.
    pub eps: f64,
}

impl LayerNorm {
    /// Over a last axis of `width` with `eps` 1e-5.
    pub fn new(width: usize) -> Result<Self, ModelError> {
        Self::with_eps(width, DEFAULT_NORM_EPS)
    }

    /// Over a last axis of `width`; `eps` must be positive and finite.
    pub fn with_eps(width: usize, eps: f64) -> Result<Self, ModelError> {
        check_norm_args("layernorm", width, eps)?;
        Ok(LayerNorm { width, eps })
    }
}

/// Fails unless `width` is positive and `eps` positive and finite.
pub(crate) fn check_norm_args(
    layer: &'static str,
    width: usize,
    eps: f64,
) -> Result<(), ModelError> {
    if width == 0 || !(eps > 0.0 && eps.is_finite()) {
        return Err(ModelError::BadLayerArgument {
            layer,
            message: format!("needs a positive width and eps, got {width} and {eps}"),
        });
    }
    Ok(())
}

/// The scale of ones and the shift of zeros of a norm layer.
pub(crate) fn affine_params(width: usize) -> Vec<ParamDecl> {
    vec![
        ParamDecl::new(
            "weight",
            &[width],
            ParamInit::Fixed(InitDistribution::Constant { value: 1.0 }),
        ),
        ParamDecl::new("bias", &[width], ParamInit::Fixed(InitDistribution::Zeros)),
    ]
}

/// `(x - mean) / sqrt(var + eps)` over `axes`, with the batch statistics of `x`.
pub(crate) fn normalize<T: Element>(tape: &Tape<T>, x: Var, axes: &[usize], eps: f64) -> Var {
    let centred = tape.sub(x, tape.mean_axes(x, axes, true));
    let std = tape.sqrt(tape.shift(tape.var_axes(x, axes, true), T::from_f64(eps)));
    tape.div(centred, std)
}

impl Layer for LayerNorm {
    fn kind(&self) -> &'static str {
        "layernorm"
    }

    fn per_example(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("layernorm(eps={:?})", self.eps)
    }

    fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>, ShapeMismatch> {
        match input.last() {
            Some(&width) if width == self.width => Ok(input.to_vec()),
            _ => Err(ShapeMismatch::new(format!("[..., {}]", self.width))),
        }
    }

    fn params(&self) -> Vec<ParamDecl> {
        affine_params(self.width)
    }
}

impl<T: Element> LayerForward<T> for LayerNorm {
    fn forward(&self, cx: &mut Forward<'_, T>, x: Var) -> Var {
        let tape = cx.tape;
        let last = tape.dims(x).len() - 1;
        let normalized = normalize(tape, x, &[last], self.eps);
        tape.add(tape.mul(normalized, cx.param(0)), cx.param(1))
    }
}

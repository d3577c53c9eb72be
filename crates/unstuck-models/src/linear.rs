//! The affine layer `y = x W^T + b`, carved out of theta.

use crate::{
    Activation, Forward, Layer, LayerForward, ParamDecl, ParamInit, ParamSpec, ShapeMismatch,
};
use unstuck_autodiff::{Element, Tape, Var};

/// A linear layer, PyTorch's `nn.Linear(fan_in, fan_out)`: a `fan_out x fan_in` weight
/// stored row-major at `offset`, followed by `fan_out` biases.
///
/// As a [`Layer`] it maps `[..., fan_in]` to `[..., fan_out]` (every leading axis is a
/// batch axis, as in PyTorch) and gets its weight and bias from its container, so
/// `offset` only matters to [`Linear::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Linear {
    /// Input features.
    pub fan_in: usize,
    /// Output features.
    pub fan_out: usize,
    /// Index of the weight's first element inside theta; the bias follows it.
    pub offset: usize,
}

impl Linear {
    /// `nn.Linear(fan_in, fan_out)` as a layer (offset 0).
    pub fn new(fan_in: usize, fan_out: usize) -> Self {
        Linear {
            fan_in,
            fan_out,
            offset: 0,
        }
    }

    /// The number of parameters: weight and bias.
    pub fn n_params(&self) -> usize {
        self.fan_out * (self.fan_in + 1)
    }

    /// Index of the bias's first element inside theta.
    pub fn bias_offset(&self) -> usize {
        self.offset + self.fan_in * self.fan_out
    }

    /// The layout entries `{prefix}.weight` (shape `[fan_out, fan_in]`) and
    /// `{prefix}.bias` (shape `[fan_out]`).
    pub fn layout(&self, prefix: &str) -> [ParamSpec; 2] {
        [
            ParamSpec {
                name: format!("{prefix}.weight"),
                shape: vec![self.fan_out, self.fan_in],
                offset: self.offset,
            },
            ParamSpec {
                name: format!("{prefix}.bias"),
                shape: vec![self.fan_out],
                offset: self.bias_offset(),
            },
        ]
    }

    /// Records `x W^T + b` for `x` of shape `[batch, fan_in]`.
    ///
    /// The weight is used through `matmul_t`, so no transposed copy is made; the bias row
    /// is broadcast over the batch.
    pub fn apply<T: Element>(&self, tape: &Tape<T>, theta: Var, x: Var) -> Var {
        let (weight, bias) = self.weight_and_bias(tape, theta);
        tape.add(tape.matmul_t(x, weight, false, true), bias)
    }

    /// `activation(x W^T + b)`: the bias and the activation in one fused op where
    /// autodiff has one (same values and derivatives), else one after the other.
    pub(crate) fn apply_activated<T: Element>(
        &self,
        tape: &Tape<T>,
        theta: Var,
        x: Var,
        activation: Activation,
    ) -> Var {
        let (weight, bias) = self.weight_and_bias(tape, theta);
        let z = tape.matmul_t(x, weight, false, true);
        match activation.bias_fused() {
            Some(act) => tape.bias_activation(z, bias, act),
            None => activation.apply(tape, tape.add(z, bias)),
        }
    }

    fn weight_and_bias<T: Element>(&self, tape: &Tape<T>, theta: Var) -> (Var, Var) {
        let weight = tape.reshape(
            tape.slice(theta, self.offset, self.fan_in * self.fan_out),
            &[self.fan_out, self.fan_in],
        );
        (weight, tape.slice(theta, self.bias_offset(), self.fan_out))
    }
}

/// `x W^T + b` for `x [..., fan_in]`, `weight [fan_out, fan_in]` and `bias [fan_out]`.
pub(crate) fn affine<T: Element>(tape: &Tape<T>, x: Var, weight: Var, bias: Option<Var>) -> Var {
    let y = tape.matmul_t(x, weight, false, true);
    match bias {
        Some(bias) => tape.add(y, bias),
        None => y,
    }
}

impl Layer for Linear {
    fn kind(&self) -> &'static str {
        "linear"
    }

    fn per_example(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("linear({})", self.fan_out)
    }

    fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>, ShapeMismatch> {
        match input.split_last() {
            Some((&last, rest)) if last == self.fan_in => {
                Ok(rest.iter().copied().chain([self.fan_out]).collect())
            }
            _ => Err(ShapeMismatch::new(format!("[..., {}]", self.fan_in))),
        }
    }

    fn params(&self) -> Vec<ParamDecl> {
        let (fan_in, fan_out) = (self.fan_in, self.fan_out);
        vec![
            ParamDecl::new(
                "weight",
                &[fan_out, fan_in],
                ParamInit::Weight { fan_in, fan_out },
            ),
            ParamDecl::new("bias", &[fan_out], ParamInit::Bias { fan_in }),
        ]
    }
}

impl<T: Element> LayerForward<T> for Linear {
    fn forward(&self, cx: &mut Forward<'_, T>, x: Var) -> Var {
        affine(cx.tape, x, cx.param(0), Some(cx.param(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unstuck_autodiff::Tensor;

    #[test]
    fn apply_computes_x_w_transpose_plus_b_from_its_slice_of_theta() {
        // theta = [junk, W = [[1, 2, 3], [4, 5, 6]], b = [10, 20], junk]
        let layer = Linear {
            fan_in: 3,
            fan_out: 2,
            offset: 1,
        };
        let theta = vec![99.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 10.0, 20.0, 99.0];
        let tape = Tape::<f64>::new();
        let theta = tape.constant(Tensor::vector(theta));
        let x = tape.constant(Tensor::matrix(vec![1.0, 0.0, -1.0, 2.0, 1.0, 0.0], 2, 3).unwrap());
        let y = tape.value(layer.apply(&tape, theta, x));
        // Small integers: exact in floating point.
        assert_eq!(y.dims(), &[2, 2]);
        assert_eq!(
            y.data(),
            &[1.0 - 3.0 + 10.0, 4.0 - 6.0 + 20.0, 4.0 + 10.0, 13.0 + 20.0]
        );
        assert_eq!(layer.n_params(), 8);
        let [w, b] = layer.layout("layers.3");
        assert_eq!(
            (w.name.as_str(), w.shape.as_slice(), w.offset),
            ("layers.3.weight", &[2, 3][..], 1)
        );
        assert_eq!(
            (b.name.as_str(), b.shape.as_slice(), b.offset),
            ("layers.3.bias", &[2][..], 7)
        );
    }
}

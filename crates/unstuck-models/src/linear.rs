//! The affine layer `y = x W^T + b`, carved out of theta.

use crate::ParamSpec;
use unstuck_autodiff::{Element, Tape, Var};

/// A linear layer, PyTorch's `nn.Linear(fan_in, fan_out)`: a `fan_out x fan_in` weight
/// stored row-major at `offset`, followed by `fan_out` biases.
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
        let weight = tape.reshape(
            tape.slice(theta, self.offset, self.fan_in * self.fan_out),
            &[self.fan_out, self.fan_in],
        );
        let bias = tape.slice(theta, self.bias_offset(), self.fan_out);
        tape.add(tape.matmul_t(x, weight, false, true), bias)
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

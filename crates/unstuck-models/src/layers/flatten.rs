//! PyTorch's `nn.Flatten()`: every axis after the batch axis into one.

use crate::{Forward, Layer, LayerForward, ShapeMismatch};
use unstuck_autodiff::{Element, Var};

/// `nn.Flatten()`: `[C, H, W]` (or any per-example shape) to `[C * H * W]`, row-major, so
/// a linear layer after it sees the features in PyTorch's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flatten;

impl Layer for Flatten {
    fn kind(&self) -> &'static str {
        "flatten"
    }

    fn per_example(&self) -> bool {
        true
    }

    fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>, ShapeMismatch> {
        Ok(vec![input.iter().product()])
    }
}

impl<T: Element> LayerForward<T> for Flatten {
    fn forward(&self, cx: &mut Forward<'_, T>, x: Var) -> Var {
        let dims = cx.tape.dims(x);
        let batch = dims[0];
        let features = dims[1..].iter().product();
        cx.tape.reshape(x, &[batch, features])
    }
}

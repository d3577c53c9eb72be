//! The mean over a sequence's positions: a sequence model's pooling before its head.

use crate::{Forward, Layer, LayerForward, ShapeMismatch};
use unstuck_autodiff::{Element, Var};

/// `[T, width]` to `[width]`: the mean over the positions (`x.mean(dim=1)` on a batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TokenMean;

impl Layer for TokenMean {
    fn kind(&self) -> &'static str {
        "tokenmean"
    }

    fn per_example(&self) -> bool {
        true
    }

    fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>, ShapeMismatch> {
        match *input {
            [len, width] if len > 0 => Ok(vec![width]),
            _ => Err(ShapeMismatch::new("[T, width] with T >= 1")),
        }
    }
}

impl<T: Element> LayerForward<T> for TokenMean {
    fn forward(&self, cx: &mut Forward<'_, T>, x: Var) -> Var {
        cx.tape.mean_axis(x, 1)
    }
}

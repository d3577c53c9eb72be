//! The elementwise activations as layers (`nn.Tanh()`, `nn.ReLU()`, ...).

use crate::{Activation, Forward, Layer, LayerForward, ShapeMismatch};
use unstuck_autodiff::{Element, Var};

impl Layer for Activation {
    fn kind(&self) -> &'static str {
        self.name()
    }

    fn per_example(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        self.to_string()
    }

    fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>, ShapeMismatch> {
        Ok(input.to_vec())
    }
}

impl<T: Element> LayerForward<T> for Activation {
    fn forward(&self, cx: &mut Forward<'_, T>, x: Var) -> Var {
        self.apply(cx.tape, x)
    }
}

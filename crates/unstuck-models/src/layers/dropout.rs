//! PyTorch's `nn.Dropout(p)`, with a seeded mask.

use crate::{Forward, Layer, LayerForward, ModelError, ShapeMismatch};
use unstuck_autodiff::{Element, Var};

/// `nn.Dropout(p)`: in training each element is zeroed with probability `p` and the rest
/// scaled by `1 / (1 - p)`; in evaluation it is the identity.
///
/// The mask comes from the pass's seed mixed with the layer's position
/// ([`crate::Forward::dropout_seed`]), so a pass is reproducible and the loss stays a
/// deterministic function of theta for gradients and Hessian-vector products.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    p: f64,
}

impl Dropout {
    /// Dropout with probability `p` in `[0, 1)`.
    pub fn new(p: f64) -> Result<Self, ModelError> {
        if (0.0..1.0).contains(&p) {
            Ok(Dropout { p })
        } else {
            Err(ModelError::BadLayerArgument {
                layer: "dropout",
                message: format!("probability must be in [0, 1), got {p}"),
            })
        }
    }

    /// The probability of zeroing an element.
    pub fn p(&self) -> f64 {
        self.p
    }
}

impl Layer for Dropout {
    fn kind(&self) -> &'static str {
        "dropout"
    }

    fn describe(&self) -> String {
        format!("dropout({:?})", self.p)
    }

    fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>, ShapeMismatch> {
        Ok(input.to_vec())
    }
}

impl<T: Element> LayerForward<T> for Dropout {
    fn forward(&self, cx: &mut Forward<'_, T>, x: Var) -> Var {
        match cx.dropout_seed() {
            Some(seed) if self.p > 0.0 => cx.tape.dropout(x, self.p, seed),
            _ => x,
        }
    }
}

//! A learned position embedding added to a sequence of vectors.

use crate::{
    Forward, InitDistribution, Layer, LayerForward, ModelError, ParamDecl, ParamInit, ShapeMismatch,
};
use unstuck_autodiff::{Element, Var};

/// Adds row `t` of a `[max_len, width]` table to position `t` of `[T, width]`
/// (`T <= max_len`): PyTorch's `x + nn.Embedding(max_len, width)(torch.arange(T))`,
/// whose table is the `weight` parameter, initialised N(0, 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PositionEmbedding {
    /// The longest sequence.
    pub max_len: usize,
    /// The width of a row.
    pub width: usize,
}

impl PositionEmbedding {
    /// A `[max_len, width]` table; both must be positive.
    pub fn new(max_len: usize, width: usize) -> Result<Self, ModelError> {
        if max_len == 0 || width == 0 {
            return Err(ModelError::BadLayerArgument {
                layer: "posembed",
                message: format!("sizes must be positive, got {max_len} and {width}"),
            });
        }
        Ok(PositionEmbedding { max_len, width })
    }
}

impl Layer for PositionEmbedding {
    fn kind(&self) -> &'static str {
        "posembed"
    }

    fn per_example(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("posembed(max_len={})", self.max_len)
    }

    fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>, ShapeMismatch> {
        match *input {
            [len, width] if len <= self.max_len && width == self.width => Ok(input.to_vec()),
            _ => Err(ShapeMismatch::new(format!(
                "[T, {}] with T <= {}",
                self.width, self.max_len
            ))),
        }
    }

    fn params(&self) -> Vec<ParamDecl> {
        vec![ParamDecl::new(
            "weight",
            &[self.max_len, self.width],
            ParamInit::Fixed(InitDistribution::Normal { std: 1.0 }),
        )]
    }
}

impl<T: Element> LayerForward<T> for PositionEmbedding {
    fn forward(&self, cx: &mut Forward<'_, T>, x: Var) -> Var {
        let len = cx.tape.dims(x)[1];
        let table = cx.param(0);
        let rows = if len == self.max_len {
            table
        } else {
            cx.tape.narrow(table, 0, 0, len)
        };
        cx.tape.add(x, rows)
    }
}

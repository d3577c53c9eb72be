//! PyTorch's `nn.Embedding` on token ids.

use crate::{
    Forward, InitDistribution, Layer, LayerForward, ModelError, ParamDecl, ParamInit, ShapeMismatch,
};
use unstuck_autodiff::{Element, Var};

/// `nn.Embedding(vocabulary, width)`: token ids `[T]` (stored as numbers in the input
/// batch) to rows of a `[vocabulary, width]` table, `[T, width]`; initialised N(0, 1) as
/// in PyTorch.
///
/// It reads the ids from the value of its input, so it must be the first layer; the model
/// checks every id before anything is recorded ([`Layer::token_vocabulary`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Embedding {
    /// The number of token ids.
    pub vocabulary: usize,
    /// The width of a row.
    pub width: usize,
}

impl Embedding {
    /// A `[vocabulary, width]` table; both must be positive.
    pub fn new(vocabulary: usize, width: usize) -> Result<Self, ModelError> {
        if vocabulary == 0 || width == 0 {
            return Err(ModelError::BadLayerArgument {
                layer: "embedding",
                message: format!("sizes must be positive, got {vocabulary} and {width}"),
            });
        }
        Ok(Embedding { vocabulary, width })
    }
}

impl Layer for Embedding {
    fn kind(&self) -> &'static str {
        "embedding"
    }

    fn per_example(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("embedding({},{})", self.vocabulary, self.width)
    }

    fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>, ShapeMismatch> {
        Ok(input.iter().copied().chain([self.width]).collect())
    }

    fn params(&self) -> Vec<ParamDecl> {
        vec![ParamDecl::new(
            "weight",
            &[self.vocabulary, self.width],
            ParamInit::Fixed(InitDistribution::Normal { std: 1.0 }),
        )]
    }

    fn token_vocabulary(&self) -> Option<usize> {
        Some(self.vocabulary)
    }
}

impl<T: Element> LayerForward<T> for Embedding {
    fn forward(&self, cx: &mut Forward<'_, T>, x: Var) -> Var {
        let tokens = cx.tape.value(x);
        // The model checked that every value is an integer id below the vocabulary.
        let ids: Vec<usize> = tokens
            .data()
            .iter()
            .map(|&id| id.to_f64() as usize)
            .collect();
        cx.tape.embedding(cx.param(0), &ids, tokens.dims())
    }
}

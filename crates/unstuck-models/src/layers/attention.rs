//! Causal multi-head self-attention, the block of a decoder-only transformer.

use crate::linear::affine;
use crate::{Forward, Layer, LayerForward, Linear, ModelError, ParamDecl, ShapeMismatch};
use unstuck_autodiff::{Element, Mask, Var};

/// Causal self-attention over `[T, width]` with `heads` heads of `width / heads` each.
///
/// The projections are four `nn.Linear(width, width)` named `q`, `k`, `v` and `o` (their
/// parameters `q.weight`, `q.bias`, ...): `scores = q k^T / sqrt(width / heads)` per head,
/// `-inf` where a key comes after its query, a softmax over the keys, the heads' outputs
/// concatenated and projected by `o`. With one head this is the golden `tiny_attention`
/// block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CausalSelfAttention {
    /// The model width.
    pub width: usize,
    /// The number of heads; it divides the width.
    pub heads: usize,
}

const PROJECTIONS: [&str; 4] = ["q", "k", "v", "o"];

impl CausalSelfAttention {
    /// Attention over vectors of `width` with `heads` heads.
    pub fn new(width: usize, heads: usize) -> Result<Self, ModelError> {
        if width == 0 || heads == 0 || !width.is_multiple_of(heads) {
            return Err(ModelError::BadLayerArgument {
                layer: "attention",
                message: format!("{heads} heads must divide the width {width}"),
            });
        }
        Ok(CausalSelfAttention { width, heads })
    }

    fn head_width(&self) -> usize {
        self.width / self.heads
    }
}

impl Layer for CausalSelfAttention {
    fn kind(&self) -> &'static str {
        "attention"
    }

    fn per_example(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("attention({})", self.heads)
    }

    fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>, ShapeMismatch> {
        match *input {
            [_, width] if width == self.width => Ok(input.to_vec()),
            _ => Err(ShapeMismatch::new(format!("[T, {}]", self.width))),
        }
    }

    fn params(&self) -> Vec<ParamDecl> {
        let projection = Linear::new(self.width, self.width);
        PROJECTIONS
            .iter()
            .flat_map(|name| {
                projection.params().into_iter().map(move |mut param| {
                    param.name = format!("{name}.{}", param.name);
                    param
                })
            })
            .collect()
    }
}

impl<T: Element> LayerForward<T> for CausalSelfAttention {
    fn forward(&self, cx: &mut Forward<'_, T>, x: Var) -> Var {
        let tape = cx.tape;
        let [batch, len, width] = tape.dims(x)[..] else {
            panic!("attention: input of shape {:?}", tape.dims(x))
        };
        let (heads, head_width) = (self.heads, self.head_width());
        let project = |k: usize| affine(tape, x, cx.param(2 * k), Some(cx.param(2 * k + 1)));
        // [B, T, D] -> [B, H, T, D / H]
        let split = |y: Var| {
            let y = tape.reshape(y, &[batch, len, heads, head_width]);
            tape.permute(y, &[0, 2, 1, 3])
        };
        let (q, k, v) = (split(project(0)), split(project(1)), split(project(2)));
        let scale = T::from_f64(1.0 / (head_width as f64).sqrt());
        let scores = tape.scale(tape.matmul_t(q, k, false, true), scale);
        let scores = tape.masked_fill(scores, &Mask::causal(len), T::from_f64(f64::NEG_INFINITY));
        let attended = tape.matmul(tape.softmax(scores, 3), v);
        let merged = tape.reshape(tape.permute(attended, &[0, 2, 1, 3]), &[batch, len, width]);
        affine(tape, merged, cx.param(6), Some(cx.param(7)))
    }
}

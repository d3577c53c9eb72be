//! Where each named tensor lives inside the flat parameter vector theta.

use std::ops::Range;

/// One named tensor inside theta: PyTorch's name, its shape, and where its elements
/// start. Elements are stored row-major, so a `(out, in)` weight is read as PyTorch's
/// `state_dict()[name].flatten()`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ParamSpec {
    /// PyTorch's `state_dict` key, e.g. `layers.0.weight`.
    pub name: String,
    /// The tensor's dimensions, e.g. `[out, in]` for a weight.
    pub shape: Vec<usize>,
    /// Index of the first element inside theta.
    pub offset: usize,
}

impl ParamSpec {
    /// The number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The indices of theta it occupies.
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.len()
    }

    /// The module that owns it: the name without its last component (`layers.0`).
    pub fn module(&self) -> &str {
        self.name.rsplit_once('.').map_or("", |(module, _)| module)
    }
}

/// A contiguous block of theta that belongs to one module (a layer's weight and bias):
/// the unit of per-layer Hessian analysis.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LayerBlock {
    /// The module's name, e.g. `layers.1`.
    pub name: String,
    /// The indices of theta it occupies.
    pub range: Range<usize>,
}

/// Groups consecutive tensors of the same module into blocks.
///
/// ```
/// use unstuck_models::{Architecture, Mlp, layer_blocks};
/// let mlp = Mlp::from_spec("2-3-1:tanh").unwrap();
/// let blocks = layer_blocks(mlp.layout());
/// assert_eq!(blocks[0].name, "layers.0");
/// assert_eq!(blocks[0].range, 0..9); // 3x2 weight + 3 biases
/// assert_eq!(blocks[1].range, 9..13);
/// ```
pub fn layer_blocks(layout: &[ParamSpec]) -> Vec<LayerBlock> {
    let mut blocks: Vec<LayerBlock> = Vec::new();
    for spec in layout {
        match blocks.last_mut() {
            Some(last) if last.name == spec.module() && last.range.end == spec.offset => {
                last.range.end = spec.range().end;
            }
            _ => blocks.push(LayerBlock {
                name: spec.module().to_string(),
                range: spec.range(),
            }),
        }
    }
    blocks
}

/// The total number of elements (the end of the last tensor for a packed layout).
pub(crate) fn total_len(layout: &[ParamSpec]) -> usize {
    layout
        .iter()
        .map(|spec| spec.range().end)
        .max()
        .unwrap_or(0)
}

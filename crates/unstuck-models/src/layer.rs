//! The layer contract: named parameters, an initialiser per parameter, a shape rule, and
//! a forward pass on the tape in training or evaluation mode.
//!
//! A layer never owns numbers: its parameters are handed to it as tape variables carved
//! out of theta by its container ([`crate::Sequential`]), in the order of
//! [`Layer::params`]. Its buffers (batch norm's running statistics) live outside theta,
//! in a flat `f64` vector the caller keeps; a training pass records their new values
//! instead of mutating anything, so a model stays a pure function of theta and a batch.

use crate::InitDistribution;
use std::any::Any;
use std::fmt::Debug;
use std::ops::Range;
use unstuck_autodiff::{Element, Tape, Tensor, Var};

/// One parameter tensor of a layer: its local `state_dict` name (`weight`), its shape and
/// how it is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDecl {
    /// The name inside the layer, e.g. `weight` or `q.bias`; the container prefixes it.
    pub name: String,
    /// The tensor's dimensions.
    pub shape: Vec<usize>,
    /// How [`crate::Model::init`] draws it.
    pub init: ParamInit,
}

impl ParamDecl {
    /// A parameter named `name` of shape `shape`.
    pub fn new(name: impl Into<String>, shape: &[usize], init: ParamInit) -> Self {
        ParamDecl {
            name: name.into(),
            shape: shape.to_vec(),
            init,
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How a parameter is initialised: weights and biases follow the model's [`crate::Init`]
/// scheme (PyTorch's default unless asked otherwise), everything else a fixed law.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamInit {
    /// A weight with these fans (for a convolution, channels times the kernel's area).
    Weight {
        /// Inputs feeding one output.
        fan_in: usize,
        /// Outputs fed by one input.
        fan_out: usize,
    },
    /// A bias of a layer with `fan_in` inputs per output.
    Bias {
        /// Inputs feeding one output.
        fan_in: usize,
    },
    /// A fixed law, whatever the scheme (a norm's scale of ones, an embedding's N(0, 1)).
    Fixed(InitDistribution),
}

/// One buffer of a layer: state that is not trained by gradients (running statistics).
#[derive(Debug, Clone, PartialEq)]
pub struct BufferDecl {
    /// The name inside the layer, e.g. `running_mean`.
    pub name: String,
    /// The tensor's dimensions.
    pub shape: Vec<usize>,
    /// Every element's value before the first training pass.
    pub initial: f64,
}

/// Training (batch statistics, dropout with a seeded mask) or evaluation (running
/// statistics, no dropout), PyTorch's `model.train()` and `model.eval()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Training; dropout masks are drawn from this seed (mixed with the layer's position).
    Train {
        /// The seed of this pass's dropout masks.
        seed: u64,
    },
    /// Evaluation.
    Eval,
}

/// A per-example shape that a layer cannot take: what it expected instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// What the layer needs, e.g. `[4, H, W] with H, W >= 3`.
    pub expected: String,
}

impl ShapeMismatch {
    /// A mismatch expecting `expected`.
    pub fn new(expected: impl Into<String>) -> Self {
        ShapeMismatch {
            expected: expected.into(),
        }
    }
}

/// A layer: PyTorch's `nn.Module` without its tensors.
///
/// Implement [`LayerForward`] once, generically over the element type, and this trait for
/// the rest; the blanket requirement `LayerForward<f32> + LayerForward<f64>` lets one layer
/// object serve both precisions. `examples/custom_layer.rs` writes one against the public
/// API only.
pub trait Layer: Debug + Send + Sync + LayerForward<f32> + LayerForward<f64> {
    /// The layer's spec name (`conv`, `linear`, `tanh`), used in errors.
    fn kind(&self) -> &'static str;

    /// The layer as a network spec writes it (`conv(4,k=3,stride=1,pad=1)`), with every
    /// size that the shape before it gives left out; by default its kind.
    fn describe(&self) -> String {
        self.kind().to_string()
    }

    /// The shape of one example's output for one example's input (the batch axis left
    /// out), or what the layer needs instead.
    fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>, ShapeMismatch>;

    /// The parameters, in `state_dict` order.
    fn params(&self) -> Vec<ParamDecl> {
        Vec::new()
    }

    /// The buffers, in `state_dict` order (after the parameters, as PyTorch lists them).
    fn buffers(&self) -> Vec<BufferDecl> {
        Vec::new()
    }

    /// `Some(vocabulary)` if the layer reads its input as token ids (an embedding): the
    /// model then checks that every input value is an id below it before recording.
    fn token_vocabulary(&self) -> Option<usize> {
        None
    }

    /// The smallest batch this layer can train on with examples of shape `input`: 1 by
    /// default; 2 for a batch norm that would otherwise see one value per channel.
    fn min_training_batch(&self, input: &[usize]) -> usize {
        let _ = input;
        1
    }

    /// Whether, in a training pass, each example's output depends on that example's input
    /// alone. Then a network of such layers has a batch loss that is a weighted sum of the
    /// losses of slices of the batch, and the Hessian tools record the slices on separate
    /// threads. `false` by default, which is always safe: batch norm (statistics over the
    /// batch) and dropout (one mask drawn for the whole batch) couple the examples.
    fn per_example(&self) -> bool {
        false
    }
}

/// The forward pass of a layer at one element type.
pub trait LayerForward<T: Element> {
    /// Records the output for the input `x` (`[batch, input dims...]`).
    fn forward(&self, cx: &mut Forward<'_, T>, x: Var) -> Var;
}

/// A recorded new value of a buffer, at `offset` in the model's flat buffer vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferUpdate {
    /// Index of the first element inside the buffer vector.
    pub offset: usize,
    /// The new value, a node of the pass's tape.
    pub value: Var,
}

/// What a layer's forward pass sees besides its input: the tape, its own parameters and
/// buffers, and the mode.
#[derive(Debug)]
pub struct Forward<'a, T: Element> {
    /// The tape everything is recorded on.
    pub tape: &'a Tape<T>,
    mode: Mode,
    params: &'a [Var],
    buffers: &'a [f64],
    buffer_offset: usize,
    position: u64,
    updates: Option<&'a mut Vec<BufferUpdate>>,
}

impl<'a, T: Element> Forward<'a, T> {
    /// The context of a whole model: `params` are theta's tensors in layout order,
    /// `buffers` the model's buffer vector; with `updates`, training passes record the
    /// buffers' new values there.
    pub fn new(
        tape: &'a Tape<T>,
        mode: Mode,
        params: &'a [Var],
        buffers: &'a [f64],
        updates: Option<&'a mut Vec<BufferUpdate>>,
    ) -> Self {
        Forward {
            tape,
            mode,
            params,
            buffers,
            buffer_offset: 0,
            position: 0,
            updates,
        }
    }

    /// The context of a child: the parameters and buffers at these ranges of this
    /// layer's, and `position` to tell its dropout masks from its siblings'.
    pub fn child(
        &mut self,
        params: Range<usize>,
        buffers: Range<usize>,
        position: u64,
    ) -> Forward<'_, T> {
        Forward {
            tape: self.tape,
            mode: self.mode,
            params: &self.params[params],
            buffer_offset: self.buffer_offset + buffers.start,
            buffers: &self.buffers[buffers],
            position: mix_seeds(self.position, position),
            updates: self.updates.as_deref_mut(),
        }
    }

    /// The mode of this pass.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The layer's `index`-th parameter, shaped as declared.
    ///
    /// # Panics
    /// If the layer has fewer parameters (a container bug).
    pub fn param(&self, index: usize) -> Var {
        self.params[index]
    }

    /// The layer's buffers, concatenated in declaration order.
    pub fn buffers(&self) -> &'a [f64] {
        self.buffers
    }

    /// The elements `range` of the layer's buffers as a constant of shape `dims`.
    pub fn buffer_constant(&self, range: Range<usize>, dims: &[usize]) -> Var {
        let values = self.buffers[range]
            .iter()
            .map(|&x| T::from_f64(x))
            .collect();
        let tensor = Tensor::new(values, dims)
            .unwrap_or_else(|e| panic!("buffer constant of shape {dims:?}: {e}"));
        self.tape.constant(tensor)
    }

    /// Whether this pass records new buffer values (a training pass asked for them).
    pub fn tracks_buffers(&self) -> bool {
        self.updates.is_some() && matches!(self.mode, Mode::Train { .. })
    }

    /// Records `value` as the new content of the layer's buffers from element `start` on.
    pub fn update_buffer(&mut self, start: usize, value: Var) {
        let offset = self.buffer_offset + start;
        if let Some(updates) = self.updates.as_deref_mut() {
            updates.push(BufferUpdate { offset, value });
        }
    }

    /// The seed of this layer's dropout mask in a training pass, `None` in evaluation.
    pub fn dropout_seed(&self) -> Option<u64> {
        match self.mode {
            Mode::Train { seed } => Some(mix_seeds(seed, self.position)),
            Mode::Eval => None,
        }
    }

    /// The same context at another element type, if `U` is `T`.
    fn retype<U: Element>(&mut self) -> Option<Forward<'_, U>> {
        let tape = (self.tape as &dyn Any).downcast_ref::<Tape<U>>()?;
        Some(Forward {
            tape,
            mode: self.mode,
            params: self.params,
            buffers: self.buffers,
            buffer_offset: self.buffer_offset,
            position: self.position,
            updates: self.updates.as_deref_mut(),
        })
    }
}

/// Runs a layer object's forward pass at the element type of `cx`.
///
/// `Element` is sealed to `f32` and `f64` and every [`Layer`] implements [`LayerForward`]
/// for both, so one of the two downcasts succeeds; this is the one place that turns the
/// generic `T` into a concrete type.
pub fn forward_layer<T: Element>(layer: &dyn Layer, cx: &mut Forward<'_, T>, x: Var) -> Var {
    if let Some(mut cx) = cx.retype::<f64>() {
        return LayerForward::<f64>::forward(layer, &mut cx, x);
    }
    if let Some(mut cx) = cx.retype::<f32>() {
        return LayerForward::<f32>::forward(layer, &mut cx, x);
    }
    unreachable!("Element is sealed to f32 and f64")
}

/// SplitMix64's finaliser over `a` and `b`: a seed for each position (a layer, a
/// training step) under one seed, unrelated to its neighbours'.
pub fn mix_seeds(a: u64, b: u64) -> u64 {
    let mut z = a ^ b
        .wrapping_add(0x9e37_79b9_7f4a_7c15)
        .wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `[a, b, c]` as PyTorch prints a shape.
pub(crate) fn dims_str(dims: &[usize]) -> String {
    let parts: Vec<String> = dims.iter().map(usize::to_string).collect();
    format!("[{}]", parts.join(", "))
}

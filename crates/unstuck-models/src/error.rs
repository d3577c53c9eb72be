//! The crate's error type.

use std::path::PathBuf;
use unstuck_autodiff::AutodiffError;

/// What can go wrong when user input reaches a model: an architecture or spec string, a
/// batch, a parameter vector, a weights file.
///
/// Inside a recorded forward pass nothing can fail: every check happens before the graph
/// is built ([`crate::Model::forward_checked`], [`crate::Objective::new`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A model spec string does not parse.
    #[error(transparent)]
    Spec(#[from] unstuck_core::spec::SpecError),
    /// An architecture needs at least an input and an output width.
    #[error("an MLP needs at least 2 widths (input and output), got {got}")]
    TooFewWidths {
        /// The number of widths given.
        got: usize,
    },
    /// A layer of width zero.
    #[error("width {index} of the MLP is 0; every width must be positive")]
    ZeroWidth {
        /// Position of the width in the list (0 is the input).
        index: usize,
    },
    /// The parameter count does not fit in memory (`usize` overflow).
    #[error("the architecture has more parameters than fit in usize")]
    TooManyParams,
    /// A leaky ReLU slope that is NaN or infinite.
    #[error("leaky_relu slope must be finite, got {slope}")]
    BadSlope {
        /// The slope given.
        slope: f64,
    },
    /// The input is not a `[batch, features]` matrix.
    #[error("input must be a [batch, features] matrix, got shape {dims:?}")]
    InputRank {
        /// The dimensions given.
        dims: Vec<usize>,
    },
    /// The input's feature count does not match the first layer.
    #[error("input has {got} features but the model's first layer takes {expected}")]
    InputWidth {
        /// The first layer's input width.
        expected: usize,
        /// The input's column count.
        got: usize,
    },
    /// A batch whose shape is neither `[batch, input dims...]` nor `[batch, input width]`.
    #[error("input has shape {got:?}, the model takes [batch, {}] (or the flattened [batch, {}])", dims_list(expected), expected.iter().product::<usize>())]
    InputShape {
        /// One example's shape.
        expected: Vec<usize>,
        /// The batch's shape.
        got: Vec<usize>,
    },
    /// An input value that is not a token id the model knows.
    #[error("input value {index} is {value}, not a token id in 0..{vocabulary}")]
    TokenId {
        /// Position in the flattened batch.
        index: usize,
        /// The value.
        value: f64,
        /// The model's vocabulary size.
        vocabulary: usize,
    },
    /// A layer that does not fit the shape the layers before it give it.
    #[error(
        "layer {position} ({layer}) takes {expected}, got [{}]",
        dims_list(got)
    )]
    LayerShape {
        /// Position of the layer in its model (0 is the first).
        position: usize,
        /// The layer's kind, or its name and kind (`conv1 (conv)`).
        layer: String,
        /// The per-example shape it received.
        got: Vec<usize>,
        /// What it takes.
        expected: String,
    },
    /// A batch too small for a layer in training mode: batch norm on one value per
    /// channel (PyTorch raises "Expected more than 1 value per channel when training").
    #[error(
        "layer {position} ({layer}) needs at least {needed} examples per batch in training (it gets examples of shape {}, so a batch of {batch} gives it one value per channel): use a larger batch",
        crate::layer::dims_str(input)
    )]
    TrainingBatch {
        /// Position of the layer in its model (0 is the first).
        position: usize,
        /// The layer's kind, or its name and kind (`bn (batchnorm1d)`).
        layer: String,
        /// The per-example shape it receives.
        input: Vec<usize>,
        /// The batch size asked for.
        batch: usize,
        /// The smallest batch it can train on.
        needed: usize,
    },
    /// A layer or model registered under a name already taken.
    #[error("a layer or model named {name:?} is already registered")]
    DuplicateName {
        /// The name.
        name: String,
    },
    /// A layer's hyperparameter out of range (a zero kernel, heads that do not divide).
    #[error("{layer}: {message}")]
    BadLayerArgument {
        /// The layer's kind.
        layer: &'static str,
        /// What is wrong.
        message: String,
    },
    /// An input shape that is empty or has a zero dimension.
    #[error("the input shape {dims:?} must be non-empty with positive sizes")]
    InputDims {
        /// The shape given.
        dims: Vec<usize>,
    },
    /// A model whose last layer does not give one vector of logits per example.
    #[error(
        "the last layer gives examples of shape {dims:?}; a model must end in [classes] (add flatten or linear)"
    )]
    OutputDims {
        /// The per-example output shape.
        dims: Vec<usize>,
    },
    /// A parameter vector of the wrong length.
    #[error("parameter vector has {got} entries, the model has {expected} parameters")]
    ParamCount {
        /// The model's parameter count.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A buffer vector of the wrong length.
    #[error("buffer vector has {got} entries, the model has {expected} buffer elements")]
    BufferCount {
        /// The model's buffer element count.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// Theta recorded as something other than a flat vector.
    #[error("theta must be a flat vector, got shape {dims:?}")]
    ThetaShape {
        /// The dimensions given.
        dims: Vec<usize>,
    },
    /// A batch without rows: a mean over it is undefined.
    #[error("the batch is empty")]
    EmptyBatch,
    /// Not one target per input row.
    #[error("batch has {expected} rows but {got} targets")]
    TargetCount {
        /// The batch size.
        expected: usize,
        /// The number of targets.
        got: usize,
    },
    /// A class label outside `0..n_classes`.
    #[error("target {index} is label {label}, out of range for {n_classes} classes")]
    LabelOutOfRange {
        /// Row of the offending label.
        index: usize,
        /// The label.
        label: usize,
        /// The number of classes the loss allows.
        n_classes: usize,
    },
    /// Real-valued targets whose shape differs from the model's output.
    #[error("targets have shape {got:?}, the model's output has shape {expected:?}")]
    TargetShape {
        /// The shape of the logits.
        expected: Vec<usize>,
        /// The shape of the targets.
        got: Vec<usize>,
    },
    /// Labels given to a regression loss, or values given to a classification loss.
    #[error("loss {loss} needs {expected}")]
    TargetKind {
        /// The loss's name.
        loss: &'static str,
        /// The kind of targets it needs.
        expected: &'static str,
    },
    /// A loss used with a model whose output width it cannot take.
    #[error("loss {loss} needs {expected} outputs, the model has {got}")]
    OutputWidth {
        /// The loss's name.
        loss: &'static str,
        /// What the loss needs.
        expected: &'static str,
        /// The model's output width.
        got: usize,
    },
    /// A name that is not in a registry (activation, initialiser, loss).
    #[error("unknown {kind} {name:?}; expected one of {expected}")]
    UnknownName {
        /// What was looked up.
        kind: &'static str,
        /// The name given.
        name: String,
        /// The names known.
        expected: String,
    },
    /// A weights file lacks a tensor the model needs.
    #[error("weights: tensor {name:?} is missing")]
    MissingTensor {
        /// The tensor's name.
        name: String,
    },
    /// A weights file holds a tensor the model does not have.
    #[error("weights: tensor {name:?} is not a parameter of this model")]
    ExtraTensor {
        /// The tensor's name.
        name: String,
    },
    /// A tensor with the wrong shape.
    #[error("weights: tensor {name:?} has shape {got:?}, expected {expected:?}")]
    WrongShape {
        /// The tensor's name.
        name: String,
        /// The shape the model needs.
        expected: Vec<usize>,
        /// The shape in the file.
        got: Vec<usize>,
    },
    /// A tensor with the wrong element type.
    #[error("weights: tensor {name:?} has dtype {got}, expected {expected}")]
    WrongDtype {
        /// The tensor's name.
        name: String,
        /// The dtype asked for (`F32` or `F64`).
        expected: String,
        /// The dtype in the file, as safetensors names it.
        got: String,
    },
    /// Bytes that are not a valid safetensors file.
    #[error("weights: not a valid safetensors file: {message}")]
    Safetensors {
        /// The parser's explanation.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The autodiff crate refused an input (for example a non-finite theta).
    #[error(transparent)]
    Autodiff(#[from] AutodiffError),
}

fn dims_list(dims: &[usize]) -> String {
    dims.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

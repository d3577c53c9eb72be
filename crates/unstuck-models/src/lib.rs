//! Models as pure functions of one flat parameter vector `theta` and a batch.
//!
//! A model ([`Model`]) carves its layers out of theta with `slice` + `reshape` on an
//! `unstuck_autodiff` tape, so an optimizer sees one slice, and the Hessian is one
//! `P x P` matrix over theta. The layout ([`ParamSpec`]) names every tensor as PyTorch
//! does (`layers.K.weight` of shape `(out, in)`, then `layers.K.bias`), which is what
//! lets weights move between PyTorch and unstuck as safetensors ([`save_weights`],
//! [`load_weights`]) and lets Hessian tools work per layer ([`layer_blocks`]).
//!
//! ```
//! use unstuck_autodiff::Tensor;
//! use unstuck_models::{Architecture, Loss, Mlp, Model, Objective, Targets};
//! let mlp = Mlp::from_spec("4-16-16-3:relu").unwrap();
//! let theta: Vec<f64> = mlp.init(42);
//! assert_eq!(theta.len(), mlp.n_params());
//! let x = Tensor::matrix((0..8).map(|i| i as f64 / 8.0).collect(), 2, 4).unwrap();
//! let objective = Objective::new(&mlp, x, Targets::Classes { labels: vec![0, 2], n_classes: 3 }, Loss::CrossEntropy).unwrap();
//! let (loss, gradient) = objective.gradient(&theta).unwrap();
//! assert!(loss.is_finite() && gradient.iter().all(|g| g.is_finite()));
//! ```

#![warn(missing_docs)]

mod activation;
mod chain;
mod error;
mod init;
mod layer;
mod layers;
mod layout;
mod linear;
mod loss;
mod mlp;
mod model;
pub mod net_spec;
mod objective;
mod registry;
mod residual;
mod sequential;
pub mod spec;
pub mod variants;
mod weights;

pub use activation::{Activation, DEFAULT_LEAKY_SLOPE};
pub use error::ModelError;
pub use init::{Init, InitDistribution};
pub use layer::{
    BufferDecl, BufferUpdate, Forward, Layer, LayerForward, Mode, ParamDecl, ParamInit,
    ShapeMismatch, forward_layer, mix_seeds,
};
pub use layers::{
    AvgPool2d, BatchNorm, CausalSelfAttention, Conv2d, DEFAULT_BN_MOMENTUM, DEFAULT_NORM_EPS,
    Dropout, Embedding, Flatten, LayerNorm, MaxPool2d, PoolWindow, PositionEmbedding, TokenMean,
};
pub use layout::{LayerBlock, ParamSpec, layer_blocks};
pub use linear::Linear;
pub use loss::{Loss, accuracy};
// The targets are core's, shared with the data crate.
pub use mlp::{Mlp, MlpBuilder};
pub use model::{Architecture, Model, Pass, logits};
pub use objective::{Evaluation, Objective, loss_fn};
pub use registry::{
    AnyModel, BuildLayer, BuildModel, LayerEntry, ModelEntry, ModelRegistry, shape_error, size_arg,
};
pub use residual::Residual;
pub use sequential::{Sequential, SequentialBuilder};
pub use unstuck_core::{Batch, Targets};
pub use weights::{
    load_state, load_weights, save_weights, state_from_bytes, state_to_bytes, weights_from_bytes,
    weights_to_bytes,
};

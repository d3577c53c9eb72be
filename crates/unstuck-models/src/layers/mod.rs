//! The layers, one file each; containers live in `sequential.rs` and `residual.rs`.

mod activation;
mod attention;
mod avg_pool;
mod batch_norm;
mod conv2d;
mod dropout;
mod embedding;
mod flatten;
mod layer_norm;
mod max_pool;
mod pool;
mod position_embedding;
mod token_mean;

pub use attention::CausalSelfAttention;
pub use avg_pool::AvgPool2d;
pub use batch_norm::{BatchNorm, DEFAULT_BN_MOMENTUM};
pub use conv2d::Conv2d;
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use flatten::Flatten;
pub use layer_norm::{DEFAULT_NORM_EPS, LayerNorm};
pub use max_pool::MaxPool2d;
pub use pool::PoolWindow;
pub use position_embedding::PositionEmbedding;
pub use token_mean::TokenMean;

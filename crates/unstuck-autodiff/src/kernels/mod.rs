//! Numeric kernels on borrowed views: the computations behind every op's forward arm.
//!
//! Each is written once; the tape's forward pass, the numeric backward sweep and the
//! batched Hessian-vector sweep all reach them through `op::forward`.

pub(crate) mod conv;
pub(crate) mod conv_per_example;
pub(crate) mod elementwise;
pub(crate) mod index;
pub(crate) mod layout;
pub(crate) mod matmul;
pub(crate) mod pool;
mod pool_2x2;
pub(crate) mod softmax;

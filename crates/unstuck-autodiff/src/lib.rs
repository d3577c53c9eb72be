//! Tape-based reverse-mode automatic differentiation over dense `f32`/`f64` tensors of
//! rank up to 4, with exact second derivatives.
//!
//! The ops cover what real networks are built from: broadcasting arithmetic, batched
//! matrix products, reductions and permutations along any axis, softmax, 2-D convolution
//! with stride and padding, max and average pooling, masking for causal attention,
//! embedding lookups and a seeded dropout mask.
//!
//! Every op's backward rule is written in tape ops, so a gradient can be recorded on the
//! same tape ([`Tape::grad_graph`], PyTorch's `create_graph=True`) and differentiated
//! again: that gives Hessian-vector products ([`hvp`], [`Curvature`]), the primitive the
//! Hessian analysis of `unstuck-hessian` stands on. A plain first-order gradient
//! ([`Tape::grad`], [`gradient`]) records nothing.
//!
//! ```
//! use unstuck_autodiff::{Tape, Tensor};
//! let tape = Tape::<f64>::new();
//! let w = tape.leaf(Tensor::matrix(vec![1.0, 2.0, 3.0, 4.0], 2, 2).unwrap());
//! let x = tape.constant(Tensor::matrix(vec![1.0, 0.0, 0.0, 1.0], 2, 2).unwrap());
//! let y = tape.sum(tape.tanh(tape.matmul(x, w)));
//! let g = tape.grad(y, &[w]);
//! assert!((g[0].data()[0] - (1.0 - 1f64.tanh().powi(2))).abs() < 1e-15);
//! ```

#![warn(missing_docs)]

mod api;
mod batched;
mod buffers;
mod check;
mod compose;
mod curvature;
mod error;
mod fast_exp;
mod fast_tanh;
mod grad;
mod kernels;
mod mask;
mod numeric;
mod op;
mod param_sites;
mod recorded_graph;
mod recording;
mod shape;
mod sites;
mod step;
mod sweep;
mod tape;
mod tensor;

pub use api::Conv2dOptions;
pub use check::{CheckOptions, GradCheck, check_grad, check_hvp};
pub use curvature::{Curvature, HVP_BLOCK, gradient, hvp, hvp_of_sum};
pub use error::AutodiffError;
pub use mask::Mask;
pub use op::BiasActivation;
pub use param_sites::{ElementwiseSite, GatherSite, ParameterSites};
pub use shape::{MAX_RANK, Shape};
pub use sites::{ConvSite, LinearSite};
pub use step::gradient_into;
pub use tape::{Tape, Var};
pub use tensor::Tensor;
pub use unstuck_core::{DType, Element};

#[cfg(test)]
mod op_tests;

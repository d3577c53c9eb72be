//! What every unstuck crate shares, and nothing else: the element type ([`Element`],
//! `f32` or `f64`), the one spec-string grammar ([`spec`]), atomic file writes
//! ([`write_atomic`]), what a model is trained on ([`Batch`], [`Targets`]), element
//! loops compiled for the running CPU ([`vectorized`]) and rayon workers kept awake for
//! the length of a training step ([`with_hot_workers`]).
//!
//! This crate depends on no other crate of the workspace; every other crate may depend
//! on it.

#![warn(missing_docs)]

mod atomic;
mod batch;
mod dispatch;
mod element;
mod hot_workers;
pub mod spec;

pub use atomic::write_atomic;
pub use batch::{Batch, BatchError, BatchTargets, Targets};
pub use dispatch::vectorized;
pub use element::{DType, Element, ElementSlice, ElementSliceMut, ElementVec, first_non_finite};
pub use hot_workers::{HOT_STEP_PARAMS, with_hot_step, with_hot_workers};

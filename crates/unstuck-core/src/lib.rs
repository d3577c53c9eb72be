//! What every unstuck crate shares, and nothing else: the element type ([`Element`],
//! `f32` or `f64`).
//!
//! This crate depends on no other crate of the workspace; every other crate may depend
//! on it.

#![warn(missing_docs)]

mod element;

pub use element::{DType, Element, ElementSlice, ElementSliceMut, ElementVec};

//! What the workspace's tests share, and nothing they ship: the golden answers PyTorch
//! computed (`fixtures/`, copied from the project's golden files, described in
//! `fixtures/README.md`) with their loaders ([`golden`]), and, with the feature
//! `scenarios`, the guide's five seeded failure scenarios ([`scenarios`]), the test bench
//! of `unstuck::diagnose` used by its tests and by the report; [`threads::with_threads`]
//! for the determinism tests.
//!
//! Not published: a user's crate never depends on it.

pub mod golden;
#[cfg(feature = "scenarios")]
pub mod scenarios;
pub mod threads;

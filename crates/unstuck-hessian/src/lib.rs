//! Hessian analysis for "my network fails to train": tell a saddle from a minimum, escape
//! it, and measure sharpness.
//!
//! Every tool stands on one primitive, [`HvpOperator`]: something that applies the Hessian
//! to a block of vectors. The crate knows nothing of models; an autodiff tape, an explicit
//! matrix or one layer's block ([`BlockOperator`]) all plug in the same way.
//!
//! * Dense: [`full_hessian`] (parallel over column blocks, asymmetry reported),
//!   [`DenseHessian::eigen`] / [`DenseHessian::eigenvalues`] (faer's self-adjoint solver),
//!   [`classify_critical_point`], [`minimum_ratio`], [`analyze_critical_point`].
//! * Matrix-free, all seeded: [`lanczos`] (both ends, full reorthogonalisation, a second
//!   Gram-Schmidt pass only when DGKS asks for it),
//!   [`power_iteration`] (PyHessian's baseline), [`hutchinson_trace`] and
//!   [`hutch_plus_plus_trace`], [`spectral_density`] (stochastic Lanczos quadrature),
//!   [`track_curvature`] (`λ_max` and the trace from one Krylov space, for curves).
//! * [`summarize`] under a [`SpectrumPolicy`]: the one choice between the two (dense up to
//!   [`DENSE_MAX_DIM`], Lanczos above), with one tolerance for Ritz values.
//! * Moving the point ([`LossSurface`]): [`escape_step`] / [`escape_saddle`],
//!   [`refine_critical_point`], [`epsilon_sharpness`]; and [`lambda_max`].
//!
//! * From `unstuck-autodiff`: `Curvature<f64>` is an [`HvpOperator`], [`TapeObjective`]
//!   turns a tape closure `Fn(&Tape<f64>, Var) -> Var` into a [`LossSurface`], and
//!   [`hessian_of`] / [`analyze_tape_function`] do the dense path in one call.
//!
//! Everything is `f64`: this is where precision is the point.
#![warn(missing_docs)]

mod analysis;
mod autodiff;
mod block;
mod classify;
mod dense;
mod density;
mod divide_conquer;
mod eigen;
mod error;
mod escape;
mod householder;
mod lanczos;
mod merge_product;
mod operator;
mod power;
mod refine;
mod secular;
mod sharpness;
mod summary;
mod surface;
mod symv;
mod trace;
mod tracking;
mod tridiag;
mod vector;

pub use analysis::{CriticalPointAnalysis, EscapeDirection, analyze_critical_point, analyze_dense};
pub use autodiff::{TapeObjective, analyze_tape_function, hessian_of};
pub use block::{BlockOperator, BlockSummary, ParamBlock, block_summaries};
pub use classify::{
    ClassifyTolerances, CriticalPointKind, SignCounts, classify_critical_point, classify_spectrum,
    minimum_ratio, sign_counts,
};
pub use dense::{DEFAULT_BLOCK_COLUMNS, DenseHessian, full_hessian, full_hessian_with_block};
pub use density::{
    DensityCurve, DensityGrid, QuadratureRule, SlqConfig, SpectralDensity, spectral_density,
};
pub use eigen::{BLOCKED_MIN_DIM, EIGEN_SPLIT, SymmetricEigen};
pub use error::HessianError;
pub use escape::{EscapeConfig, EscapeStep, escape_saddle, escape_step};
pub use lanczos::{EigenPair, LanczosConfig, LanczosResult, SpectrumEnd, lanczos, lanczos_from};
pub use operator::{DenseOperator, HvpOperator, apply_checked};
pub use power::{PowerConfig, PowerPair, PowerResult, power_iteration};
pub use refine::{RefineConfig, Refinement, refine_critical_point};
pub use sharpness::{EpsilonSharpness, SharpnessConfig, epsilon_sharpness, lambda_max};
pub use summary::{
    DENSE_MAX_DIM, LANCZOS_TOL, RITZ_ZERO_REL, SpectrumMethod, SpectrumPolicy, SpectrumSummary,
    summarize,
};
pub use surface::{ExplicitObjective, LossSurface};
pub use trace::{TraceConfig, TraceEstimate, hutch_plus_plus_trace, hutchinson_trace};
pub use tracking::{CurvatureSnapshot, TrackingConfig, track_curvature};

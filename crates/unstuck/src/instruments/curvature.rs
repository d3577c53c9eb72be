//! Curvature over time: the largest Hessian eigenvalue by Lanczos, warm-started from the
//! last top eigenvector, and the Hessian trace by Hutchinson, on the step's batch, with
//! `λ_max × lr` against the stability limit 2 of gradient descent.
//!
//! Plain gradient descent on a quadratic with curvature `λ` diverges along that
//! direction once `lr · λ > 2`; Cohen et al. ("Gradient Descent on Neural Networks
//! Typically Occurs at the Edge of Stability", 2021) found full-batch training drives
//! `λ_max` up to `2 / lr` and hovers there. For SGD with momentum `β` the limit is
//! `(2 + 2β) / lr`; the record keeps the plain-SGD limit 2 and says so.
//!
//! Cost per measurement: `iters` Hessian-vector products at most for Lanczos (each about
//! two to three times a gradient) plus `probes` for the trace, batched.

use super::InstrumentError;
use crate::history::CurvatureRecord;
use unstuck_hessian::{
    LanczosConfig, SpectrumEnd, TraceConfig, hutchinson_trace, lanczos, lanczos_from,
};
use unstuck_models::{Objective, mix_seeds};

/// Settings of the curvature instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurvatureConfig {
    /// Measure every this many steps (at steps 0, every, 2 every, ...).
    pub every: u64,
    /// At most this many Lanczos steps (Hessian-vector products) per measurement.
    pub iters: usize,
    /// Rademacher probes for the trace; 0 leaves the trace out.
    pub probes: usize,
    /// Seeds the first start vector and the probes (mixed with the step).
    pub seed: u64,
}

impl Default for CurvatureConfig {
    fn default() -> Self {
        CurvatureConfig {
            every: 50,
            iters: 20,
            probes: 10,
            seed: 0,
        }
    }
}

/// A Lanczos tolerance loose enough that a warm start converges in a few steps, tight
/// enough for a curve: the eigenvalue's error is at most the residual, `1e-4 ‖T‖`.
const TRACKING_TOL: f64 = 1e-4;

/// Tracks `λ_max` across a run, keeping the last top eigenvector for the next start.
#[derive(Debug, Clone, Default)]
pub struct CurvatureTracker {
    config: CurvatureConfig,
    last_vector: Option<Vec<f64>>,
}

impl CurvatureTracker {
    /// A tracker with no eigenvector yet (the first measurement starts from a random
    /// vector seeded by the step's seed).
    pub fn new(config: CurvatureConfig) -> Self {
        CurvatureTracker {
            config,
            last_vector: None,
        }
    }

    /// The last top eigenvector: where the next measurement's Lanczos starts.
    pub fn last_vector(&self) -> Option<&[f64]> {
        self.last_vector.as_deref()
    }

    /// Sets where the next measurement's Lanczos starts (a resumed run's checkpoint); a
    /// vector that does not fit the model at the next measurement is ignored.
    pub fn set_last_vector(&mut self, start: Option<Vec<f64>>) {
        self.last_vector = start;
    }

    /// Measures at `theta` on `objective`'s batch, for a step taken with learning rate `lr`.
    pub fn measure(
        &mut self,
        objective: &Objective<'_, f64>,
        theta: &[f64],
        step: u64,
        lr: f64,
    ) -> Result<CurvatureRecord, InstrumentError> {
        let curvature = objective.curvature(theta)?;
        let seed = mix_seeds(self.config.seed, step);
        let lanczos_config = LanczosConfig {
            k: 1,
            end: SpectrumEnd::Largest,
            max_iter: self.config.iters.max(1),
            tol: TRACKING_TOL,
            seed,
        };
        let result = match self.last_vector.take() {
            Some(start) if start.len() == theta.len() => {
                lanczos_from(&curvature, lanczos_config, start)?
            }
            _ => lanczos(&curvature, lanczos_config)?,
        };
        let top = result
            .largest
            .into_iter()
            .next()
            .expect("k = 1 gives one pair");
        let trace = if self.config.probes >= 2 {
            let trace_config = TraceConfig {
                n_hvp: self.config.probes,
                block: self.config.probes.min(16),
                seed,
            };
            Some(hutchinson_trace(&curvature, trace_config)?)
        } else {
            None
        };
        let record = CurvatureRecord {
            step,
            lambda_max: top.value,
            residual: top.residual,
            lanczos_steps: result.n_hvp,
            lr,
            lambda_max_lr: top.value * lr,
            stability_limit: 2.0,
            trace: trace.map(|t| t.estimate),
            trace_std_error: trace.map(|t| t.std_error),
        };
        self.last_vector = Some(top.vector);
        Ok(record)
    }
}

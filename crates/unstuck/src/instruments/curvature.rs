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
//! Cost per measurement: one recording of the gradient graph, `lanczos_steps` single
//! Hessian-vector products (at most `iters`; with the warm start and its tolerance
//! `1e-2 ‖T‖`, about 5 on a fixed batch and 6-11 in a run, where each measurement sees a
//! new batch) and `probes` more in one batched sweep. On the digits network (64-32-10,
//! batch 32) a Hessian-vector product costs less than a training step (callgrind: 340k
//! instructions through the checked operator, against 390k for a step). In a whole
//! 10-epoch `unstuck train digits` run (450 steps, evaluation every epoch) a measurement
//! every 50 steps costs 5.6M instructions each: 2.6M for 7.7 Lanczos products, 1.5M
//! for the 4 probes, 0.9M of Lanczos bookkeeping (one Gram-Schmidt pass per step, a
//! second only when DGKS asks for it), 0.4M to record the gradient graph and 0.2M for
//! the Ritz vector; `Trainer::fit` takes 21% more instructions than without it (289.7M
//! against 239.3M; `cargo xtask bench --only instruments/digits` for the wall clock), and
//! the whole `unstuck train digits --model 64-32-10:relu` process, which also reads and
//! splits the data, 16.9% more (352.2M against 301.3M; 13% more wall time by the means of
//! 100 interleaved runs each, on 1 and on 2 threads).

use super::InstrumentError;
use crate::history::CurvatureRecord;
use unstuck_hessian::{TrackingConfig, track_curvature};
use unstuck_models::{Objective, mix_seeds};

/// Settings of the curvature instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurvatureConfig {
    /// Measure every this many steps (at steps 0, every, 2 every, ...).
    pub every: u64,
    /// At most this many Lanczos steps (Hessian-vector products) per measurement.
    pub iters: usize,
    /// Rademacher probes for the trace, on top of the Lanczos basis (see
    /// [`unstuck_hessian::track_curvature`]); fewer than 2 leaves the trace out.
    pub probes: usize,
    /// Seeds the first start vector and the probes (mixed with the step).
    pub seed: u64,
}

impl Default for CurvatureConfig {
    /// Every 50 steps, at most 20 Lanczos steps, 4 probes.
    ///
    /// Four probes after deflating the Lanczos basis keep the trace's standard error at
    /// about 8% of the trace on the digits network (64-32-10, batch 32, measured against
    /// the dense Hessian's trace at four points of a run: every estimate within 1.3
    /// standard errors); plain Hutchinson needed 10 probes for 4.5%. The error is
    /// recorded with each point (`trace_std_error`), so a curve shows its own precision.
    fn default() -> Self {
        CurvatureConfig {
            every: 50,
            iters: 20,
            probes: 4,
            seed: 0,
        }
    }
}

/// The Lanczos tolerance of a measurement: the top Ritz pair's residual at most
/// `1e-2 ‖T‖`. A Ritz value is a lower bound of `λ_max` and errs by at most the residual,
/// and by about `residual² / gap` once the top eigenvalue is isolated: on the digits
/// network the warm-started values were 2-5·10⁻⁴ below the dense Hessian's `λ_max`
/// (with 4-5 Hessian-vector products; `1e-4` took 11 for 10⁻⁸), far inside what a curve of
/// `λ_max · lr` against the limit 2 can show.
const TRACKING_TOL: f64 = 1e-2;

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
        let tracking = TrackingConfig {
            max_iter: self.config.iters.max(1),
            tol: TRACKING_TOL,
            // One probe gives no error bar: the trace is left out, as with 0.
            probes: if self.config.probes >= 2 {
                self.config.probes
            } else {
                0
            },
            seed: mix_seeds(self.config.seed, step),
        };
        let start = self
            .last_vector
            .take()
            .filter(|start| start.len() == theta.len());
        let snapshot = track_curvature(&curvature, tracking, start)?;
        let (top, trace) = (snapshot.top, snapshot.trace);
        let record = CurvatureRecord {
            step,
            lambda_max: top.value,
            residual: top.residual,
            lanczos_steps: snapshot.lanczos_steps,
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

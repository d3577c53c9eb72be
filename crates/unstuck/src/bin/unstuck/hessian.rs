//! `unstuck hessian`: the Hessian of the training loss at saved weights: the second-order
//! reading of the point, the extreme eigenvalues, the trace, the spectral density and a
//! per-layer table.

use crate::cli::HessianArgs;
use crate::data;
use crate::error::{CliError, Result};
use crate::output::Outputs;
use crate::{plot, specs};
use serde::Serialize;
use std::fmt::Write as _;
use unstuck::TrainError;
use unstuck::diagnose::{full_objective, loss_for};
use unstuck::hessian::{
    BlockSummary, BlockSummaryConfig, ClassifyTolerances, DensityGrid, HessianError, LanczosConfig,
    ParamBlock, SlqConfig, SpectrumEnd, TraceConfig, block_summaries, classify_critical_point,
    full_hessian, hutch_plus_plus_trace, lanczos, minimum_ratio, spectral_density,
};
use unstuck::models::{Architecture, ModelError, layer_blocks, load_weights};

/// Lanczos extremes count as nonzero beyond this fraction of the largest magnitude (an
/// exact dense spectrum uses the hessian crate's 1e-10).
const LANCZOS_REL_TOL: f64 = 1e-6;

/// Everything `unstuck hessian` reports.
#[derive(Debug, Serialize)]
struct HessianReport {
    model: String,
    n_params: usize,
    n_rows: usize,
    loss: f64,
    gradient_norm: f64,
    /// `dense` (every eigenvalue, exact) or `lanczos` (the extremes only).
    method: String,
    classification: String,
    /// Fraction of positive eigenvalues (dense only).
    minimum_ratio: Option<f64>,
    smallest: Vec<f64>,
    largest: Vec<f64>,
    lanczos_converged: Option<bool>,
    trace: f64,
    trace_std_error: f64,
    hvps: usize,
    layers: Vec<Layer>,
}

#[derive(Debug, Serialize)]
struct Layer {
    name: String,
    n_params: usize,
    min_eigenvalue: f64,
    max_eigenvalue: f64,
    trace: f64,
    exact: bool,
}

impl From<BlockSummary> for Layer {
    fn from(b: BlockSummary) -> Self {
        Layer {
            name: b.name,
            n_params: b.dim,
            min_eigenvalue: b.min_eigenvalue,
            max_eigenvalue: b.max_eigenvalue,
            trace: b.trace,
            exact: b.exact,
        }
    }
}

fn hessian_error(error: HessianError) -> CliError {
    CliError::Train(TrainError::Hessian(error))
}

pub(crate) fn run(args: HessianArgs) -> Result<()> {
    let parts = data::load(&args.data, &args.data_options, args.seed)?;
    let model = specs::model(&args.model, &parts.train)?;
    let n_params = model.n_params();
    if args.k == 0 || args.k > n_params {
        return Err(CliError::argument(
            "-k",
            &args.k.to_string(),
            format!("must be between 1 and the model's {n_params} parameters"),
        ));
    }
    if args.max_iter == 0 {
        return Err(CliError::argument("--max-iter", "0", "must be at least 1"));
    }
    let theta: Vec<f64> = load_weights(&model, &args.weights).map_err(|error| match error {
        // The path is already in front of the message.
        ModelError::Io { source, .. } => {
            CliError::file(&args.weights, format!("cannot read: {source}"))
        }
        other => CliError::file(&args.weights, other),
    })?;
    let loss = loss_for(&parts.train, model.output_width());
    let objective = full_objective(&model, &parts.train, loss)?;
    let (value, gradient) = objective.gradient(&theta).map_err(TrainError::from)?;
    let gradient_norm = gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
    let curvature = objective.curvature(&theta).map_err(TrainError::from)?;
    let mut hvps = 0;

    let dense = n_params <= args.dense_max;
    let (smallest, largest, eigen_for_class, rel, converged, ratio, trace, trace_se) = if dense {
        let h = full_hessian(&curvature).map_err(hessian_error)?;
        hvps += n_params;
        let values = h.eigenvalues().map_err(hessian_error)?;
        let k = args.k;
        let smallest = values[..k].to_vec();
        let largest = values[n_params - k..].iter().rev().copied().collect();
        let rel = ClassifyTolerances::default().eigenvalue_rel;
        let ratio = minimum_ratio(&values, rel).map_err(hessian_error)?;
        (
            smallest,
            largest,
            values,
            rel,
            None,
            Some(ratio),
            h.trace(),
            0.0,
        )
    } else {
        let result = lanczos(
            &curvature,
            LanczosConfig {
                k: args.k,
                end: SpectrumEnd::Both,
                max_iter: args.max_iter,
                tol: 1e-8,
                seed: args.seed,
            },
        )
        .map_err(hessian_error)?;
        hvps += result.n_hvp;
        let smallest: Vec<f64> = result.smallest.iter().map(|p| p.value).collect();
        let largest: Vec<f64> = result.largest.iter().map(|p| p.value).collect();
        let trace = hutch_plus_plus_trace(
            &curvature,
            TraceConfig {
                seed: args.seed,
                ..TraceConfig::default()
            },
        )
        .map_err(hessian_error)?;
        hvps += trace.n_hvp;
        let extremes = [smallest[0], largest[0]];
        (
            smallest,
            largest,
            extremes.to_vec(),
            LANCZOS_REL_TOL,
            Some(result.converged),
            None,
            trace.estimate,
            trace.std_error,
        )
    };
    let tolerances = ClassifyTolerances {
        eigenvalue_rel: rel,
        gradient_abs: unstuck::StuckConfig::default().grad_tol,
    };
    let kind = classify_critical_point(gradient_norm, &eigen_for_class, tolerances)
        .map_err(hessian_error)?;

    let density = spectral_density(
        &curvature,
        SlqConfig {
            n_probes: 4,
            lanczos_steps: args.max_iter.min(80),
            seed: args.seed,
        },
    )
    .map_err(hessian_error)?;
    hvps += density.n_hvp;
    let curve = density
        .smoothed(DensityGrid {
            n_points: 1000,
            ..DensityGrid::default()
        })
        .map_err(hessian_error)?;

    let blocks: Vec<ParamBlock> = layer_blocks(model.layout())
        .into_iter()
        .map(|block| ParamBlock::new(block.name, block.range))
        .collect();
    let summaries = block_summaries(
        &curvature,
        &blocks,
        BlockSummaryConfig {
            dense_max_dim: 256,
            lanczos: LanczosConfig {
                max_iter: args.max_iter.min(100),
                seed: args.seed,
                ..LanczosConfig::default()
            },
            trace: TraceConfig {
                seed: args.seed,
                ..TraceConfig::default()
            },
        },
    )
    .map_err(hessian_error)?;
    hvps += summaries.iter().map(|s| s.n_hvp).sum::<usize>();

    let report = HessianReport {
        model: model.to_string(),
        n_params,
        n_rows: parts.train.n_rows(),
        loss: value,
        gradient_norm,
        method: if dense { "dense" } else { "lanczos" }.to_string(),
        classification: kind.as_str().to_string(),
        minimum_ratio: ratio,
        smallest,
        largest,
        lanczos_converged: converged,
        trace,
        trace_std_error: trace_se,
        hvps,
        layers: summaries.into_iter().map(Layer::from).collect(),
    };
    let json = serde_json::to_string_pretty(&report).map_err(|error| {
        CliError::Train(TrainError::Config(format!(
            "cannot serialize the report: {error}"
        )))
    })?;
    if args.json {
        println!("{json}");
    } else {
        print!("{}", text(&report));
    }
    if let Some(dir) = &args.out {
        let mut outputs = Outputs::default();
        outputs.add("hessian.json", json.into_bytes());
        outputs.add(
            "density.svg",
            plot::density(&curve.grid, &curve.density)?.into_bytes(),
        );
        for path in outputs.commit(dir)? {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

fn list(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| format!("{v:.6e}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn text(r: &HessianReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Hessian of the training loss of {} ({} parameters) on {} rows",
        r.model, r.n_params, r.n_rows
    );
    let _ = writeln!(
        out,
        "  loss {:.6}, gradient norm {:.3e}",
        r.loss, r.gradient_norm
    );
    let method = match (r.method.as_str(), r.lanczos_converged) {
        ("dense", _) => "dense, exact".to_string(),
        (_, Some(true)) => "Lanczos, converged".to_string(),
        _ => "Lanczos, not converged: bounds".to_string(),
    };
    let _ = writeln!(out, "  classification: {} ({method})", r.classification);
    if let Some(ratio) = r.minimum_ratio {
        let _ = writeln!(
            out,
            "  minimum ratio (fraction of positive eigenvalues): {ratio:.4}"
        );
    }
    let _ = writeln!(out, "  smallest eigenvalues: {}", list(&r.smallest));
    let _ = writeln!(out, "  largest eigenvalues:  {}", list(&r.largest));
    if r.trace_std_error > 0.0 {
        let _ = writeln!(
            out,
            "  trace {:.6e} +- {:.2e} (Hutch++)",
            r.trace, r.trace_std_error
        );
    } else {
        let _ = writeln!(out, "  trace {:.6e}", r.trace);
    }
    let _ = writeln!(out, "  Hessian-vector products used: {}", r.hvps);
    let _ = writeln!(out, "Per layer (diagonal blocks):");
    let _ = writeln!(
        out,
        "  {:<12} {:>8} {:>14} {:>14} {:>14}  method",
        "layer", "params", "min eig", "max eig", "trace"
    );
    for layer in &r.layers {
        let _ = writeln!(
            out,
            "  {:<12} {:>8} {:>14.6e} {:>14.6e} {:>14.6e}  {}",
            layer.name,
            layer.n_params,
            layer.min_eigenvalue,
            layer.max_eigenvalue,
            layer.trace,
            if layer.exact {
                "dense"
            } else {
                "lanczos + hutch++"
            }
        );
    }
    out
}

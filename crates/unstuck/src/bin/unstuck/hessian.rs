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
use unstuck::autodiff::Curvature;
use unstuck::hessian::{
    BlockSummary, CriticalPointKind, DensityCurve, DensityGrid, HessianError, LanczosConfig,
    ParamBlock, SlqConfig, SpectrumMethod, SpectrumPolicy, TraceConfig, block_summaries,
    spectral_density, summarize,
};
use unstuck::models::{AnyModel, Model, ModelError, layer_blocks, load_state};
use unstuck::task::{check_training_batches, full_objective, loss_for};

/// Per-layer blocks get at most this many Lanczos steps each (there may be many layers).
const BLOCK_MAX_ITER: usize = 100;

/// Everything `unstuck hessian` reports.
#[derive(Debug, Serialize)]
struct HessianReport {
    model: String,
    n_params: usize,
    n_rows: usize,
    loss: f64,
    gradient_norm: f64,
    /// `dense` (every eigenvalue, exact) or `lanczos` (the extremes only).
    method: SpectrumMethod,
    classification: CriticalPointKind,
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

/// Checks the flags that `clap` cannot.
fn check_args(args: &HessianArgs, n_params: usize) -> Result<()> {
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
    Ok(())
}

/// Names the first weight that is not finite by its tensor and index (`layers.0.bias[2]`).
fn check_finite(model: &dyn AnyModel, theta: &[f64]) -> std::result::Result<(), String> {
    let Some(index) = theta.iter().position(|t| !t.is_finite()) else {
        return Ok(());
    };
    let spec = model
        .layout()
        .iter()
        .find(|spec| spec.range().contains(&index))
        .expect("the layout covers theta");
    let mut rest = index - spec.offset;
    let mut position = vec![0; spec.shape.len()];
    for (axis, size) in spec.shape.iter().enumerate().rev() {
        position[axis] = rest % size;
        rest /= size;
    }
    let position: Vec<String> = position.iter().map(usize::to_string).collect();
    Err(format!(
        "{}[{}] is {}",
        spec.name,
        position.join(", "),
        theta[index]
    ))
}

/// The whole Hessian: dense up to `--dense-max` parameters, Lanczos and Hutch++ above.
fn policy(args: &HessianArgs) -> SpectrumPolicy {
    SpectrumPolicy {
        dense_max_dim: args.dense_max,
        k: args.k,
        lanczos: LanczosConfig {
            max_iter: args.max_iter,
            seed: args.seed,
            ..SpectrumPolicy::default().lanczos
        },
        trace: Some(TraceConfig {
            seed: args.seed,
            ..TraceConfig::default()
        }),
        lowest_vector: false,
    }
}

pub(crate) fn run(mut args: HessianArgs, explicit: &[String]) -> Result<()> {
    let target = crate::hessian_run::resolve(&mut args, explicit)?;
    let parts = data::load(&target.data, &args.data_options, args.seed)?;
    let model = specs::model(&target.model, &parts.train)?;
    let n_params = model.n_params();
    check_args(&args, n_params)?;
    let weights = &target.weights;
    // The running statistics a layered model's file may hold are not needed: the Hessian is
    // that of the training-mode loss.
    let theta: Vec<f64> = load_state(model.as_ref(), weights)
        .map(|(theta, _)| theta)
        .map_err(|error| match error {
            // The path is already in front of the message.
            ModelError::Io { source, .. } => {
                CliError::file(weights, format!("cannot read: {source}"))
            }
            other => CliError::file(weights, other),
        })?;
    check_finite(model.as_ref(), &theta).map_err(|message| CliError::file(weights, message))?;
    let loss = loss_for(&parts.train, model.output_width());
    let model_ref: &dyn Model<f64> = model.as_ref();
    // The Hessian is that of the training-mode loss: a batch norm needs more than one
    // value per channel there, as in training.
    check_training_batches(model_ref, parts.train.n_rows(), parts.train.n_rows(), false)?;
    let objective = full_objective(model_ref, &parts.train, loss)?;
    let (value, gradient) = objective.gradient(&theta).map_err(TrainError::from)?;
    let gradient_norm = gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
    let curvature = objective.curvature(&theta).map_err(TrainError::from)?;

    let policy = policy(&args);
    let whole = summarize(&curvature, &policy).map_err(hessian_error)?;
    let classification = whole
        .kind(gradient_norm, unstuck::StuckConfig::default().grad_tol)
        .map_err(hessian_error)?;
    let (curve, density_hvps) = density(&curvature, &args)?;
    let layers = layers(&curvature, model.as_ref(), &policy, &args)?;
    let trace = whole.trace.expect("the policy asks for a trace");
    let report = HessianReport {
        model: model.to_string(),
        n_params,
        n_rows: parts.train.n_rows(),
        loss: value,
        gradient_norm,
        method: whole.method,
        classification,
        minimum_ratio: whole.minimum_ratio().map_err(hessian_error)?,
        lanczos_converged: (whole.method == SpectrumMethod::Lanczos).then_some(whole.converged),
        hvps: whole.n_hvp + density_hvps + layers.iter().map(|l| l.n_hvp).sum::<usize>(),
        smallest: whole.smallest,
        largest: whole.largest,
        trace: trace.estimate,
        trace_std_error: trace.std_error,
        layers: layers.into_iter().map(Layer::from).collect(),
    };
    write(&report, &curve, &args)
}

/// One summary per layer tensor (its diagonal Hessian block), under the same size limit
/// as the whole Hessian.
fn layers(
    curvature: &Curvature<f64>,
    model: &dyn AnyModel,
    policy: &SpectrumPolicy,
    args: &HessianArgs,
) -> Result<Vec<BlockSummary>> {
    let blocks: Vec<ParamBlock> = layer_blocks(model.layout())
        .into_iter()
        .map(|block| ParamBlock::new(block.name, block.range))
        .collect();
    let block_policy = SpectrumPolicy {
        lanczos: LanczosConfig {
            max_iter: args.max_iter.min(BLOCK_MAX_ITER),
            ..policy.lanczos
        },
        ..*policy
    };
    block_summaries(curvature, &blocks, &block_policy).map_err(hessian_error)
}

/// The smoothed spectral density (stochastic Lanczos quadrature) and its HVPs.
fn density(curvature: &Curvature<f64>, args: &HessianArgs) -> Result<(DensityCurve, usize)> {
    let density = spectral_density(
        curvature,
        SlqConfig {
            n_probes: 4,
            lanczos_steps: args.max_iter.min(80),
            seed: args.seed,
        },
    )
    .map_err(hessian_error)?;
    let curve = density
        .smoothed(DensityGrid {
            n_points: 1000,
            ..DensityGrid::default()
        })
        .map_err(hessian_error)?;
    Ok((curve, density.n_hvp))
}

/// Prints the report (text or JSON) and, with `--out`, writes it with the density plot.
fn write(report: &HessianReport, curve: &DensityCurve, args: &HessianArgs) -> Result<()> {
    let json = serde_json::to_string_pretty(report)
        .map_err(|error| CliError::Output(format!("cannot serialize the report: {error}")))?;
    if args.json {
        println!("{json}");
    } else {
        print!("{}", text(report));
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
    let method = match (r.method, r.lanczos_converged) {
        (SpectrumMethod::Dense, _) => "dense, exact",
        (_, Some(true)) => "Lanczos, converged",
        _ => "Lanczos, not converged: bounds",
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

//! Model, optimizer and schedule specs from the command line, with errors that name the
//! flag.

use crate::error::{CliError, Result};
use unstuck::data::Dataset;
use unstuck::models::{Architecture, Mlp};
use unstuck::optim::{Optimizer, Registry, parse_schedule};
use unstuck::task::check_model_fits;

/// Models beyond this many parameters are refused before anything is allocated: theta,
/// gradients and optimizer state of a bigger one would not fit in memory anyway.
const MAX_PARAMS: usize = 50_000_000;

/// Parses `--model` and checks it against the training data.
pub(crate) fn model(spec: &str, train: &Dataset<f64>) -> Result<Mlp> {
    let mlp = Mlp::from_spec(spec).map_err(|error| CliError::argument("--model", spec, error))?;
    if mlp.n_params() > MAX_PARAMS {
        return Err(CliError::argument(
            "--model",
            spec,
            format!(
                "{} parameters is more than this program trains ({MAX_PARAMS})",
                mlp.n_params()
            ),
        ));
    }
    check_model_fits(&mlp, train).map_err(|error| CliError::argument("--model", spec, error))?;
    Ok(mlp)
}

/// Builds `--optim`, with `--schedule` on top.
pub(crate) fn optimizer(optim: &str, schedule: Option<&str>) -> Result<Box<dyn Optimizer<f64>>> {
    let mut optimizer = Registry::<f64>::builtin()
        .build(optim)
        .map_err(|error| CliError::argument("--optim", optim, error))?;
    if let Some(schedule) = schedule {
        if optim.contains("schedule=") {
            return Err(CliError::argument(
                "--schedule",
                schedule,
                "the --optim spec already has a schedule=(...)",
            ));
        }
        let base_lr = optimizer.lr();
        let built = parse_schedule(schedule, base_lr)
            .map_err(|error| CliError::argument("--schedule", schedule, error))?;
        optimizer.set_schedule(built);
    }
    Ok(optimizer)
}

//! `unstuck hessian --run DIR`: the data, split, model and weights of a run folder, with
//! a warning for every flag that says otherwise (the flag wins: the user asked for it).

use crate::cli::HessianArgs;
use crate::error::{CliError, Result};
use crate::train::read_record;
use serde_json::Value;
use std::path::PathBuf;

/// What the analysis runs on.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) data: String,
    pub(crate) model: String,
    pub(crate) weights: PathBuf,
}

/// The target from the flags alone, or from `--run` and the flags given on the command
/// line (`explicit`, by clap's argument ids); sets `args.data_options` and `args.seed`
/// to the run's unless a flag gave them.
pub(crate) fn resolve(args: &mut HessianArgs, explicit: &[String]) -> Result<Target> {
    let Some(dir) = args.run.clone() else {
        // clap requires DATA, --model and --weights without --run.
        return Ok(Target {
            data: args.data.clone().unwrap_or_default(),
            model: args.model.clone().unwrap_or_default(),
            weights: args.weights.clone().unwrap_or_default(),
        });
    };
    let record = read_record(&dir)?;
    let run_json = dir.join(crate::run_folder::RUN);
    let given = |id: &str| explicit.iter().any(|e| e == id);
    let warn = |flag: &str, ours: &str, theirs: &str| {
        eprintln!(
            "warning: {flag} {ours} differs from the run's {theirs} ({}); using {ours}",
            run_json.display()
        );
    };
    let pick = |id: &str, flag: &str, ours: Option<String>, theirs: String| match ours {
        Some(ours) if given(id) && ours != theirs => {
            warn(flag, &ours, &theirs);
            ours
        }
        _ => theirs,
    };
    let data = pick("data", "DATA", args.data.clone(), record.data.clone());
    let model = pick("model", "--model", args.model.clone(), record.model.clone());
    let weights = dir.join("state").join("weights.safetensors");
    if !weights.exists() {
        return Err(CliError::file(
            &dir,
            "has no saved state yet (the run stopped before its first checkpoint)",
        ));
    }
    let weights = pick(
        "weights",
        "--weights",
        args.weights.as_ref().map(|w| w.display().to_string()),
        weights.display().to_string(),
    );
    let seed = pick(
        "seed",
        "--seed",
        Some(args.seed.to_string()),
        record.run.seed.to_string(),
    );
    args.seed = seed.parse().expect("a seed printed by us parses");
    args.data_options = merge_data_options(args, &record.data_options, &given, &warn)?;
    Ok(Target {
        data,
        model,
        weights: PathBuf::from(weights),
    })
}

/// The run's data options, with each one given on the command line taking its place.
fn merge_data_options(
    args: &HessianArgs,
    run: &crate::cli::DataOptions,
    given: &dyn Fn(&str) -> bool,
    warn: &dyn Fn(&str, &str, &str),
) -> Result<crate::cli::DataOptions> {
    let to_map = |options: &crate::cli::DataOptions| match serde_json::to_value(options) {
        Ok(Value::Object(map)) => map,
        _ => unreachable!("data options serialize to an object"),
    };
    let ours = to_map(&args.data_options);
    let mut merged = to_map(run);
    for (id, value) in &ours {
        if given(id) && merged.get(id) != Some(value) {
            let theirs = merged.get(id).map(Value::to_string).unwrap_or_default();
            warn(
                &format!("--{}", id.replace('_', "-")),
                &value.to_string(),
                &theirs,
            );
            merged.insert(id.clone(), value.clone());
        }
    }
    serde_json::from_value(Value::Object(merged))
        .map_err(|error| CliError::Output(format!("cannot merge the data options: {error}")))
}

//! `unstuck diagnose`: the lecture's general guide on the user's data.

use crate::cli::DiagnoseArgs;
use crate::data;
use crate::error::{CliError, Result};
use crate::specs;
use unstuck::diagnose::{DiagnoseConfig, DiagnoseData, Registries, diagnose_with};

pub(crate) fn run(args: DiagnoseArgs) -> Result<()> {
    if args.epochs == 0 {
        return Err(CliError::argument("--epochs", "0", "must be at least 1"));
    }
    if args.seeds == 0 {
        return Err(CliError::argument("--seeds", "0", "must be at least 1"));
    }
    let parts = data::load(&args.data, &args.data_options, args.run.seed)?;
    let Some(validation) = parts.validation.as_ref() else {
        return Err(CliError::argument(
            "--validation",
            "0",
            "diagnose needs a validation set (a fraction above 0)",
        ));
    };
    // Checked here so that errors name the flag; diagnose checks again.
    specs::model(&args.model, &parts.train)?;
    specs::optimizer(&args.run.optim, args.run.schedule.as_deref())?;
    let n_rows = parts.train.n_rows();
    if args.run.batch == 0 || args.run.batch > n_rows {
        return Err(CliError::argument(
            "--batch",
            &args.run.batch.to_string(),
            format!("must be between 1 and the {n_rows} training rows"),
        ));
    }
    let config = DiagnoseConfig {
        schedule: args.run.schedule.clone(),
        batch_size: args.run.batch,
        epochs: args.epochs,
        seed: args.run.seed,
        seeds: args.seeds,
        progress: true,
        ..DiagnoseConfig::new(&args.model, &args.run.optim)
    };
    let data = DiagnoseData {
        train: &parts.train,
        validation,
        test: parts.test.as_ref(),
    };
    // The program's registries; a user's own program passes theirs to `diagnose_with`.
    let diagnosis = diagnose_with(&data, &config, &Registries::builtin())?;
    if args.json {
        println!("{}", diagnosis.to_json());
    } else {
        println!("{diagnosis}");
    }
    Ok(())
}

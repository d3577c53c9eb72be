//! `unstuck`: train a network, diagnose why it fails to train, look at its Hessian.
//!
//! This file parses and dispatches; each subcommand lives in `unstuck/<name>.rs`.

// The modules live in `src/bin/unstuck/`, beside this file.
#[path = "unstuck"]
mod app {
    pub(crate) mod cli;
    pub(crate) mod data;
    pub(crate) mod diagnose;
    pub(crate) mod error;
    pub(crate) mod hessian;
    pub(crate) mod hessian_run;
    pub(crate) mod list;
    pub(crate) mod output;
    pub(crate) mod plot;
    pub(crate) mod run_folder;
    pub(crate) mod serve;
    pub(crate) mod signals;
    pub(crate) mod specs;
    pub(crate) mod sweep;
    pub(crate) mod sweep_output;
    pub(crate) mod sweep_spec;
    pub(crate) mod train;
    pub(crate) mod view;
}

use app::{
    cli, data, diagnose, error, hessian, hessian_run, list, output, plot, run_folder, serve,
    signals, specs, sweep, sweep_output, sweep_spec, train, view,
};

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use cli::{Cli, Command};
use error::CliError;
use std::process::ExitCode;

/// Parses the command line; a usage error is one line (clap's first) and exit code 2.
fn parse() -> Result<(Cli, ArgMatches), ExitCode> {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches).map(|cli| (cli, matches)));
    parsed.map_err(|error| match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // Help is what was asked for (or all there is to say): print it whole.
            let _ = error.print();
            ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2))
        }
        _ => {
            let rendered = error.render().to_string();
            let first = rendered.lines().next().unwrap_or("error: bad usage");
            eprintln!("{first} (see --help)");
            ExitCode::from(2)
        }
    })
}

/// The ids of the subcommand's arguments given on the command line (not defaults).
fn explicit_flags(matches: &ArgMatches) -> Vec<String> {
    let Some((_, sub)) = matches.subcommand() else {
        return Vec::new();
    };
    sub.ids()
        .filter(|id| sub.value_source(id.as_str()) == Some(ValueSource::CommandLine))
        .map(|id| id.as_str().to_string())
        .collect()
}

fn main() -> ExitCode {
    let (cli, matches) = match parse() {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let result = match cli.command {
        Command::Train(args) => train::run(args),
        Command::Diagnose(args) => diagnose::run(args),
        Command::Hessian(args) => hessian::run(args, &explicit_flags(&matches)),
        Command::List(args) => list::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::View(args) => view::run(args),
    };
    match result {
        Ok(()) | Err(CliError::StdoutClosed) => ExitCode::SUCCESS,
        Err(CliError::Interrupted { code, message }) => {
            eprintln!("interrupted: {message}");
            ExitCode::from(code)
        }
        Err(error) => {
            // One line, whatever the underlying message holds.
            let message = error.to_string().replace(['\n', '\r'], " ");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

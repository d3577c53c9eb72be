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
    pub(crate) mod list;
    pub(crate) mod output;
    pub(crate) mod plot;
    pub(crate) mod specs;
    pub(crate) mod sweep;
    pub(crate) mod sweep_output;
    pub(crate) mod sweep_spec;
    pub(crate) mod train;
}

use app::{
    cli, data, diagnose, error, hessian, list, output, plot, specs, sweep, sweep_output,
    sweep_spec, train,
};

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(args),
        Command::Diagnose(args) => diagnose::run(args),
        Command::Hessian(args) => hessian::run(args),
        Command::List(args) => list::run(args),
        Command::Sweep(args) => sweep::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, whatever the underlying message holds.
            let message = error.to_string().replace(['\n', '\r'], " ");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

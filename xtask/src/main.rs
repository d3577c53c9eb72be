//! Project chores: `cargo xtask <command>`. This file only parses and dispatches.

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  report    run the lecture's experiments and write docs/report/ (Markdown + SVG)
  help      print this message";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("report") => report(&args[1..]),
        Some("help") | Some("--help") | Some("-h") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("error: unknown command `{other}`\n\n{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The report needs the trainer and every library crate; until they land it says what it
/// will do and fails, so that nobody mistakes silence for a report.
fn report(_args: &[String]) -> ExitCode {
    eprintln!(
        "error: `cargo xtask report` is not available yet.\n\
         It will run the lecture's experiments (saddle, minimum-ratio, optimizers, schedules,\n\
         batch-size, guide) and write docs/report/README.md, SVG figures and manifest.json.\n\
         It lands with the training-loop issue; today only the library crates exist."
    );
    ExitCode::FAILURE
}

//! Project chores: `cargo xtask <command>`. This file only parses and dispatches.

mod bench;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command> [options]

commands:
  report    run the lecture's experiments and write a reproducible report
            (Markdown + SVG figures + manifest.json with the SHA-256 of every artifact)
  bench     time full training steps and Hessian work, beside PyTorch/JAX when
            UNSTUCK_ANCHOR_PYTHON names a Python with torch and jax (wrap it in
            `flock /tmp/bench.lock`; not run by CI)
  help      print this message

report options:
  --quick        small sizes (under a minute); default output target/report-quick/
  --only NAME    run one experiment (see the list below)
  --out DIR      where to write (default docs/report/)
  --check        run the report twice in a temporary directory, with RAYON_NUM_THREADS=1
                 and =2, compare every hashed artifact (and, for the full report, the
                 checked-in docs/report/manifest.json); print what differs, fail if anything does

bench options:
  --only TEXT      run the benchmarks whose name contains TEXT (e.g. train/mnist, hessian/)
  --threads LIST   rayon (and anchor) thread counts, comma-separated (default 1,2)
  --rounds N       interleaved rounds (default 3)
  --quick          shorter repetitions";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("report") => parse_report(&args[1..]).and_then(report::main),
        Some("bench") => parse_bench(&args[1..]).and_then(bench::main),
        Some("help" | "--help" | "-h") => {
            println!(
                "{USAGE}\n\nexperiments: {}",
                report::experiment_names().join(", ")
            );
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(anyhow::anyhow!("unknown command `{other}`\n\n{USAGE}")),
        None => Err(anyhow::anyhow!("no command given\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse_report(args: &[String]) -> anyhow::Result<report::Options> {
    let mut options = report::Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--check" => options.check = true,
            "--only" => {
                let name = args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--only needs a NAME"))?;
                if !report::experiment_names().contains(&name.as_str()) {
                    anyhow::bail!(
                        "--only {name}: no such experiment (choose from {})",
                        report::experiment_names().join(", ")
                    );
                }
                options.only = Some(name.clone());
            }
            "--out" => {
                let dir = args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--out needs a DIR"))?;
                options.out = Some(PathBuf::from(dir));
            }
            other => anyhow::bail!("report: unknown option `{other}`\n\n{USAGE}"),
        }
    }
    Ok(options)
}

fn parse_bench(args: &[String]) -> anyhow::Result<bench::Options> {
    let mut options = bench::Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))
        };
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--only" => options.only = Some(value("--only")?),
            "--rounds" => {
                options.rounds = value("--rounds")?.parse()?;
                anyhow::ensure!(options.rounds > 0, "--rounds must be at least 1");
            }
            "--threads" => {
                options.threads = value("--threads")?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?;
                anyhow::ensure!(
                    !options.threads.is_empty() && !options.threads.contains(&0),
                    "--threads needs counts of at least 1"
                );
            }
            other => anyhow::bail!("bench: unknown option `{other}`\n\n{USAGE}"),
        }
    }
    Ok(options)
}

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
  --quick         small sizes (under a minute); default output target/report-quick/
  --only NAME     run one experiment (see the list below)
  --out DIR       where to write (default docs/report/; with --shard, target/report-parts/)
  --update        also refresh timings.md in the output (never written otherwise; every
                  run's timings go to target/report-timings/)
  --check         run the report twice in a temporary directory, with RAYON_NUM_THREADS=1
                  and =2, compare every hashed artifact (and, for the full report, the
                  checked-in docs/report/); print what differs, fail if anything does
  --verify        regenerate the full report in a temporary directory and check that the
                  checked-in docs/report/ is exactly what this commit generates
  --shard I/N     run only part I (0-based) of N and write DIR/part-I-of-N.json; without
                  --shard, a Slurm array task (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed
                  Job pod (JOB_COMPLETION_INDEX) runs its own part
  --shards N      the number of parts, with the index from SLURM_ARRAY_TASK_ID or
                  JOB_COMPLETION_INDEX (needed on Kubernetes and for a resubmitted index)
  --merge DIR...  assemble the report from the parts in DIR... (byte-identical to the report
                  made on one machine); refuses missing, duplicated or foreign parts

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
    let mut args = args.iter().peekable();
    while let Some(arg) = args.next() {
        let mut value = |what: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("{arg} needs {what}"))
        };
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--check" => options.check = true,
            "--verify" => options.verify = true,
            "--update" => options.update = true,
            "--only" => {
                let name = value("a NAME")?;
                if !report::experiment_names().contains(&name.as_str()) {
                    anyhow::bail!(
                        "--only {name}: no such experiment (choose from {})",
                        report::experiment_names().join(", ")
                    );
                }
                options.only = Some(name);
            }
            "--out" => options.out = Some(PathBuf::from(value("a DIR")?)),
            "--shard" => options.shard = Some(unstuck::shard::Shard::parse(&value("I/N")?)?),
            "--shards" => {
                let n = value("a number N")?;
                let count: usize = n
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--shards {n}: not a number"))?;
                if count == 0 {
                    anyhow::bail!("--shards 0: the number of parts must be at least 1");
                }
                options.shards = Some(count);
            }
            "--merge" => {
                while let Some(dir) = args.next_if(|a| !a.starts_with("--")) {
                    options.merge.push(PathBuf::from(dir));
                }
                if options.merge.is_empty() {
                    anyhow::bail!("--merge needs at least one DIR of parts");
                }
            }
            other => anyhow::bail!("report: unknown option `{other}` (see `cargo xtask help`)"),
        }
    }
    let modes = [
        options.check,
        options.verify,
        options.shard.is_some() || options.shards.is_some(),
        !options.merge.is_empty(),
    ];
    if modes.iter().filter(|m| **m).count() > 1 {
        anyhow::bail!("--check, --verify, --shard/--shards and --merge cannot be combined");
    }
    if !options.merge.is_empty() && (options.quick || options.only.is_some()) {
        anyhow::bail!("--merge takes --quick and --only from the parts; do not repeat them");
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

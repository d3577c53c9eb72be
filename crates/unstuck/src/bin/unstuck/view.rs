//! `unstuck view DIR`, and the live view of `unstuck train --watch`: the same page,
//! served from the run folder alone.

use crate::cli::{ServeOptions, ViewArgs};
use crate::error::{CliError, Result};
use crate::serve::Server;
use std::path::Path;

/// Starts serving `dir`'s live view and says where on stderr.
pub(crate) fn start(dir: &Path, serve: &ServeOptions) -> Result<Server> {
    let server = Server::start(dir, serve.bind, serve.port)?;
    eprintln!("live view of {} at {}", dir.display(), server.url());
    Ok(server)
}

pub(crate) fn run(args: ViewArgs) -> Result<()> {
    if !args.dir.join(crate::run_folder::RUN).is_file() {
        return Err(CliError::file(
            &args.dir,
            "is not a run folder (no run.json): `unstuck train --out DIR` writes one",
        ));
    }
    let _server = start(&args.dir, &args.serve)?;
    // Serves until the process is stopped (Ctrl-C).
    loop {
        std::thread::park();
    }
}

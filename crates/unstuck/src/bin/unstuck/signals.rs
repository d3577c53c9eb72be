//! SIGINT and SIGTERM during `unstuck train --out`: the first one lets the current epoch
//! finish, and the run saves its state and exits with the signal's conventional code
//! (130 or 143); a second one exits at once with that code, leaving the last state.

use crate::error::{CliError, Result};
use signal_hook::consts::{SIGINT, SIGTERM};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Whether a stop was asked for, and by which signal.
#[derive(Debug)]
pub(crate) struct Interrupts {
    code: Arc<AtomicUsize>,
}

impl Interrupts {
    /// Installs the handlers for the rest of the process.
    pub(crate) fn install() -> Result<Self> {
        let asked = Arc::new(AtomicBool::new(false));
        let code = Arc::new(AtomicUsize::new(0));
        for (signal, exit_code) in [(SIGINT, 130), (SIGTERM, 143)] {
            let registered = signal_hook::flag::register_conditional_shutdown(
                signal,
                exit_code,
                Arc::clone(&asked),
            )
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&asked)))
            .and_then(|_| {
                signal_hook::flag::register_usize(signal, Arc::clone(&code), exit_code as usize)
            });
            registered.map_err(|error| {
                CliError::Output(format!("cannot handle signal {signal}: {error}"))
            })?;
        }
        Ok(Interrupts { code })
    }

    /// The exit code of the signal received (130 for SIGINT, 143 for SIGTERM), if any.
    pub(crate) fn received(&self) -> Option<u8> {
        match self.code.load(Ordering::SeqCst) {
            0 => None,
            code => Some(u8::try_from(code).unwrap_or(1)),
        }
    }
}

//! One progress bar over the stages of a diagnosis, on a terminal only.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// The stages' bar; hidden unless asked for and stderr is a terminal.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub(crate) fn new(enabled: bool, stages: u64) -> Self {
        if !(enabled && std::io::stderr().is_terminal()) {
            return Progress { bar: None };
        }
        let bar = ProgressBar::with_draw_target(Some(stages), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("diagnose {bar:30} {pos}/{len} {msg} [{elapsed}]")
        {
            bar.set_style(style);
        }
        Progress { bar: Some(bar) }
    }

    /// Starts the next stage.
    pub(crate) fn stage(&self, name: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(name.to_string());
            bar.inc(1);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

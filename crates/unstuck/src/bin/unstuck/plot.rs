//! SVG figures, rendered to strings with plotters.

use crate::error::{CliError, Result};
use unstuck::History;
use unstuck::plot::{Series, lines};

fn plot_error(error: unstuck::plot::PlotError) -> CliError {
    CliError::Output(format!("cannot draw the figure: {error}"))
}

/// Training (and validation) loss per epoch.
pub(crate) fn loss_curve(history: &History) -> Result<String> {
    let train: Vec<(f64, f64)> = history
        .epochs
        .iter()
        .map(|e| (e.epoch as f64 + 1.0, e.train_loss))
        .collect();
    let validation: Vec<(f64, f64)> = history
        .epochs
        .iter()
        .filter_map(|e| e.validation_loss.map(|loss| (e.epoch as f64 + 1.0, loss)))
        .collect();
    let mut series = vec![Series::new("training loss", train)];
    if !validation.is_empty() {
        series.push(Series::new("validation loss", validation));
    }
    lines("Loss per epoch", "epoch", "loss", &series).map_err(plot_error)
}

/// The smoothed spectral density of the Hessian.
pub(crate) fn density(grid: &[f64], density: &[f64]) -> Result<String> {
    let points = grid.iter().copied().zip(density.iter().copied()).collect();
    lines(
        "Hessian eigenvalue density (stochastic Lanczos quadrature)",
        "eigenvalue",
        "density",
        &[Series::new("density", points)],
    )
    .map_err(plot_error)
}

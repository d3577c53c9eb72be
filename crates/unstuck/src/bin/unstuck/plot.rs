//! SVG figures, rendered to strings with plotters.

use crate::error::{CliError, Result};
use unstuck::History;
use unstuck::plot::{Axes, Series, lines};

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
    lines(
        "Loss per epoch",
        &Axes::new("epoch", "loss").integer_x(),
        &series,
    )
    .map_err(plot_error)
}

/// The smoothed spectral density of the Hessian, on a log scale so that the few outlying
/// eigenvalues show beside the bulk.
pub(crate) fn density(grid: &[f64], density: &[f64]) -> Result<String> {
    // The smoothing's Gaussian tails reach 1e-300; eight decades below the peak is as far
    // down as anything can be read.
    let peak = density.iter().copied().fold(0.0, f64::max);
    let floor = peak * 1e-8;
    let points = grid
        .iter()
        .copied()
        .zip(density.iter().map(|&d| d.max(floor)))
        .collect();
    lines(
        "Hessian eigenvalue density (stochastic Lanczos quadrature)",
        &Axes::new("eigenvalue", "density").log_y(),
        &[Series::new("density", points)],
    )
    .map_err(plot_error)
}

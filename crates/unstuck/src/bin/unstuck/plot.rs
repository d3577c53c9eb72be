//! SVG figures, rendered to strings with plotters.

use crate::error::{CliError, Result};
use plotters::prelude::*;
use unstuck::History;

const SIZE: (u32, u32) = (720, 480);

fn plot_error<E: std::fmt::Debug>(error: E) -> CliError {
    CliError::Train(unstuck::TrainError::Config(format!(
        "plotting failed: {error:?}"
    )))
}

/// `[lo, hi]` of the finite values, padded by 5%; a fallback for no data.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (0.0, 1.0);
    }
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    (lo - 0.05 * span, hi + 0.05 * span)
}

/// One or more named lines.
fn lines(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> Result<String> {
    let (x0, x1) = range(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)));
    let (y0, y1) = range(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)));
    let colors = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
    ];
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()
            .map_err(plot_error)?;
        for (i, (name, points)) in series.iter().enumerate() {
            let color = colors[i % colors.len()];
            let finite = points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite());
            chart
                .draw_series(LineSeries::new(finite, color.stroke_width(2)))
                .map_err(plot_error)?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
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
    let mut series = vec![("training loss", train)];
    if !validation.is_empty() {
        series.push(("validation loss", validation));
    }
    lines("Loss per epoch", "epoch", "loss", &series)
}

/// The smoothed spectral density of the Hessian.
pub(crate) fn density(grid: &[f64], density: &[f64]) -> Result<String> {
    let points = grid.iter().copied().zip(density.iter().copied()).collect();
    lines(
        "Hessian eigenvalue density (stochastic Lanczos quadrature)",
        "eigenvalue",
        "density",
        &[("density", points)],
    )
}

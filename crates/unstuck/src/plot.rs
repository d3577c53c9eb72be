//! SVG figures with plotters, rendered to strings: the CLI writes them atomically, the
//! report hashes them before writing. Available with the `cli` feature (on by default).

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// One named line (or path) of points.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend's label.
    pub name: String,
    /// The points, in drawing order.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A named series.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
        }
    }
}

const SIZE: (u32, u32) = (720, 480);

/// Plotters refused to draw (it reports its backend's errors as text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plotting failed: {0}")]
pub struct PlotError(String);

/// What the plotting functions return.
pub type Result<T> = std::result::Result<T, PlotError>;

fn err<E: std::fmt::Debug>(e: E) -> PlotError {
    PlotError(format!("{e:?}"))
}

fn color(i: usize) -> RGBColor {
    // Twelve distinguishable colours: the report compares up to a dozen optimizers at once.
    const COLORS: [RGBColor; 12] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
        RGBColor(188, 189, 34),
        RGBColor(127, 127, 127),
        RGBColor(0, 0, 128),
        RGBColor(128, 0, 0),
    ];
    COLORS[i % COLORS.len()]
}

fn bounds(series: &[Series]) -> ((f64, f64), (f64, f64)) {
    let finite = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in finite {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return ((0.0, 1.0), (0.0, 1.0));
    }
    let pad = |a: f64, b: f64| {
        let span = if b > a { b - a } else { a.abs().max(1.0) };
        (a - 0.05 * span, b + 0.05 * span)
    };
    (pad(x0, x1), pad(y0, y1))
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A chart with axes sized to `series`, labels and a legend; `draw` adds the series.
fn framed(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    draw: impl FnOnce(&mut Chart<'_, '_>) -> Result<()>,
) -> Result<String> {
    let ((x0, x1), (y0, y1)) = bounds(series);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .draw()
            .map_err(err)?;
        draw(&mut chart)?;
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A line chart of several series with a legend.
pub fn lines(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> Result<String> {
    framed(title, x_label, y_label, series, |chart| {
        for (i, s) in series.iter().enumerate() {
            let finite = s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite());
            chart
                .draw_series(LineSeries::new(finite, color(i).stroke_width(2)))
                .map_err(err)?
                .label(s.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color(i)));
        }
        Ok(())
    })
}

/// A scatter plot of labelled point groups.
pub fn scatter(title: &str, x_label: &str, y_label: &str, groups: &[Series]) -> Result<String> {
    framed(title, x_label, y_label, groups, |chart| {
        for (i, g) in groups.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series(g.points.iter().map(|&p| Circle::new(p, 4, c.filled())))
                .map_err(err)?
                .label(g.name.as_str())
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, c.filled()));
        }
        Ok(())
    })
}

/// A labelled point on a surface plot.
#[derive(Debug, Clone)]
pub struct Marker {
    /// Where.
    pub at: (f64, f64),
    /// The text beside it.
    pub label: String,
}

/// A 2-D surface shaded by `log10(1 + f - min f)`, with paths drawn over it and markers.
pub fn surface(
    title: &str,
    f: &dyn Fn(f64, f64) -> f64,
    x_range: (f64, f64),
    y_range: (f64, f64),
    paths: &[Series],
    markers: &[Marker],
) -> Result<String> {
    const CELLS: usize = 40;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 600)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
            .map_err(err)?;
        chart.configure_mesh().disable_mesh().draw().map_err(err)?;
        let dx = (x_range.1 - x_range.0) / CELLS as f64;
        let dy = (y_range.1 - y_range.0) / CELLS as f64;
        let mut values = Vec::with_capacity(CELLS * CELLS);
        for i in 0..CELLS {
            for j in 0..CELLS {
                let x = x_range.0 + (i as f64 + 0.5) * dx;
                let y = y_range.0 + (j as f64 + 0.5) * dy;
                values.push((i, j, f(x, y)));
            }
        }
        // Shade by log10(1 + f - min f): surfaces may dip below zero, and the log keeps the
        // valleys visible next to steep walls.
        let floor = values.iter().map(|v| v.2).fold(f64::INFINITY, f64::min);
        for v in &mut values {
            v.2 = (1.0 + v.2 - floor).log10();
        }
        let top = values
            .iter()
            .map(|v| v.2)
            .fold(f64::MIN, f64::max)
            .max(1e-12);
        chart
            .draw_series(values.iter().map(|&(i, j, v)| {
                let x = x_range.0 + i as f64 * dx;
                let y = y_range.0 + j as f64 * dy;
                let shade = (255.0 * (1.0 - 0.75 * v / top)) as u8;
                Rectangle::new(
                    [(x, y), (x + dx, y + dy)],
                    RGBColor(shade, shade, 255).filled(),
                )
            }))
            .map_err(err)?;
        let inside = |&(x, y): &(f64, f64)| {
            x >= x_range.0 && x <= x_range.1 && y >= y_range.0 && y <= y_range.1
        };
        for (i, path) in paths.iter().enumerate() {
            let c = color(i);
            let points: Vec<(f64, f64)> = path.points.iter().copied().filter(inside).collect();
            chart
                .draw_series(LineSeries::new(points, c.stroke_width(2)))
                .map_err(err)?
                .label(path.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c));
        }
        for marker in markers.iter().filter(|m| inside(&m.at)) {
            chart
                .draw_series([
                    Circle::new(marker.at, 5, BLACK.filled()).into_dyn(),
                    Text::new(marker.label.clone(), marker.at, ("sans-serif", 14)).into_dyn(),
                ])
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

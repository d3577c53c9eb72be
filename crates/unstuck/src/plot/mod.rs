//! SVG figures with plotters, rendered to strings: the CLI writes them atomically, the
//! report hashes them before writing. Available with the `cli` feature (on by default).
//!
//! Every figure follows the same rules: axis titles on both axes; integer ticks on step
//! and epoch axes; legends below the data, never over it; at most [`MAX_PER_PANEL`]
//! series per panel, more become small multiples with shared axes; a colour scale beside
//! every shaded surface; a log scale where the values span decades.

mod surface;

pub use surface::{Marker, SurfacePlot, surface, surface_panels};

use plotters::coord::Shift;
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

/// More series than this in one panel become small multiples.
pub const MAX_PER_PANEL: usize = 5;

/// Plotters refused to draw (it reports its backend's errors as text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plotting failed: {0}")]
pub struct PlotError(String);

/// What the plotting functions return.
pub type Result<T> = std::result::Result<T, PlotError>;

fn err<E: std::fmt::Debug>(e: E) -> PlotError {
    PlotError(format!("{e:?}"))
}

/// How the y axis maps values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Evenly spaced values.
    Linear,
    /// Evenly spaced decades; values at or below zero are left out.
    Log,
}

/// The axes of a chart: their titles, and how they tick.
#[derive(Debug, Clone, Copy)]
pub struct Axes<'a> {
    /// The x axis's title (`step`, `epoch`, `w1`, ...).
    pub x_label: &'a str,
    /// The y axis's title.
    pub y_label: &'a str,
    /// Ticks at whole numbers only (steps, epochs).
    pub x_integer: bool,
    /// The y axis's scale.
    pub y_scale: Scale,
}

impl<'a> Axes<'a> {
    /// Linear axes with these titles.
    pub fn new(x_label: &'a str, y_label: &'a str) -> Self {
        Axes {
            x_label,
            y_label,
            x_integer: false,
            y_scale: Scale::Linear,
        }
    }

    /// Whole-number ticks on x.
    pub fn integer_x(mut self) -> Self {
        self.x_integer = true;
        self
    }

    /// A log scale on y.
    pub fn log_y(mut self) -> Self {
        self.y_scale = Scale::Log;
        self
    }
}

/// One panel of small multiples: a title and its series.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Shown above the panel.
    pub title: String,
    /// At most [`MAX_PER_PANEL`] series.
    pub series: Vec<Series>,
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

/// One colour per distinct series name, in order of first appearance across the panels:
/// a series shown in several panels (a reference line) keeps its colour.
struct Palette(Vec<String>);

impl Palette {
    fn of(panels: &[Panel]) -> Self {
        let mut names: Vec<String> = Vec::new();
        for s in panels.iter().flat_map(|p| &p.series) {
            if !names.contains(&s.name) {
                names.push(s.name.clone());
            }
        }
        Palette(names)
    }

    fn color(&self, series: &Series) -> RGBColor {
        color(self.0.iter().position(|n| *n == series.name).unwrap_or(0))
    }
}

/// Splits `series` into panels of at most [`MAX_PER_PANEL`], keeping their order.
pub fn panels_of(series: &[Series]) -> Vec<Panel> {
    let n_panels = series.len().div_ceil(MAX_PER_PANEL).max(1);
    let per_panel = series.len().div_ceil(n_panels).max(1);
    series
        .chunks(per_panel)
        .enumerate()
        .map(|(i, chunk)| Panel {
            title: if n_panels > 1 {
                format!("({})", (b'a' + i as u8) as char)
            } else {
                String::new()
            },
            series: chunk.to_vec(),
        })
        .collect()
}

/// The y value as drawn: itself, or its log10 (None when a log axis cannot show it).
fn y_drawn(y: f64, scale: Scale) -> Option<f64> {
    match scale {
        Scale::Linear => y.is_finite().then_some(y),
        Scale::Log => (y.is_finite() && y > 0.0).then(|| y.log10()),
    }
}

fn drawn_points(series: &Series, scale: Scale) -> Vec<(f64, f64)> {
    series
        .points
        .iter()
        .filter(|(x, _)| x.is_finite())
        .filter_map(|&(x, y)| y_drawn(y, scale).map(|y| (x, y)))
        .collect()
}

fn bounds(points: impl Iterator<Item = (f64, f64)>) -> ((f64, f64), (f64, f64)) {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in points {
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

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

const LEGEND_ROW: i32 = 18;

/// A legend under a panel: a line (or dot) and the name, one entry per row.
fn legend(area: &Area<'_>, entries: &[(String, RGBColor)], dots: bool) -> Result<()> {
    for (row, (name, c)) in entries.iter().enumerate() {
        let y = 8 + row as i32 * LEGEND_ROW;
        if dots {
            area.draw(&Circle::new((22, y), 4, c.filled()))
                .map_err(err)?;
        } else {
            area.draw(&PathElement::new(vec![(12, y), (34, y)], c.stroke_width(3)))
                .map_err(err)?;
        }
        area.draw(&Text::new(name.clone(), (42, y - 7), ("sans-serif", 14)))
            .map_err(err)?;
    }
    Ok(())
}

fn legend_height(max_entries: usize) -> u32 {
    (max_entries as i32 * LEGEND_ROW + 12) as u32
}

/// Axes, titles and tick labels of one panel.
fn mesh(chart: &mut Chart<'_, '_>, axes: &Axes<'_>, x_span: f64, y_span: f64) -> Result<()> {
    let integer = axes.x_integer;
    // Whole-number ticks: never more labels than whole numbers in the range.
    let x_labels = if integer {
        (x_span.floor() as usize + 1).clamp(2, 10)
    } else {
        8
    };
    let log = axes.y_scale == Scale::Log;
    let x_fmt = move |v: &f64| {
        if integer {
            format!("{v:.0}")
        } else {
            tick(*v, x_span)
        }
    };
    let y_fmt = move |v: &f64| {
        if log {
            // Within a decade, labels need more than one digit to differ.
            let digits = if y_span >= 1.5 {
                0
            } else if y_span >= 0.3 {
                1
            } else {
                2
            };
            format!("{:.digits$e}", 10f64.powf(*v))
        } else {
            tick(*v, y_span)
        }
    };
    chart
        .configure_mesh()
        .x_desc(axes.x_label)
        .y_desc(if log {
            format!("{} (log scale)", axes.y_label)
        } else {
            axes.y_label.to_string()
        })
        .x_labels(x_labels)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(err)
}

/// A tick label with as many digits as the axis's spacing needs (`span` is the axis's
/// range): plain for ordinary magnitudes, scientific for very large or small ones.
fn tick(v: f64, span: f64) -> String {
    let step = (span / 8.0).abs().max(f64::MIN_POSITIVE);
    let magnitude = v.abs().max(span.abs());
    if v == 0.0 {
        return "0".into();
    }
    if !(1e-3..1e5).contains(&magnitude) {
        let digits = (magnitude / step).log10().ceil().clamp(0.0, 6.0) as usize;
        return format!("{v:.digits$e}");
    }
    let decimals = (-step.log10()).ceil().clamp(0.0, 8.0) as usize;
    let text = format!("{v:.decimals$}");
    if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        "0".into()
    } else {
        text
    }
}

fn grid(n: usize) -> (usize, usize) {
    let cols = n.clamp(1, 3);
    (n.div_ceil(cols), cols)
}

/// Draws `panels` (small multiples) with shared axes; `draw` puts one panel's series in.
fn figure(
    title: &str,
    axes: &Axes<'_>,
    panels: &[Panel],
    cell: (u32, u32),
    dots: bool,
    draw: impl Fn(&mut Chart<'_, '_>, &[(RGBColor, &Series)]) -> Result<()>,
) -> Result<String> {
    let scale = axes.y_scale;
    let ((x0, x1), (y0, y1)) = bounds(
        panels
            .iter()
            .flat_map(|p| p.series.iter())
            .flat_map(|s| drawn_points(s, scale)),
    );
    let (rows, cols) = grid(panels.len());
    let most = panels.iter().map(|p| p.series.len()).max().unwrap_or(0);
    let legend_h = legend_height(most);
    let size = (cell.0 * cols as u32, (cell.1 + legend_h) * rows as u32 + 40);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let body = root.titled(title, ("sans-serif", 20)).map_err(err)?;
        let cells = body.split_evenly((rows, cols));
        let palette = Palette::of(panels);
        for (panel, area) in panels.iter().zip(&cells) {
            let (plot_area, legend_area) = area.split_vertically(cell.1);
            let mut chart = ChartBuilder::on(&plot_area)
                .caption(&panel.title, ("sans-serif", 16))
                .margin(10)
                .x_label_area_size(45)
                .y_label_area_size(70)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(err)?;
            mesh(&mut chart, axes, x1 - x0, y1 - y0)?;
            let colored: Vec<(RGBColor, &Series)> =
                panel.series.iter().map(|s| (palette.color(s), s)).collect();
            draw(&mut chart, &colored)?;
            let entries: Vec<(String, RGBColor)> =
                colored.iter().map(|(c, s)| (s.name.clone(), *c)).collect();
            legend(&legend_area.margin(0, 0, 60, 0), &entries, dots)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A line chart; more than [`MAX_PER_PANEL`] series become small multiples.
pub fn lines(title: &str, axes: &Axes<'_>, series: &[Series]) -> Result<String> {
    line_panels(title, axes, &panels_of(series))
}

/// Line charts side by side with shared axes, one per panel.
pub fn line_panels(title: &str, axes: &Axes<'_>, panels: &[Panel]) -> Result<String> {
    let cell = if panels.len() == 1 {
        (760, 420)
    } else {
        (480, 380)
    };
    let scale = axes.y_scale;
    figure(title, axes, panels, cell, false, |chart, numbered| {
        for &(c, s) in numbered {
            chart
                .draw_series(LineSeries::new(drawn_points(s, scale), c.stroke_width(2)))
                .map_err(err)?;
        }
        Ok(())
    })
}

/// A scatter plot of labelled point groups.
pub fn scatter(title: &str, axes: &Axes<'_>, groups: &[Series]) -> Result<String> {
    let scale = axes.y_scale;
    figure(
        title,
        axes,
        &panels_of(groups),
        (760, 420),
        true,
        |chart, numbered| {
            for &(c, g) in numbered {
                chart
                    .draw_series(
                        drawn_points(g, scale)
                            .into_iter()
                            .map(|p| Circle::new(p, 4, c.filled())),
                    )
                    .map_err(err)?;
            }
            Ok(())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text of every `<text>` element.
    pub(super) fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                t.split_once('>')
                    .and_then(|(_, rest)| rest.split_once("</text>"))
            })
            .map(|(inner, _)| inner.trim().to_string())
            .collect()
    }

    #[test]
    fn tick_labels_carry_the_digits_the_spacing_needs() {
        assert_eq!(tick(0.0189, 0.0012), "0.0189");
        assert_eq!(tick(0.5, 3.0), "0.5");
        assert_eq!(tick(150.0, 400.0), "150");
        assert_eq!(tick(2.5e-6, 1e-5), "2.5e-6");
        assert_eq!(tick(1e-20, 1.0), "0");
    }

    #[test]
    fn many_series_become_panels_of_at_most_five() {
        let series: Vec<Series> = (0..11)
            .map(|i| Series::new(format!("s{i}"), vec![(0.0, i as f64)]))
            .collect();
        let panels = panels_of(&series);
        assert_eq!(panels.len(), 3);
        assert!(panels.iter().all(|p| p.series.len() <= MAX_PER_PANEL));
        assert_eq!(panels.iter().map(|p| p.series.len()).sum::<usize>(), 11);
        assert_eq!(panels_of(&series[..5]).len(), 1);
    }

    #[test]
    fn integer_axes_label_whole_numbers_and_log_axes_decades() {
        let series = [Series::new(
            "loss",
            vec![(1.0, 1.0), (2.0, 0.1), (3.0, 0.001)],
        )];
        let svg = lines(
            "t",
            &Axes::new("epoch", "loss").integer_x().log_y(),
            &series,
        )
        .unwrap();
        let texts = texts(&svg);
        assert!(texts.contains(&"epoch".to_string()), "{texts:?}");
        assert!(texts.contains(&"loss (log scale)".to_string()), "{texts:?}");
        assert!(
            texts.contains(&"1e-2".to_string()),
            "decade labels: {texts:?}"
        );
        assert!(texts.contains(&"2".to_string()), "{texts:?}");
        assert!(
            !texts.iter().any(|t| t == "1.5" || t == "2.5"),
            "no half epochs: {texts:?}"
        );
    }
}

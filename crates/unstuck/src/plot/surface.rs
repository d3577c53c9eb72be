//! Shaded 2-D surfaces with paths over them, a colour scale beside them.

use super::{
    Area, Palette, Panel, Result, Series, err, grid, legend, legend_height, panels_of, tick,
};
use plotters::prelude::*;

/// A labelled point on a surface plot.
#[derive(Debug, Clone)]
pub struct Marker {
    /// Where.
    pub at: (f64, f64),
    /// The text beside it.
    pub label: String,
}

/// What a surface plot shows: its title, axes and the window of the plane.
#[derive(Debug, Clone, Copy)]
pub struct SurfacePlot<'a> {
    /// Above the figure.
    pub title: &'a str,
    /// The horizontal parameter (`w1`).
    pub x_label: &'a str,
    /// The vertical parameter (`w2`).
    pub y_label: &'a str,
    /// The horizontal window.
    pub x_range: (f64, f64),
    /// The vertical window.
    pub y_range: (f64, f64),
}

const CELLS: usize = 40;

/// The shading: `log10(1 + f - min f)` scaled to [0, 1] (surfaces may dip below zero, and
/// the log keeps valleys visible next to steep walls).
struct Shading {
    floor: f64,
    top: f64,
}

impl Shading {
    fn of(values: &[f64]) -> Self {
        let floor = values.iter().copied().fold(f64::INFINITY, f64::min);
        let top = values
            .iter()
            .map(|v| (1.0 + v - floor).log10())
            .fold(f64::MIN, f64::max)
            .max(1e-12);
        Shading { floor, top }
    }

    fn level(&self, f: f64) -> f64 {
        ((1.0 + f - self.floor).log10() / self.top).clamp(0.0, 1.0)
    }

    fn value_at(&self, level: f64) -> f64 {
        self.floor + 10f64.powf(level * self.top) - 1.0
    }

    fn color(level: f64) -> RGBColor {
        let shade = (255.0 * (1.0 - 0.75 * level)) as u8;
        RGBColor(shade, shade, 255)
    }
}

fn cell_centres(plot: &SurfacePlot<'_>) -> Vec<(f64, f64)> {
    let dx = (plot.x_range.1 - plot.x_range.0) / CELLS as f64;
    let dy = (plot.y_range.1 - plot.y_range.0) / CELLS as f64;
    (0..CELLS * CELLS)
        .map(|k| {
            let (i, j) = (k / CELLS, k % CELLS);
            (
                plot.x_range.0 + (i as f64 + 0.5) * dx,
                plot.y_range.0 + (j as f64 + 0.5) * dy,
            )
        })
        .collect()
}

/// The colour scale beside a surface: the shades from low to high, labelled with values.
fn colour_bar(area: &Area<'_>, shading: &Shading, label: &str) -> Result<()> {
    let (top, bottom, left) = (60, 360, 20);
    let steps = 60;
    for k in 0..steps {
        let level = 1.0 - k as f64 / steps as f64;
        let y0 = top + (bottom - top) * k / steps;
        let y1 = top + (bottom - top) * (k + 1) / steps;
        area.draw(&Rectangle::new(
            [(left, y0), (left + 24, y1)],
            Shading::color(level).filled(),
        ))
        .map_err(err)?;
    }
    area.draw(&Rectangle::new(
        [(left, top), (left + 24, bottom)],
        BLACK.stroke_width(1),
    ))
    .map_err(err)?;
    for k in 0..=4 {
        let level = 1.0 - k as f64 / 4.0;
        let y = top + (bottom - top) * k / 4;
        area.draw(&PathElement::new(
            vec![(left + 24, y), (left + 30, y)],
            BLACK,
        ))
        .map_err(err)?;
        let span = shading.value_at(1.0) - shading.value_at(0.0);
        area.draw(&Text::new(
            tick(shading.value_at(level), span),
            (left + 34, y - 7),
            ("sans-serif", 13),
        ))
        .map_err(err)?;
    }
    area.draw(&Text::new(
        label.to_string(),
        (left - 6, top - 30),
        ("sans-serif", 15),
    ))
    .map_err(err)
}

/// A 2-D surface with paths drawn over it and markers, with a colour scale; more than
/// [`MAX_PER_PANEL`] paths become small multiples.
pub fn surface(
    plot: &SurfacePlot<'_>,
    f: &dyn Fn(f64, f64) -> f64,
    paths: &[Series],
    markers: &[Marker],
) -> Result<String> {
    surface_panels(plot, f, &panels_of(paths), markers)
}

/// The shaded cells of a surface: their centres and values, and how they are shaded.
struct Cells {
    centres: Vec<(f64, f64)>,
    values: Vec<f64>,
    shading: Shading,
}

/// One panel: the shaded surface, its paths (coloured by `palette`), markers and a legend.
fn draw_panel(
    area: &Area<'_>,
    plot: &SurfacePlot<'_>,
    cells: &Cells,
    panel: &Panel,
    palette: &Palette,
    markers: &[Marker],
    cell: u32,
) -> Result<()> {
    let (x_range, y_range) = (plot.x_range, plot.y_range);
    let inside =
        |&(x, y): &(f64, f64)| x >= x_range.0 && x <= x_range.1 && y >= y_range.0 && y <= y_range.1;
    let (plot_area, legend_area) = area.split_vertically(cell);
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(&panel.title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(plot.x_label)
        .y_desc(plot.y_label)
        .x_label_formatter(&|v| tick(*v, x_range.1 - x_range.0))
        .y_label_formatter(&|v| tick(*v, y_range.1 - y_range.0))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    let dx = (x_range.1 - x_range.0) / CELLS as f64;
    let dy = (y_range.1 - y_range.0) / CELLS as f64;
    chart
        .draw_series(
            cells
                .centres
                .iter()
                .zip(&cells.values)
                .map(|(&(x, y), &v)| {
                    let corner = (x - 0.5 * dx, y - 0.5 * dy);
                    Rectangle::new(
                        [corner, (corner.0 + dx, corner.1 + dy)],
                        Shading::color(cells.shading.level(v)).filled(),
                    )
                }),
        )
        .map_err(err)?;
    let mut entries = Vec::new();
    for path in &panel.series {
        let c = palette.color(path);
        let points: Vec<(f64, f64)> = path.points.iter().copied().filter(inside).collect();
        chart
            .draw_series(LineSeries::new(points, c.stroke_width(2)))
            .map_err(err)?;
        entries.push((path.name.clone(), c));
    }
    for marker in markers.iter().filter(|m| inside(&m.at)) {
        chart
            .draw_series([
                Circle::new(marker.at, 5, BLACK.filled()).into_dyn(),
                Text::new(marker.label.clone(), marker.at, ("sans-serif", 14)).into_dyn(),
            ])
            .map_err(err)?;
    }
    legend(&legend_area.margin(0, 0, 50, 0), &entries, false)
}

/// The same surface in several panels, each with its own paths, and one colour scale.
pub fn surface_panels(
    plot: &SurfacePlot<'_>,
    f: &dyn Fn(f64, f64) -> f64,
    panels: &[Panel],
    markers: &[Marker],
) -> Result<String> {
    let centres = cell_centres(plot);
    let values: Vec<f64> = centres.iter().map(|&(x, y)| f(x, y)).collect();
    let cells = Cells {
        shading: Shading::of(&values),
        centres,
        values,
    };
    let (rows, cols) = grid(panels.len());
    let cell = 440;
    let most = panels.iter().map(|p| p.series.len()).max().unwrap_or(0);
    let bar_w = 130;
    let size = (
        cell * cols as u32 + bar_w,
        (cell + legend_height(most)) * rows as u32 + 40,
    );
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let body = root.titled(plot.title, ("sans-serif", 20)).map_err(err)?;
        let (panels_area, bar_area) = body.split_horizontally(cell * cols as u32);
        colour_bar(&bar_area, &cells.shading, "loss")?;
        let palette = Palette::of(panels);
        for (panel, area) in panels.iter().zip(&panels_area.split_evenly((rows, cols))) {
            draw_panel(area, plot, &cells, panel, &palette, markers, cell)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::tests::texts;

    #[test]
    fn a_surface_has_axis_titles_and_a_colour_scale() {
        let plot = SurfacePlot {
            title: "bowl",
            x_label: "w1",
            y_label: "w2",
            x_range: (-1.0, 1.0),
            y_range: (-1.0, 1.0),
        };
        let path = [Series::new("path", vec![(0.5, 0.5), (0.0, 0.0)])];
        let svg = surface(&plot, &|x, y| x * x + y * y, &path, &[]).unwrap();
        let texts = texts(&svg);
        for label in ["w1", "w2", "loss", "path"] {
            assert!(texts.contains(&label.to_string()), "{label}: {texts:?}");
        }
        // The bar runs from the smallest to the largest value at the cells' centres:
        // 2 × 0.025² to 2 × 0.975².
        assert!(
            texts.contains(&"1.9".to_string()),
            "colour scale values: {texts:?}"
        );
        assert!(texts.contains(&"0.7".to_string()), "{texts:?}");
    }
}

//! Experiment `optimizers`: gradient descent, momentum, adaptive rates and the rest of the
//! registry on surfaces chosen to show the lecture's points, then on a real network.

use super::markdown::table;
use super::real_data::digits;
use super::{Context, Section};
use anyhow::Result;
use unstuck::models::{Mlp, Model};
use unstuck::optim::Registry;
use unstuck::plot::{self, Marker, Series};
use unstuck::{TrainConfig, Trainer};

/// A 2-D test surface with its gradient.
struct Surface {
    name: &'static str,
    title: &'static str,
    f: fn(f64, f64) -> f64,
    grad: fn(f64, f64) -> [f64; 2],
    start: [f64; 2],
    x_range: (f64, f64),
    y_range: (f64, f64),
    steps: usize,
}

const SURFACES: [Surface; 4] = [
    Surface {
        name: "saddle",
        title: "the lecture's saddle (1 - xy)^2, started near its stable manifold",
        f: |x, y| (1.0 - x * y).powi(2),
        grad: |x, y| {
            let r = 1.0 - x * y;
            [-2.0 * r * y, -2.0 * r * x]
        },
        start: [0.7, -0.69],
        x_range: (-1.6, 1.6),
        y_range: (-1.6, 1.6),
        steps: 200,
    },
    Surface {
        name: "plateau",
        title: "a plateau: 1 - exp(-(x^2 + y^2)), started where the gradient is 1e-4",
        f: |x, y| 1.0 - (-(x * x + y * y)).exp(),
        grad: |x, y| {
            let e = (-(x * x + y * y)).exp();
            [2.0 * x * e, 2.0 * y * e]
        },
        start: [2.4, 2.0],
        x_range: (-3.0, 3.0),
        y_range: (-3.0, 3.0),
        steps: 200,
    },
    Surface {
        name: "hill",
        title: "a small hill before a lower valley: (x^2 - 1)^2 + 0.3x + y^2",
        f: |x, y| (x * x - 1.0).powi(2) + 0.3 * x + y * y,
        grad: |x, y| [4.0 * x * (x * x - 1.0) + 0.3, 2.0 * y],
        start: [1.6, 0.8],
        x_range: (-2.0, 2.0),
        y_range: (-1.2, 1.2),
        steps: 200,
    },
    Surface {
        name: "valley",
        title: "an ill-conditioned valley: 0.5 (x^2 + 100 y^2)",
        f: |x, y| 0.5 * (x * x + 100.0 * y * y),
        grad: |x, y| [x, 100.0 * y],
        start: [-4.0, 0.5],
        x_range: (-4.5, 1.0),
        y_range: (-1.0, 1.0),
        steps: 200,
    },
];

/// Learning rates: on the 2-D surfaces, and on the digits network. A name missing here
/// (an optimizer a user registered) gets the fallback, so it still appears everywhere.
fn learning_rates(name: &str) -> (f64, f64) {
    match name {
        "sgd" | "lecture_momentum" => (0.018, 0.05),
        "adagrad" | "lecture_adagrad" => (0.5, 0.05),
        "rmsprop" | "lecture_rmsprop" => (0.05, 0.002),
        "adam" | "adamw" | "nadam" => (0.1, 0.005),
        "lion" => (0.02, 0.0005),
        _ => (0.02, 0.005),
    }
}

/// Every optimizer of the registry, plus SGD with momentum (the lecture's second method).
fn specs(on_surface: bool) -> Vec<(String, String)> {
    let registry = Registry::<f64>::builtin();
    let mut specs = Vec::new();
    for entry in registry.entries() {
        let (surface_lr, digits_lr) = learning_rates(entry.name);
        let lr = if on_surface { surface_lr } else { digits_lr };
        let extra = if entry.name == "lecture_momentum" {
            ",momentum=0.9"
        } else {
            ""
        };
        specs.push((
            entry.name.to_string(),
            format!("{}:lr={lr}{extra}", entry.name),
        ));
        if entry.name == "sgd" {
            specs.push(("sgd+momentum".into(), format!("sgd:lr={lr},momentum=0.9")));
        }
    }
    specs
}

fn path(surface: &Surface, spec: &str) -> Result<Vec<[f64; 2]>> {
    let mut optimizer = Registry::<f64>::builtin().build(spec)?;
    let mut w = surface.start.to_vec();
    let mut points = vec![surface.start];
    for _ in 0..surface.steps {
        let g = (surface.grad)(w[0], w[1]);
        optimizer.step(&mut w, &g)?;
        if !w.iter().all(|v| v.is_finite()) {
            break;
        }
        points.push([w[0], w[1]]);
    }
    Ok(points)
}

pub fn run(ctx: &mut Context) -> Result<Section> {
    let surface_specs = specs(true);
    let mut rows = Vec::new();
    let mut figures = String::new();
    for surface in &SURFACES {
        let mut paths = Vec::new();
        let mut row = vec![surface.name.to_string()];
        for (name, spec) in &surface_specs {
            let points = path(surface, spec)?;
            let [x, y] = *points.last().expect("the start is always there");
            row.push(format!("{:.4}", (surface.f)(x, y)));
            paths.push(Series::new(
                name.clone(),
                points.iter().map(|p| (p[0], p[1])).collect(),
            ));
        }
        rows.push(row);
        let svg = plot::surface(
            surface.title,
            &surface.f,
            surface.x_range,
            surface.y_range,
            &paths,
            &[Marker {
                at: (surface.start[0], surface.start[1]),
                label: "start".into(),
            }],
        )?;
        let file = format!("figures/optimizers-{}.svg", surface.name);
        ctx.artifacts.write(&file, svg.as_bytes())?;
        figures.push_str(&format!("![{}]({file})\n", surface.name));
    }
    let mut headers = vec!["surface (loss after 200 steps)".to_string()];
    headers.extend(surface_specs.iter().map(|(name, _)| name.clone()));
    let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    let surface_table = table(&header_refs, &rows);
    let spec_list: Vec<String> = surface_specs
        .iter()
        .map(|(_, s)| format!("`{s}`"))
        .collect();

    // The same optimizers training a real network.
    let data = digits(ctx.seed)?;
    let model = Mlp::from_spec("64-32-10:relu")?;
    let epochs = if ctx.quick { 3 } else { 15 };
    let mut curves = Vec::new();
    let mut real_rows = Vec::new();
    for (name, spec) in specs(false) {
        let optimizer = Registry::<f64>::builtin().build(&spec)?;
        let config = TrainConfig {
            batch_size: 32,
            epochs,
            seed: ctx.seed,
            progress: false,
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(&model, optimizer, config, model.init(ctx.seed))?;
        let history = trainer.fit(&data.train, Some(&data.test))?;
        let last = history.epochs.last().expect("at least one epoch");
        curves.push(Series::new(
            name.clone(),
            history
                .epochs
                .iter()
                .map(|e| ((e.epoch + 1) as f64, e.train_loss))
                .collect(),
        ));
        real_rows.push(vec![
            format!("`{spec}`"),
            format!("{:.4}", last.train_loss),
            format!("{:.3}", last.train_accuracy.unwrap_or(f64::NAN)),
            format!("{:.3}", last.validation_accuracy.unwrap_or(f64::NAN)),
            history.events.len().to_string(),
        ]);
    }
    let svg = plot::lines(
        "digits, MLP 64-32-10 relu, batch 32: training loss per epoch",
        "epoch",
        "training loss (cross-entropy)",
        &curves,
    )?;
    ctx.artifacts
        .write("figures/optimizers-digits.svg", svg.as_bytes())?;
    let real_table = table(
        &[
            "optimizer",
            "train loss",
            "train accuracy",
            "test accuracy",
            "stuck-detector events",
        ],
        &real_rows,
    );

    let final_loss = |surface: usize, name: &str| -> f64 {
        let column = surface_specs
            .iter()
            .position(|(n, _)| n == name)
            .expect("listed");
        rows[surface][column + 1].parse().unwrap_or(f64::NAN)
    };
    let finding = format!(
        "On the plateau, plain gradient descent ends at loss {:.4} after 200 steps while Adam \
         reaches {:.4}: dividing by the RMS of past gradients turns a 1e-4 gradient into a full step. \
         At the hill, gradient descent stops in the upper valley (loss {:.4}) and momentum rolls \
         over into the lower one (loss {:.4}). In the ill-conditioned valley, gradient descent at the \
         largest stable learning rate still ends at {:.4}, RMSProp at {:.4}. The lecture's momentum \
         (m = λm − ηg, θ = θ + m) ends at exactly the loss of PyTorch's SGD with momentum ({:.4} and \
         {:.4} on the hill): the two forms agree while the learning rate is constant. On the digits \
         network every registered optimizer trains; the table shows the spread at these learning rates.",
        final_loss(1, "sgd"),
        final_loss(1, "adam"),
        final_loss(2, "sgd"),
        final_loss(2, "sgd+momentum"),
        final_loss(3, "sgd"),
        final_loss(3, "rmsprop"),
        final_loss(2, "lecture_momentum"),
        final_loss(2, "sgd+momentum"),
    );
    let body = format!(
        "Optimizers (every entry of the registry, so a user-registered optimizer appears here \
         too): {}.\n\n{surface_table}\n{figures}\n### A real network: digits\n\n{real_table}\n\
         ![digits](figures/optimizers-digits.svg)\n",
        spec_list.join(", ")
    );
    Ok(Section {
        title: "Optimizers: momentum and adaptive learning rates".into(),
        finding,
        body,
    })
}

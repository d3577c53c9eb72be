//! Experiment `optimizers`: gradient descent, momentum, adaptive rates and the rest of the
//! registry on surfaces chosen to show the lecture's points, then on a real network.

use super::artifacts::Artifacts;
use super::claims::Finding;
use super::markdown::table;
use super::parts::{Measured, Results, Unit};
use super::real_data::digits;
use super::{Experiment, Plan, Section};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use unstuck::models::{Model, ModelRegistry};
use unstuck::optim::Registry;
use unstuck::plot::{self, Axes, Marker, Panel, Series};
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

pub fn experiment(seed: u64) -> Experiment {
    Experiment {
        name: "optimizers",
        seed,
        units: |_| {
            let mut units = vec![Unit::new("surfaces", 0.05)];
            units.extend(
                specs(false)
                    .into_iter()
                    .map(|(name, _)| Unit::new(format!("digits-{name}"), 0.2)),
            );
            units
        },
        run,
        assemble,
    }
}

/// One optimizer on one surface.
#[derive(Debug, Serialize, Deserialize)]
struct SurfaceRun {
    name: String,
    path: Vec<[f64; 2]>,
    final_loss: f64,
}

/// One optimizer training the digits network.
#[derive(Debug, Serialize, Deserialize)]
struct DigitsRun {
    spec: String,
    epoch_losses: Vec<f64>,
    train_loss: f64,
    train_accuracy: f64,
    test_accuracy: f64,
    events: usize,
}

const DIGITS_MODEL: &str = "64-32-10:relu";

fn epochs(plan: &Plan) -> u64 {
    if plan.quick { 3 } else { 15 }
}

fn run(plan: &Plan, key: &str) -> Result<Measured> {
    if key == "surfaces" {
        let mut all = Vec::new();
        for surface in &SURFACES {
            let mut runs = Vec::new();
            for (name, spec) in specs(true) {
                let points = path(surface, &spec)?;
                let [x, y] = *points.last().expect("the start is always there");
                runs.push(SurfaceRun {
                    name,
                    final_loss: (surface.f)(x, y),
                    path: points,
                });
            }
            all.push(runs);
        }
        return Measured::of(&all);
    }
    let name = key
        .strip_prefix("digits-")
        .ok_or_else(|| anyhow::anyhow!("unit `{key}` is neither `surfaces` nor `digits-NAME`"))?;
    let (_, spec) = specs(false)
        .into_iter()
        .find(|(n, _)| n == name)
        .ok_or_else(|| anyhow::anyhow!("no optimizer `{name}` in the registry"))?;
    let data = digits(plan.seed)?;
    let model = ModelRegistry::builtin().build(DIGITS_MODEL)?;
    let model: &dyn Model<f64> = model.as_ref();
    let optimizer = Registry::<f64>::builtin().build(&spec)?;
    let config = TrainConfig {
        batch_size: 32,
        epochs: epochs(plan),
        seed: plan.seed,
        progress: false,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(model, optimizer, config, model.init(plan.seed))?;
    let history = trainer.fit(&data.train, Some(&data.test))?;
    let last = history.epochs.last().expect("at least one epoch");
    Measured::of(&DigitsRun {
        spec,
        epoch_losses: history.epochs.iter().map(|e| e.train_loss).collect(),
        train_loss: last.train_loss,
        train_accuracy: last.train_accuracy.unwrap_or(0.0),
        test_accuracy: last.validation_accuracy.unwrap_or(0.0),
        events: history.events.len(),
    })
}

/// The largest coordinate difference between two paths (infinite if their lengths differ).
fn path_distance(a: &[[f64; 2]], b: &[[f64; 2]]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    a.iter()
        .zip(b)
        .flat_map(|(p, q)| [(p[0] - q[0]).abs(), (p[1] - q[1]).abs()])
        .fold(0.0, f64::max)
}

/// Each panel: plain gradient descent for reference, then up to four others.
fn surface_panels(runs: &[SurfaceRun]) -> Vec<Panel> {
    let reference = &runs[0];
    runs[1..]
        .chunks(4)
        .enumerate()
        .map(|(i, chunk)| Panel {
            title: format!("({})", (b'a' + i as u8) as char),
            series: std::iter::once(reference)
                .chain(chunk)
                .map(|r| {
                    Series::new(
                        r.name.clone(),
                        r.path.iter().map(|p| (p[0], p[1])).collect(),
                    )
                })
                .collect(),
        })
        .collect()
}

fn assemble(plan: &Plan, results: &Results<'_>, artifacts: &mut Artifacts) -> Result<Section> {
    let surfaces: Vec<Vec<SurfaceRun>> = results.get("surfaces")?;
    let surface_specs = specs(true);
    let mut rows = Vec::new();
    let mut figures = String::new();
    for (surface, runs) in SURFACES.iter().zip(&surfaces) {
        let mut row = vec![surface.name.to_string()];
        row.extend(runs.iter().map(|r| format!("{:.4}", r.final_loss)));
        rows.push(row);
        let svg = plot::surface_panels(
            &plot::SurfacePlot {
                title: surface.title,
                x_label: "w1",
                y_label: "w2",
                x_range: surface.x_range,
                y_range: surface.y_range,
            },
            &surface.f,
            &surface_panels(runs),
            &[Marker {
                at: (surface.start[0], surface.start[1]),
                label: "start".into(),
            }],
        )?;
        let file = format!("figures/optimizers-{}.svg", surface.name);
        artifacts.write(&file, svg.as_bytes())?;
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

    let digits_runs: Vec<DigitsRun> = specs(false)
        .iter()
        .map(|(name, _)| results.get(&format!("digits-{name}")))
        .collect::<Result<_>>()?;
    let real_table = digits_section(&digits_runs, artifacts)?;
    let finding = claims(plan, &surfaces, &digits_runs)?;
    let body = format!(
        "Optimizers (every entry of the registry, so a user-registered optimizer appears here \
         too): {}. Each panel shows plain gradient descent (`sgd`) for reference and up to four \
         others.\n\n{surface_table}\n{figures}\n### A real network: digits\n\n{real_table}\n\
         ![digits](figures/optimizers-digits.svg)\n",
        spec_list.join(", ")
    );
    Ok(Section {
        title: "Optimizers: momentum and adaptive learning rates".into(),
        finding,
        body,
    })
}

/// The digits network: its loss curves (small multiples) and its table.
fn digits_section(digits_runs: &[DigitsRun], artifacts: &mut Artifacts) -> Result<String> {
    let curves: Vec<Series> = specs(false)
        .iter()
        .zip(digits_runs)
        .map(|((name, _), r)| {
            Series::new(
                name.clone(),
                r.epoch_losses
                    .iter()
                    .enumerate()
                    .map(|(e, &l)| ((e + 1) as f64, l))
                    .collect(),
            )
        })
        .collect();
    let svg = plot::lines(
        &format!("digits, MLP {DIGITS_MODEL}, batch 32: training loss per epoch"),
        &Axes::new("epoch", "training loss (cross-entropy)")
            .integer_x()
            .log_y(),
        &curves,
    )?;
    artifacts.write("figures/optimizers-digits.svg", svg.as_bytes())?;
    let real_rows: Vec<Vec<String>> = digits_runs
        .iter()
        .map(|r| {
            vec![
                format!("`{}`", r.spec),
                format!("{:.4}", r.train_loss),
                format!("{:.3}", r.train_accuracy),
                format!("{:.3}", r.test_accuracy),
                r.events.to_string(),
            ]
        })
        .collect();
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
    Ok(real_table)
}

fn claims(plan: &Plan, surfaces: &[Vec<SurfaceRun>], digits: &[DigitsRun]) -> Result<Finding> {
    let find = |surface: usize, name: &str| -> Result<&SurfaceRun> {
        surfaces[surface]
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| anyhow::anyhow!("no `{name}` on surface {surface}"))
    };
    let loss = |surface: usize, name: &str| -> Result<f64> { Ok(find(surface, name)?.final_loss) };
    let mut finding = Finding::new(
        "Every optimizer of the registry runs 200 steps on four 2-D surfaces chosen to show the \
         lecture's points, then trains a small network on the digits.",
    );
    let (sgd, adam) = (loss(1, "sgd")?, loss(1, "adam")?);
    finding.claim(
        "adaptive-rates-cross-the-plateau",
        format!(
            "On the plateau plain gradient descent ends at loss {sgd:.4} while Adam reaches \
             {adam:.4}: dividing by the RMS of past gradients turns a 1e-4 gradient into a full step."
        ),
        sgd > 0.99 && adam < 1e-3,
        format!("sgd {sgd} > 0.99 and adam {adam} < 1e-3"),
    );
    let (sgd, momentum) = (loss(2, "sgd")?, loss(2, "sgd+momentum")?);
    finding.claim(
        "momentum-rolls-over-the-hill",
        format!(
            "At the hill gradient descent stops in the upper valley (loss {sgd:.4}) and momentum \
             rolls over into the lower one (loss {momentum:.4})."
        ),
        sgd > 0.2 && momentum < -0.2,
        format!("sgd {sgd} > 0.2 (upper valley) and sgd+momentum {momentum} < -0.2 (lower valley)"),
    );
    let (surface_lr, _) = learning_rates("sgd");
    let limit = 2.0 / 100.0;
    let (sgd, rmsprop) = (loss(3, "sgd")?, loss(3, "rmsprop")?);
    finding.claim(
        "gradient-descent-crawls-along-the-valley",
        format!(
            "In the ill-conditioned valley (curvatures 1 and 100), gradient descent at lr \
             {surface_lr}, {:.0}% of its stability limit 2/100, still ends at {sgd:.4}; RMSProp, \
             which rescales each coordinate, ends at {rmsprop:.4}.",
            100.0 * surface_lr / limit
        ),
        surface_lr < limit && surface_lr >= 0.85 * limit && sgd > 1e-3 && rmsprop < 1e-4,
        format!(
            "lr {surface_lr} in [0.85, 1) x {limit}, sgd {sgd} > 1e-3, rmsprop {rmsprop} < 1e-4"
        ),
    );
    let mut gap = 0.0_f64;
    for surface in 0..surfaces.len() {
        gap = gap.max(path_distance(
            &find(surface, "lecture_momentum")?.path,
            &find(surface, "sgd+momentum")?.path,
        ));
    }
    finding.claim(
        "the-lecture-momentum-is-pytorch-momentum",
        format!(
            "The lecture's momentum (m = λm − ηg, θ = θ + m) follows PyTorch's SGD with momentum \
             (v = μv + g, θ = θ − ηv) on all four surfaces: the largest coordinate difference over \
             200 steps is {gap:.1e}, rounding. The two forms agree while the learning rate is constant."
        ),
        gap <= 1e-12,
        format!("largest path difference {gap:e} <= 1e-12"),
    );
    let worst = digits.iter().map(|r| r.test_accuracy).fold(1.0, f64::min);
    let best = digits.iter().map(|r| r.test_accuracy).fold(0.0, f64::max);
    finding.claim(
        "every-optimizer-trains-the-digits-network",
        format!(
            "On the digits network every registered optimizer trains: after {} epochs the test \
             accuracies lie between {worst:.3} and {best:.3}, all above 0.7 (chance: 0.1).",
            epochs(plan)
        ),
        worst >= 0.7,
        format!("lowest test accuracy {worst} >= 0.7"),
    );
    Ok(finding)
}

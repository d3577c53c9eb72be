//! Experiment `schedules`: adaptive methods with a constant learning rate, with decay,
//! and with warm-up, on the digits network.

use super::artifacts::Artifacts;
use super::claims::Finding;
use super::markdown::table;
use super::parts::{Measured, Results, Unit};
use super::real_data::digits;
use super::{Experiment, Plan, Section};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use unstuck::models::{Loss, Model, ModelRegistry};
use unstuck::optim::{Registry, parse_schedule};
use unstuck::plot::{self, Axes, Series};
use unstuck::task::full_objective;
use unstuck::{TrainConfig, Trainer};

const BASE: &str = "adam:lr=0.02";
const BASE_LR: f64 = 0.02;

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Averages of `window` consecutive values, so a per-step curve stays readable.
fn smooth(values: &[f64], window: usize) -> Vec<(f64, f64)> {
    values
        .chunks(window)
        .enumerate()
        .map(|(i, c)| {
            (
                ((i * window) + c.len() / 2) as f64,
                c.iter().sum::<f64>() / c.len() as f64,
            )
        })
        .collect()
}

pub fn experiment(seed: u64) -> Experiment {
    Experiment {
        name: "schedules",
        seed,
        units: |_| {
            let mut units: Vec<Unit> = SCHEDULES
                .iter()
                .map(|(key, _)| Unit::new(*key, 0.7))
                .collect();
            units.push(Unit::new("first-steps", 0.2));
            units
        },
        run,
        assemble,
    }
}

/// The schedules compared, by unit key and display name.
const SCHEDULES: [(&str, &str); 3] = [
    ("constant", "constant"),
    ("cosine", "cosine decay"),
    ("warmup-cosine", "warm-up then cosine"),
];
const BATCH: usize = 32;
const MODEL: &str = "64-64-10:relu";

/// Sizes and the schedule specs they imply: (epochs, steps per epoch, specs by key).
fn setup(plan: &Plan, n_train: usize) -> (u64, u64, [String; 3]) {
    let epochs = if plan.quick { 4 } else { 30 };
    let steps_per_epoch = n_train.div_ceil(BATCH) as u64;
    let total = epochs * steps_per_epoch;
    let warmup = steps_per_epoch;
    let specs = [
        "constant".to_string(),
        format!("cosine:t_max={total}"),
        format!(
            "warmup:steps={warmup},then=(cosine:t_max={})",
            total - warmup
        ),
    ];
    (epochs, steps_per_epoch, specs)
}

#[derive(Debug, Serialize, Deserialize)]
struct ScheduleRun {
    spec: String,
    step_losses: Vec<f64>,
    final_loss: f64,
    test_accuracy: f64,
}

#[derive(Debug, Serialize, Deserialize)]
struct FirstSteps {
    warmup: u64,
    /// RMS step per parameter in the first five full-batch steps: constant, then warm-up.
    constant: Vec<f64>,
    warm_up: Vec<f64>,
}

fn run(plan: &Plan, key: &str) -> Result<Measured> {
    let data = digits(plan.seed)?;
    let model = ModelRegistry::builtin().build(MODEL)?;
    let model: &dyn Model<f64> = model.as_ref();
    let (epochs, steps_per_epoch, specs) = setup(plan, data.train.n_rows());
    if key == "first-steps" {
        // Adam's first update moves every parameter by about lr whatever its gradient,
        // because m/sqrt(v) = g/|g| at step one.
        let objective = full_objective(model, &data.train, Loss::CrossEntropy)?;
        let warmup = steps_per_epoch;
        let mut sizes = Vec::new();
        for schedule in [
            "constant".to_string(),
            format!("warmup:steps={warmup},then=(constant)"),
        ] {
            let mut optimizer = Registry::<f64>::builtin().build(BASE)?;
            optimizer.set_schedule(parse_schedule(&schedule, BASE_LR)?);
            let mut theta: Vec<f64> = model.init(plan.seed);
            let mut steps = Vec::new();
            for _ in 0..5 {
                let (_, gradient) = objective.gradient(&theta)?;
                let before = theta.clone();
                optimizer.step(&mut theta, &gradient)?;
                let delta: Vec<f64> = theta.iter().zip(&before).map(|(a, b)| a - b).collect();
                steps.push(norm(&delta) / (model.n_params() as f64).sqrt());
            }
            sizes.push(steps);
        }
        let warm_up = sizes.pop().expect("two schedules");
        let constant = sizes.pop().expect("two schedules");
        return Measured::of(&FirstSteps {
            warmup,
            constant,
            warm_up,
        });
    }
    let index = SCHEDULES
        .iter()
        .position(|(k, _)| *k == key)
        .ok_or_else(|| anyhow::anyhow!("no schedule `{key}`"))?;
    let spec = specs[index].clone();
    let mut optimizer = Registry::<f64>::builtin().build(BASE)?;
    optimizer.set_schedule(parse_schedule(&spec, BASE_LR)?);
    let config = TrainConfig {
        batch_size: BATCH,
        epochs,
        seed: plan.seed,
        progress: false,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(model, optimizer, config, model.init(plan.seed))?;
    let history = trainer.fit(&data.train, Some(&data.test))?;
    let last = history.epochs.last().expect("epochs ran");
    Measured::of(&ScheduleRun {
        spec,
        step_losses: history.steps.iter().map(|s| s.loss).collect(),
        final_loss: last.train_loss,
        test_accuracy: last.validation_accuracy.unwrap_or(0.0),
    })
}

fn assemble(_plan: &Plan, results: &Results<'_>, artifacts: &mut Artifacts) -> Result<Section> {
    let runs: Vec<ScheduleRun> = SCHEDULES
        .iter()
        .map(|(key, _)| results.get(key))
        .collect::<Result<_>>()?;
    let first: FirstSteps = results.get("first-steps")?;
    let mut curves = Vec::new();
    let mut rows = Vec::new();
    let mut late_max = Vec::new();
    for ((_, name), run) in SCHEDULES.iter().zip(&runs) {
        let second_half = &run.step_losses[run.step_losses.len() / 2..];
        let worst = second_half.iter().copied().fold(0.0, f64::max);
        let spikes = second_half.iter().filter(|&&l| l > 1.0).count();
        late_max.push(worst);
        rows.push(vec![
            name.to_string(),
            format!("`{}`", run.spec),
            format!("{worst:.3}"),
            spikes.to_string(),
            format!("{:.4}", run.final_loss),
            format!("{:.3}", run.test_accuracy),
        ]);
        curves.push(Series::new(*name, smooth(&run.step_losses, 10)));
    }
    let svg = plot::lines(
        &format!("{BASE} on digits ({MODEL}, batch {BATCH}): mini-batch loss"),
        &Axes::new("step", "mini-batch loss (mean of 10 steps)")
            .integer_x()
            .log_y(),
        &curves,
    )?;
    artifacts.write("figures/schedules.svg", svg.as_bytes())?;
    let first_rows: Vec<Vec<String>> = [("constant", &first.constant), ("warm-up", &first.warm_up)]
        .iter()
        .map(|(name, sizes)| {
            let mut row = vec![name.to_string()];
            row.extend(sizes.iter().map(|s| format!("{s:.2e}")));
            row
        })
        .collect();
    let first_table = table(
        &["schedule", "step 1", "step 2", "step 3", "step 4", "step 5"],
        &first_rows,
    );
    let finding = claims(&runs, &late_max, &first);
    let body = format!(
        "{}\n![schedules](figures/schedules.svg)\n\nRMS update per parameter, ‖Δθ‖/√P, in Adam's first \
         five full-batch steps:\n\n{first_table}",
        table(
            &[
                "schedule",
                "spec",
                "max loss, 2nd half",
                "steps with loss > 1, 2nd half",
                "final train loss",
                "test accuracy"
            ],
            &rows,
        )
    );
    Ok(Section {
        title: "Learning-rate schedules: decay and warm-up".into(),
        finding,
        body,
    })
}

/// The finding: decay against the constant rate late in training, Adam's first steps.
fn claims(runs: &[ScheduleRun], late_max: &[f64], first: &FirstSteps) -> Finding {
    let mut finding = Finding::new(format!(
        "Adam at {BASE_LR} trains the digits network ({MODEL}, batch {BATCH}) with a constant \
         learning rate, with cosine decay, and with a linear warm-up before the decay."
    ));
    finding.claim(
        "decay-calms-the-late-steps",
        format!(
            "The largest mini-batch loss in the second half of training is {:.3} at a constant \
             rate, {:.3} with cosine decay and {:.3} with warm-up then cosine (final training \
             losses {:.4}, {:.4} and {:.4}): decay calms the late steps.",
            late_max[0],
            late_max[1],
            late_max[2],
            runs[0].final_loss,
            runs[1].final_loss,
            runs[2].final_loss,
        ),
        late_max[1] < late_max[0] && late_max[2] < late_max[0],
        format!(
            "cosine {} and warm-up {} below constant {}",
            late_max[1], late_max[2], late_max[0]
        ),
    );
    let step_one = first.constant[0];
    finding.claim(
        "adam-first-step-is-the-learning-rate",
        format!(
            "At the very first step Adam moves every parameter by about the learning rate (RMS \
             step {step_one:.2e} per parameter), because its moment estimates have seen a single \
             gradient."
        ),
        (0.5 * BASE_LR..=BASE_LR).contains(&step_one),
        format!(
            "RMS step {step_one} within [lr/2, lr] = [{}, {BASE_LR}]",
            0.5 * BASE_LR
        ),
    );
    let growing = first.warm_up.windows(2).all(|w| w[0] < w[1]);
    finding.claim(
        "warm-up-starts-small",
        format!(
            "With a linear warm-up over {} steps the first steps are {:.2e}, {:.2e}, {:.2e}, ... \
             and grow as the estimates of the gradient's scale improve.",
            first.warmup, first.warm_up[0], first.warm_up[1], first.warm_up[2]
        ),
        growing && first.warm_up[1] < 0.1 * step_one,
        format!(
            "steps increasing: {growing}; step 2 {} < step 1 at constant rate / 10",
            first.warm_up[1]
        ),
    );
    finding
}

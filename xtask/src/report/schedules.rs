//! Experiment `schedules`: adaptive methods with a constant learning rate, with decay,
//! and with warm-up, on the digits network.

use super::markdown::table;
use super::real_data::digits;
use super::{Context, Section};
use anyhow::Result;
use unstuck::models::{Architecture, Loss, Mlp, Model};
use unstuck::optim::{Registry, parse_schedule};
use unstuck::plot::{self, Series};
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

pub fn run(ctx: &mut Context) -> Result<Section> {
    let data = digits(ctx.seed)?;
    let model = Mlp::from_spec("64-64-10:relu")?;
    let epochs = if ctx.quick { 4 } else { 30 };
    let batch = 32;
    let steps_per_epoch = data.train.n_rows().div_ceil(batch) as u64;
    let total = epochs * steps_per_epoch;
    let warmup = steps_per_epoch;
    let schedules = [
        ("constant".to_string(), "constant".to_string()),
        ("cosine decay".to_string(), format!("cosine:t_max={total}")),
        (
            "warm-up then cosine".to_string(),
            format!(
                "warmup:steps={warmup},then=(cosine:t_max={})",
                total - warmup
            ),
        ),
    ];
    let mut curves = Vec::new();
    let mut rows = Vec::new();
    let mut late_max = Vec::new();
    let mut final_loss = Vec::new();
    for (name, schedule) in &schedules {
        let mut optimizer = Registry::<f64>::builtin().build(BASE)?;
        optimizer.set_schedule(parse_schedule(schedule, BASE_LR)?);
        let config = TrainConfig {
            batch_size: batch,
            epochs,
            seed: ctx.seed,
            progress: false,
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(&model, optimizer, config, model.init(ctx.seed))?;
        let history = trainer.fit(&data.train, Some(&data.test))?.clone();
        let losses: Vec<f64> = history.steps.iter().map(|s| s.loss).collect();
        let second_half = &losses[losses.len() / 2..];
        let worst = second_half.iter().copied().fold(0.0, f64::max);
        let spikes = second_half.iter().filter(|&&l| l > 1.0).count();
        late_max.push(worst);
        let last = history.epochs.last().expect("epochs ran");
        final_loss.push(last.train_loss);
        rows.push(vec![
            name.clone(),
            format!("`{schedule}`"),
            format!("{worst:.3}"),
            spikes.to_string(),
            format!("{:.4}", last.train_loss),
            format!("{:.3}", last.validation_accuracy.unwrap_or(f64::NAN)),
        ]);
        curves.push(Series::new(name.clone(), smooth(&losses, 10)));
    }
    let svg = plot::lines(
        &format!("{BASE} on digits (64-64-10 relu, batch {batch}): mini-batch loss"),
        "step",
        "mini-batch loss (mean of 10 steps)",
        &curves,
    )?;
    ctx.artifacts
        .write("figures/schedules.svg", svg.as_bytes())?;

    // Warm-up's effect on Adam's first steps: Adam's first update moves every parameter by
    // about lr whatever its gradient, because m/sqrt(v) = g/|g| at step one.
    let objective = full_objective(&model, &data.train, Loss::CrossEntropy)?;
    let mut first_steps = Vec::new();
    for (name, schedule) in [
        ("constant", "constant".to_string()),
        ("warm-up", format!("warmup:steps={warmup},then=(constant)")),
    ] {
        let mut optimizer = Registry::<f64>::builtin().build(BASE)?;
        optimizer.set_schedule(parse_schedule(&schedule, BASE_LR)?);
        let mut theta: Vec<f64> = model.init(ctx.seed);
        let mut sizes = Vec::new();
        for _ in 0..5 {
            let (_, gradient) = objective.gradient(&theta)?;
            let before = theta.clone();
            optimizer.step(&mut theta, &gradient)?;
            let delta: Vec<f64> = theta.iter().zip(&before).map(|(a, b)| a - b).collect();
            sizes.push(norm(&delta) / (model.n_params() as f64).sqrt());
        }
        first_steps.push((name, sizes));
    }
    let first_rows: Vec<Vec<String>> = first_steps
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
    let finding = format!(
        "With Adam at a constant learning rate of {BASE_LR}, the largest mini-batch loss in the \
         second half of training is {:.3}; cosine decay brings it to {:.3} and warm-up then cosine \
         to {:.3} (final training losses {:.4}, {:.4} and {:.4}): decay calms the late steps. \
         At the very first step Adam moves every parameter by about \
         the learning rate (RMS step {:.2e} per parameter), because its moment estimates have seen a \
         single gradient; with a linear warm-up over {warmup} steps the first steps are {:.2e}, \
         {:.2e}, ... and grow as the estimates of the gradient's scale improve.",
        late_max[0],
        late_max[1],
        late_max[2],
        final_loss[0],
        final_loss[1],
        final_loss[2],
        first_steps[0].1[0],
        first_steps[1].1[0],
        first_steps[1].1[1],
    );
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

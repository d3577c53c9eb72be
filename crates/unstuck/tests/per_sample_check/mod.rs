//! Per-example gradient moments from one backward pass against B single-example
//! backward passes: the check every per-example rule goes through.
#![allow(dead_code)]

use unstuck::autodiff::Tensor;
use unstuck::instruments::{noise_record, noise_scale, per_sample_gradients};
use unstuck::models::{Loss, Model, ModelRegistry, Objective, Targets};

/// The labels of `rows` examples: `7 i mod classes`.
pub fn labels(rows: usize, classes: usize) -> Vec<usize> {
    (0..rows).map(|i| (i * 7) % classes).collect()
}

pub fn inputs(rows: usize, width: usize) -> Vec<f64> {
    (0..rows * width)
        .map(|k| ((k * 37 % 23) as f64 / 11.0 - 1.0) * 0.9)
        .collect()
}

pub fn objective<'m>(
    model: &'m dyn Model<f64>,
    x: &[f64],
    rows: usize,
    labels: &[usize],
) -> Objective<'m, f64> {
    let x = Tensor::matrix(x.to_vec(), rows, model.input_width()).unwrap();
    let targets = Targets::Classes {
        labels: labels.to_vec(),
        n_classes: model.output_width(),
    };
    Objective::new(model, x, targets, Loss::CrossEntropy).unwrap()
}

/// The per-example gradients, one backward pass per example.
pub fn one_by_one(
    model: &dyn Model<f64>,
    theta: &[f64],
    x: &[f64],
    labels: &[usize],
) -> Vec<Vec<f64>> {
    let width = model.input_width();
    labels
        .iter()
        .enumerate()
        .map(|(i, &label)| {
            let single = objective(model, &x[i * width..(i + 1) * width], 1, &[label]);
            single.gradient(theta).unwrap().1
        })
        .collect()
}

/// Relative agreement to 1e-12: the two routes sum the same products in another order,
/// so they differ by rounding (~1e-15 relative); a missing factor B, a dropped example or
/// a wrong transpose is off by O(1).
pub fn check_close(got: f64, want: f64, what: &str) {
    check_close_above(got, want, 1e-300, what);
}

/// [`check_close`] relative to `want` or to `floor`, whichever is larger: for a
/// parameter whose gradient is zero in exact arithmetic, both routes give rounding noise.
pub fn check_close_above(got: f64, want: f64, floor: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-12 * want.abs().max(floor),
        "{what}: {got} against {want}"
    );
}

/// The blocks whose gradient is zero in exact arithmetic: attention's key bias (adding
/// `q·b` to every score of a query leaves its softmax unchanged), so its per-example
/// gradients are rounding noise (~1e-18) in both routes, and its signal-to-noise ratio
/// a ratio of noises.
fn is_zero_in_exact_arithmetic(name: &str) -> bool {
    name.ends_with(".k.bias")
}

/// [`check_model`] on a registry model at init seed 3 on [`inputs`].
pub fn check_per_sample(spec: &str, rows: usize) {
    let model = ModelRegistry::builtin().build(spec).unwrap();
    let model: &dyn Model<f64> = model.as_ref();
    let x = inputs(rows, model.input_width());
    check_model(model, &model.init(3), &x, spec);
}

/// Per-example moments, the noise scale and the GSNR of `model` at `theta` on the rows
/// `x` (labels `7 i mod classes`) against `rows` single-example backward passes, every
/// tensor covered.
pub fn check_model(model: &dyn Model<f64>, theta: &[f64], x: &[f64], spec: &str) {
    let rows = x.len() / model.input_width();
    let labels = labels(rows, model.output_width());
    let theta = theta.to_vec();
    let moments = per_sample_gradients(&objective(model, x, rows, &labels), &theta).unwrap();
    assert!(
        moments.excluded.is_empty(),
        "{spec}: {:?}",
        moments.excluded
    );
    assert_eq!(moments.blocks.len(), model.layout().len());
    let examples = one_by_one(model, &theta, x, &labels);
    // A zero gradient's rounding noise is relative to the largest terms it sums: it is
    // checked to 1e-12 of the largest per-example gradient (or its square).
    let floor = examples
        .iter()
        .flat_map(|g| g.iter().map(|v| v.abs()))
        .fold(0.0, f64::max);
    let floor_sq = floor * floor;
    for block in &moments.blocks {
        for (j, param) in block.range.clone().enumerate() {
            let want: f64 = examples.iter().map(|g| g[param] * g[param]).sum();
            check_close_above(
                block.sum_sq_per_param[j],
                want,
                floor_sq,
                &format!("{spec} {} [{j}]", block.name),
            );
            let mean = examples.iter().map(|g| g[param]).sum::<f64>() / rows as f64;
            check_close_above(
                block.mean[j],
                mean,
                floor,
                &format!("{spec} {} mean [{j}]", block.name),
            );
        }
        let want: f64 = examples
            .iter()
            .map(|g| g[block.range.clone()].iter().map(|v| v * v).sum::<f64>())
            .sum();
        check_close_above(
            block.sum_example_sq,
            want,
            floor_sq,
            &format!("{spec} {}", block.name),
        );
    }
    // The noise scale from its definition on the explicit per-example gradients.
    let b = rows as f64;
    let mean: Vec<f64> = (0..theta.len())
        .map(|p| examples.iter().map(|g| g[p]).sum::<f64>() / b)
        .collect();
    let trace: f64 = (0..theta.len())
        .map(|p| {
            examples
                .iter()
                .map(|g| (g[p] - mean[p]).powi(2))
                .sum::<f64>()
                / (b - 1.0)
        })
        .sum();
    let mean_sq: f64 = mean.iter().map(|m| m * m).sum();
    let scale = noise_scale(&moments).unwrap();
    check_close(scale.trace_sigma, trace, "tr(Σ)");
    check_close(scale.grad_sq, mean_sq - trace / b, "|G|²");
    // The GSNR per tensor (Liu et al. 2020): the mean over its parameters of ḡ²/σ², with
    // σ² the unbiased per-example variance, over the parameters whose variance is not 0.
    let record = noise_record(0, &moments).unwrap();
    for spec in model.layout() {
        if is_zero_in_exact_arithmetic(&spec.name) {
            continue;
        }
        let ratios: Vec<f64> = (spec.offset..spec.offset + spec.len())
            .filter_map(|p| {
                let variance = examples
                    .iter()
                    .map(|g| (g[p] - mean[p]).powi(2))
                    .sum::<f64>()
                    / (b - 1.0);
                (variance > 0.0).then(|| mean[p] * mean[p] / variance)
            })
            .collect();
        let want = ratios.iter().sum::<f64>() / ratios.len() as f64;
        // ḡ²/σ² divides by a difference of sums (Σg² - Bḡ²), which loses digits where the
        // noise is small: 1e-9 relative, still far below a missing or doubled factor.
        let got = record.blocks[&format!("snr/{}", spec.name)];
        assert!(
            (got - want).abs() <= 1e-9 * want,
            "{spec:?}: GSNR {got} against {want}"
        );
    }
}

/// Trains `model_spec` with `optimizer_spec` and the instruments of `instruments_spec` on
/// `threads` threads from `model.init(1)`, and returns its history without timings: the
/// run every thread-count test of the instruments compares.
pub fn instrumented_history(
    threads: usize,
    train: &unstuck::data::Dataset<f64>,
    model_spec: &str,
    optimizer_spec: &str,
    config: unstuck::TrainConfig,
    instruments_spec: &str,
) -> unstuck::History {
    unstuck_test_support::threads::with_threads(threads, || {
        let model = ModelRegistry::builtin().build(model_spec).unwrap();
        let model: &dyn Model<f64> = model.as_ref();
        let optimizer = unstuck::optim::Registry::builtin()
            .build(optimizer_spec)
            .unwrap();
        let instruments =
            unstuck::instruments::InstrumentConfig::from_spec(instruments_spec).unwrap();
        let mut trainer = unstuck::Trainer::new(model, optimizer, config, model.init(1))
            .unwrap()
            .with_instruments(instruments)
            .unwrap();
        trainer.fit(train, None).unwrap().without_timings()
    })
}

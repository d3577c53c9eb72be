//! The instruments' values against independent computations: the norms record of a
//! trainer step against the layer arithmetic done by hand on a tiny network (norms,
//! update-to-weight ratio, dead ReLU fraction, logit scale), and the curvature tracker's
//! `λ_max` and trace against the dense Hessian's exact eigenvalues and trace.

use unstuck::autodiff::Tensor;
use unstuck::data::{Batch, BatchTargets};
use unstuck::hessian::full_hessian;
use unstuck::instruments::{CurvatureConfig, CurvatureTracker, InstrumentConfig};
use unstuck::models::{Architecture, Loss, Mlp, Model, Objective, Targets};
use unstuck::optim::Registry;
use unstuck::{TrainConfig, Trainer};

const ROWS: usize = 5;

fn inputs(width: usize) -> Vec<f64> {
    (0..ROWS * width)
        .map(|k| ((k * 37 % 23) as f64 / 11.0 - 1.0) * 0.9)
        .collect()
}

fn labels(classes: usize) -> Vec<usize> {
    (0..ROWS).map(|i| (i * 7) % classes).collect()
}

fn objective<'m>(model: &'m dyn Model<f64>) -> Objective<'m, f64> {
    let x = Tensor::matrix(inputs(model.input_width()), ROWS, model.input_width()).unwrap();
    let targets = Targets::Classes {
        labels: labels(model.output_width()),
        n_classes: model.output_width(),
    };
    Objective::new(model, x, targets, Loss::CrossEntropy).unwrap()
}

fn norm(values: &[f64]) -> f64 {
    values.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// `x Wᵀ + b` for a `[fan_out, fan_in]` weight, row by row.
fn affine(x: &[f64], w: &[f64], b: &[f64], fan_in: usize) -> Vec<f64> {
    x.chunks_exact(fan_in)
        .flat_map(|row| {
            (0..b.len())
                .map(move |j| b[j] + (0..fan_in).map(|i| w[j * fan_in + i] * row[i]).sum::<f64>())
        })
        .collect()
}

/// Relative agreement to 1e-12 for quantities computed in a different order (rounding is
/// ~1e-15 relative); a norm of the wrong block, a missing square root or the update taken
/// against the new weights is off by far more.
fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-12 * want.abs().max(1e-300),
        "{what}: {got} against {want}"
    );
}

#[test]
fn a_norms_record_matches_the_layers_computed_by_hand() {
    // 3 inputs, 4 ReLU units, 2 classes; hidden units 0 and 2 get a bias of -100 (dead
    // for these inputs of size < 1), 1 and 3 a bias of +100 (alive): half are dead.
    let model = Mlp::from_spec("3-4-2:relu").unwrap();
    let layout = model.layout().to_vec();
    let mut theta = model.init(1);
    let hidden_bias = &layout[1];
    assert_eq!(hidden_bias.name, "layers.0.bias");
    for (j, b) in [-100.0, 100.0, -100.0, 100.0].into_iter().enumerate() {
        theta[hidden_bias.offset + j] = b;
    }
    let lr = 0.1;
    let optimizer = Registry::builtin().build(&format!("sgd:lr={lr}")).unwrap();
    let config = TrainConfig {
        batch_size: ROWS,
        progress: false,
        stuck: None,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&model, optimizer, config, theta.clone())
        .unwrap()
        .with_instruments(InstrumentConfig::from_spec("norms").unwrap())
        .unwrap();
    let (x, labels) = (inputs(3), labels(2));
    let targets = BatchTargets::Classes {
        labels: &labels,
        n_classes: 2,
    };
    trainer
        .train_on(&Batch::new(&x, 3, targets).unwrap())
        .unwrap();
    let record = &trainer.history().norms[0];

    let (_, grad) = objective(&model).gradient(&theta).unwrap();
    let block = |values: &[f64], k: usize| {
        values[layout[k].offset..layout[k].offset + layout[k].len()].to_vec()
    };
    for (k, spec) in layout.iter().enumerate() {
        let (g, w) = (norm(&block(&grad, k)), norm(&block(&theta, k)));
        close(
            record
                .blocks
                .get(&format!("grad_norm/{}", spec.name))
                .unwrap(),
            g,
            "grad",
        );
        close(
            record
                .blocks
                .get(&format!("weight_norm/{}", spec.name))
                .unwrap(),
            w,
            "weight",
        );
        // Plain SGD: the update is -lr g, so the ratio is lr |g_b| / |θ_b|; the
        // subtraction θ₁ - θ₀ rounds at 1e-16 |θ|, hence the looser 1e-9.
        let ratio = record
            .blocks
            .get(&format!("update_ratio/{}", spec.name))
            .unwrap();
        assert!(
            (ratio - lr * g / w).abs() <= 1e-9 * ratio,
            "{}: {ratio}",
            spec.name
        );
    }
    let hidden = affine(&x, &block(&theta, 0), &block(&theta, 1), 3);
    let dead = (0..4)
        .filter(|&j| hidden.chunks_exact(4).all(|row| row[j] <= 0.0))
        .count();
    assert_eq!(dead, 2);
    assert_eq!(record.dead_relu_fraction, Some(0.5));
    let relu: Vec<f64> = hidden.iter().map(|h| h.max(0.0)).collect();
    let logits = affine(&relu, &block(&theta, 2), &block(&theta, 3), 4);
    let scale = logits
        .chunks_exact(2)
        .map(|row| row[0].abs().max(row[1].abs()))
        .sum::<f64>()
        / ROWS as f64;
    close(record.logit_scale, scale, "logit scale");
}

#[test]
fn tracked_lambda_max_and_trace_match_the_exact_hessian() {
    let model = Mlp::from_spec("2-6-3:tanh").unwrap();
    let objective = objective(&model);
    let config = CurvatureConfig {
        every: 1,
        iters: 60,
        probes: 64,
        seed: 3,
    };
    let mut tracker = CurvatureTracker::new(config);
    let mut theta = model.init(7);
    let mut separated = 0;
    for step in 0..3 {
        let record = tracker.measure(&objective, &theta, step, 0.1).unwrap();
        let hessian = full_hessian(&objective.curvature(&theta).unwrap()).unwrap();
        let eigenvalues = hessian.eigenvalues().unwrap();
        let (exact, second) = (
            eigenvalues[eigenvalues.len() - 1],
            eigenvalues[eigenvalues.len() - 2],
        );
        let spectral_norm = exact.abs().max(eigenvalues[0].abs());
        // A Ritz value lies within its residual of an eigenvalue and below λ_max; the
        // tracker stops at a residual of 1e-2 ‖T‖ (‖T‖ at most 3 ‖H‖, its Gershgorin
        // bound), and once the Ritz value is above the second eigenvalue Kato-Temple
        // bounds its error by residual² / (value - second).
        assert!(record.lambda_max <= exact + 1e-10 * exact.abs());
        assert!(
            exact - record.lambda_max <= record.residual + 1e-10 * exact.abs(),
            "step {step}: {} against {exact}, residual {}",
            record.lambda_max,
            record.residual
        );
        assert!(record.residual <= 3e-2 * spectral_norm, "{record:?}");
        if record.lambda_max > second {
            separated += 1;
            let kato_temple = record.residual.powi(2) / (record.lambda_max - second);
            assert!(
                exact - record.lambda_max <= kato_temple + 1e-10 * exact.abs(),
                "step {step}: {} against {exact}, bound {kato_temple}",
                record.lambda_max
            );
        }
        // The trace (Lanczos basis plus deflated Hutchinson): unbiased, with the reported
        // standard error; four of them is a two-sided 1e-4 event for a mean of 64 probes.
        let (trace, error) = (record.trace.unwrap(), record.trace_std_error.unwrap());
        assert!(
            (trace - hessian.trace()).abs() <= 4.0 * error,
            "step {step}: {trace} ± {error} against {}",
            hessian.trace()
        );
        assert!(error < 0.5 * hessian.trace().abs(), "{error}");
        // The next measurement starts warm from this one's vector, a little further on.
        for t in &mut theta {
            *t *= 1.05;
        }
    }
    // The Kato-Temple check above ran (the Ritz values passed the second eigenvalue).
    assert_eq!(separated, 3);
}

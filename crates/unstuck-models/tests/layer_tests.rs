//! Every layer inside a small network: gradients and Hessian-vector products against
//! finite differences, train and eval modes, dropout's seeds, causality of attention,
//! f32 against f64, buffers through safetensors, and initialisation per parameter.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use unstuck_autodiff::{CheckOptions, Tape, Tensor, check_grad, check_hvp};
use unstuck_models::{
    AnyModel, Loss, Model, ModelError, ModelRegistry, Objective, Pass, Targets, state_from_bytes,
    state_to_bytes,
};

fn normals(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()
}

fn build(text: &str) -> Box<dyn AnyModel> {
    ModelRegistry::builtin()
        .build(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// A batch of `rows` examples for `model`: token ids for a token model, normals otherwise.
fn batch(model: &dyn AnyModel, rows: usize, seed: u64) -> Tensor<f64> {
    let mut dims = vec![rows];
    dims.extend(model.input_dims());
    let n: usize = dims.iter().product();
    let values = match model.token_vocabulary() {
        Some(vocabulary) => (0..n).map(|i| ((i * 7 + 3) % vocabulary) as f64).collect(),
        None => normals(n, seed),
    };
    Tensor::new(values, &dims).unwrap()
}

fn objective<'m>(model: &'m dyn Model<f64>, x: Tensor<f64>) -> Objective<'m, f64> {
    let rows = x.dims()[0];
    let n_classes = model.output_width();
    let targets = Targets::Classes {
        labels: (0..rows).map(|i| (i * 5 + 1) % n_classes).collect(),
        n_classes,
    };
    Objective::new(model, x, targets, Loss::CrossEntropy).unwrap()
}

/// Smooth networks covering every layer kind (max-pooling and ReLU only away from ties:
/// random inputs make ties improbable, and the finite-difference step is 2e-6).
const SMOOTH: [&str; 6] = [
    "1x6x6/conv(3,k=3,pad=1)-tanh-avgpool(2)-conv(2,k=2,stride=2,bias=false)-flatten-linear(3)",
    "2x5x5/conv(3,k=2)-sigmoid-maxpool(2)-flatten-linear(4)",
    "6/linear(5)-batchnorm-tanh-linear(4)-layernorm-gelu-linear(3)",
    "2x4x4/conv(3,k=3,pad=1)-batchnorm-tanh-flatten-linear(3)",
    "4/embedding(7,6)-posembed-residual(attention(2)-gelu)-layernorm-tokenmean-linear(3)",
    "6/linear(6)-residual(linear(6)-tanh-dropout(0.3))-leaky_relu(0.2)-linear(3)",
];

#[test]
fn gradients_and_hvps_match_finite_differences_for_every_layer() {
    for (k, text) in SMOOTH.iter().enumerate() {
        let model = build(text);
        let model: &dyn Model<f64> = model.as_ref();
        // Inputs of 5 rows: batch statistics and attention see more than one example.
        let x = batch(build(text).as_ref(), 5, k as u64);
        let objective = objective(model, x);
        let theta = model.init(k as u64 + 10);
        // PyTorch's gradcheck tolerances (see CheckOptions): a rule wrong by 1e-4 relative fails.
        let report = check_grad(objective.as_fn(), &theta, &CheckOptions::default()).unwrap();
        assert!(report.passed(), "{text}: gradient {report}");
        let v = normals(theta.len(), 100 + k as u64);
        let report = check_hvp(objective.as_fn(), &theta, &v, &CheckOptions::default()).unwrap();
        assert!(report.passed(), "{text}: hvp {report}");
    }
}

#[test]
fn f32_follows_f64() {
    for text in SMOOTH {
        let model = build(text);
        let x64 = batch(model.as_ref(), 4, 3);
        let x32 = Tensor::new(x64.data().iter().map(|&v| v as f32).collect(), x64.dims()).unwrap();
        let theta64: Vec<f64> = Model::<f64>::init(model.as_ref(), 1);
        let theta32: Vec<f32> = Model::<f32>::init(model.as_ref(), 1);
        let l64 =
            unstuck_models::logits(model.as_ref() as &dyn Model<f64>, &theta64, &x64).unwrap();
        let l32 =
            unstuck_models::logits(model.as_ref() as &dyn Model<f32>, &theta32, &x32).unwrap();
        for (a, b) in l64.data().iter().zip(l32.data()) {
            // f32 rounding through a handful of layers: a few hundred ulps at most.
            assert!(
                (a - f64::from(*b)).abs() <= 1e-4 * (1.0 + a.abs()),
                "{text}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn attention_is_causal_and_heads_split_the_width() {
    let model = build("4/embedding(9,8)-attention(4)-flatten-linear(2)");
    assert_eq!(model.layout().len(), 1 + 8 + 2);
    // The attention block's outputs, flattened: changing the last token must leave the
    // first three positions unchanged.
    let inner = build("4/embedding(9,8)-attention(4)-flatten");
    let theta: Vec<f64> = Model::<f64>::init(inner.as_ref(), 4);
    let out = |ids: [f64; 4]| {
        let x = Tensor::new(ids.to_vec(), &[1, 4]).unwrap();
        unstuck_models::logits(inner.as_ref() as &dyn Model<f64>, &theta, &x)
            .unwrap()
            .into_data()
    };
    let (a, b) = (out([1.0, 2.0, 3.0, 4.0]), out([1.0, 2.0, 3.0, 8.0]));
    assert_eq!(
        a[..24],
        b[..24],
        "earlier positions must not see the last token"
    );
    assert!(a[24..].iter().zip(&b[24..]).any(|(x, y)| x != y));
    let err = ModelRegistry::builtin()
        .build("4/embedding(9,8)-attention(3)")
        .unwrap_err();
    assert!(
        err.to_string().contains("3 heads must divide the width 8"),
        "{err}"
    );
}

#[test]
fn dropout_is_seeded_in_training_and_the_identity_in_eval() {
    let model = build("6/linear(6)-dropout(0.5)-linear(3)");
    let model: &dyn Model<f64> = model.as_ref();
    let theta = model.init(0);
    let x = Tensor::new(normals(4 * 6, 1), &[4, 6]).unwrap();
    let run = |mut pass: Pass<'_>| {
        let tape = Tape::new();
        let theta = tape.constant(Tensor::vector(theta.clone()));
        let x = tape.constant(x.clone());
        tape.value(model.forward_pass(&tape, theta, x, &mut pass))
            .into_data()
    };
    assert_eq!(run(Pass::train(7, &[])), run(Pass::train(7, &[])));
    assert_ne!(run(Pass::train(7, &[])), run(Pass::train(8, &[])));
    let without = build("6/linear(6)-linear(3)");
    let plain = unstuck_models::logits(without.as_ref() as &dyn Model<f64>, &theta, &x).unwrap();
    assert_eq!(run(Pass::eval(&[])), plain.into_data());
}

#[test]
fn batch_norm_2d_tracks_running_statistics_per_channel_and_round_trips_them() {
    let model = build("2x3x3/bn=batchnorm(momentum=0.5)-flatten-linear(2)");
    let names: Vec<&str> = model
        .buffer_layout()
        .iter()
        .map(|b| b.name.as_str())
        .collect();
    assert_eq!(names, ["bn.running_mean", "bn.running_var"]);
    let model64: &dyn Model<f64> = model.as_ref();
    let theta = model64.init(0);
    let x = batch(model.as_ref(), 4, 9);
    let tape = Tape::new();
    let theta_var = tape.constant(Tensor::vector(theta.clone()));
    let x_var = tape.constant(x.clone());
    let initial = model.initial_buffers();
    assert_eq!(initial, [0.0, 0.0, 1.0, 1.0]);
    let mut pass = Pass::train_tracking(0, &initial);
    model64.forward_pass(&tape, theta_var, x_var, &mut pass);
    let buffers = pass.updated_buffers(&tape);
    // Channel c's statistics over the 4 x 3 x 3 values, by plain loops.
    for c in 0..2 {
        let values: Vec<f64> = (0..4)
            .flat_map(|n| (0..9).map(move |i| (n, i)))
            .map(|(n, i)| x.data()[n * 18 + c * 9 + i])
            .collect();
        let mean = values.iter().sum::<f64>() / 36.0;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 35.0;
        assert!((buffers[c] - 0.5 * mean).abs() < 1e-14);
        assert!((buffers[2 + c] - (0.5 + 0.5 * var)).abs() < 1e-14);
    }
    let bytes = state_to_bytes(model.as_ref(), &theta, &buffers).unwrap();
    let (theta_back, buffers_back): (Vec<f64>, Vec<f64>) =
        state_from_bytes(model.as_ref(), &bytes).unwrap();
    assert_eq!((theta_back, buffers_back), (theta, buffers.clone()));
    let zeros = vec![0.0; model.n_params()];
    let err = state_to_bytes(model.as_ref(), &zeros, &buffers[..3]).unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::BufferCount {
                expected: 4,
                got: 3
            }
        ),
        "{err}"
    );
}

#[test]
fn token_ids_are_checked_before_recording() {
    let model = build("3/embedding(5,4)-tokenmean-linear(2)");
    let model: &dyn Model<f64> = model.as_ref();
    let theta = model.init(0);
    for (bad, index) in [(5.0, 1), (-1.0, 1), (1.5, 1), (f64::NAN, 1)] {
        let x = Tensor::new(vec![0.0, bad, 2.0], &[1, 3]).unwrap();
        let err = unstuck_models::logits(model, &theta, &x).unwrap_err();
        assert!(
            matches!(err, ModelError::TokenId { index: i, .. } if i == index),
            "{err}"
        );
    }
}

#[test]
fn inputs_of_the_wrong_shape_are_errors() {
    let model = build("1x4x4/conv(2,k=3)-flatten-linear(2)");
    let model: &dyn Model<f64> = model.as_ref();
    let theta = model.init(0);
    let x = Tensor::new(vec![0.0; 2 * 15], &[2, 15]).unwrap();
    let err = unstuck_models::logits(model, &theta, &x).unwrap_err();
    assert!(matches!(err, ModelError::InputShape { .. }), "{err}");
    assert!(err.to_string().contains("[batch, 1, 4, 4]"), "{err}");
}

#[test]
fn init_draws_each_parameter_by_its_law() {
    let model = build("2x3x3/conv(4,k=3)-batchnorm-flatten-layernorm-embedding_free=linear(3)");
    let theta: Vec<f64> = Model::<f64>::init(model.as_ref(), 3);
    let layout = model.layout();
    let slice = |name: &str| {
        let spec = layout.iter().find(|s| s.name == name).unwrap();
        &theta[spec.range()]
    };
    // Conv: PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = 2 * 3 * 3.
    let bound = 1.0 / 18f64.sqrt();
    assert!(slice("0.weight").iter().all(|w| w.abs() <= bound));
    assert!(slice("0.weight").iter().any(|w| w.abs() > 0.5 * bound));
    assert!(slice("1.weight").iter().all(|&w| w == 1.0));
    assert!(slice("1.bias").iter().all(|&b| b == 0.0));
    assert!(slice("3.weight").iter().all(|&w| w == 1.0));
    assert_eq!(Model::<f64>::init(model.as_ref(), 3), theta);
}

#[test]
fn display_is_a_spec_that_builds_the_same_network() {
    for text in SMOOTH {
        let model = build(text);
        let again = build(&model.to_string());
        assert_eq!(again.to_string(), model.to_string());
        assert_eq!(again.layout(), model.layout(), "{text}");
    }
}

//! Per-example gradients of a convolutional network in a training run: the noise
//! instrument measures every parameter of a LeNet-like CNN on the digits images, its
//! records are the same bits on 1 and 2 threads, and its noise scale agrees with the one
//! `per_sample_gradients` gives for the same batch.

mod per_sample_check;

use per_sample_check::instrumented_history;
use unstuck::instruments::{InstrumentConfig, noise_scale, per_sample_gradients};
use unstuck::models::{Loss, Model, ModelRegistry, Objective};
use unstuck::optim::Registry;
use unstuck::{History, TrainConfig, Trainer, data};

/// LeNet's shape on the 8x8 digits: two convolutions (the first padded), ReLU, pooling,
/// two linear layers.
const LENET_8X8: &str =
    "1x8x8/conv(6,k=3,pad=1)-relu-maxpool(2)-conv(12,k=3)-relu-flatten-linear(32)-relu-linear(10)";

fn digits_batch(rows: usize) -> data::Dataset<f64> {
    let digits = data::digits::<f64>();
    let indices: Vec<usize> = (0..rows).collect();
    let scaled = digits.select(&indices).unwrap();
    let (features, width, targets) = scaled.into_parts();
    // Pixel counts 0..=16 to 0..=1, as the CLI's digits do not; any scale works here.
    let features = features.into_iter().map(|v| v / 16.0).collect();
    data::Dataset::new(features, width, targets)
        .unwrap()
        .with_example_dims(&[1, 8, 8])
        .unwrap()
}

fn cnn_run(threads: usize) -> History {
    let config = TrainConfig {
        // 128 images of 64 positions: the per-example products split into 4 groups.
        batch_size: 128,
        epochs: 2,
        progress: false,
        stuck: None,
        ..TrainConfig::default()
    };
    let train = digits_batch(384);
    instrumented_history(
        threads,
        &train,
        LENET_8X8,
        "sgd:lr=0.1,momentum=0.9",
        config,
        "noise:every=2",
    )
}

#[test]
fn a_cnn_training_run_records_the_noise_of_every_parameter_on_one_and_two_threads() {
    let one = cnn_run(1);
    let two = cnn_run(2);
    assert_eq!(one.steps.len(), 6);
    assert_eq!(one.noise.len(), 3);
    for record in &one.noise {
        assert!(record.excluded.is_empty(), "{:?}", record.excluded);
        assert_eq!(record.batch_size, 128);
        assert!(record.trace_sigma > 0.0 && record.grad_sq.is_finite());
        for name in ["0.weight", "0.bias", "3.weight", "3.bias", "6.weight"] {
            assert!(record.blocks.contains_key(&format!("variance/{name}")));
            assert!(record.blocks.contains_key(&format!("snr/{name}")));
        }
    }
    assert_eq!(one.to_json(), two.to_json());
}

#[test]
fn the_trainers_noise_record_is_the_noise_scale_of_its_batch() {
    // The trainer's first step (before any update, no dropout) measures the batch
    // `per_sample_gradients` measures at the initial theta: the same numbers.
    let train = digits_batch(64);
    let model = ModelRegistry::builtin().build(LENET_8X8).unwrap();
    let model: &dyn Model<f64> = model.as_ref();
    let theta = model.init(1);
    let objective = Objective::from_batch(model, &train.as_batch(), Loss::CrossEntropy).unwrap();
    let moments = per_sample_gradients(&objective, &theta).unwrap();
    assert!(moments.excluded.is_empty());
    let scale = noise_scale(&moments).unwrap();

    let optimizer = Registry::builtin().build("sgd:lr=0.1").unwrap();
    let config = TrainConfig {
        batch_size: 64,
        progress: false,
        stuck: None,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(model, optimizer, config, theta)
        .unwrap()
        .with_instruments(InstrumentConfig::from_spec("noise").unwrap())
        .unwrap();
    trainer.train_on(&train.as_batch()).unwrap();
    let record = &trainer.history().noise[0];
    assert_eq!(record.trace_sigma, scale.trace_sigma);
    assert_eq!(record.grad_sq, scale.grad_sq);
    assert_eq!(record.b_simple, scale.b_simple);
}

//! The instruments against their definitions: per-example gradient moments from one
//! backward pass against B single-example backward passes, the noise scale against its
//! formula on explicit per-example gradients, and the trainer's records bit-identical on
//! 1 and 2 threads.

mod per_sample_check;

use per_sample_check::{check_close, check_per_sample, inputs, instrumented_history, objective};
use unstuck::instruments::{InstrumentConfig, InstrumentError, per_sample_gradients};
use unstuck::models::{Model, ModelRegistry};
use unstuck::optim::Registry;
use unstuck::{Checkpoint, History, TrainConfig, Trainer, data};

#[test]
fn per_example_moments_match_single_example_backward_passes() {
    check_per_sample("5-7-6-3:tanh", 6);
    check_per_sample("4-8-8-3:relu,residual", 5);
    check_per_sample("3x1x2/flatten-linear(4)-gelu-linear(2)", 4);
    // Products of a sequence's tokens: a linear layer on every token, attention's four
    // projections (inside a residual), then a linear head on the tokens' mean.
    check_per_sample(
        "4x3/linear(6)-tanh-residual(attention(2))-tokenmean-linear(3)",
        5,
    );
}

/// A small CNN whose convolutions have padding, a stride, a rectangular input, two
/// input channels and no bias on one of them: a rule that mishandles any of these gives
/// other per-example products, off by O(1) relative. Checked by breaking the per-example
/// kernel by hand: with the width padding one short, or the strided windows read one
/// column late, the check fails on `0.weight` (0.0169 and 0.0162 against 0.00169).
const CNN: &str = "2x9x8/conv(3,k=3,stride=2,pad=1)-relu-maxpool(2)-conv(4,k=2,pad=1,bias=false)-tanh-flatten-linear(5)-relu-linear(3)";

#[test]
fn per_example_moments_of_a_cnn_match_single_example_backward_passes() {
    check_per_sample(CNN, 7);
}

#[test]
fn squaring_each_output_position_instead_of_each_example_is_caught() {
    // The tempting wrong rule (a linear layer's outer-product trick applied position by
    // position, as if each of the L positions were an example) gives Σ_i Σ_l (ĝ_il x_il)²
    // instead of Σ_i (Σ_l ĝ_il x_il)². On this CNN it is far outside check_close's 1e-12,
    // so the test above can tell the two apart.
    let model = ModelRegistry::builtin()
        .build("1x4x4/conv(1,k=3,bias=false)-tanh-flatten-linear(2)")
        .unwrap();
    let model: &dyn Model<f64> = model.as_ref();
    let theta = model.init(3);
    let x = inputs(3, 16);
    let labels = [0, 1, 1];
    let moments = per_sample_gradients(&objective(model, &x, 3, &labels), &theta).unwrap();
    let right = &moments.blocks[0];
    assert_eq!(right.name, "0.weight");
    // The network by hand: z = conv(x) (2x2 positions l, 9 taps k), h = tanh z, logits
    // W2 h + b2; example i's ĝ_il = Σ_j W2[j, l] (p_ij - y_ij) (1 - h_il²).
    let (w1, w2) = (&theta[0..9], &theta[9..17]);
    let (mut right_by_hand, mut wrong) = (vec![0.0; 9], vec![0.0; 9]);
    for (i, &label) in labels.iter().enumerate() {
        let image = &x[i * 16..(i + 1) * 16];
        let tap = |l: usize, k: usize| image[(l / 2 + k / 3) * 4 + l % 2 + k % 3];
        let z: Vec<f64> = (0..4)
            .map(|l| (0..9).map(|k| w1[k] * tap(l, k)).sum::<f64>())
            .collect();
        let h: Vec<f64> = z.iter().map(|v| v.tanh()).collect();
        let logits: Vec<f64> = (0..2)
            .map(|j| theta[17 + j] + (0..4).map(|l| w2[j * 4 + l] * h[l]).sum::<f64>())
            .collect();
        let top = logits[0].max(logits[1]);
        let e: Vec<f64> = logits.iter().map(|v| (v - top).exp()).collect();
        let p: Vec<f64> = e.iter().map(|v| v / (e[0] + e[1])).collect();
        let dz: Vec<f64> = (0..4)
            .map(|l| {
                let dh: f64 = (0..2)
                    .map(|j| w2[j * 4 + l] * (p[j] - f64::from(u8::from(j == label))))
                    .sum();
                dh * (1.0 - h[l] * h[l])
            })
            .collect();
        for k in 0..9 {
            let terms = (0..4).map(|l| dz[l] * tap(l, k));
            right_by_hand[k] += terms.clone().sum::<f64>().powi(2);
            wrong[k] += terms.map(|t| t * t).sum::<f64>();
        }
    }
    // The hand derivation is the instrument's (so the wrong rule below is built on the
    // right ĝ), ...
    for (got, want) in right.sum_sq_per_param.iter().zip(&right_by_hand) {
        check_close(*got, *want, "conv weight by hand");
    }
    let gap = right
        .sum_sq_per_param
        .iter()
        .zip(&wrong)
        .map(|(r, w)| (r - w).abs() / r)
        .fold(0.0, f64::max);
    // ... and the wrong rule misses it by far more than check_close's 1e-12.
    assert!(
        gap > 1e-3,
        "the wrong rule is within {gap} of the right one"
    );
}

#[test]
fn batch_norm_in_training_mode_is_refused() {
    let bn = ModelRegistry::builtin()
        .build("4/linear(3)-batchnorm-tanh-linear(2)")
        .unwrap();
    let bn: &dyn Model<f64> = bn.as_ref();
    let x = inputs(3, 4);
    let error = per_sample_gradients(&objective(bn, &x, 3, &[0, 1, 0]), &bn.init(0)).unwrap_err();
    assert!(
        matches!(error, InstrumentError::BatchMixing { .. }),
        "{error}"
    );
}

fn instrumented_run(threads: usize) -> History {
    let config = TrainConfig {
        // 128 rows and 80 units: the matrix products split into several tasks.
        batch_size: 128,
        epochs: 3,
        progress: false,
        stuck: None,
        ..TrainConfig::default()
    };
    let train = data::generate::<f64>("blobs:n=256,classes=3,seed=4")
        .unwrap()
        .train;
    instrumented_history(
        threads,
        &train,
        "2-80-80-3:relu",
        "sgd:lr=0.3,momentum=0.5",
        config,
        "norms,noise,alpha:every=2,curvature:every=4,iters=6,probes=4",
    )
}

#[test]
fn instrument_records_are_the_same_bits_on_one_and_two_threads() {
    let one = instrumented_run(1);
    let two = instrumented_run(2);
    assert_eq!(one.steps.len(), 6);
    assert_eq!(one.norms.len(), 6);
    assert_eq!(one.noise.len(), 6);
    assert_eq!(one.alpha.len(), 3);
    assert_eq!(one.curvature.len(), 2);
    assert!(one.noise.iter().all(|r| r.excluded.is_empty()));
    assert!(
        one.norms[0]
            .blocks
            .contains_key("update_ratio/layers.2.weight"),
        "{:?}",
        one.norms[0]
    );
    assert_eq!(one.to_json(), two.to_json());
    // The JSON Lines written in pieces read back into the same history.
    let text = one.json_lines_since(Default::default());
    assert_eq!(History::from_json_lines(&text).unwrap(), one);
}

/// A trainer on the blobs with the curvature instrument (and norms), for `epochs` epochs.
fn curvature_config(epochs: u64) -> TrainConfig {
    TrainConfig {
        batch_size: 64,
        epochs,
        seed: 5,
        progress: false,
        stuck: None,
        ..TrainConfig::default()
    }
}

const CURVATURE_SPEC: &str = "norms,curvature:every=3,iters=6,probes=3";

#[test]
fn resuming_with_instruments_gives_the_same_history_bits_as_a_straight_run() {
    let train = data::generate::<f64>("blobs:n=256,classes=3,seed=4")
        .unwrap()
        .train;
    let model = ModelRegistry::builtin().build("2-12-3:relu").unwrap();
    let model: &dyn Model<f64> = model.as_ref();
    let build = || {
        Registry::builtin()
            .build("sgd:lr=0.2,momentum=0.5")
            .unwrap()
    };
    let instruments = || InstrumentConfig::from_spec(CURVATURE_SPEC).unwrap();
    let mut straight = Trainer::new(model, build(), curvature_config(4), model.init(2))
        .unwrap()
        .with_instruments(instruments())
        .unwrap();
    straight.fit(&train, None).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.ckpt.json");
    let mut first = Trainer::new(model, build(), curvature_config(2), model.init(2))
        .unwrap()
        .with_instruments(instruments())
        .unwrap();
    first.fit(&train, None).unwrap();
    first.checkpoint().save(&path).unwrap();
    let checkpoint = Checkpoint::load(&path).unwrap();
    // 8 steps so far, measured at 0, 3, 6: the warm start is in the file.
    assert_eq!(
        checkpoint.curvature_start.as_ref().map(Vec::len),
        Some(model.n_params())
    );
    let mut resumed = Trainer::resume(model, build(), curvature_config(4), checkpoint.clone())
        .unwrap()
        .with_instruments(instruments())
        .unwrap();
    resumed.fit(&train, None).unwrap();
    let (straight, resumed_history) = (
        straight.history().without_timings(),
        resumed.history().without_timings(),
    );
    assert_eq!(straight.curvature.len(), 6);
    assert_eq!(straight.to_json(), resumed_history.to_json());

    // A format-2 file (no warm start) still loads, and resumes with a cold Lanczos: its
    // λ_max after the checkpoint are not the straight run's bits (the guard above is
    // not vacuous), though close.
    let mut old = serde_json::to_value(&checkpoint).unwrap();
    old["format"] = 2.into();
    old.as_object_mut().unwrap().remove("curvature_start");
    std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
    let old = Checkpoint::load(&path).unwrap();
    assert_eq!(old.curvature_start, None);
    let mut cold = Trainer::resume(model, build(), curvature_config(4), old)
        .unwrap()
        .with_instruments(instruments())
        .unwrap();
    cold.fit(&train, None).unwrap();
    assert_ne!(
        straight.curvature[3..],
        cold.history().without_timings().curvature[3..]
    );
}

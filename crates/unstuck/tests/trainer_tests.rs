//! The training loop: it learns, it is reproducible, it stops on divergence, it notices a
//! saddle and escapes it, and it resumes bit-identically.

use unstuck::data::{self, Dataset, Targets as DataTargets};
use unstuck::hessian::CriticalPointKind;
use unstuck::models::{Architecture, Loss, Mlp, Model, ParamSpec};
use unstuck::optim::Registry;
use unstuck::{Checkpoint, Event, StuckConfig, TrainConfig, TrainError, Trainer};
use unstuck_autodiff::{Tape, Var};

fn blobs() -> Dataset<f64> {
    data::generate::<f64>("blobs:n=120,classes=3,std=0.3,seed=7")
        .unwrap()
        .train
}

fn quiet(config: TrainConfig) -> TrainConfig {
    TrainConfig {
        progress: false,
        ..config
    }
}

#[test]
fn separable_blobs_reach_full_training_accuracy() {
    let train = blobs();
    let model = Mlp::from_spec("2-16-3:tanh").unwrap();
    let optimizer = Registry::builtin().build("adam:lr=0.05").unwrap();
    let config = quiet(TrainConfig {
        batch_size: 16,
        epochs: 30,
        seed: 3,
        ..TrainConfig::default()
    });
    let mut trainer = Trainer::new(&model, optimizer, config, model.init(1)).unwrap();
    let history = trainer.fit(&train, None).unwrap();
    let last = history.epochs.last().unwrap();
    assert_eq!(last.train_accuracy, Some(1.0), "{last:?}");
    assert!(last.train_loss < history.epochs[0].train_loss);
    assert_eq!(history.steps.len(), 30 * 8);
}

fn run(seed: u64, epochs: u64) -> (Vec<f64>, unstuck::History) {
    let train = blobs();
    let model = Mlp::from_spec("2-8-8-3:relu").unwrap();
    let optimizer = Registry::builtin()
        .build("sgd:lr=0.1,momentum=0.9")
        .unwrap();
    let config = quiet(TrainConfig {
        batch_size: 10,
        epochs,
        seed,
        ..TrainConfig::default()
    });
    let mut trainer = Trainer::new(&model, optimizer, config, model.init(5)).unwrap();
    trainer.fit(&train, Some(&train)).unwrap();
    (
        trainer.theta().to_vec(),
        trainer.history().without_timings(),
    )
}

#[test]
fn identical_seeds_give_identical_histories() {
    let (theta_a, history_a) = run(11, 4);
    let (theta_b, history_b) = run(11, 4);
    assert_eq!(history_a, history_b);
    let bits = |t: &[f64]| t.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&theta_a), bits(&theta_b));
    let (_, history_c) = run(12, 4);
    assert_ne!(history_a.steps, history_c.steps, "another seed reshuffles");
}

#[test]
fn a_huge_learning_rate_gives_the_divergence_error() {
    let train = blobs();
    let model = Mlp::from_spec("2-16-3:relu").unwrap();
    let optimizer = Registry::builtin().build("sgd:lr=1e12").unwrap();
    let config = quiet(TrainConfig {
        batch_size: 120,
        epochs: 50,
        stuck: None,
        ..TrainConfig::default()
    });
    let mut trainer = Trainer::new(&model, optimizer, config, model.init(2)).unwrap();
    match trainer.fit(&train, None) {
        Err(TrainError::Diverged {
            step, last_good, ..
        }) => {
            assert!(step > 0, "the first step is finite");
            assert!(last_good.iter().all(|t| t.is_finite()));
            assert_eq!(
                trainer.theta(),
                &last_good[..],
                "the trainer keeps the last good point"
            );
        }
        other => panic!("expected divergence, got {other:?}"),
    }
}

/// One example, x = 1 and y = 1: with the lecture's network, L(w1, w2) = (1 - w1 w2)^2.
fn lecture_data() -> Dataset<f64> {
    Dataset::new(
        vec![1.0],
        1,
        DataTargets::Real {
            values: vec![1.0],
            n_outputs: 1,
        },
    )
    .unwrap()
}

/// The lecture's network: y = w2 * (w1 * x), no biases.
#[derive(Debug)]
struct LectureNet {
    layout: Vec<ParamSpec>,
}

impl LectureNet {
    fn new() -> Self {
        let spec = |name: &str, offset| ParamSpec {
            name: name.into(),
            shape: vec![1, 1],
            offset,
        };
        LectureNet {
            layout: vec![spec("w1", 0), spec("w2", 1)],
        }
    }
}

impl Architecture for LectureNet {
    fn layout(&self) -> &[ParamSpec] {
        &self.layout
    }
    fn input_width(&self) -> usize {
        1
    }
    fn output_width(&self) -> usize {
        1
    }
}

impl Model<f64> for LectureNet {
    fn init(&self, _seed: u64) -> Vec<f64> {
        vec![0.0, 0.0]
    }
    fn forward(&self, tape: &Tape<f64>, theta: Var, x: Var) -> Var {
        let w = tape.mul(tape.slice(theta, 0, 1), tape.slice(theta, 1, 1));
        tape.mul(x, w)
    }
}

#[test]
fn the_stuck_detector_fires_at_the_lecture_saddle_and_escapes() {
    // x = 1, y = 1: L(w1, w2) = (1 - w1 w2)^2, started exactly at the saddle (0, 0).
    let train = lecture_data();
    let model = LectureNet::new();
    let optimizer = Registry::builtin().build("sgd:lr=0.1").unwrap();
    let config = quiet(TrainConfig {
        batch_size: 1,
        epochs: 60,
        loss: Loss::Mse,
        stuck: Some(StuckConfig {
            patience: 5,
            ..StuckConfig::default()
        }),
        ..TrainConfig::default()
    });
    let mut trainer = Trainer::new(&model, optimizer, config, model.init(0)).unwrap();
    let history = trainer.fit(&train, None).unwrap().clone();
    match &history.events[..] {
        [
            Event::Stuck {
                step,
                classification,
                min_eigenvalue,
                ..
            },
            Event::Escaped {
                loss_before,
                loss_after,
                ..
            },
            ..,
        ] => {
            assert_eq!(*step, 5);
            assert_eq!(*classification, Some(CriticalPointKind::Saddle));
            assert!((min_eigenvalue.unwrap() + 2.0).abs() < 1e-12);
            assert_eq!(*loss_before, 1.0);
            assert!(loss_after < loss_before);
        }
        other => panic!("expected Stuck then Escaped, got {other:?}"),
    }
    assert!(
        history.final_train_loss().unwrap() < 1e-6,
        "{:?}",
        history.epochs.last()
    );
}

#[test]
fn without_the_detector_gradient_descent_stays_at_the_saddle() {
    let train = lecture_data();
    let model = LectureNet::new();
    let optimizer = Registry::builtin().build("sgd:lr=0.1").unwrap();
    let config = quiet(TrainConfig {
        batch_size: 1,
        epochs: 60,
        loss: Loss::Mse,
        stuck: None,
        ..TrainConfig::default()
    });
    let mut trainer = Trainer::new(&model, optimizer, config, model.init(0)).unwrap();
    let history = trainer.fit(&train, None).unwrap();
    assert_eq!(history.final_train_loss(), Some(1.0));
    assert!(history.events.is_empty());
}

/// Trains `model` 4 epochs straight, and 2 + 2 through a checkpoint file; both must
/// give the same bits (parameters, buffers, history).
fn check_resume_is_bit_identical(model: &dyn Model<f64>) {
    let train = blobs();
    let spec = "adam:lr=0.01";
    let config = |epochs| {
        quiet(TrainConfig {
            batch_size: 16,
            epochs,
            seed: 9,
            ..TrainConfig::default()
        })
    };
    let optimizer = Registry::builtin().build(spec).unwrap();
    let mut straight = Trainer::new(model, optimizer, config(4), model.init(4)).unwrap();
    straight.fit(&train, None).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.ckpt.json");
    let optimizer = Registry::builtin().build(spec).unwrap();
    let mut first = Trainer::new(model, optimizer, config(2), model.init(4)).unwrap();
    first.fit(&train, None).unwrap();
    first.checkpoint().save(&path).unwrap();
    let checkpoint = Checkpoint::load(&path).unwrap();
    let optimizer = Registry::builtin().build(spec).unwrap();
    let mut resumed = Trainer::resume(model, optimizer, config(4), checkpoint).unwrap();
    resumed.fit(&train, None).unwrap();

    let bits = |t: &[f64]| t.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(straight.theta()), bits(resumed.theta()));
    assert_eq!(bits(straight.buffers()), bits(resumed.buffers()));
    assert_eq!(
        straight.history().without_timings(),
        resumed.history().without_timings()
    );
}

#[test]
fn resuming_from_a_checkpoint_is_bit_identical() {
    check_resume_is_bit_identical(&Mlp::from_spec("2-8-3:tanh").unwrap());
}

#[test]
fn resuming_a_batch_norm_network_keeps_its_running_statistics() {
    let registry = unstuck::models::ModelRegistry::builtin();
    let model = registry
        .build("2/linear(8)-bn=batchnorm-tanh-dropout(0.2)-linear(3)")
        .unwrap();
    let model: &dyn Model<f64> = model.as_ref();
    check_resume_is_bit_identical(model);

    // A checkpoint without the statistics (format 1, or another model's) cannot continue
    // the run bit-identically: it is refused, not resumed from fresh statistics.
    let optimizer = Registry::builtin().build("sgd:lr=0.1").unwrap();
    let config = quiet(TrainConfig::default());
    let trainer = Trainer::new(model, optimizer, config.clone(), model.init(0)).unwrap();
    let mut checkpoint = trainer.checkpoint();
    assert_eq!(checkpoint.buffers.len(), 16);
    // A format-1 file (before buffers were saved) still reads, with no buffers.
    let mut old = serde_json::to_value(&checkpoint).unwrap();
    old["format"] = 1.into();
    old.as_object_mut().unwrap().remove("buffers");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.json");
    std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
    checkpoint = Checkpoint::load(&path).unwrap();
    assert!(checkpoint.buffers.is_empty());
    let optimizer = Registry::builtin().build("sgd:lr=0.1").unwrap();
    assert!(matches!(
        Trainer::resume(model, optimizer, config, checkpoint),
        Err(TrainError::BufferLength {
            expected: 16,
            got: 0
        })
    ));
}

#[test]
fn bad_settings_are_typed_errors() {
    let model = Mlp::from_spec("2-8-3:tanh").unwrap();
    let build = || Registry::builtin().build("sgd:lr=0.1").unwrap();
    let zero_batch = quiet(TrainConfig {
        batch_size: 0,
        ..TrainConfig::default()
    });
    assert!(matches!(
        Trainer::new(&model, build(), zero_batch, model.init(0)),
        Err(TrainError::InvalidSetting {
            setting: "batch size",
            ..
        })
    ));
    assert!(matches!(
        Trainer::new(&model, build(), TrainConfig::default(), vec![0.0; 3]),
        Err(TrainError::ThetaLength { got: 3, .. })
    ));
    let too_big = quiet(TrainConfig {
        batch_size: 1000,
        ..TrainConfig::default()
    });
    let mut trainer = Trainer::new(&model, build(), too_big, model.init(0)).unwrap();
    assert!(matches!(
        trainer.fit(&blobs(), None),
        Err(TrainError::Data(_))
    ));
    let wrong_width = Mlp::from_spec("5-8-3:tanh").unwrap();
    let mut trainer = Trainer::new(
        &wrong_width,
        build(),
        quiet(TrainConfig::default()),
        wrong_width.init(0),
    )
    .unwrap();
    assert!(matches!(
        trainer.fit(&blobs(), None),
        Err(TrainError::Model(_))
    ));
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    assert!(matches!(
        Checkpoint::load(&missing),
        Err(TrainError::Checkpoint { .. })
    ));
    std::fs::write(&missing, b"{ not json").unwrap();
    let err = Checkpoint::load(&missing).unwrap_err();
    assert!(err.to_string().contains("malformed"), "{err}");
}

/// A layered network with batch norm and dropout, trained twice from one seed.
fn run_layered(seed: u64) -> (Vec<f64>, Vec<f64>, unstuck::History) {
    let train = blobs();
    let registry = unstuck::models::ModelRegistry::builtin();
    let model = registry
        .build("2/linear(8)-bn=batchnorm-tanh-dropout(0.2)-linear(3)")
        .unwrap();
    let model: &dyn Model<f64> = model.as_ref();
    let optimizer = Registry::builtin().build("adam:lr=0.05").unwrap();
    let config = quiet(TrainConfig {
        batch_size: 16,
        epochs: 5,
        seed,
        ..TrainConfig::default()
    });
    let mut trainer = Trainer::new(model, optimizer, config, model.init(2)).unwrap();
    trainer.fit(&train, None).unwrap();
    (
        trainer.theta().to_vec(),
        trainer.buffers().to_vec(),
        trainer.history().without_timings(),
    )
}

#[test]
fn a_last_batch_of_one_under_batch_norm_is_refused_before_any_step() {
    let train = blobs();
    let n_rows = train.n_rows();
    let registry = unstuck::models::ModelRegistry::builtin();
    let model = registry
        .build("2/linear(8)-bn=batchnorm-tanh-linear(3)")
        .unwrap();
    let model: &dyn Model<f64> = model.as_ref();
    // n_rows % (n_rows - 1) == 1: the last batch of every epoch holds one row.
    let config = |drop_last| {
        quiet(TrainConfig {
            batch_size: n_rows - 1,
            drop_last,
            ..TrainConfig::default()
        })
    };
    let optimizer = Registry::builtin().build("sgd:lr=0.1").unwrap();
    let mut trainer = Trainer::new(model, optimizer, config(false), model.init(0)).unwrap();
    let error = trainer.fit(&train, None).unwrap_err();
    assert!(
        matches!(
            error,
            TrainError::Model(unstuck::models::ModelError::TrainingBatch { batch: 1, .. })
        ),
        "{error}"
    );
    assert_eq!(trainer.steps_taken(), 0);
    let optimizer = Registry::builtin().build("sgd:lr=0.1").unwrap();
    let mut trainer = Trainer::new(model, optimizer, config(true), model.init(0)).unwrap();
    assert!(trainer.fit(&train, None).is_ok());
}

#[test]
fn a_layered_network_trains_with_running_statistics_and_fresh_dropout_masks() {
    let (theta, buffers, history) = run_layered(4);
    // Running mean starts at 0 and variance at 1; 40 steps of momentum 0.1 move both.
    assert_eq!(buffers.len(), 16);
    assert!(buffers[..8].iter().all(|&m| m != 0.0), "{buffers:?}");
    assert!(
        buffers[8..].iter().all(|&v| v > 0.0 && v != 1.0),
        "{buffers:?}"
    );
    let last = history.epochs.last().unwrap();
    assert!(last.train_loss < history.epochs[0].train_loss, "{last:?}");
    assert_eq!(run_layered(4), (theta.clone(), buffers, history));
    // Another seed draws other dropout masks (and another shuffle).
    assert_ne!(run_layered(5).0, theta);
}

//! Every error the issue lists, each with its details.

use unstuck_optim::{
    Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, AdamWConfig, Entry, LectureMomentum,
    LectureMomentumConfig, LectureRmsProp, LectureRmsPropConfig, Lion, LionConfig, NAdam,
    NAdamConfig, OptimError, Registry, RmsProp, RmsPropConfig, Schedule, Sgd, SgdConfig, SpecError,
};

fn invalid(result: Result<impl std::fmt::Debug, OptimError>, owner: &str, name: &str) {
    match result {
        Err(OptimError::InvalidHyperparameter {
            owner: o, name: n, ..
        }) if o == owner && n == name => {}
        other => panic!("expected {owner}.{name} to be rejected, got {other:?}"),
    }
}

#[test]
fn negative_or_non_finite_learning_rates() {
    for lr in [-1e-3, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        invalid(
            Sgd::<f32>::new(SgdConfig {
                lr,
                ..SgdConfig::default()
            }),
            "sgd",
            "lr",
        );
        invalid(
            Adagrad::<f32>::new(AdagradConfig {
                lr,
                ..AdagradConfig::default()
            }),
            "adagrad",
            "lr",
        );
        invalid(
            RmsProp::<f32>::new(RmsPropConfig {
                lr,
                ..RmsPropConfig::default()
            }),
            "rmsprop",
            "lr",
        );
        invalid(
            Adam::<f32>::new(AdamConfig {
                lr,
                ..AdamConfig::default()
            }),
            "adam",
            "lr",
        );
        invalid(
            AdamW::<f32>::new(AdamWConfig {
                lr,
                ..AdamWConfig::default()
            }),
            "adamw",
            "lr",
        );
        invalid(
            NAdam::<f32>::new(NAdamConfig {
                lr,
                ..NAdamConfig::default()
            }),
            "nadam",
            "lr",
        );
        invalid(
            Lion::<f32>::new(LionConfig {
                lr,
                ..LionConfig::default()
            }),
            "lion",
            "lr",
        );
        invalid(
            LectureMomentum::<f32>::new(LectureMomentumConfig {
                lr,
                ..LectureMomentumConfig::default()
            }),
            "lecture_momentum",
            "lr",
        );
    }
    // Every registered optimizer refuses a negative rate given as a spec.
    let registry = Registry::<f64>::builtin();
    for entry in registry.entries() {
        invalid(
            registry.build(&format!("{}:lr=-0.5", entry.name)),
            entry.name,
            "lr",
        );
    }
}

#[test]
fn betas_outside_zero_one() {
    for beta in [1.0, 1.5, -0.1, f64::NAN] {
        invalid(
            Adam::<f64>::new(AdamConfig {
                beta1: beta,
                ..AdamConfig::default()
            }),
            "adam",
            "beta1",
        );
        invalid(
            Adam::<f64>::new(AdamConfig {
                beta2: beta,
                ..AdamConfig::default()
            }),
            "adam",
            "beta2",
        );
        invalid(
            AdamW::<f64>::new(AdamWConfig {
                beta2: beta,
                ..AdamWConfig::default()
            }),
            "adamw",
            "beta2",
        );
        invalid(
            NAdam::<f64>::new(NAdamConfig {
                beta1: beta,
                ..NAdamConfig::default()
            }),
            "nadam",
            "beta1",
        );
        invalid(
            Lion::<f64>::new(LionConfig {
                beta2: beta,
                ..LionConfig::default()
            }),
            "lion",
            "beta2",
        );
        invalid(
            RmsProp::<f64>::new(RmsPropConfig {
                alpha: beta,
                ..RmsPropConfig::default()
            }),
            "rmsprop",
            "alpha",
        );
        invalid(
            LectureRmsProp::<f64>::new(LectureRmsPropConfig {
                k: beta,
                ..LectureRmsPropConfig::default()
            }),
            "lecture_rmsprop",
            "k",
        );
    }
    // Zero is allowed (no averaging).
    assert!(
        Adam::<f64>::new(AdamConfig {
            beta1: 0.0,
            beta2: 0.0,
            ..AdamConfig::default()
        })
        .is_ok()
    );
}

#[test]
fn eps_must_be_positive() {
    for eps in [0.0, -1e-8, f64::NAN] {
        invalid(
            Adam::<f64>::new(AdamConfig {
                eps,
                ..AdamConfig::default()
            }),
            "adam",
            "eps",
        );
        invalid(
            AdamW::<f64>::new(AdamWConfig {
                eps,
                ..AdamWConfig::default()
            }),
            "adamw",
            "eps",
        );
        invalid(
            NAdam::<f64>::new(NAdamConfig {
                eps,
                ..NAdamConfig::default()
            }),
            "nadam",
            "eps",
        );
        invalid(
            Adagrad::<f64>::new(AdagradConfig {
                eps,
                ..AdagradConfig::default()
            }),
            "adagrad",
            "eps",
        );
        invalid(
            RmsProp::<f64>::new(RmsPropConfig {
                eps,
                ..RmsPropConfig::default()
            }),
            "rmsprop",
            "eps",
        );
    }
}

#[test]
fn momentum_must_not_be_negative() {
    invalid(
        Sgd::<f64>::new(SgdConfig {
            momentum: -0.9,
            ..SgdConfig::default()
        }),
        "sgd",
        "momentum",
    );
    invalid(
        RmsProp::<f64>::new(RmsPropConfig {
            momentum: -0.1,
            ..RmsPropConfig::default()
        }),
        "rmsprop",
        "momentum",
    );
    invalid(
        LectureMomentum::<f64>::new(LectureMomentumConfig {
            momentum: -0.5,
            ..LectureMomentumConfig::default()
        }),
        "lecture_momentum",
        "momentum",
    );
    // Other ranges checked at construction.
    invalid(
        Sgd::<f64>::new(SgdConfig {
            weight_decay: -1.0,
            ..SgdConfig::default()
        }),
        "sgd",
        "weight_decay",
    );
    invalid(
        Sgd::<f64>::new(SgdConfig {
            dampening: 1.5,
            ..SgdConfig::default()
        }),
        "sgd",
        "dampening",
    );
    invalid(
        Adagrad::<f64>::new(AdagradConfig {
            lr_decay: -1.0,
            ..AdagradConfig::default()
        }),
        "adagrad",
        "lr_decay",
    );
    invalid(
        NAdam::<f64>::new(NAdamConfig {
            momentum_decay: -1.0,
            ..NAdamConfig::default()
        }),
        "nadam",
        "momentum_decay",
    );
}

#[test]
fn nesterov_needs_momentum_and_no_dampening() {
    let err = Registry::<f32>::builtin()
        .build("sgd:nesterov=true")
        .unwrap_err();
    assert_eq!(
        err,
        OptimError::InvalidNesterov {
            momentum: 0.0,
            dampening: 0.0
        }
    );
    let err = Registry::<f32>::builtin()
        .build("sgd:nesterov=true,momentum=0.9,dampening=0.5")
        .unwrap_err();
    assert_eq!(
        err,
        OptimError::InvalidNesterov {
            momentum: 0.9,
            dampening: 0.5
        }
    );
    assert!(
        Registry::<f32>::builtin()
            .build("sgd:nesterov=true,momentum=0.9")
            .is_ok()
    );
}

#[test]
fn spec_errors_say_where() {
    let registry = Registry::<f64>::builtin();
    let cases: &[(&str, usize)] = &[
        ("adam:lr=", 8),                // missing value
        ("adam:lr 1e-3", 8),            // missing '='
        ("adam:lr=1e-3,,", 13),         // empty key
        ("adam:lr=1e-3;beta1=0.9", 12), // wrong separator
    ];
    for (spec, position) in cases {
        match registry.build(spec) {
            Err(OptimError::Spec(SpecError::Syntax { position: p, .. })) => {
                assert_eq!(p, *position, "{spec}")
            }
            other => panic!("{spec}: {other:?}"),
        }
    }
    match registry.build("adma:lr=1") {
        Err(OptimError::Spec(SpecError::UnknownName {
            position: 0,
            name,
            known,
            ..
        })) => {
            assert_eq!(name, "adma");
            assert!(known.contains("adam"), "{known}");
        }
        other => panic!("{other:?}"),
    }
    match registry.build("adam:lr=1e-3,betas=0.9") {
        Err(OptimError::Spec(SpecError::UnknownKey {
            position: 13,
            key,
            known,
            ..
        })) => {
            assert_eq!(key, "betas");
            assert!(
                known.contains("beta1") && known.contains("schedule"),
                "{known}"
            );
        }
        other => panic!("{other:?}"),
    }
    match registry.build("adam:amsgrad=yes") {
        Err(OptimError::Spec(SpecError::BadValue {
            position: 13, key, ..
        })) => assert_eq!(key, "amsgrad"),
        other => panic!("{other:?}"),
    }
    match registry.build("adam:lr=0.1,schedule=(cosine:t_max=-3)") {
        Err(OptimError::Spec(SpecError::BadValue {
            position: 35, key, ..
        })) => assert_eq!(key, "t_max"),
        other => panic!("{other:?}"),
    }
    let message = registry
        .build("adam:lr=1e-3,betas=0.9")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("byte 13") && message.contains("betas"),
        "{message}"
    );
}

#[test]
fn length_mismatch() {
    let mut opt = Registry::<f32>::builtin().build("adam").unwrap();
    let mut params = vec![1.0f32; 4];
    let err = opt.step(&mut params, &[0.5; 3]).unwrap_err();
    assert_eq!(
        err,
        OptimError::LengthMismatch {
            optimizer: "adam",
            params: 4,
            grads: 3
        }
    );
    assert_eq!(params, vec![1.0; 4]);
    assert_eq!(opt.steps_taken(), 0);
}

#[test]
fn non_finite_gradient_names_the_index_and_touches_nothing() {
    let registry = Registry::<f64>::builtin();
    for entry in registry.entries() {
        let mut opt = registry.build(entry.name).unwrap();
        let mut clean = registry.build(entry.name).unwrap();
        let mut params = vec![0.5, -0.25, 1.0, 2.0, -3.0];
        let mut clean_params = params.clone();
        let good = [0.1, 0.2, -0.3, 0.4, 0.5];
        opt.step(&mut params, &good).unwrap();
        clean.step(&mut clean_params, &good).unwrap();
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut grads = good;
            grads[3] = bad;
            grads[4] = f64::NAN;
            let before = params.clone();
            let err = opt.step(&mut params, &grads).unwrap_err();
            assert!(
                matches!(err, OptimError::NonFiniteGradient { index: 3, value, .. } if value.to_bits() == bad.to_bits()),
                "{}: {err:?}",
                entry.name
            );
            assert_eq!(params, before, "{}: params untouched", entry.name);
        }
        // The failed steps left no trace: continuing matches a run that never saw them.
        opt.step(&mut params, &good).unwrap();
        clean.step(&mut clean_params, &good).unwrap();
        assert_eq!(params, clean_params, "{}", entry.name);
        assert_eq!(opt.state(), clean.state(), "{}", entry.name);
    }
}

#[derive(Debug)]
struct Broken;

impl Schedule for Broken {
    fn lr(&self, step: u64) -> f64 {
        if step < 2 { 0.1 } else { -1.0 }
    }
}

#[test]
fn invalid_scheduled_rate_is_an_error() {
    let mut opt = Registry::<f64>::builtin().build("sgd").unwrap();
    opt.set_schedule(Box::new(Broken));
    let mut params = vec![1.0];
    opt.step(&mut params, &[1.0]).unwrap();
    opt.step(&mut params, &[1.0]).unwrap();
    let before = params.clone();
    let err = opt.step(&mut params, &[1.0]).unwrap_err();
    assert_eq!(
        err,
        OptimError::InvalidScheduledLr {
            optimizer: "sgd",
            step: 2,
            lr: -1.0
        }
    );
    assert_eq!(params, before);
    assert!(opt.set_lr(f64::NAN).is_err());
}

#[test]
fn duplicate_registration() {
    let mut registry = Registry::<f32>::builtin();
    let err = registry.register(Entry::of::<AdamConfig>()).unwrap_err();
    assert_eq!(
        err,
        OptimError::DuplicateName {
            name: "adam".to_owned()
        }
    );
}

#[test]
fn state_json_errors_have_a_position() {
    let err = unstuck_optim::OptimizerState::from_json(
        "{\n  \"optimizer\": \"adam\",\n  \"step\": -1\n}",
    )
    .unwrap_err();
    assert!(
        matches!(err, OptimError::StateJson { line: 3, .. }),
        "{err:?}"
    );
}

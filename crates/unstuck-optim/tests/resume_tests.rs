//! Save, restore, continue == uninterrupted, bit for bit, for every optimizer.

use unstuck_optim::{
    Element, OptimError, Optimizer, OptimizerState, PlateauConfig, ReduceLrOnPlateau, Registry,
};

/// Specs beyond each optimizer's defaults, chosen so every state buffer is in use.
const VARIANTS: &[&str] = &[
    "sgd:lr=0.01,momentum=0.9,nesterov=true",
    "sgd:lr=0.01,momentum=0.9,dampening=0.1,weight_decay=0.01",
    "adagrad:lr=0.1,lr_decay=0.01,initial_accumulator_value=0.1",
    "rmsprop:lr=0.01,centered=true,momentum=0.9,weight_decay=0.01",
    "adam:lr=0.01,amsgrad=true,weight_decay=0.01",
    "nadam:lr=0.01,decoupled_weight_decay=true,weight_decay=0.1",
    "lion:lr=0.001,weight_decay=0.1",
    "adam:lr=0.01,schedule=(warmup:steps=5,then=(cosine:t_max=40))",
    "lecture_momentum:lr=0.01,schedule=(step:step_size=7,gamma=0.5)",
];

const N_PARAMS: usize = 11; // not a multiple of any vector width: tails are exercised
const TOTAL_STEPS: usize = 30;
const SAVE_AT: usize = 13;

/// A deterministic gradient field; coordinate 0 has zero gradient for the first steps
/// (exercising the lecture forms' zero-sigma rule across the save point).
fn grads<T: Element>(params: &[T], step: usize) -> Vec<T> {
    params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i == 0 && step < 15 {
                return T::ZERO;
            }
            let x = p.to_f64();
            T::from_f64((i as f64 + 3.0 * x).sin() + 0.1 * x)
        })
        .collect()
}

fn start<T: Element>() -> Vec<T> {
    (0..N_PARAMS)
        .map(|i| T::from_f64(0.5 - 0.1 * i as f64))
        .collect()
}

fn steps<T: Element>(opt: &mut dyn Optimizer<T>, params: &mut [T], range: std::ops::Range<usize>) {
    for step in range {
        let g = grads(params, step);
        opt.step(params, &g).unwrap();
    }
}

fn bits<T: Element>(values: &[T]) -> Vec<u64> {
    values.iter().map(|v| v.to_f64().to_bits()).collect()
}

fn check_resume<T: Element>(spec: &str, save_at: usize) {
    let registry = Registry::<T>::builtin();
    let mut straight = registry.build(spec).unwrap();
    let mut p_straight = start::<T>();
    steps(straight.as_mut(), &mut p_straight, 0..TOTAL_STEPS);

    let mut first = registry.build(spec).unwrap();
    let mut p_resumed = start::<T>();
    steps(first.as_mut(), &mut p_resumed, 0..save_at);
    let json = first.state().to_json();
    drop(first);

    let mut second = registry.build(spec).unwrap();
    second
        .load_state(&OptimizerState::from_json(&json).unwrap())
        .unwrap();
    assert_eq!(second.steps_taken(), save_at as u64, "{spec}");
    assert_eq!(second.lr().to_bits(), {
        let mut probe = registry.build(spec).unwrap();
        let mut p = start::<T>();
        steps(probe.as_mut(), &mut p, 0..save_at);
        probe.lr().to_bits()
    });
    steps(second.as_mut(), &mut p_resumed, save_at..TOTAL_STEPS);

    assert_eq!(
        bits(&p_resumed),
        bits(&p_straight),
        "{spec} ({}): parameters",
        T::DTYPE
    );
    assert_eq!(
        second.state(),
        straight.state(),
        "{spec} ({}): state",
        T::DTYPE
    );
}

fn all_specs() -> Vec<String> {
    let mut specs: Vec<String> = Registry::<f64>::builtin()
        .entries()
        .iter()
        .map(|e| e.name.to_owned())
        .collect();
    specs.extend(VARIANTS.iter().map(|s| (*s).to_owned()));
    specs
}

#[test]
fn resume_is_bit_identical_f64() {
    for spec in all_specs() {
        check_resume::<f64>(&spec, SAVE_AT);
    }
}

#[test]
fn resume_is_bit_identical_f32() {
    for spec in all_specs() {
        check_resume::<f32>(&spec, SAVE_AT);
    }
}

#[test]
fn resume_from_before_the_first_step() {
    for spec in all_specs() {
        check_resume::<f64>(&spec, 0);
    }
}

#[test]
fn state_actually_carries_information() {
    // Guard against a vacuous pass: continuing with a *fresh* optimizer must differ.
    let registry = Registry::<f64>::builtin();
    let mut straight = registry.build("adam:lr=0.01").unwrap();
    let mut p_straight = start::<f64>();
    steps(straight.as_mut(), &mut p_straight, 0..TOTAL_STEPS);
    let mut first = registry.build("adam:lr=0.01").unwrap();
    let mut p_fresh = start::<f64>();
    steps(first.as_mut(), &mut p_fresh, 0..SAVE_AT);
    let mut fresh = registry.build("adam:lr=0.01").unwrap();
    steps(fresh.as_mut(), &mut p_fresh, SAVE_AT..TOTAL_STEPS);
    assert_ne!(bits(&p_fresh), bits(&p_straight));
}

fn trained(spec: &str) -> Box<dyn Optimizer<f64>> {
    let mut opt = Registry::<f64>::builtin().build(spec).unwrap();
    let mut p = start::<f64>();
    steps(opt.as_mut(), &mut p, 0..3);
    opt
}

#[test]
fn mismatched_state_is_refused_and_changes_nothing() {
    let adam_state = trained("adam:lr=0.01").state();

    let mut sgd = trained("sgd:lr=0.1,momentum=0.9");
    let before = sgd.state();
    let err = sgd.load_state(&adam_state).unwrap_err();
    assert!(
        matches!(&err, OptimError::StateMismatch { what, .. } if what == "optimizer"),
        "{err:?}"
    );
    assert_eq!(sgd.state(), before);

    // Same optimizer, other configuration: AMSGrad needs a buffer the saved state lacks.
    let mut amsgrad = trained("adam:lr=0.01,amsgrad=true");
    let before = amsgrad.state();
    let err = amsgrad.load_state(&adam_state).unwrap_err();
    assert!(
        matches!(&err, OptimError::StateMismatch { what, .. } if what.contains("max_exp_avg_sq")),
        "{err:?}"
    );
    assert_eq!(amsgrad.state(), before);

    let mut f32_adam = Registry::<f32>::builtin().build("adam:lr=0.01").unwrap();
    let err = f32_adam.load_state(&adam_state).unwrap_err();
    assert!(
        matches!(&err, OptimError::StateMismatch { what, .. } if what == "dtype"),
        "{err:?}"
    );

    let mut truncated = adam_state.clone();
    truncated.buffers[0].values.pop();
    let err = trained("adam:lr=0.01").load_state(&truncated).unwrap_err();
    assert!(
        matches!(&err, OptimError::StateMismatch { what, .. } if what.contains("length")),
        "{err:?}"
    );

    let mut missing_scalar = trained("nadam").state();
    missing_scalar.scalars.clear();
    let err = trained("nadam").load_state(&missing_scalar).unwrap_err();
    assert!(
        matches!(&err, OptimError::StateMismatch { what, .. } if what.contains("mu_product")),
        "{err:?}"
    );
}

#[test]
fn loaded_state_fixes_the_parameter_count() {
    let state = trained("adam").state();
    let mut opt = Registry::<f64>::builtin().build("adam").unwrap();
    opt.load_state(&state).unwrap();
    let mut wrong = vec![0.0; N_PARAMS + 1];
    let err = opt.step(&mut wrong, &[0.0; N_PARAMS + 1]).unwrap_err();
    assert!(
        matches!(err, OptimError::ParamCountChanged { expected: N_PARAMS, got, .. } if got == N_PARAMS + 1)
    );
}

#[test]
fn plateau_resumes_bit_for_bit() {
    let metrics: Vec<f64> = (0..60).map(|k| 1.0 / (1.0 + (k % 17) as f64)).collect();
    let config = PlateauConfig {
        factor: 0.5,
        patience: 3,
        cooldown: 2,
        ..PlateauConfig::default()
    };
    let mut straight = ReduceLrOnPlateau::new(config.clone(), 0.1).unwrap();
    let want: Vec<f64> = metrics
        .iter()
        .map(|&m| straight.observe(m).unwrap())
        .collect();
    assert!(
        want[59] < want[0],
        "the metric plateaus, so the rate must drop"
    );
    let mut first = ReduceLrOnPlateau::new(config, 0.1).unwrap();
    let mut got: Vec<f64> = metrics[..25]
        .iter()
        .map(|&m| first.observe(m).unwrap())
        .collect();
    let json = serde_json::to_string(&first).unwrap();
    let mut second: ReduceLrOnPlateau = serde_json::from_str(&json).unwrap();
    got.extend(metrics[25..].iter().map(|&m| second.observe(m).unwrap()));
    assert_eq!(bits(&got), bits(&want));
    assert_eq!(second, straight);
}

//! Update loops long enough to run on several threads give the same bits on one or two.

use unstuck_optim::Registry;
use unstuck_test_support::threads::with_threads;

/// Every built-in optimizer, with each option that picks another element loop.
const SPECS: &[&str] = &[
    "sgd:lr=0.1",
    "sgd:lr=0.1,momentum=0.9,dampening=0.1,weight_decay=0.01",
    "sgd:lr=0.1,momentum=0.9,nesterov=true",
    "adagrad:lr_decay=0.01,weight_decay=0.01",
    "rmsprop",
    "rmsprop:centered=true,momentum=0.9,weight_decay=0.01",
    "adam",
    "adam:amsgrad=true,weight_decay=0.01",
    "adamw:weight_decay=0.01",
    "nadam:weight_decay=0.01",
    "lion:weight_decay=0.01",
    "lecture_momentum",
    "lecture_adagrad",
    "lecture_rmsprop",
];

/// Three steps on 300,001 parameters (many parallel chunks and a ragged last one).
fn run(spec: &str) -> Vec<u32> {
    let mut optimizer = Registry::<f32>::builtin().build(spec).unwrap();
    let n = 300_001;
    let mut params: Vec<f32> = (0..n).map(|i| (i as f32 * 1e-3).sin()).collect();
    for step in 0..3 {
        let grads: Vec<f32> = (0..n)
            .map(|i| ((i + step) as f32 * 2e-3).cos() * 1e-2)
            .collect();
        optimizer.step(&mut params, &grads).unwrap();
    }
    params.iter().map(|p| p.to_bits()).collect()
}

#[test]
fn every_optimizer_is_identical_on_one_and_two_threads() {
    for entry in Registry::<f32>::builtin().entries() {
        let name = entry.name;
        assert!(
            SPECS
                .iter()
                .any(|spec| spec.split(':').next() == Some(name)),
            "{name} is not in the determinism test"
        );
    }
    for spec in SPECS {
        let one = with_threads(1, || run(spec));
        let two = with_threads(2, || run(spec));
        assert!(one == two, "{spec}: 1 and 2 threads differ");
    }
}

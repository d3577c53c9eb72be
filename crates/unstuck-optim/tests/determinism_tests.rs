//! Update loops long enough to run on several threads give the same bits on one or two.

use unstuck_optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
use unstuck_test_support::threads::with_threads;

/// Three steps on 300,000 parameters (many parallel chunks and a ragged last one).
fn run(mut optimizer: Box<dyn Optimizer<f32>>) -> Vec<u32> {
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
fn adam_and_sgd_are_identical_on_one_and_two_threads() {
    let adam =
        || Box::new(Adam::<f32>::new(AdamConfig::default()).unwrap()) as Box<dyn Optimizer<f32>>;
    let sgd = || {
        let config = SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            nesterov: true,
            ..SgdConfig::default()
        };
        Box::new(Sgd::<f32>::new(config).unwrap()) as Box<dyn Optimizer<f32>>
    };
    assert_eq!(
        with_threads(1, || run(adam())),
        with_threads(2, || run(adam()))
    );
    assert_eq!(
        with_threads(1, || run(sgd())),
        with_threads(2, || run(sgd()))
    );
}

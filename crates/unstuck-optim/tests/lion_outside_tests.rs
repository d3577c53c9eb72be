//! Compiles `src/lion.rs` a second time, as a module of this test crate, where only
//! `unstuck_optim`'s public API is visible. If the file used anything private it would
//! not compile here. The copy must then behave exactly like the built-in Lion.

#[path = "../src/lion.rs"]
mod outside_lion;

use unstuck_optim::{Driver, Entry, Optimizer, Registry};

#[test]
fn outside_copy_equals_builtin_bitwise() {
    let config = outside_lion::LionConfig {
        lr: 0.01,
        weight_decay: 0.1,
        ..outside_lion::LionConfig::default()
    };
    let mut outside = Driver::<f32, outside_lion::LionConfig>::new(config).unwrap();
    let mut builtin = Registry::<f32>::builtin()
        .build("lion:lr=0.01,weight_decay=0.1")
        .unwrap();
    let (mut p_out, mut p_in) = (
        vec![0.3f32, -1.0, 2.0, 0.0, 5.0],
        vec![0.3f32, -1.0, 2.0, 0.0, 5.0],
    );
    for step in 0..20 {
        let grads: Vec<f32> = p_out
            .iter()
            .map(|p| (p * 3.0 + step as f32).sin())
            .collect();
        outside.step(&mut p_out, &grads).unwrap();
        builtin.step(&mut p_in, &grads).unwrap();
    }
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&p_out), bits(&p_in));
    assert_eq!(outside.state(), builtin.state());
}

#[test]
fn outside_copy_registers_under_another_registry() {
    let mut registry = Registry::<f64>::empty();
    registry
        .register(Entry::of::<outside_lion::LionConfig>())
        .unwrap();
    let opt = registry.build("lion:lr=3e-4,beta2=0.98").unwrap();
    assert_eq!(opt.name(), "lion");
    assert_eq!(opt.lr(), 3e-4);
}

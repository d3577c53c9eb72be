//! The registry: one list of optimizers, specs, help texts.

use unstuck_optim::{Registry, SCHEDULE_KINDS};

#[test]
fn builtin_list_is_complete_and_consistent() {
    let registry = Registry::<f32>::builtin();
    let names: Vec<&str> = registry.entries().iter().map(|e| e.name).collect();
    assert_eq!(
        names,
        [
            "sgd",
            "adagrad",
            "rmsprop",
            "adam",
            "adamw",
            "nadam",
            "lion",
            "lecture_momentum",
            "lecture_adagrad",
            "lecture_rmsprop"
        ]
    );
    for entry in registry.entries() {
        // Building by bare name uses every default; the optimizer knows its own name.
        let opt = registry
            .build(entry.name)
            .unwrap_or_else(|e| panic!("{}: {e}", entry.name));
        assert_eq!(opt.name(), entry.name);
        assert_eq!(opt.steps_taken(), 0);
        // Help lists every key with its default, read from the builder itself.
        let help = entry.help();
        assert!(help.starts_with(entry.summary), "{help}");
        assert!(help.contains("lr="), "{}: {help}", entry.name);
        for key in entry.keys() {
            assert!(
                key.default.is_some(),
                "{}.{} has no default",
                entry.name,
                key.key
            );
            assert!(help.contains(key.key), "{}: {help}", entry.name);
        }
    }
}

#[test]
fn every_key_in_help_is_accepted_with_its_default() {
    // Round trip: `name:k1=d1,k2=d2,...` built from the help's own defaults must build.
    let registry = Registry::<f64>::builtin();
    for entry in registry.entries() {
        let args: Vec<String> = entry
            .keys()
            .iter()
            .map(|k| format!("{}={}", k.key, k.default.clone().unwrap_or_default()))
            .collect();
        let spec = format!("{}:{}", entry.name, args.join(","));
        registry
            .build(&spec)
            .unwrap_or_else(|e| panic!("{spec}: {e}"));
    }
}

#[test]
fn spec_values_reach_the_optimizer() {
    let registry = Registry::<f64>::builtin();
    let opt = registry.build("sgd:lr=0.25,momentum=0.5").unwrap();
    assert_eq!(opt.lr(), 0.25);
    let mut params = vec![1.0];
    let mut opt = opt;
    opt.step(&mut params, &[1.0]).unwrap();
    opt.step(&mut params, &[1.0]).unwrap();
    // Steps 0.25 * 1 then 0.25 * (0.5 + 1): dyadic, exact.
    assert_eq!(params, vec![1.0 - 0.25 - 0.375]);
}

#[test]
fn schedule_key_uses_the_optimizer_rate_as_base() {
    let mut opt = Registry::<f64>::builtin()
        .build("adam:lr=0.5,schedule=(step:step_size=2,gamma=0.5)")
        .unwrap();
    let mut params = vec![0.0];
    let mut lrs = Vec::new();
    for _ in 0..5 {
        lrs.push(opt.lr());
        opt.step(&mut params, &[1.0]).unwrap();
    }
    assert_eq!(lrs, vec![0.5, 0.5, 0.25, 0.25, 0.125]);
}

#[test]
fn schedule_kinds_have_help() {
    for kind in SCHEDULE_KINDS {
        let help = kind.help();
        assert!(help.contains(kind.example), "{help}");
        assert!(
            !kind.keys().is_empty() || kind.name == "constant",
            "{}",
            kind.name
        );
    }
}

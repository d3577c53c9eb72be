//! Each of the guide's five scenarios gets the verdict it was built for, with fixed seeds.

use unstuck::diagnose::{Diagnosis, Verdict, diagnose, scenarios};

fn check(name: &str) -> Diagnosis {
    let all = scenarios(true, 1).unwrap();
    let scenario = all.iter().find(|s| s.name == name).unwrap();
    let started = std::time::Instant::now();
    let diagnosis = diagnose(&scenario.data(), &scenario.config).unwrap();
    eprintln!(
        "{name}: {:.2} s\n{diagnosis}\n",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(diagnosis.verdict, scenario.true_cause, "{diagnosis}");
    diagnosis
}

#[test]
fn model_bias() {
    check("model bias");
}

#[test]
fn optimization() {
    check("optimization");
}

#[test]
fn overfitting() {
    check("overfitting");
}

#[test]
fn mismatch() {
    check("mismatch");
}

#[test]
fn healthy() {
    check("healthy");
}

#[test]
fn verdicts_cover_the_guide() {
    assert_eq!(Verdict::ALL.len(), 5);
}

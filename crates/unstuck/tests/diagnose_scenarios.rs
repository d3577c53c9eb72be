//! The guide's scenarios get the verdict they were built for, with fixed seeds, and the
//! evidence of their branch; the diagnosis is bit-identical across thread counts.

use unstuck::diagnose::{DataIssue, Diagnosis, Verdict, diagnose};
use unstuck::hessian::CriticalPointKind;
use unstuck_test_support::scenarios::scenarios;

fn check(name: &str) -> Diagnosis {
    let all = scenarios(true, 1).unwrap();
    let scenario = all.iter().find(|s| s.name == name).unwrap();
    let diagnosis = diagnose(&scenario.data(), &scenario.config).unwrap();
    assert!(scenario.agrees(&diagnosis), "{name}: {diagnosis}");
    assert!(!diagnosis.remedies.is_empty(), "{diagnosis}");
    assert!(
        diagnosis.margin >= 0.0 && !diagnosis.rules.is_empty(),
        "{diagnosis}"
    );
    diagnosis
}

#[test]
fn model_bias() {
    let diagnosis = check("model bias");
    assert!(diagnosis.training_loss_large);
    // The bigger shallow net fits better, but it is outside the linear family.
    let shallow = &diagnosis.references[1];
    assert!(!shallow.expressible_by_your_model);
    assert!(shallow.train_loss_advantage.low > 0.0, "{diagnosis}");
    // Softmax regression has a flat direction (adding a constant to every logit) and no
    // negative curvature: there is no saddle to escape.
    let evidence = diagnosis.optimization.as_ref().unwrap();
    assert!(evidence.escape.is_none(), "{diagnosis}");
}

#[test]
fn optimization() {
    let diagnosis = check("optimization");
    let evidence = diagnosis.optimization.as_ref().unwrap();
    assert_eq!(evidence.curvature, CriticalPointKind::Saddle, "{diagnosis}");
    assert!(evidence.lambda_min < 0.0 && evidence.lambda_max > 0.0);
    assert_eq!(evidence.alternatives.len(), 1);
    assert!(diagnosis.references[1].expressible_by_your_model);
    // The escape step's account adds up to the quadratic model's prediction.
    let escape = evidence.escape.as_ref().unwrap();
    assert!((0.0..=1.0).contains(&escape.curvature_share), "{diagnosis}");
}

#[test]
fn overfitting() {
    let diagnosis = check("overfitting");
    let evidence = diagnosis.generalization.as_ref().unwrap();
    assert!(evidence.validation_gap.low > 0.0, "{diagnosis}");
    assert!(!evidence.two_sample.distributions_differ, "{diagnosis}");
}

#[test]
fn mismatch() {
    let diagnosis = check("mismatch");
    let evidence = diagnosis.generalization.as_ref().unwrap();
    assert_eq!(evidence.two_sample.compared_with, "test");
    assert!(evidence.two_sample.distributions_differ, "{diagnosis}");
    assert!(evidence.two_sample.p_value < 1e-6, "{diagnosis}");
    assert!(!evidence.two_sample.shifts.is_empty());
}

#[test]
fn healthy() {
    let diagnosis = check("healthy");
    assert!(!diagnosis.training_loss_large);
    assert!(diagnosis.optimization.is_none());
}

#[test]
fn a_leak_between_the_splits_is_found() {
    let diagnosis = check("digits leak");
    assert!(diagnosis.data.has(DataIssue::Leak), "{diagnosis}");
    assert!(
        diagnosis.remedies[0].contains("shared between"),
        "{diagnosis}"
    );
}

#[test]
fn shuffled_labels_mean_check_the_labels() {
    let diagnosis = check("cancer shuffled labels");
    assert_eq!(diagnosis.verdict, Verdict::CheckLabels);
}

#[test]
fn concept_drift_is_mismatch_without_reweighting() {
    let diagnosis = check("cancer concept drift");
    let evidence = diagnosis.generalization.as_ref().unwrap();
    assert!(!evidence.two_sample.distributions_differ, "{diagnosis}");
    assert!(evidence.test_minus_validation.unwrap().low > 0.0);
    assert!(
        diagnosis
            .remedies
            .iter()
            .all(|r| !r.contains("reweight the training rows towards")),
        "{diagnosis}"
    );
}

#[test]
fn unscaled_inputs_are_named_in_the_remedies() {
    let diagnosis = check("cancer unscaled");
    assert!(
        diagnosis
            .remedies
            .iter()
            .any(|r| r.starts_with("Standardise the inputs")),
        "{diagnosis}"
    );
}

#[test]
fn the_diagnosis_is_bit_identical_with_one_or_two_threads() {
    let all = scenarios(true, 3).unwrap();
    let run = |threads: usize| -> Vec<String> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            all.iter()
                .filter(|s| matches!(s.name, "optimization" | "mismatch" | "digits healthy"))
                .map(|s| diagnose(&s.data(), &s.config).unwrap().to_json())
                .collect()
        })
    };
    // JSON keeps every f64 exactly, so equal strings mean equal bits.
    assert_eq!(run(1), run(2));
}

#[test]
fn a_descent_too_slow_to_close_the_gap_does_not_hide_model_bias() {
    let diagnosis = check("digits bottleneck");
    assert_eq!(diagnosis.verdict, Verdict::ModelBias, "{diagnosis}");
    // The run is still descending: the rule that decides is that the descent cannot
    // reach what the bigger family reaches, not that the loss has stopped falling.
    let trend = diagnosis
        .optimization
        .as_ref()
        .unwrap()
        .trend
        .as_ref()
        .unwrap();
    assert!(trend.still_descending, "{diagnosis}");
    assert!(diagnosis.reason.contains("too slow"), "{diagnosis}");
    // Two ReLU units, at least one of them firing on some row.
    let dead = diagnosis.optimization.as_ref().unwrap().dead_relu_fraction;
    assert!(dead.is_some_and(|d| (0.0..1.0).contains(&d)), "{diagnosis}");
    assert!(
        diagnosis.to_string().contains("dead ReLU units"),
        "{diagnosis}"
    );
}

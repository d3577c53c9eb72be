//! Each of the guide's five scenarios gets the verdict it was built for, with fixed
//! seeds, and the evidence of its branch; the diagnosis is bit-identical across thread
//! counts.

use unstuck::diagnose::{Diagnosis, Verdict, diagnose};
use unstuck::hessian::CriticalPointKind;
use unstuck_test_support::scenarios::scenarios;

fn check(name: &str) -> Diagnosis {
    let all = scenarios(true, 1).unwrap();
    let scenario = all.iter().find(|s| s.name == name).unwrap();
    let diagnosis = diagnose(&scenario.data(), &scenario.config).unwrap();
    assert_eq!(diagnosis.verdict, scenario.true_cause, "{diagnosis}");
    assert_eq!(
        diagnosis.remedies.len(),
        diagnosis.verdict.remedies().len(),
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
    assert!(
        shallow.run.train.loss < diagnosis.user.train.loss,
        "{diagnosis}"
    );
    // Softmax regression has a flat direction (adding a constant to every logit) and no
    // negative curvature: there is no saddle to escape.
    let evidence = diagnosis.optimization.as_ref().unwrap();
    assert!(evidence.escape.is_none(), "{diagnosis}");
}

#[test]
fn optimization() {
    let diagnosis = check("optimization");
    let evidence = diagnosis.optimization.as_ref().unwrap();
    // The deep tanh net stalls with negative curvature around: a saddle region.
    assert_eq!(evidence.curvature, CriticalPointKind::Saddle, "{diagnosis}");
    assert!(evidence.lambda_min < 0.0 && evidence.lambda_max > 0.0);
    let escape = evidence.escape.as_ref().unwrap();
    assert!(escape.loss_after < escape.loss_before, "{diagnosis}");
    assert_eq!(evidence.alternatives.len(), 1);
    assert!(diagnosis.references[1].expressible_by_your_model);
}

#[test]
fn overfitting() {
    let diagnosis = check("overfitting");
    let evidence = diagnosis.generalization.as_ref().unwrap();
    assert!(evidence.validation_growth > 0.0, "{diagnosis}");
    assert!(!evidence.two_sample.distributions_differ, "{diagnosis}");
}

#[test]
fn mismatch() {
    let diagnosis = check("mismatch");
    let evidence = diagnosis.generalization.as_ref().unwrap();
    assert_eq!(evidence.two_sample.compared_with, "test");
    assert!(evidence.two_sample.distributions_differ, "{diagnosis}");
    assert!(evidence.two_sample.p_value < 1e-6, "{diagnosis}");
}

#[test]
fn healthy() {
    let diagnosis = check("healthy");
    assert!(!diagnosis.training_loss_large);
    assert!(diagnosis.optimization.is_none());
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
                .filter(|s| matches!(s.true_cause, Verdict::Optimization | Verdict::Mismatch))
                .map(|s| diagnose(&s.data(), &s.config).unwrap().to_json())
                .collect()
        })
    };
    // JSON keeps every f64 exactly, so equal strings mean equal bits.
    assert_eq!(run(1), run(2));
}

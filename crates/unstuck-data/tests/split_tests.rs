//! Splits: stratification keeps class proportions, parts are disjoint and seeded, and
//! standardisation uses training statistics only.

use unstuck_data::{
    BlobsConfig, Dataset, SplitConfig, Standardizer, blobs, breast_cancer, digits, split,
    split_indices,
};

/// Every class's count in every part is within one row of `fraction x class size`.
fn check_stratified(data: &Dataset<f64>, config: &SplitConfig) {
    let indices = split_indices(data, config).unwrap();
    let labels = data.labels().unwrap();
    let class_counts = data.class_counts().unwrap();
    let train_fraction = 1.0 - config.validation - config.test;
    for (part, fraction) in [
        (&indices.train, train_fraction),
        (&indices.validation, config.validation),
        (&indices.test, config.test),
    ] {
        let mut counts = vec![0usize; class_counts.len()];
        for &row in part {
            counts[labels[row]] += 1;
        }
        for (class, (&got, &total)) in counts.iter().zip(&class_counts).enumerate() {
            let exact = total as f64 * fraction;
            assert!(
                (got as f64 - exact).abs() < 1.0,
                "class {class}: {got} rows, exact share {exact} (seed {})",
                config.seed
            );
        }
    }
}

#[test]
fn stratified_splits_keep_class_proportions_within_one_sample() {
    let imbalanced = {
        // 3 classes of 500, 60 and 7 rows.
        let base = blobs::<f64>(&BlobsConfig {
            n: 567,
            n_classes: 3,
            ..BlobsConfig::default()
        })
        .unwrap();
        let rows: Vec<usize> = (0..567)
            .filter(|&row| match base.labels().unwrap()[row] {
                0 => true,
                1 => row < 180,
                _ => row < 21,
            })
            .collect();
        base.select(&rows).unwrap()
    };
    assert_eq!(imbalanced.class_counts(), Some(vec![189, 60, 7]));
    for seed in 0..5 {
        for (validation, test) in [(0.15, 0.15), (0.1, 0.3), (0.0, 0.25)] {
            let config = SplitConfig {
                validation,
                test,
                stratified: true,
                seed,
            };
            check_stratified(&digits(), &config);
            check_stratified(&breast_cancer(), &config);
            check_stratified(&imbalanced, &config);
        }
    }
}

#[test]
fn unstratified_split_can_drift_but_stratified_does_not() {
    // The point of stratifying: without it, some class strays by more than one row for
    // some seed (this would fail if `stratified` were ignored).
    let data = digits::<f64>();
    let labels = data.labels().unwrap();
    let counts = data.class_counts().unwrap();
    let max_drift = |stratified: bool, seed: u64| {
        let config = SplitConfig {
            validation: 0.0,
            test: 0.3,
            stratified,
            seed,
        };
        let test = split_indices(&data, &config).unwrap().test;
        let mut in_test = [0usize; 10];
        for row in test {
            in_test[labels[row]] += 1;
        }
        in_test
            .iter()
            .zip(&counts)
            .map(|(&got, &total)| (got as f64 - 0.3 * total as f64).abs())
            .fold(0.0, f64::max)
    };
    assert!((0..5).any(|seed| max_drift(false, seed) > 1.0));
    assert!((0..5).all(|seed| max_drift(true, seed) < 1.0));
}

#[test]
fn parts_are_disjoint_cover_the_rows_and_depend_on_the_seed() {
    let data = breast_cancer::<f32>();
    let config = SplitConfig {
        validation: 0.2,
        test: 0.1,
        stratified: false,
        seed: 3,
    };
    let indices = split_indices(&data, &config).unwrap();
    // Largest remainder over 569 rows: 113.8 -> 114, 56.9 -> 57, rest 398.
    assert_eq!(
        (
            indices.train.len(),
            indices.validation.len(),
            indices.test.len()
        ),
        (398, 114, 57)
    );
    let mut all: Vec<usize> = [&indices.train[..], &indices.validation, &indices.test].concat();
    all.sort_unstable();
    assert_eq!(all, (0..569).collect::<Vec<_>>());
    assert_eq!(split_indices(&data, &config).unwrap(), indices);
    assert_ne!(
        split_indices(&data, &SplitConfig { seed: 4, ..config }).unwrap(),
        indices
    );
    let parts = split(&data, &config).unwrap();
    assert_eq!(parts.test.unwrap().row(0), data.row(indices.test[0]));
}

#[test]
fn standardizer_uses_training_statistics_for_every_part() {
    let data = breast_cancer::<f64>();
    let config = SplitConfig {
        stratified: true,
        seed: 9,
        ..SplitConfig::default()
    };
    let raw = split(&data, &config).unwrap();
    let mut scaled = raw.clone();
    let standardizer = Standardizer::fit_split(&mut scaled).unwrap();
    // Training part: mean 0, std 1 per feature. 400 values of magnitude ~1: f64 sums are
    // accurate to ~1e-13, so 1e-9 leaves a wide margin.
    let refit = Standardizer::fit(&scaled.train);
    assert!(refit.mean().iter().all(|m| m.abs() < 1e-9));
    assert!(refit.scale().iter().all(|s| (s - 1.0).abs() < 1e-9));
    // Test part: transformed with the training mean and scale, not its own.
    let (raw_test, scaled_test) = (raw.test.unwrap(), scaled.test.unwrap());
    for (row, (x, z)) in raw_test
        .features()
        .iter()
        .zip(scaled_test.features())
        .enumerate()
    {
        let feature = row % 30;
        let expected = (x - standardizer.mean()[feature]) / standardizer.scale()[feature];
        assert_eq!(*z, expected, "same arithmetic, bit-identical");
    }
    let test_refit = Standardizer::fit(&scaled_test);
    assert!(
        test_refit.mean().iter().any(|m| m.abs() > 1e-3),
        "test part was fitted on itself"
    );
}

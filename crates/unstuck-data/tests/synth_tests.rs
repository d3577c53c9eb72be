//! Synthetic generators: seeded, shaped as documented, and labelled by their rule.

use std::f64::consts::PI;

use unstuck_data::{
    BlobsConfig, CirclesConfig, CovariateShiftConfig, DataError, Dataset, Element,
    LabelNoiseConfig, SineConfig, SpiralsConfig, Targets, TeacherConfig, TeacherStudentConfig,
    TeacherTarget, XorConfig, blobs, circles, covariate_shift, flip_labels, generate, sine,
    spirals, teacher_student, xor,
};

/// Same seed: identical data; another seed: different data; f32 is f64 rounded.
fn check_seeded(make: impl Fn(u64) -> Dataset<f64>, make_f32: impl Fn(u64) -> Dataset<f32>) {
    assert_eq!(make(5), make(5));
    assert_ne!(make(5).features(), make(6).features());
    let (wide, narrow) = (make(5), make_f32(5));
    for (a, b) in wide.features().iter().zip(narrow.features()) {
        assert_eq!(<f32 as Element>::from_f64(*a), *b);
    }
}

#[test]
fn every_generator_is_seeded_and_has_one_code_path_for_f32_and_f64() {
    check_seeded(
        |seed| {
            spirals(&SpiralsConfig {
                seed,
                ..SpiralsConfig::default()
            })
            .unwrap()
        },
        |seed| {
            spirals(&SpiralsConfig {
                seed,
                ..SpiralsConfig::default()
            })
            .unwrap()
        },
    );
    check_seeded(
        |seed| {
            blobs(&BlobsConfig {
                seed,
                ..BlobsConfig::default()
            })
            .unwrap()
        },
        |seed| {
            blobs(&BlobsConfig {
                seed,
                ..BlobsConfig::default()
            })
            .unwrap()
        },
    );
    check_seeded(
        |seed| {
            circles(&CirclesConfig {
                seed,
                ..CirclesConfig::default()
            })
            .unwrap()
        },
        |seed| {
            circles(&CirclesConfig {
                seed,
                ..CirclesConfig::default()
            })
            .unwrap()
        },
    );
    check_seeded(
        |seed| {
            xor(&XorConfig {
                seed,
                ..XorConfig::default()
            })
            .unwrap()
        },
        |seed| {
            xor(&XorConfig {
                seed,
                ..XorConfig::default()
            })
            .unwrap()
        },
    );
    check_seeded(
        |seed| {
            sine(&SineConfig {
                seed,
                ..SineConfig::default()
            })
            .unwrap()
        },
        |seed| {
            sine(&SineConfig {
                seed,
                ..SineConfig::default()
            })
            .unwrap()
        },
    );
    check_seeded(
        |seed| {
            teacher_student(&TeacherStudentConfig {
                seed,
                ..TeacherStudentConfig::default()
            })
            .unwrap()
            .0
        },
        |seed| {
            teacher_student(&TeacherStudentConfig {
                seed,
                ..TeacherStudentConfig::default()
            })
            .unwrap()
            .0
        },
    );
}

#[test]
fn noiseless_spirals_follow_their_curve() {
    let config = SpiralsConfig {
        n: 400,
        noise: 0.0,
        turns: 1.25,
        seed: 2,
    };
    let data = spirals::<f64>(&config).unwrap();
    assert_eq!(data.class_counts(), Some(vec![200, 200]));
    for (row, &class) in data.features().chunks(2).zip(data.labels().unwrap()) {
        let radius = row[0].hypot(row[1]);
        assert!(radius < 1.0);
        // Angle on the curve: 2 pi turns r + pi class, compared modulo 2 pi.
        let expected = 2.0 * PI * config.turns * radius + PI * class as f64;
        let difference = (row[1].atan2(row[0]) - expected).rem_euclid(2.0 * PI);
        // cos/sin/atan2/hypot round-trips lose a few ulps; 1e-9 rad is far above that.
        assert!(
            difference < 1e-9 || 2.0 * PI - difference < 1e-9,
            "off by {difference}"
        );
    }
}

#[test]
fn blob_points_cluster_around_their_own_centre() {
    let config = BlobsConfig {
        n: 3000,
        n_classes: 3,
        n_features: 4,
        std: 0.5,
        center_box: 10.0,
        seed: 1,
    };
    let data = blobs::<f64>(&config).unwrap();
    let labels = data.labels().unwrap();
    let mut means = [[0.0; 4]; 3];
    for (row, &class) in data.features().chunks(4).zip(labels) {
        for (mean, x) in means[class].iter_mut().zip(row) {
            *mean += x / 1000.0;
        }
    }
    // Every point lies within 6 std of its class mean in each coordinate (a normal
    // exceeds 6 std with probability 2e-9 per draw) ...
    for (row, &class) in data.features().chunks(4).zip(labels) {
        for (x, mean) in row.iter().zip(&means[class]) {
            assert!((x - mean).abs() < 6.0 * config.std);
        }
    }
    // ... and the spread within a class is the requested std (1000 draws per
    // coordinate: relative standard error of a std estimate ~2.2%, allow 10%).
    let variance: f64 = data
        .features()
        .chunks(4)
        .zip(labels)
        .map(|(row, &class)| {
            row.iter()
                .zip(&means[class])
                .map(|(x, m)| (x - m).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / 12_000.0;
    assert!(
        (variance.sqrt() - 0.5).abs() < 0.05,
        "std {}",
        variance.sqrt()
    );
}

#[test]
fn xor_noise_moves_points_but_not_labels() {
    let noisy = xor::<f64>(&XorConfig {
        n: 2000,
        noise: 0.3,
        seed: 4,
    })
    .unwrap();
    let disagreeing = noisy
        .features()
        .chunks(2)
        .zip(noisy.labels().unwrap())
        .filter(|(row, label)| usize::from((row[0] > 0.0) != (row[1] > 0.0)) != **label)
        .count();
    // Labels come from the clean points, so some noisy points sit in the other
    // quadrant pattern (about a quarter for noise 0.3), but most do not.
    assert!((100..1000).contains(&disagreeing), "{disagreeing} disagree");
}

#[test]
fn circles_factor_must_be_inside_the_unit_interval() {
    for factor in [0.0, 1.0, f64::NAN] {
        assert!(matches!(
            circles::<f32>(&CirclesConfig {
                factor,
                ..CirclesConfig::default()
            }),
            Err(DataError::InvalidConfig {
                field: "factor",
                ..
            })
        ));
    }
}

#[test]
fn sine_residuals_have_the_noise_scale() {
    let data = sine::<f64>(&SineConfig {
        n: 5000,
        noise: 0.2,
        frequency: 2.0,
        ..SineConfig::default()
    })
    .unwrap();
    let Targets::Real { values, .. } = data.targets() else {
        panic!("sine is regression")
    };
    let residuals: Vec<f64> = data
        .features()
        .iter()
        .zip(values)
        .map(|(x, y)| y - (2.0 * x).sin())
        .collect();
    let std = (residuals.iter().map(|r| r * r).sum::<f64>() / 5000.0).sqrt();
    // 5000 draws: relative standard error of the std estimate is 1%, allow 5%.
    assert!((std - 0.2).abs() < 0.01, "std {std}");
    assert!(data.features().iter().all(|x| (-PI..PI).contains(x)));
}

#[test]
fn teacher_labels_are_the_argmax_of_the_known_network() {
    let config = TeacherStudentConfig {
        n: 500,
        teacher: TeacherConfig {
            n_inputs: 6,
            depth: 3,
            width: 16,
            target: TeacherTarget::Classes(4),
            seed: 8,
        },
        noise: 0.0,
        seed: 9,
    };
    let (data, teacher) = teacher_student::<f64>(&config).unwrap();
    assert_eq!((data.n_features(), data.n_classes()), (6, Some(4)));
    assert_eq!(teacher.layers().len(), 4);
    for (row, &label) in data.features().chunks(6).zip(data.labels().unwrap()) {
        let logits = teacher.forward(row).unwrap();
        assert!(logits.iter().all(|&logit| logit <= logits[label]));
    }
    // A random teacher should not collapse to one class.
    let counts = data.class_counts().unwrap();
    assert!(
        counts.iter().filter(|&&count| count > 0).count() >= 2,
        "{counts:?}"
    );
}

#[test]
fn label_noise_flips_exactly_the_requested_rows_to_other_classes() {
    let clean = blobs::<f32>(&BlobsConfig {
        n: 1000,
        n_classes: 5,
        ..BlobsConfig::default()
    })
    .unwrap();
    let config = LabelNoiseConfig {
        fraction: 0.25,
        seed: 3,
    };
    let (noisy, flipped) = flip_labels(&clean, &config).unwrap();
    assert_eq!(flipped.len(), 250);
    assert!(flipped.windows(2).all(|pair| pair[0] < pair[1]));
    let (before, after) = (clean.labels().unwrap(), noisy.labels().unwrap());
    for row in 0..1000 {
        assert_eq!(
            before[row] != after[row],
            flipped.binary_search(&row).is_ok(),
            "row {row}"
        );
    }
    assert_eq!(clean.features(), noisy.features());
    // New labels cover all other classes: each of the 4 targets of class 0 appears.
    let mut targets_from_zero = [0usize; 5];
    for &row in &flipped {
        if before[row] == 0 {
            targets_from_zero[after[row]] += 1;
        }
    }
    assert_eq!(targets_from_zero[0], 0);
    assert!(
        targets_from_zero[1..].iter().all(|&count| count > 0),
        "{targets_from_zero:?}"
    );
    assert_eq!(flip_labels(&clean, &config).unwrap().1, flipped, "seeded");
    let regression = sine::<f32>(&SineConfig::default()).unwrap();
    assert!(matches!(
        flip_labels(&regression, &config),
        Err(DataError::WrongTargetKind { .. })
    ));
}

#[test]
fn covariate_shift_moves_inputs_and_keeps_the_labelling_rule() {
    let config = CovariateShiftConfig {
        n_train: 2000,
        n_test: 2000,
        shift: 4.0,
        ..CovariateShiftConfig::default()
    };
    let shifted = covariate_shift::<f64>(&config).unwrap();
    let d = shifted.train.n_features();
    let mean = |data: &Dataset<f64>| {
        let mut mean = vec![0.0; d];
        for row in data.features().chunks(d) {
            for (m, x) in mean.iter_mut().zip(row) {
                *m += x / data.n_rows() as f64;
            }
        }
        mean
    };
    let distance: f64 = mean(&shifted.train)
        .iter()
        .zip(mean(&shifted.test))
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        .sqrt();
    // Each mean coordinate has standard error 1/sqrt(2000) = 0.022; over 10 coordinates
    // the distance error is about 0.1, so 0.3 is a wide margin.
    assert!((distance - 4.0).abs() < 0.3, "distance {distance}");
    for data in [&shifted.train, &shifted.test] {
        for (row, &label) in data.features().chunks(d).zip(data.labels().unwrap()) {
            let logits = shifted.teacher.forward(row).unwrap();
            assert!(logits.iter().all(|&logit| logit <= logits[label]));
        }
    }
}

#[test]
fn spec_strings_match_direct_calls() {
    let from_spec = generate::<f64>("spirals:n=300,noise=0.2,seed=4").unwrap();
    let direct = spirals::<f64>(&SpiralsConfig {
        n: 300,
        noise: 0.2,
        seed: 4,
        ..SpiralsConfig::default()
    })
    .unwrap();
    assert_eq!(from_spec.train, direct);
    assert!(from_spec.shifted_test.is_none() && from_spec.flipped.is_empty());
    let shifted = generate::<f32>("shift:n_train=50,n_test=40,shift=1").unwrap();
    assert_eq!(shifted.shifted_test.map(|test| test.n_rows()), Some(40));
}

#[test]
fn impossible_sizes_are_errors_not_aborts() {
    // Products that overflow usize must come back as TooLarge before any allocation.
    let config = BlobsConfig {
        n: usize::MAX / 2 + 1,
        n_features: 2,
        ..BlobsConfig::default()
    };
    assert!(matches!(
        blobs::<f32>(&config),
        Err(DataError::TooLarge {
            what: "features",
            ..
        })
    ));
    let config = SpiralsConfig {
        n: usize::MAX,
        ..SpiralsConfig::default()
    };
    assert!(matches!(
        spirals::<f64>(&config),
        Err(DataError::TooLarge { .. })
    ));
    let teacher = TeacherConfig {
        n_inputs: usize::MAX,
        depth: 1,
        width: 2,
        ..TeacherConfig::default()
    };
    let config = TeacherStudentConfig {
        teacher,
        ..TeacherStudentConfig::default()
    };
    assert!(matches!(
        teacher_student::<f64>(&config),
        Err(DataError::TooLarge { .. })
    ));
}

//! Real datasets compiled into the crate (no network, no files at run time).
//!
//! Both come from the UCI Machine Learning Repository under CC BY 4.0; see the crate
//! documentation for the attribution and citations.

use std::io::Read;

use flate2::read::GzDecoder;

use crate::csv::{CsvOptions, CsvTask, parse_csv};
use crate::dataset::Dataset;
use unstuck_core::Element;

const DIGITS_CSV_GZ: &[u8] = include_bytes!("../data/digits.csv.gz");
const BREAST_CANCER_CSV: &str = include_str!("../data/breast_cancer.csv");

/// Class names of [`breast_cancer`], indexed by label.
pub const BREAST_CANCER_CLASSES: [&str; 2] = ["malignant", "benign"];

/// UCI Optical Recognition of Handwritten Digits (test part): 1797 rows of 8x8 images
/// with pixel counts `0..=16` (64 features, unscaled), labels `0..=9`.
///
/// The data is decompressed and parsed on each call (a few milliseconds).
///
/// ```
/// let digits = unstuck_data::digits::<f32>();
/// assert_eq!((digits.n_rows(), digits.n_features(), digits.n_classes()), (1797, 64, Some(10)));
/// ```
pub fn digits<T: Element>() -> Dataset<T> {
    let mut text = Vec::new();
    GzDecoder::new(DIGITS_CSV_GZ)
        .read_to_end(&mut text)
        .expect("the bundled digits.csv.gz is valid gzip");
    let options = CsvOptions {
        task: CsvTask::Classification {
            n_classes: Some(10),
        },
        ..CsvOptions::default()
    };
    parse_csv(&text, &options).expect("the bundled digits CSV is valid")
}

/// UCI Breast Cancer Wisconsin (Diagnostic): 569 rows of 30 real features (unscaled,
/// they span several orders of magnitude), labels 0 = malignant, 1 = benign
/// (see [`BREAST_CANCER_CLASSES`]).
///
/// ```
/// let cancer = unstuck_data::breast_cancer::<f64>();
/// assert_eq!((cancer.n_rows(), cancer.n_features()), (569, 30));
/// assert_eq!(cancer.class_counts(), Some(vec![212, 357]));
/// ```
pub fn breast_cancer<T: Element>() -> Dataset<T> {
    // The first line is `n_rows,n_features,class names...`; check it against the data.
    let (header, body) = BREAST_CANCER_CSV
        .split_once('\n')
        .expect("the bundled breast-cancer CSV has a header line");
    let options = CsvOptions {
        task: CsvTask::Classification {
            n_classes: Some(BREAST_CANCER_CLASSES.len()),
        },
        ..CsvOptions::default()
    };
    let data: Dataset<T> =
        parse_csv(body.as_bytes(), &options).expect("the bundled breast-cancer CSV is valid");
    let announced: Vec<&str> = header.trim().split(',').collect();
    assert_eq!(
        announced,
        [
            data.n_rows().to_string().as_str(),
            data.n_features().to_string().as_str(),
            BREAST_CANCER_CLASSES[0],
            BREAST_CANCER_CLASSES[1],
        ],
        "the bundled breast-cancer header disagrees with its data"
    );
    data
}

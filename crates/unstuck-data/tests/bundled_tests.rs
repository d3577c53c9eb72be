//! The bundled real datasets load with the expected shapes, class counts and contents.
//!
//! The checksums were computed independently with Python (`float()` parses decimals
//! correctly rounded, as Rust's `str::parse::<f64>` does): FNV-1a 64 over the
//! little-endian bytes of every feature as `f64` in row-major order, then of every
//! label as `u64`.

use unstuck_data::{BREAST_CANCER_CLASSES, Dataset, Element, breast_cancer, digits};

fn checksum<T: Element>(data: &Dataset<T>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: [u8; 8]| {
        for byte in bytes {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for x in data.features() {
        feed(x.to_f64().to_bits().to_le_bytes());
    }
    for &label in data.labels().expect("bundled sets are classification") {
        feed((label as u64).to_le_bytes());
    }
    hash
}

fn check_bundled<T: Element>(
    data: &Dataset<T>,
    shape: (usize, usize),
    class_counts: &[usize],
    expected_checksum: u64,
) {
    assert_eq!((data.n_rows(), data.n_features()), shape);
    assert_eq!(data.n_classes(), Some(class_counts.len()));
    assert_eq!(data.class_counts().as_deref(), Some(class_counts));
    assert_eq!(
        checksum(data),
        expected_checksum,
        "checksum of {}",
        T::DTYPE
    );
}

#[test]
fn digits_has_expected_shape_classes_and_checksum() {
    let counts = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180];
    // Pixel counts are small integers, exact in f32, so both types hash the same.
    check_bundled(&digits::<f64>(), (1797, 64), &counts, 0xcda7_f012_9876_fb76);
    check_bundled(&digits::<f32>(), (1797, 64), &counts, 0xcda7_f012_9876_fb76);
    let data = digits::<f64>();
    assert!(
        data.features()
            .iter()
            .all(|&x| (0.0..=16.0).contains(&x) && x.fract() == 0.0)
    );
    // Integer sum (exact in f64), also computed with Python.
    assert_eq!(data.features().iter().sum::<f64>(), 561_718.0);
}

#[test]
fn breast_cancer_has_expected_shape_classes_and_checksum() {
    check_bundled(
        &breast_cancer::<f64>(),
        (569, 30),
        &[212, 357],
        0x7756_df22_b110_5f0b,
    );
    let first = breast_cancer::<f64>();
    // First row of the file: 17.99, 10.38, ..., label 0 (malignant).
    assert_eq!(&first.row(0).unwrap()[..3], &[17.99, 10.38, 122.8]);
    assert_eq!(
        BREAST_CANCER_CLASSES[first.labels().unwrap()[0]],
        "malignant"
    );
    // The f32 copy is the f64 data rounded to nearest.
    let single = breast_cancer::<f32>();
    for (a, b) in first.features().iter().zip(single.features()) {
        assert_eq!(<f32 as Element>::from_f64(*a), *b);
    }
}

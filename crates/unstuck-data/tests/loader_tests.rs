//! Loaders on files the tests write themselves: good IDX and CSV files load, every
//! malformed one gives its typed error, and random bytes never panic.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use proptest::prelude::*;
use unstuck_data::{
    Column, CsvErrorKind, CsvOptions, CsvTask, DataError, IdxErrorKind, IdxOptions, Targets,
    load_csv, load_idx, parse_csv, parse_idx, parse_idx_images, parse_idx_labels,
};

fn idx_images(n: u32, height: u32, width: u32, pixels: &[u8]) -> Vec<u8> {
    let mut bytes = 0x0000_0803_u32.to_be_bytes().to_vec();
    for dim in [n, height, width] {
        bytes.extend(dim.to_be_bytes());
    }
    bytes.extend_from_slice(pixels);
    bytes
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut bytes = 0x0000_0801_u32.to_be_bytes().to_vec();
    bytes.extend((labels.len() as u32).to_be_bytes());
    bytes.extend_from_slice(labels);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Three 2x3 images with pixels 0, 1, ..., 17 and labels 2, 0, 1.
fn small_mnist() -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..18).collect();
    (idx_images(3, 2, 3, &pixels), idx_labels(&[2, 0, 1]))
}

fn check_idx_error(
    result: Result<impl std::fmt::Debug, DataError>,
    file: &str,
    offset: u64,
    kind: &IdxErrorKind,
) {
    match result {
        Err(DataError::Idx {
            file: got_file,
            offset: got_offset,
            kind: got_kind,
        }) => assert_eq!((got_file, got_offset, &got_kind), (file, offset, kind)),
        other => panic!("expected an IDX error, got {other:?}"),
    }
}

#[test]
fn idx_plain_and_gzip_files_load_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = small_mnist();
    let files = [
        ("images", images.clone(), "labels", labels.clone()),
        ("images.gz", gzip(&images), "labels.gz", gzip(&labels)),
        ("mixed.gz", gzip(&images), "mixed-labels", labels),
    ];
    for (image_name, image_bytes, label_name, label_bytes) in files {
        let image_path = dir.path().join(image_name);
        let label_path = dir.path().join(label_name);
        std::fs::write(&image_path, image_bytes).unwrap();
        std::fs::write(&label_path, label_bytes).unwrap();
        let options = IdxOptions {
            scale_to_unit: false,
            n_classes: Some(10),
        };
        let data = load_idx::<f32>(&image_path, &label_path, &options).unwrap();
        assert_eq!(
            (data.n_rows(), data.n_features(), data.n_classes()),
            (3, 6, Some(10))
        );
        assert_eq!(data.row(1).unwrap(), &[6.0, 7.0, 8.0, 9.0, 10.0, 11.0]);
        assert_eq!(data.labels().unwrap(), &[2, 0, 1]);
        let scaled = load_idx::<f64>(&image_path, &label_path, &IdxOptions::default()).unwrap();
        assert_eq!(scaled.n_classes(), Some(3), "inferred as largest label + 1");
        // 17 / 255 computed once in f64: bit-identical.
        assert_eq!(scaled.features()[17], 17.0 / 255.0);
    }
    let missing = load_idx::<f32>(
        dir.path().join("nope"),
        dir.path().join("labels"),
        &IdxOptions::default(),
    );
    assert!(matches!(missing, Err(DataError::Io { .. })));
}

#[test]
fn malformed_idx_files_give_typed_errors_with_offsets() {
    let (images, labels) = small_mnist();
    let truncated_header = &images[..10];
    check_idx_error(
        parse_idx_images(truncated_header),
        "images",
        8,
        &IdxErrorKind::Truncated {
            needed: 4,
            found: 2,
        },
    );
    check_idx_error(
        parse_idx_images(&images[..images.len() - 1]),
        "images",
        16,
        &IdxErrorKind::Truncated {
            needed: 18,
            found: 17,
        },
    );
    check_idx_error(
        parse_idx_images(&[]),
        "images",
        0,
        &IdxErrorKind::Truncated {
            needed: 4,
            found: 0,
        },
    );
    check_idx_error(
        parse_idx_images(&labels),
        "images",
        0,
        &IdxErrorKind::BadMagic {
            got: 0x801,
            expected: 0x803,
        },
    );
    check_idx_error(
        parse_idx_labels(&images),
        "labels",
        0,
        &IdxErrorKind::BadMagic {
            got: 0x803,
            expected: 0x801,
        },
    );
    check_idx_error(
        parse_idx_images(&idx_images(3, 0, 3, &[])),
        "images",
        4,
        &IdxErrorKind::BadDimensions {
            dims: vec![3, 0, 3],
            reason: "a dimension is zero",
        },
    );
    let mut trailing = images.clone();
    trailing.push(0);
    check_idx_error(
        parse_idx_images(&trailing),
        "images",
        34,
        &IdxErrorKind::TrailingBytes,
    );
    check_idx_error(
        parse_idx::<f32>(&images, &idx_labels(&[1, 2]), &IdxOptions::default()),
        "labels",
        4,
        &IdxErrorKind::CountMismatch {
            images: 3,
            labels: 2,
        },
    );
    check_idx_error(
        parse_idx::<f32>(
            &images,
            &idx_labels(&[1, 12, 0]),
            &IdxOptions {
                n_classes: Some(10),
                ..IdxOptions::default()
            },
        ),
        "labels",
        9,
        &IdxErrorKind::LabelOutOfRange {
            label: 12,
            n_classes: 10,
        },
    );
    // A header announcing 4 billion 65535x65535 images must fail on length, not allocate.
    let huge = idx_images(u32::MAX, 65_535, 65_535, &[1, 2, 3]);
    assert!(matches!(
        parse_idx_images(&huge),
        Err(DataError::Idx { .. })
    ));
    // Truncated gzip, and a gzip whose CRC does not match: typed errors, never a panic.
    let compressed = gzip(&images);
    let mut bad_crc = compressed.clone();
    let crc_position = bad_crc.len() - 8;
    bad_crc[crc_position] ^= 0xff;
    for bad in [&compressed[..compressed.len() / 2], &bad_crc[..]] {
        let result = parse_idx_images(bad);
        assert!(
            matches!(
                result,
                Err(DataError::Idx {
                    kind: IdxErrorKind::Gzip { .. } | IdxErrorKind::Truncated { .. },
                    ..
                })
            ),
            "{result:?}"
        );
    }
    // A flipped byte inside the deflate data may decode to garbage before the CRC is
    // checked; then whichever check sees the garbage first reports it.
    let mut flipped = compressed;
    flipped[12] ^= 0xff;
    assert!(matches!(
        parse_idx_images(&flipped),
        Err(DataError::Idx { .. })
    ));
}

#[test]
fn csv_files_load_with_header_names_and_regression() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("table.csv");
    std::fs::write(&path, "id,price,size\n1,3.5,10\n2,4.0,12\n").unwrap();
    let options = CsvOptions {
        has_header: true,
        label: Column::Name("price".into()),
        task: CsvTask::Regression,
        ..CsvOptions::default()
    };
    let data = load_csv::<f64>(&path, &options).unwrap();
    assert_eq!(data.features(), &[1.0, 10.0, 2.0, 12.0]);
    assert_eq!(
        data.targets(),
        &Targets::Real {
            values: vec![3.5, 4.0],
            n_outputs: 1
        }
    );
    assert!(matches!(
        load_csv::<f64>(dir.path().join("missing.csv"), &options),
        Err(DataError::Io { .. })
    ));
}

#[test]
fn malformed_csv_files_give_typed_errors_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], usize, usize, CsvErrorKind); 6] = [
        (
            "ragged",
            b"1,2,0\n3,4,1\n5,6\n",
            3,
            3,
            CsvErrorKind::Ragged {
                expected: 3,
                got: 2,
            },
        ),
        (
            "text",
            b"1,2,0\n3,four,1\n",
            2,
            2,
            CsvErrorKind::NotANumber {
                field: "four".into(),
            },
        ),
        (
            "nan",
            b"1,2,0\n3,NaN,1\n",
            2,
            2,
            CsvErrorKind::NonFinite {
                field: "NaN".into(),
            },
        ),
        ("empty", b"", 1, 1, CsvErrorKind::NoRows),
        (
            "label",
            b"1,2,0\n3,4,1.5\n",
            2,
            3,
            CsvErrorKind::BadLabel {
                field: "1.5".into(),
                detail: " (expected a non-negative integer)".into(),
            },
        ),
        (
            "utf8",
            b"1,2,0\n3,\xc3\x28,1\n",
            2,
            2,
            CsvErrorKind::InvalidUtf8,
        ),
    ];
    for (name, bytes, line, column, kind) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        match load_csv::<f32>(&path, &CsvOptions::default()) {
            Err(DataError::Csv {
                line: got_line,
                column: got_column,
                kind: got_kind,
            }) => {
                assert_eq!(
                    (got_line, got_column, got_kind),
                    (line, column, kind),
                    "{name}"
                );
            }
            other => panic!("{name}: expected a CSV error, got {other:?}"),
        }
    }
}

fn check_ok_dataset<T: unstuck_data::Element>(
    result: &Result<unstuck_data::Dataset<T>, DataError>,
) {
    if let Ok(data) = result {
        assert!(data.n_rows() >= 1 && data.n_features() >= 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_bytes_never_panic_the_csv_loader(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        for options in [
            CsvOptions::default(),
            CsvOptions { has_header: true, label: Column::Name("y".into()), ..CsvOptions::default() },
            CsvOptions { task: CsvTask::Regression, label: Column::Index(1), ..CsvOptions::default() },
        ] {
            check_ok_dataset(&parse_csv::<f32>(&bytes, &options));
        }
    }

    #[test]
    fn random_csv_like_text_never_panics(text in "[0-9a-z.,;\"\n\r -]{0,200}") {
        check_ok_dataset(&parse_csv::<f64>(text.as_bytes(), &CsvOptions::default()));
    }

    #[test]
    fn random_bytes_never_panic_the_idx_loader(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        header_kind in 0..4u8,
    ) {
        // Raw bytes, bytes behind a valid image or label magic, and bytes behind a
        // gzip signature, so every stage of the reader sees garbage.
        let input: Vec<u8> = match header_kind {
            0 => bytes.clone(),
            1 => [&0x0000_0803_u32.to_be_bytes()[..], &bytes].concat(),
            2 => [&0x0000_0801_u32.to_be_bytes()[..], &bytes].concat(),
            _ => [&[0x1f, 0x8b, 0x08, 0x00][..], &bytes].concat(),
        };
        let _ = parse_idx_images(&input);
        let _ = parse_idx_labels(&input);
        check_ok_dataset(&parse_idx::<f32>(&input, &input, &IdxOptions::default()));
        let (images, labels) = small_mnist();
        check_ok_dataset(&parse_idx::<f32>(&images, &input, &IdxOptions::default()));
        check_ok_dataset(&parse_idx::<f32>(&input, &labels, &IdxOptions::default()));
    }

    #[test]
    fn gzip_of_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_idx_images(&gzip(&bytes));
        let _ = parse_idx_labels(&gzip(&bytes));
    }
}

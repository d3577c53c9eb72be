//! Safetensors data files: a batch saved by PyTorch loads with its example shape, every
//! dtype and shape we accept reads exactly, every malformed file gives its typed error,
//! and random bytes never panic. Also: IDX images and the digits keep their image shape.

use std::collections::HashMap;

use proptest::prelude::*;
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use unstuck_data::{
    DataError, IdxOptions, Targets, TensorFileErrorKind, TensorFileOptions, load_tensor_file,
    parse_idx, parse_tensor_file,
};

/// A file of `(name, dtype, shape, little-endian bytes)` tensors.
fn file(tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views: HashMap<&str, TensorView<'_>> = tensors
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            (
                *name,
                TensorView::new(*dtype, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

fn f32s(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn f64s(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn i64s(values: &[i64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn i32s(values: &[i32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn parse(bytes: &[u8]) -> Result<unstuck_data::Dataset<f64>, DataError> {
    parse_tensor_file(bytes, &TensorFileOptions::default())
}

fn check_error(bytes: &[u8], expected: &TensorFileErrorKind) {
    match parse(bytes) {
        Err(DataError::TensorFile(kind)) => assert_eq!(&kind, expected),
        other => panic!("expected {expected:?}, got {other:?}"),
    }
}

#[test]
fn a_batch_saved_by_pytorch_keeps_its_image_shape() {
    // fixtures/make_torch_batch.py: x = arange(30)/8 as [5, 1, 3, 2] float32, y int64,
    // and an extra tensor that is ignored.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/torch_batch.safetensors"
    );
    let data = load_tensor_file::<f64>(path, &TensorFileOptions::default()).unwrap();
    assert_eq!(data.n_rows(), 5);
    assert_eq!(data.example_dims(), vec![1, 3, 2]);
    let expected: Vec<f64> = (0..30).map(|k| f64::from(k) / 8.0).collect();
    assert_eq!(data.features(), expected.as_slice());
    assert_eq!(data.labels(), Some(&[0, 2, 1, 2, 0][..]));
    assert_eq!(data.n_classes(), Some(3));
    // A split keeps the shape, so an image model still sees images.
    let part = data.select(&[4, 1]).unwrap();
    assert_eq!(part.example_dims(), vec![1, 3, 2]);
}

#[test]
fn every_accepted_dtype_and_shape_reads_exactly() {
    // float64 rows with int32 labels; the class count can be given.
    let x = [0.1, -2.5, 1e-300, 3.0];
    let bytes = file(&[
        ("x", Dtype::F64, vec![2, 2], f64s(&x)),
        ("y", Dtype::I32, vec![2], i32s(&[1, 0])),
    ]);
    let data = parse(&bytes).unwrap();
    assert_eq!(data.features(), &x);
    assert_eq!(data.example_dims(), vec![2]);
    assert_eq!(data.n_classes(), Some(2));
    let options = TensorFileOptions {
        n_classes: Some(10),
    };
    let data = parse_tensor_file::<f32>(&bytes, &options).unwrap();
    assert_eq!(data.n_classes(), Some(10));
    // float targets: [N] is one output, [N, K] is K outputs; x of rank 1 is one feature.
    let bytes = file(&[
        ("x", Dtype::F32, vec![3], f32s(&[1.0, 2.0, 3.0])),
        ("y", Dtype::F32, vec![3], f32s(&[0.5, 0.25, -1.0])),
    ]);
    let data = parse(&bytes).unwrap();
    assert_eq!((data.n_features(), data.n_outputs()), (1, 1));
    match data.targets() {
        Targets::Real { values, .. } => assert_eq!(values, &[0.5, 0.25, -1.0]),
        other => panic!("{other:?}"),
    }
    let bytes = file(&[
        ("x", Dtype::F32, vec![2, 1], f32s(&[1.0, 2.0])),
        (
            "y",
            Dtype::F64,
            vec![2, 3],
            f64s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        ),
    ]);
    assert_eq!(parse(&bytes).unwrap().n_outputs(), 3);
}

#[test]
fn malformed_files_name_what_is_wrong() {
    let x = || ("x", Dtype::F32, vec![2, 2], f32s(&[1.0, 2.0, 3.0, 4.0]));
    let y = || ("y", Dtype::I64, vec![2], i64s(&[0, 1]));
    check_error(
        &file(&[x(), ("labels", Dtype::I64, vec![2], i64s(&[0, 1]))]),
        &TensorFileErrorKind::Missing {
            tensor: "y",
            present: vec!["labels".into(), "x".into()],
        },
    );
    check_error(
        &file(&[("x", Dtype::I64, vec![2, 1], i64s(&[1, 2])), y()]),
        &TensorFileErrorKind::Dtype {
            tensor: "x",
            got: "I64".into(),
            expected: "float32 or float64",
        },
    );
    check_error(
        &file(&[x(), ("y", Dtype::U8, vec![2], vec![0, 1])]),
        &TensorFileErrorKind::Dtype {
            tensor: "y",
            got: "U8".into(),
            expected: "int64 or int32 (class labels), float32 or float64 (targets)",
        },
    );
    check_error(
        &file(&[x(), ("y", Dtype::I64, vec![2, 1], i64s(&[0, 1]))]),
        &TensorFileErrorKind::Shape {
            tensor: "y",
            dims: vec![2, 1],
            expected: "[N] for class labels",
        },
    );
    check_error(
        &file(&[x(), ("y", Dtype::I64, vec![3], i64s(&[0, 1, 1]))]),
        &TensorFileErrorKind::RowMismatch {
            x_rows: 2,
            y_dims: vec![3],
        },
    );
    check_error(
        &file(&[x(), ("y", Dtype::I64, vec![2], i64s(&[0, -1]))]),
        &TensorFileErrorKind::BadLabel {
            row: 1,
            label: -1,
            n_classes: None,
        },
    );
    let options = TensorFileOptions { n_classes: Some(1) };
    let error = parse_tensor_file::<f64>(&file(&[x(), y()]), &options).unwrap_err();
    assert_eq!(
        error.to_string(),
        "safetensors data: label 1 at row 1 is not a class id in 0..1"
    );
    match parse(b"not a safetensors file") {
        Err(DataError::TensorFile(TensorFileErrorKind::Header { .. })) => {}
        other => panic!("{other:?}"),
    }
    // A NaN is named by row and column, as in every other loader.
    let nan = (
        "x",
        Dtype::F32,
        vec![2, 2],
        f32s(&[1.0, 2.0, f32::NAN, 4.0]),
    );
    match parse(&file(&[nan, y()])) {
        Err(DataError::NonFinite { row, column, .. }) => assert_eq!((row, column), (1, 0)),
        other => panic!("{other:?}"),
    }
    let empty = ("x", Dtype::F32, vec![0, 2], Vec::new());
    let no_labels = ("y", Dtype::I64, vec![0], Vec::new());
    assert!(matches!(
        parse(&file(&[empty, no_labels])),
        Err(DataError::Empty { .. })
    ));
}

#[test]
fn idx_images_and_the_digits_keep_their_image_shape() {
    let mut images = 0x0000_0803_u32.to_be_bytes().to_vec();
    for dim in [2u32, 3, 4] {
        images.extend(dim.to_be_bytes());
    }
    images.extend(0..24u8);
    let mut labels = 0x0000_0801_u32.to_be_bytes().to_vec();
    labels.extend(2u32.to_be_bytes());
    labels.extend([1u8, 0]);
    let data = parse_idx::<f64>(&images, &labels, &IdxOptions::default()).unwrap();
    assert_eq!(data.example_dims(), vec![1, 3, 4]);
    let digits = unstuck_data::digits::<f64>();
    assert_eq!(digits.example_dims(), vec![1, 8, 8]);
    assert_eq!(digits.cast::<f32>().unwrap().example_dims(), vec![1, 8, 8]);
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse(&bytes);
    }
}

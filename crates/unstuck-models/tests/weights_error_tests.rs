//! Every way a weights file can fail to fit a model is a typed error naming the tensor,
//! and writing never leaves a partial file behind.

mod common;

use common::{fixture, golden_mlp};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use unstuck_models::{Mlp, Model, ModelError, load_weights, save_weights, weights_from_bytes};

/// The golden f64 file's tensors as (name, dtype, shape, bytes).
fn golden_tensors() -> Vec<(String, Dtype, Vec<usize>, Vec<u8>)> {
    let bytes = fixture("mlp_interop.safetensors");
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            (
                name,
                view.dtype(),
                view.shape().to_vec(),
                view.data().to_vec(),
            )
        })
        .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    tensors
}

fn serialize(tensors: &[(String, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views = tensors.iter().map(|(name, dtype, shape, data)| {
        (
            name.clone(),
            TensorView::new(*dtype, shape.clone(), data).unwrap(),
        )
    });
    safetensors::serialize(views, None).unwrap()
}

/// Loads `tensors` into the golden model as f64.
fn load(tensors: &[(String, Dtype, Vec<usize>, Vec<u8>)]) -> Result<Vec<f64>, ModelError> {
    weights_from_bytes(&golden_mlp(), &serialize(tensors))
}

#[test]
fn the_unmodified_tensors_load() {
    assert_eq!(load(&golden_tensors()).unwrap().len(), 467);
}

#[test]
fn a_missing_tensor_is_named() {
    let mut tensors = golden_tensors();
    tensors.retain(|t| t.0 != "layers.1.bias");
    match load(&tensors) {
        Err(ModelError::MissingTensor { name }) => assert_eq!(name, "layers.1.bias"),
        other => panic!("expected MissingTensor, got {other:?}"),
    }
}

#[test]
fn an_extra_tensor_is_named() {
    let mut tensors = golden_tensors();
    tensors.push(("layers.3.weight".into(), Dtype::F64, vec![1], vec![0; 8]));
    match load(&tensors) {
        Err(ModelError::ExtraTensor { name }) => assert_eq!(name, "layers.3.weight"),
        other => panic!("expected ExtraTensor, got {other:?}"),
    }
}

#[test]
fn a_wrong_shape_is_named_with_both_shapes() {
    // The transposed shape has the right element count: only the shape check catches it.
    let mut tensors = golden_tensors();
    let weight = tensors
        .iter_mut()
        .find(|t| t.0 == "layers.0.weight")
        .unwrap();
    weight.2 = vec![8, 16];
    match load(&tensors) {
        Err(ModelError::WrongShape {
            name,
            expected,
            got,
        }) => {
            assert_eq!(name, "layers.0.weight");
            assert_eq!(expected, vec![16, 8]);
            assert_eq!(got, vec![8, 16]);
        }
        other => panic!("expected WrongShape, got {other:?}"),
    }
}

#[test]
fn a_wrong_dtype_is_named_with_both_dtypes() {
    // An f32 file read as f64 weights: refused rather than silently widened.
    let f32_file = fixture("mlp_interop_f32.safetensors");
    match weights_from_bytes::<f64, _>(&golden_mlp(), &f32_file) {
        Err(ModelError::WrongDtype {
            name,
            expected,
            got,
        }) => {
            assert_eq!(name, "layers.0.weight");
            assert_eq!((expected.as_str(), got.as_str()), ("F64", "F32"));
        }
        other => panic!("expected WrongDtype, got {other:?}"),
    }
    // A half-precision bias (12 f16 fill the bytes of the 3 f64): named too.
    let mut tensors = golden_tensors();
    let bias = tensors.iter_mut().find(|t| t.0 == "layers.2.bias").unwrap();
    bias.1 = Dtype::F16;
    bias.2 = vec![12];
    match load(&tensors) {
        Err(ModelError::WrongDtype { name, got, .. }) => {
            assert_eq!((name.as_str(), got.as_str()), ("layers.2.bias", "F16"));
        }
        other => panic!("expected WrongDtype, got {other:?}"),
    }
}

#[test]
fn bytes_that_are_not_safetensors_are_an_error() {
    let mut bytes = fixture("mlp_interop.safetensors");
    bytes.truncate(100);
    assert!(matches!(
        weights_from_bytes::<f64, _>(&golden_mlp(), &bytes),
        Err(ModelError::Safetensors { .. })
    ));
    assert!(matches!(
        weights_from_bytes::<f64, _>(&golden_mlp(), b"not a file"),
        Err(ModelError::Safetensors { .. })
    ));
}

#[test]
fn file_system_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.safetensors");
    match load_weights::<f64, _>(&golden_mlp(), &missing) {
        Err(ModelError::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected Io, got {other:?}"),
    }
    let no_dir = dir.path().join("no/such/dir/w.safetensors");
    let theta: Vec<f64> = golden_mlp().init(0);
    assert!(matches!(
        save_weights(&golden_mlp(), &theta, &no_dir),
        Err(ModelError::Io { .. })
    ));
}

#[test]
fn saving_a_theta_of_the_wrong_length_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let err = save_weights(&golden_mlp(), &[0.0f64; 10], &path).unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::ParamCount {
                expected: 467,
                got: 10
            }
        ),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn saving_replaces_the_file_whole_and_leaves_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let mlp = golden_mlp();
    let first: Vec<f64> = mlp.init(1);
    let second: Vec<f64> = mlp.init(2);
    save_weights(&mlp, &first, &path).unwrap();
    save_weights(&mlp, &second, &path).unwrap();
    assert_eq!(load_weights::<f64, _>(&mlp, &path).unwrap(), second);
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, vec![std::ffi::OsString::from("w.safetensors")]);
}

#[test]
fn a_file_for_another_architecture_is_refused() {
    // 8-16-16-3 weights do not fit 8-16-3: the second layer's shape differs.
    let other = Mlp::from_spec("8-16-3:tanh").unwrap();
    let bytes = fixture("mlp_interop.safetensors");
    match weights_from_bytes::<f64, _>(&other, &bytes) {
        Err(ModelError::WrongShape { name, .. }) => assert_eq!(name, "layers.1.weight"),
        other => panic!("expected WrongShape, got {other:?}"),
    }
}

//! Weights in and out as safetensors, with PyTorch's names, shapes and layout.
//!
//! A file holds one tensor per [`ParamSpec`] of the model's layout (`layers.K.weight`
//! of shape `(out, in)`, `layers.K.bias`), little-endian, in the element type of theta
//! (`f32` -> `F32`, `f64` -> `F64`), plus the metadata `{"format": "pt"}` that
//! Hugging Face loaders look for. PyTorch reads it with
//! `model.load_state_dict(safetensors.torch.load_file(path))`, and a file written by
//! `safetensors.torch.save_file(model.state_dict(), path)` loads here.

use crate::{Architecture, ModelError, ParamSpec};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use unstuck_autodiff::{DType, Element};
use unstuck_core::{ElementSlice, ElementVec};

fn dtype_of<T: Element>() -> Dtype {
    match T::DTYPE {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
    }
}

fn into_theta<T: Element>(elements: ElementVec) -> Vec<T> {
    T::from_typed(elements)
        .unwrap_or_else(|_| panic!("elements decoded in a dtype other than theta's"))
}

/// The model's parameters as the bytes of a safetensors file.
///
/// The bytes depend only on the layout and theta (safetensors orders tensors by name),
/// so saving the same theta twice gives identical files.
pub fn weights_to_bytes<T: Element, M: Architecture + ?Sized>(
    model: &M,
    theta: &[T],
) -> Result<Vec<u8>, ModelError> {
    crate::model::check_theta_len(model, theta.len())?;
    let dtype = dtype_of::<T>();
    let bytes: Vec<u8> = match T::as_typed(theta) {
        ElementSlice::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ElementSlice::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    };
    let size = dtype.bitsize() / 8;
    let views = model
        .layout()
        .iter()
        .map(|spec| {
            let range = spec.offset * size..(spec.offset + spec.len()) * size;
            let view = TensorView::new(dtype, spec.shape.clone(), &bytes[range])
                .map_err(safetensors_error)?;
            Ok((spec.name.as_str(), view))
        })
        .collect::<Result<Vec<_>, ModelError>>()?;
    // One metadata key only: safetensors keeps metadata in a HashMap, and several keys
    // would be written in a random order, breaking byte-identical files.
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(metadata)).map_err(safetensors_error)
}

/// Writes the model's parameters to `path` atomically: a temporary file in the same
/// directory is written, flushed to disk, then renamed over `path`, so a reader never
/// sees a half-written file.
///
/// ```
/// use unstuck_models::{Mlp, Model, load_weights, save_weights};
/// let mlp = Mlp::from_spec("4-3-2:tanh").unwrap();
/// let theta: Vec<f32> = mlp.init(1);
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("model.safetensors");
/// save_weights(&mlp, &theta, &path).unwrap();
/// assert_eq!(load_weights::<f32, _>(&mlp, &path).unwrap(), theta);
/// ```
pub fn save_weights<T: Element, M: Architecture + ?Sized>(
    model: &M,
    theta: &[T],
    path: impl AsRef<Path>,
) -> Result<(), ModelError> {
    let bytes = weights_to_bytes(model, theta)?;
    let path = path.as_ref();
    unstuck_core::write_atomic(path, &bytes).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads theta from the bytes of a safetensors file.
///
/// Every tensor of the layout must be present with its exact shape and with theta's
/// dtype (`F32` for `f32`, `F64` for `f64`: no silent rounding; convert after loading
/// if you need the other precision), and the file must hold nothing else. Each failure
/// names the tensor.
pub fn weights_from_bytes<T: Element, M: Architecture + ?Sized>(
    model: &M,
    bytes: &[u8],
) -> Result<Vec<T>, ModelError> {
    let file = SafeTensors::deserialize(bytes).map_err(safetensors_error)?;
    let dtype = dtype_of::<T>();
    let layout = model.layout();
    let mut elements = match T::DTYPE {
        DType::F32 => ElementVec::F32(vec![0.0; model.n_params()]),
        DType::F64 => ElementVec::F64(vec![0.0; model.n_params()]),
    };
    for spec in layout {
        let view = file
            .tensor(&spec.name)
            .map_err(|_| ModelError::MissingTensor {
                name: spec.name.clone(),
            })?;
        check_tensor(spec, view.dtype(), view.shape(), dtype)?;
        let data = view.data();
        match &mut elements {
            ElementVec::F32(v) => {
                for (dst, src) in v[spec.range()].iter_mut().zip(data.chunks_exact(4)) {
                    *dst = f32::from_le_bytes(src.try_into().expect("chunks of 4 bytes"));
                }
            }
            ElementVec::F64(v) => {
                for (dst, src) in v[spec.range()].iter_mut().zip(data.chunks_exact(8)) {
                    *dst = f64::from_le_bytes(src.try_into().expect("chunks of 8 bytes"));
                }
            }
        }
    }
    let known: HashSet<&str> = layout.iter().map(|spec| spec.name.as_str()).collect();
    let mut names = file.names();
    names.sort_unstable();
    if let Some(extra) = names.into_iter().find(|name| !known.contains(name)) {
        return Err(ModelError::ExtraTensor {
            name: extra.to_string(),
        });
    }
    Ok(into_theta(elements))
}

/// Reads theta from a safetensors file (see [`weights_from_bytes`] for the checks).
pub fn load_weights<T: Element, M: Architecture + ?Sized>(
    model: &M,
    path: impl AsRef<Path>,
) -> Result<Vec<T>, ModelError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    weights_from_bytes(model, &bytes)
}

fn check_tensor(
    spec: &ParamSpec,
    dtype: Dtype,
    shape: &[usize],
    expected: Dtype,
) -> Result<(), ModelError> {
    if dtype != expected {
        return Err(ModelError::WrongDtype {
            name: spec.name.clone(),
            expected: format!("{expected:?}"),
            got: format!("{dtype:?}"),
        });
    }
    if shape != spec.shape.as_slice() {
        return Err(ModelError::WrongShape {
            name: spec.name.clone(),
            expected: spec.shape.clone(),
            got: shape.to_vec(),
        });
    }
    Ok(())
}

fn safetensors_error(error: safetensors::SafeTensorError) -> ModelError {
    ModelError::Safetensors {
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mlp;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any bit pattern, NaN payloads and signed zeros included, survives a round trip.
        #[test]
        fn bytes_round_trip_every_bit_pattern(
            bits64 in proptest::collection::vec(any::<u64>(), 13),
            bits32 in proptest::collection::vec(any::<u32>(), 13),
        ) {
            let mlp = Mlp::from_spec("2-3-1:relu").unwrap();
            let theta: Vec<f64> = bits64.iter().map(|&b| f64::from_bits(b)).collect();
            let back: Vec<f64> = weights_from_bytes(&mlp, &weights_to_bytes(&mlp, &theta).unwrap()).unwrap();
            prop_assert_eq!(back.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), bits64);
            let theta: Vec<f32> = bits32.iter().map(|&b| f32::from_bits(b)).collect();
            let back: Vec<f32> = weights_from_bytes(&mlp, &weights_to_bytes(&mlp, &theta).unwrap()).unwrap();
            prop_assert_eq!(back.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), bits32);
        }
    }
}

//! A user's own batch saved from PyTorch as a safetensors file with two tensors:
//! `x` (float32 or float64, shape `[N, ...]`) and `y` (int64 or int32 class labels of
//! shape `[N]`, or float32/float64 targets of shape `[N]` or `[N, K]`).
//!
//! ```python
//! from safetensors.torch import save_file
//! save_file({"x": images.double(), "y": labels}, "batch.safetensors")
//! ```
//!
//! Each example keeps its shape (`x` of shape `[N, 1, 28, 28]` gives `[1, 28, 28]`
//! images), other tensors in the file are ignored, and every problem with the file is a
//! [`TensorFileErrorKind`] naming the tensor and what is wrong with it.

use std::path::Path;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use crate::dataset::Dataset;
use crate::error::{DataError, Result, TensorFileErrorKind};
use unstuck_core::{Element, Targets};

/// How to read the labels of a safetensors data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TensorFileOptions {
    /// The class count for integer labels; `None` infers the largest label plus one.
    pub n_classes: Option<usize>,
}

/// Reads a dataset from the bytes of a safetensors file holding `x` and `y`.
///
/// ```
/// use std::collections::HashMap;
/// use safetensors::{Dtype, tensor::TensorView};
/// let x: Vec<u8> = [0.5f32, 1.0, -1.0, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
/// let y: Vec<u8> = [1i64, 0].iter().flat_map(|v| v.to_le_bytes()).collect();
/// let tensors = HashMap::from([
///     ("x", TensorView::new(Dtype::F32, vec![2, 1, 2], &x).unwrap()),
///     ("y", TensorView::new(Dtype::I64, vec![2], &y).unwrap()),
/// ]);
/// let bytes = safetensors::serialize(tensors, None).unwrap();
/// let options = unstuck_data::TensorFileOptions::default();
/// let data = unstuck_data::parse_tensor_file::<f64>(&bytes, &options)?;
/// assert_eq!((data.n_rows(), data.example_dims()), (2, vec![1, 2]));
/// assert_eq!(data.labels(), Some(&[1, 0][..]));
/// # Ok::<(), unstuck_data::DataError>(())
/// ```
pub fn parse_tensor_file<T: Element>(
    bytes: &[u8],
    options: &TensorFileOptions,
) -> Result<Dataset<T>> {
    let file = SafeTensors::deserialize(bytes).map_err(|error| TensorFileErrorKind::Header {
        message: error.to_string(),
    })?;
    let x = tensor(&file, "x")?;
    let y = tensor(&file, "y")?;
    let x_dims = x.shape().to_vec();
    let Some((&n_rows, example)) = x_dims.split_first() else {
        return Err(rank_error("x", &x_dims, "[N, ...] (one row per example)"));
    };
    let features: Vec<T> = floats("x", &x)?.into_iter().map(T::from_f64).collect();
    let y_rows = y.shape().first().copied().unwrap_or(0);
    if y.shape().is_empty() || y_rows != n_rows {
        return Err(TensorFileErrorKind::RowMismatch {
            x_rows: n_rows,
            y_dims: y.shape().to_vec(),
        }
        .into());
    }
    let targets = targets(&y, options)?;
    let n_features = example.iter().product::<usize>().max(1);
    if n_rows == 0 || example.contains(&0) {
        return Err(DataError::Empty { what: "x" });
    }
    let data = Dataset::new(features, n_features, targets)?;
    if example.len() > 1 {
        data.with_example_dims(example)
    } else {
        Ok(data)
    }
}

/// Reads a safetensors data file from disk (see [`parse_tensor_file`]).
pub fn load_tensor_file<T: Element>(
    path: impl AsRef<Path>,
    options: &TensorFileOptions,
) -> Result<Dataset<T>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_tensor_file(&bytes, options)
}

fn tensor<'a>(file: &'a SafeTensors<'a>, name: &'static str) -> Result<TensorView<'a>> {
    file.tensor(name).map_err(|_| {
        let mut present: Vec<String> = file.names().into_iter().map(String::from).collect();
        present.sort();
        TensorFileErrorKind::Missing {
            tensor: name,
            present,
        }
        .into()
    })
}

fn rank_error(tensor: &'static str, dims: &[usize], expected: &'static str) -> DataError {
    TensorFileErrorKind::Shape {
        tensor,
        dims: dims.to_vec(),
        expected,
    }
    .into()
}

/// The tensor's values as f64 (float32 widens exactly).
fn floats(name: &'static str, view: &TensorView<'_>) -> Result<Vec<f64>> {
    let data = view.data();
    // Little-endian, possibly unaligned: read element by element.
    Ok(match view.dtype() {
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8-byte chunk")))
            .collect(),
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes(b.try_into().expect("4-byte chunk"))))
            .collect(),
        other => {
            return Err(TensorFileErrorKind::Dtype {
                tensor: name,
                got: format!("{other:?}"),
                expected: "float32 or float64",
            }
            .into());
        }
    })
}

fn integers(view: &TensorView<'_>) -> Vec<i64> {
    let data = view.data();
    match view.dtype() {
        Dtype::I64 => data
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("8-byte chunk")))
            .collect(),
        _ => data
            .chunks_exact(4)
            .map(|b| i64::from(i32::from_le_bytes(b.try_into().expect("4-byte chunk"))))
            .collect(),
    }
}

/// Integer `y` is class labels of shape `[N]`; float `y` is real targets `[N]` or `[N, K]`.
fn targets<T: Element>(y: &TensorView<'_>, options: &TensorFileOptions) -> Result<Targets<T>> {
    let dims = y.shape();
    match y.dtype() {
        Dtype::I64 | Dtype::I32 => {
            if dims.len() != 1 {
                return Err(rank_error("y", dims, "[N] for class labels"));
            }
            let raw = integers(y);
            let mut labels = Vec::with_capacity(raw.len());
            for (row, &label) in raw.iter().enumerate() {
                let fits = options.n_classes.is_none_or(|n| (label as u64) < n as u64);
                if label < 0 || !fits {
                    return Err(TensorFileErrorKind::BadLabel {
                        row,
                        label,
                        n_classes: options.n_classes,
                    }
                    .into());
                }
                labels.push(label as usize);
            }
            let n_classes = options
                .n_classes
                .unwrap_or_else(|| labels.iter().max().map_or(1, |max| max + 1));
            Ok(Targets::Classes { labels, n_classes })
        }
        Dtype::F64 | Dtype::F32 => {
            let n_outputs = match dims {
                [_] => 1,
                [_, k] if *k > 0 => *k,
                _ => return Err(rank_error("y", dims, "[N] or [N, K] for real targets")),
            };
            let values = floats("y", y)?.into_iter().map(T::from_f64).collect();
            Ok(Targets::Real { values, n_outputs })
        }
        other => Err(TensorFileErrorKind::Dtype {
            tensor: "y",
            got: format!("{other:?}"),
            expected: "int64 or int32 (class labels), float32 or float64 (targets)",
        }
        .into()),
    }
}

//! Datasets for unstuck: real data to make claims honest, synthetic data built to show
//! each failure on purpose, and seeded mini-batches.
//!
//! - [`Dataset`]: row-major `n_rows x n_features` features (`f32` or `f64`, see
//!   [`Element`]) with [`Targets`] (class labels or real values), validated once.
//! - [`Batches`]: shuffled mini-batches, seeded per `(seed, epoch)` with `ChaCha8Rng`,
//!   gathered into buffers allocated once.
//! - [`split`] and [`Standardizer`]: seeded, optionally stratified train / validation /
//!   test splits, and standardisation fitted on the training part.
//! - Bundled real data: [`digits`] and [`breast_cancer`].
//! - Synthetic generators: [`spirals`], [`blobs`], [`circles`], [`xor`], [`sine`],
//!   [`teacher_student`], [`flip_labels`] (label noise), [`covariate_shift`], and
//!   [`generate`] for spec strings such as `spirals:n=1000,noise=0.2`.
//! - Loaders: [`load_csv`] / [`parse_csv`] and [`load_idx`] / [`parse_idx`] (MNIST's
//!   format, plain or gzip; images keep their `[1, H, W]` shape), and
//!   [`load_tensor_file`] / [`parse_tensor_file`] (a safetensors file with tensors `x`
//!   and `y`, a batch saved from PyTorch). Malformed input is a [`DataError`] naming the line and
//!   column or the byte offset, never a panic.
//!
//! ```
//! use unstuck_data::{split, BatchConfig, Batches, SplitConfig, Standardizer};
//! let data = unstuck_data::breast_cancer::<f32>();
//! let mut parts = split(&data, &SplitConfig { stratified: true, ..SplitConfig::default() })?;
//! Standardizer::fit_split(&mut parts)?;
//! let config = BatchConfig { batch_size: 64, seed: 1, ..BatchConfig::default() };
//! let mut batches = Batches::new(&parts.train, config)?;
//! for epoch in 0..2 {
//!     batches.start_epoch(epoch);
//!     while let Some(batch) = batches.next_batch() {
//!         assert_eq!(batch.features().len(), batch.n_rows() * 30);
//!     }
//! }
//! # Ok::<(), unstuck_data::DataError>(())
//! ```
//!
//! # Bundled data: attribution and license
//!
//! Both bundled datasets are from the UCI Machine Learning Repository and are licensed
//! under CC BY 4.0 (<https://creativecommons.org/licenses/by/4.0/>). They are shipped
//! unchanged in content, converted to CSV (`data/digits.csv.gz`,
//! `data/breast_cancer.csv`).
//!
//! - Optical Recognition of Handwritten Digits (E. Alpaydin, C. Kaynak, 1998), the test
//!   part of the UCI set: 1797 8x8 images, pixel counts 0..16, 10 classes.
//!   Alpaydin, E. & Kaynak, C. (1998). Optical Recognition of Handwritten Digits
//!   \[Dataset\]. UCI Machine Learning Repository. <https://doi.org/10.24432/C50P49>.
//! - Breast Cancer Wisconsin (Diagnostic) (W. Wolberg, W. Street, O. Mangasarian,
//!   1995): 569 rows of 30 real features of cell nuclei, label 0 = malignant,
//!   1 = benign.
//!   Wolberg, W., Mangasarian, O., Street, N. & Street, W. (1995). Breast Cancer
//!   Wisconsin (Diagnostic) \[Dataset\]. UCI Machine Learning Repository.
//!   <https://doi.org/10.24432/C5DW2B>.

#![warn(missing_docs)]

mod batch;
mod bundled;
mod csv;
mod dataset;
mod error;
mod idx;
mod split;
mod standardize;
mod synth;
mod tensor_file;

pub use batch::{BatchConfig, Batches};
pub use bundled::{BREAST_CANCER_CLASSES, breast_cancer, digits};
pub use csv::{Column, CsvOptions, CsvTask, load_csv, parse_csv};
pub use dataset::Dataset;
pub use error::{CsvErrorKind, DataError, IdxErrorKind, Result, TensorFileErrorKind};
// Defined in unstuck-core, shared with the model crate; named here where datasets are made.
pub use idx::{
    IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IdxImages, IdxOptions, load_idx, parse_idx,
    parse_idx_images, parse_idx_labels,
};
pub use split::{Split, SplitConfig, SplitIndices, split, split_indices};
pub use standardize::Standardizer;
pub use synth::{
    BlobsConfig, CirclesConfig, CovariateShiftConfig, DenseLayer, GENERATOR_NAMES, Generated,
    Generator, GeneratorSpec, LabelNoiseConfig, ShiftedData, SineConfig, SpiralsConfig, Teacher,
    TeacherConfig, TeacherStudentConfig, TeacherTarget, XorConfig, blobs, circles, covariate_shift,
    flip_labels, generate, generator_keys, sine, spirals, teacher_student, xor,
};
pub use tensor_file::{TensorFileOptions, load_tensor_file, parse_tensor_file};
pub use unstuck_core::{Batch, BatchTargets, Element, Targets};

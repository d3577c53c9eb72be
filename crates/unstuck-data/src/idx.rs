//! IDX files, the format of MNIST and Fashion-MNIST, plain or gzip-compressed.
//!
//! An IDX file is a big-endian `u32` magic number (`0x00000803` for `u8` images of
//! three dimensions, `0x00000801` for `u8` labels of one), one big-endian `u32` per
//! dimension, then the data, row-major, with nothing after it. Gzip input is detected
//! by its first two bytes (`1f 8b`). Every error names the byte offset in the
//! (decompressed) stream. Memory is bounded by the data actually present, never by
//! the sizes a header claims.

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::dataset::Dataset;
use crate::error::{DataError, IdxErrorKind, Result};
use unstuck_core::Element;

/// Magic number of a `u8` image file with dimensions `n x rows x cols`.
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of a `u8` label file with dimension `n`.
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// How to turn IDX images and labels into a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdxOptions {
    /// Divide pixels by 255 so features lie in `[0, 1]` (otherwise `0..=255`).
    pub scale_to_unit: bool,
    /// The class count (10 for MNIST); `None` infers the largest label plus one.
    pub n_classes: Option<usize>,
}

impl Default for IdxOptions {
    fn default() -> Self {
        Self {
            scale_to_unit: true,
            n_classes: None,
        }
    }
}

/// Decoded `u8` images: `n_images x height x width` pixels, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub n_images: usize,
    /// Pixel rows per image.
    pub height: usize,
    /// Pixel columns per image.
    pub width: usize,
    /// All pixels, image after image.
    pub pixels: Vec<u8>,
}

/// Reads an image file (plain or gzip) from bytes.
pub fn parse_idx_images(bytes: &[u8]) -> Result<IdxImages> {
    let (dims, pixels) = read_idx(bytes, "images", IDX_IMAGES_MAGIC)?;
    Ok(IdxImages {
        n_images: dims[0] as usize,
        height: dims[1] as usize,
        width: dims[2] as usize,
        pixels,
    })
}

/// Reads a label file (plain or gzip) from bytes.
pub fn parse_idx_labels(bytes: &[u8]) -> Result<Vec<u8>> {
    read_idx(bytes, "labels", IDX_LABELS_MAGIC).map(|(_, labels)| labels)
}

/// Builds a classification dataset (one row of `height x width` features per image)
/// from image and label file bytes, each plain or gzip.
pub fn parse_idx<T: Element>(
    images: &[u8],
    labels: &[u8],
    options: &IdxOptions,
) -> Result<Dataset<T>> {
    let images = parse_idx_images(images)?;
    let labels = parse_idx_labels(labels)?;
    if labels.len() != images.n_images {
        return Err(DataError::Idx {
            file: "labels",
            offset: 4,
            kind: IdxErrorKind::CountMismatch {
                images: images.n_images as u32,
                labels: labels.len() as u32,
            },
        });
    }
    let n_classes = match options.n_classes {
        Some(n_classes) => n_classes,
        None => labels.iter().max().map_or(1, |&max| usize::from(max) + 1),
    };
    if let Some(index) = labels
        .iter()
        .position(|&label| usize::from(label) >= n_classes)
    {
        return Err(DataError::Idx {
            file: "labels",
            offset: LABELS_HEADER_LEN + index as u64,
            kind: IdxErrorKind::LabelOutOfRange {
                label: labels[index],
                n_classes,
            },
        });
    }
    let divisor = if options.scale_to_unit { 255.0 } else { 1.0 };
    let table: Vec<T> = (0..=255u8)
        .map(|p| T::from_f64(f64::from(p) / divisor))
        .collect();
    let features = images
        .pixels
        .iter()
        .map(|&p| table[usize::from(p)])
        .collect();
    let labels = labels.into_iter().map(usize::from).collect();
    Dataset::classification(features, images.height * images.width, labels, n_classes)
}

/// Loads MNIST-style image and label files (plain or `.gz`) from disk.
///
/// ```no_run
/// use unstuck_data::{load_idx, IdxOptions};
/// let options = IdxOptions { n_classes: Some(10), ..IdxOptions::default() };
/// let mnist = load_idx::<f32>(
///     "mnist/train-images-idx3-ubyte.gz",
///     "mnist/train-labels-idx1-ubyte.gz",
///     &options,
/// )?;
/// assert_eq!((mnist.n_rows(), mnist.n_features()), (60_000, 784));
/// # Ok::<(), unstuck_data::DataError>(())
/// ```
pub fn load_idx<T: Element>(
    images_path: impl AsRef<Path>,
    labels_path: impl AsRef<Path>,
    options: &IdxOptions,
) -> Result<Dataset<T>> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let images = read(images_path.as_ref())?;
    let labels = read(labels_path.as_ref())?;
    parse_idx(&images, &labels, options)
}

const LABELS_HEADER_LEN: u64 = 8;

/// Reads header and data, checking magic, dimensions and length; returns the
/// dimensions and the data bytes.
fn read_idx(bytes: &[u8], file: &'static str, magic: u32) -> Result<(Vec<u32>, Vec<u8>)> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        read_idx_stream(&mut MultiGzDecoder::new(bytes), file, magic)
    } else {
        read_idx_stream(&mut { bytes }, file, magic)
    }
}

fn read_idx_stream(
    reader: &mut dyn Read,
    file: &'static str,
    magic: u32,
) -> Result<(Vec<u32>, Vec<u8>)> {
    let error = |offset: u64, kind| DataError::Idx { file, offset, kind };
    let mut word = [0u8; 4];
    read_full(reader, &mut word, file, 0)?;
    let got = u32::from_be_bytes(word);
    if got != magic {
        return Err(error(
            0,
            IdxErrorKind::BadMagic {
                got,
                expected: magic,
            },
        ));
    }
    let n_dims = (magic & 0xff) as usize;
    let mut dims = Vec::with_capacity(n_dims);
    for dim_index in 0..n_dims {
        read_full(reader, &mut word, file, 4 + 4 * dim_index as u64)?;
        dims.push(u32::from_be_bytes(word));
    }
    let header_len = 4 + 4 * n_dims as u64;
    if dims.contains(&0) {
        return Err(error(
            4,
            IdxErrorKind::BadDimensions {
                dims,
                reason: "a dimension is zero",
            },
        ));
    }
    let Some(len) = dims
        .iter()
        .try_fold(1u64, |acc, &dim| acc.checked_mul(u64::from(dim)))
    else {
        return Err(error(
            4,
            IdxErrorKind::BadDimensions {
                dims,
                reason: "the product of the dimensions overflows",
            },
        ));
    };
    if usize::try_from(len).is_err() {
        return Err(error(
            4,
            IdxErrorKind::BadDimensions {
                dims,
                reason: "the data does not fit in memory on this platform",
            },
        ));
    }
    let mut data = Vec::new();
    if let Err(io_error) = Read::take(&mut *reader, len).read_to_end(&mut data) {
        return Err(error(
            header_len + data.len() as u64,
            IdxErrorKind::Gzip {
                message: io_error.to_string(),
            },
        ));
    }
    if (data.len() as u64) < len {
        return Err(error(
            header_len,
            IdxErrorKind::Truncated {
                needed: len,
                found: data.len() as u64,
            },
        ));
    }
    let mut extra = [0u8; 1];
    match reader.read(&mut extra) {
        Ok(0) => Ok((dims, data)),
        Ok(_) => Err(error(header_len + len, IdxErrorKind::TrailingBytes)),
        Err(io_error) => Err(error(
            header_len + len,
            IdxErrorKind::Gzip {
                message: io_error.to_string(),
            },
        )),
    }
}

/// Fills `buffer` or reports how much was missing at `offset`.
fn read_full(
    reader: &mut dyn Read,
    buffer: &mut [u8],
    file: &'static str,
    offset: u64,
) -> Result<()> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(io_error) if io_error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(io_error) => {
                return Err(DataError::Idx {
                    file,
                    offset: offset + filled as u64,
                    kind: IdxErrorKind::Gzip {
                        message: io_error.to_string(),
                    },
                });
            }
        }
    }
    if filled < buffer.len() {
        return Err(DataError::Idx {
            file,
            offset,
            kind: IdxErrorKind::Truncated {
                needed: buffer.len() as u64,
                found: filled as u64,
            },
        });
    }
    Ok(())
}

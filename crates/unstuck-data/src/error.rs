//! The one error type of this crate.
//!
//! Every variant carries what a user needs to find the problem: the field or operation,
//! the expected and actual sizes, the row, the line and column of a CSV file, the byte
//! offset of an IDX file, or the position in a generator spec string.

use std::path::PathBuf;

/// Everything that can go wrong in `unstuck-data`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A dataset (or a part of a split) would have no rows.
    #[error("{what} has no rows")]
    Empty {
        /// Which dataset or part was empty.
        what: &'static str,
    },
    /// Two sizes that must agree do not.
    #[error("{what}: expected {expected}, got {got}")]
    ShapeMismatch {
        /// What was being checked, e.g. "feature length (n_rows x n_features)".
        what: &'static str,
        /// The size that was required.
        expected: usize,
        /// The size that was given.
        got: usize,
    },
    /// A feature or real target is NaN or infinite.
    #[error("{what} at row {row}, column {column} is {value} (must be finite)")]
    NonFinite {
        /// "features" or "targets".
        what: &'static str,
        /// Row index (0-based).
        row: usize,
        /// Column index (0-based).
        column: usize,
        /// The offending value.
        value: f64,
    },
    /// A class label is not below the number of classes.
    #[error("label {label} at row {row} is out of range for {n_classes} classes")]
    LabelOutOfRange {
        /// Row index (0-based).
        row: usize,
        /// The label found.
        label: usize,
        /// The number of classes.
        n_classes: usize,
    },
    /// A row index passed to `select` is out of range.
    #[error("row index {index} (at position {position}) is out of range for {n_rows} rows")]
    IndexOutOfRange {
        /// Position in the index list.
        position: usize,
        /// The bad index.
        index: usize,
        /// The number of rows in the dataset.
        n_rows: usize,
    },
    /// The requested size cannot be allocated (overflow or not enough memory).
    #[error("cannot allocate {what}: {factors:?} elements")]
    TooLarge {
        /// What was being allocated.
        what: &'static str,
        /// The sizes whose product was requested.
        factors: Vec<usize>,
    },
    /// A configuration field has an invalid value.
    #[error("invalid {field}: {reason}")]
    InvalidConfig {
        /// The field name, e.g. "batch_size" or "noise".
        field: &'static str,
        /// Why the value is rejected, including the value.
        reason: String,
    },
    /// The operation needs class labels but the dataset has real targets (or the reverse).
    #[error("{op} needs {needed} targets")]
    WrongTargetKind {
        /// The operation, e.g. "stratified split".
        op: &'static str,
        /// "class" or "real".
        needed: &'static str,
    },
    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV file is malformed; line and column are 1-based.
    #[error("CSV line {line}, column {column}: {kind}")]
    Csv {
        /// 1-based line number.
        line: usize,
        /// 1-based column (field) number.
        column: usize,
        /// What is wrong there.
        kind: CsvErrorKind,
    },
    /// An IDX file is malformed; the offset is in bytes from the start of the
    /// (decompressed) file.
    #[error("IDX {file} at byte offset {offset}: {kind}")]
    Idx {
        /// "images" or "labels".
        file: &'static str,
        /// Byte offset in the (decompressed) stream.
        offset: u64,
        /// What is wrong there.
        kind: IdxErrorKind,
    },
    /// A safetensors data file (tensors `x` and `y`) is malformed.
    #[error("safetensors data: {0}")]
    TensorFile(#[from] TensorFileErrorKind),
    /// A generator spec string such as `spirals:n=1000,noise=0.2` does not parse, names
    /// an unknown generator or gives a key it does not take.
    #[error(transparent)]
    Spec(#[from] unstuck_core::spec::SpecError),
}

/// What is wrong at a given place in a CSV file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CsvErrorKind {
    /// The input is not valid UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// A quoted field has no closing quote on its line.
    #[error("unterminated quoted field")]
    UnterminatedQuote,
    /// A field is not a number.
    #[error("{field:?} is not a number")]
    NotANumber {
        /// The field text.
        field: String,
    },
    /// A field is NaN or infinite.
    #[error("{field:?} is not finite")]
    NonFinite {
        /// The field text.
        field: String,
    },
    /// A label is not a non-negative integer (or not below the given class count).
    #[error("{field:?} is not a valid class label{detail}")]
    BadLabel {
        /// The field text.
        field: String,
        /// Extra detail (may be empty).
        detail: String,
    },
    /// A row has a different number of fields than the first data row.
    #[error("expected {expected} fields, got {got}")]
    Ragged {
        /// Fields in the first data row.
        expected: usize,
        /// Fields in this row.
        got: usize,
    },
    /// The named label column is not in the header.
    #[error("no column named {name:?} in the header")]
    UnknownColumn {
        /// The requested name.
        name: String,
    },
    /// The label column index is past the last field.
    #[error("label column {index} (0-based) does not exist in a row of {n_fields} fields")]
    ColumnOutOfRange {
        /// The requested 0-based index.
        index: usize,
        /// Fields per row.
        n_fields: usize,
    },
    /// A name was given for the label column but the file has no header.
    #[error("a label column name needs a header line")]
    NameWithoutHeader,
    /// Rows need at least one feature besides the label.
    #[error("a row needs at least 2 fields (features and a label), got {got}")]
    TooFewFields {
        /// Fields in the row.
        got: usize,
    },
    /// The file (after the header) has no data rows.
    #[error("no data rows")]
    NoRows,
}

/// What is wrong at a given byte offset of an IDX file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum IdxErrorKind {
    /// The file ends before the header or the data it announces.
    #[error("truncated: needed {needed} more bytes, found {found}")]
    Truncated {
        /// Bytes still needed at this offset.
        needed: u64,
        /// Bytes actually present.
        found: u64,
    },
    /// The magic number is not the expected one.
    #[error("magic number {got:#010x}, expected {expected:#010x}")]
    BadMagic {
        /// The magic number read.
        got: u32,
        /// The magic number required (0x00000803 images, 0x00000801 labels).
        expected: u32,
    },
    /// A dimension is zero or the product overflows.
    #[error("bad dimensions {dims:?}: {reason}")]
    BadDimensions {
        /// The dimensions read.
        dims: Vec<u32>,
        /// Why they are rejected.
        reason: &'static str,
    },
    /// There are bytes after the announced data.
    #[error("unexpected trailing bytes after the data")]
    TrailingBytes,
    /// The image and label files disagree on the number of items.
    #[error("{images} images but {labels} labels")]
    CountMismatch {
        /// Items in the image file.
        images: u32,
        /// Items in the label file.
        labels: u32,
    },
    /// A label is not below the class count.
    #[error("label {label} is out of range for {n_classes} classes")]
    LabelOutOfRange {
        /// The label read.
        label: u8,
        /// The class count.
        n_classes: usize,
    },
    /// The gzip stream is corrupt.
    #[error("gzip: {message}")]
    Gzip {
        /// The decoder's message.
        message: String,
    },
}

/// What is wrong with a safetensors data file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TensorFileErrorKind {
    /// The file is not a safetensors file (its header or offsets are broken).
    #[error("not a readable safetensors file: {message}")]
    Header {
        /// The safetensors crate's message.
        message: String,
    },
    /// A required tensor is missing.
    #[error(
        "no tensor named `{tensor}` (the file holds {present:?}); save the inputs as `x` and the targets as `y`"
    )]
    Missing {
        /// `"x"` or `"y"`.
        tensor: &'static str,
        /// The tensors the file holds.
        present: Vec<String>,
    },
    /// A tensor of an element type that cannot be data.
    #[error("tensor `{tensor}` has dtype {got}, expected {expected}")]
    Dtype {
        /// `"x"` or `"y"`.
        tensor: &'static str,
        /// Its dtype.
        got: String,
        /// What it may be.
        expected: &'static str,
    },
    /// A tensor of a shape that cannot be data.
    #[error("tensor `{tensor}` has shape {dims:?}, expected {expected}")]
    Shape {
        /// `"x"` or `"y"`.
        tensor: &'static str,
        /// Its shape.
        dims: Vec<usize>,
        /// What it may be.
        expected: &'static str,
    },
    /// `x` and `y` do not have one row per example each.
    #[error(
        "`x` has {x_rows} rows but `y` has shape {y_dims:?}: both need the same first dimension"
    )]
    RowMismatch {
        /// `x`'s first dimension.
        x_rows: usize,
        /// `y`'s shape.
        y_dims: Vec<usize>,
    },
    /// A class label that is negative or not below the class count.
    #[error("label {label} at row {row} is not a class id{}", n_classes.map(|n| format!(" in 0..{n}")).unwrap_or_default())]
    BadLabel {
        /// Row index (0-based).
        row: usize,
        /// The label.
        label: i64,
        /// The class count, if given.
        n_classes: Option<usize>,
    },
}

/// Shorthand used throughout the crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

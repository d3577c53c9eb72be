//! What a model is trained on: features with targets, owned ([`Targets`]) or borrowed as
//! one mini-batch ([`Batch`]). The data crate makes them, the model crate consumes them.

/// The targets of a dataset: class labels or real values.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets<T> {
    /// Classification: `labels[i] < n_classes` for every row `i`.
    Classes {
        /// One label per row.
        labels: Vec<usize>,
        /// The number of classes (labels are `0..n_classes`).
        n_classes: usize,
    },
    /// Regression: row-major `n_rows x n_outputs` values.
    Real {
        /// Row-major values, `n_outputs` per row.
        values: Vec<T>,
        /// Values per row.
        n_outputs: usize,
    },
}

impl<T> Targets<T> {
    /// Width of a model's output for these targets: `n_classes` (one logit per class)
    /// or `n_outputs`.
    pub fn n_outputs(&self) -> usize {
        match self {
            Targets::Classes { n_classes, .. } => *n_classes,
            Targets::Real { n_outputs, .. } => *n_outputs,
        }
    }

    /// Borrows them, as a batch holds them.
    pub fn as_batch_targets(&self) -> BatchTargets<'_, T> {
        match self {
            Targets::Classes { labels, n_classes } => BatchTargets::Classes {
                labels,
                n_classes: *n_classes,
            },
            Targets::Real { values, n_outputs } => BatchTargets::Real {
                values,
                n_outputs: *n_outputs,
            },
        }
    }
}

/// The targets of one batch, borrowed.
#[derive(Debug, PartialEq)]
pub enum BatchTargets<'b, T> {
    /// One label per row.
    Classes {
        /// Labels of the batch's rows.
        labels: &'b [usize],
        /// The dataset's class count.
        n_classes: usize,
    },
    /// `n_outputs` values per row, row-major.
    Real {
        /// Values of the batch's rows.
        values: &'b [T],
        /// Values per row.
        n_outputs: usize,
    },
}

// By hand: a derive would ask `T: Copy`, and borrowed slices are `Copy` for any `T`.
impl<T> Clone for BatchTargets<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for BatchTargets<'_, T> {}

impl<'b, T: Clone> BatchTargets<'b, T> {
    /// Rows the targets cover.
    pub fn n_rows(&self) -> usize {
        match self {
            BatchTargets::Classes { labels, .. } => labels.len(),
            BatchTargets::Real { values, n_outputs } => values.len() / (*n_outputs).max(1),
        }
    }

    /// The targets of rows `rows` alone.
    ///
    /// # Panics
    /// If `rows` reaches past the last row.
    pub fn rows(&self, rows: std::ops::Range<usize>) -> BatchTargets<'b, T> {
        match *self {
            BatchTargets::Classes { labels, n_classes } => BatchTargets::Classes {
                labels: &labels[rows],
                n_classes,
            },
            BatchTargets::Real { values, n_outputs } => BatchTargets::Real {
                values: &values[rows.start * n_outputs..rows.end * n_outputs],
                n_outputs,
            },
        }
    }

    /// An owned copy.
    pub fn to_targets(&self) -> Targets<T> {
        match *self {
            BatchTargets::Classes { labels, n_classes } => Targets::Classes {
                labels: labels.to_vec(),
                n_classes,
            },
            BatchTargets::Real { values, n_outputs } => Targets::Real {
                values: values.to_vec(),
                n_outputs,
            },
        }
    }
}

/// A batch whose parts do not fit together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// `features.len()` is not `n_rows * n_features`, or the row counts differ.
    #[error("a batch of {n_rows} rows needs {expected} {what}, got {got}")]
    Length {
        /// Rows, as the targets count them.
        n_rows: usize,
        /// `"features"`, `"values"` or `"row indices"`.
        what: &'static str,
        /// The length that fits.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A batch needs at least one feature and one output per row.
    #[error("a batch needs at least one {what} per row")]
    Empty {
        /// `"feature"` or `"output"`.
        what: &'static str,
    },
}

/// One batch: row-major features and their targets, and, when it was drawn from a larger
/// set, which rows of that set it holds.
///
/// ```
/// use unstuck_core::{Batch, BatchTargets};
/// let features = [0.5, 1.0, -1.0, 2.0];
/// let targets = BatchTargets::Classes { labels: &[1, 0], n_classes: 2 };
/// let batch = Batch::new(&features, 2, targets)?;
/// assert_eq!((batch.n_rows(), batch.labels()), (2, Some(&[1usize, 0][..])));
/// assert!(Batch::new(&features[..3], 2, targets).is_err());
/// # Ok::<(), unstuck_core::BatchError>(())
/// ```
#[derive(Debug, PartialEq)]
pub struct Batch<'b, T> {
    features: &'b [T],
    n_features: usize,
    targets: BatchTargets<'b, T>,
    indices: Option<&'b [usize]>,
}

impl<T> Clone for Batch<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Batch<'_, T> {}

impl<'b, T: Clone> Batch<'b, T> {
    /// A batch of `targets.n_rows()` rows with `n_features` features each.
    pub fn new(
        features: &'b [T],
        n_features: usize,
        targets: BatchTargets<'b, T>,
    ) -> Result<Self, BatchError> {
        if n_features == 0 {
            return Err(BatchError::Empty { what: "feature" });
        }
        if let BatchTargets::Real { values, n_outputs } = targets {
            if n_outputs == 0 {
                return Err(BatchError::Empty { what: "output" });
            }
            if values.len() % n_outputs != 0 {
                return Err(BatchError::Length {
                    n_rows: values.len() / n_outputs,
                    what: "values",
                    expected: values.len().next_multiple_of(n_outputs),
                    got: values.len(),
                });
            }
        }
        let n_rows = targets.n_rows();
        if features.len() != n_rows * n_features {
            return Err(BatchError::Length {
                n_rows,
                what: "features",
                expected: n_rows * n_features,
                got: features.len(),
            });
        }
        Ok(Batch {
            features,
            n_features,
            targets,
            indices: None,
        })
    }

    /// The same batch, noting which rows of a larger set it holds (one index per row).
    pub fn with_indices(self, indices: &'b [usize]) -> Result<Self, BatchError> {
        if indices.len() != self.n_rows() {
            return Err(BatchError::Length {
                n_rows: self.n_rows(),
                what: "row indices",
                expected: self.n_rows(),
                got: indices.len(),
            });
        }
        Ok(Batch {
            indices: Some(indices),
            ..self
        })
    }

    /// Rows in this batch.
    pub fn n_rows(&self) -> usize {
        self.targets.n_rows()
    }

    /// Features per row.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Row-major `n_rows x n_features` features.
    pub fn features(&self) -> &'b [T] {
        self.features
    }

    /// The batch's targets.
    pub fn targets(&self) -> BatchTargets<'b, T> {
        self.targets
    }

    /// The labels, or `None` for real targets.
    pub fn labels(&self) -> Option<&'b [usize]> {
        match self.targets {
            BatchTargets::Classes { labels, .. } => Some(labels),
            BatchTargets::Real { .. } => None,
        }
    }

    /// The row of the larger set each batch row came from, when known.
    pub fn indices(&self) -> Option<&'b [usize]> {
        self.indices
    }
}

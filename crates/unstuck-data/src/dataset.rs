//! `Dataset`: row-major features plus class labels or real targets, validated once.

use unstuck_core::{Batch, Element, Targets};

use crate::error::{DataError, Result};

/// Checks targets against the row count: one label (below the class count) or
/// `n_outputs` finite values per row.
fn validate_targets<T: Element>(targets: &Targets<T>, n_rows: usize) -> Result<()> {
    match targets {
        Targets::Classes { labels, n_classes } => {
            if *n_classes == 0 {
                return Err(DataError::InvalidConfig {
                    field: "n_classes",
                    reason: "must be at least 1".into(),
                });
            }
            if labels.len() != n_rows {
                return Err(DataError::ShapeMismatch {
                    what: "number of labels (one per row)",
                    expected: n_rows,
                    got: labels.len(),
                });
            }
            match labels.iter().position(|&label| label >= *n_classes) {
                Some(row) => Err(DataError::LabelOutOfRange {
                    row,
                    label: labels[row],
                    n_classes: *n_classes,
                }),
                None => Ok(()),
            }
        }
        Targets::Real { values, n_outputs } => {
            if *n_outputs == 0 {
                return Err(DataError::InvalidConfig {
                    field: "n_outputs",
                    reason: "must be at least 1".into(),
                });
            }
            let expected = n_rows
                .checked_mul(*n_outputs)
                .ok_or(DataError::InvalidConfig {
                    field: "n_outputs",
                    reason: format!("n_rows {n_rows} x n_outputs {n_outputs} overflows"),
                })?;
            if values.len() != expected {
                return Err(DataError::ShapeMismatch {
                    what: "number of real targets (n_rows x n_outputs)",
                    expected,
                    got: values.len(),
                });
            }
            check_finite("targets", values, *n_outputs)
        }
    }
}

/// A validated dataset: `n_rows x n_features` row-major features and their targets.
///
/// Invariants, checked by every constructor: at least one row and one feature, every
/// feature and real target finite, one target row per feature row, every label below
/// the class count.
///
/// ```
/// use unstuck_data::{Dataset, Targets};
/// let data = Dataset::<f32>::new(
///     vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
///     2,
///     Targets::Classes { labels: vec![0, 1, 1], n_classes: 2 },
/// )?;
/// assert_eq!((data.n_rows(), data.n_features()), (3, 2));
/// assert_eq!(data.row(1), Some(&[2.0_f32, 3.0][..]));
/// assert_eq!(data.class_counts(), Some(vec![1, 2]));
/// # Ok::<(), unstuck_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset<T> {
    features: Vec<T>,
    n_rows: usize,
    n_features: usize,
    targets: Targets<T>,
}

impl<T: Element> Dataset<T> {
    /// Builds a dataset from row-major features (`n_features` per row) and targets.
    pub fn new(features: Vec<T>, n_features: usize, targets: Targets<T>) -> Result<Self> {
        if n_features == 0 {
            return Err(DataError::InvalidConfig {
                field: "n_features",
                reason: "must be at least 1".into(),
            });
        }
        let n_rows = features.len() / n_features;
        if n_rows * n_features != features.len() {
            return Err(DataError::InvalidConfig {
                field: "features",
                reason: format!(
                    "length {} is not a multiple of n_features {n_features}",
                    features.len()
                ),
            });
        }
        if n_rows == 0 {
            return Err(DataError::Empty { what: "dataset" });
        }
        check_finite("features", &features, n_features)?;
        validate_targets(&targets, n_rows)?;
        Ok(Self {
            features,
            n_rows,
            n_features,
            targets,
        })
    }

    /// Shorthand for a classification dataset.
    pub fn classification(
        features: Vec<T>,
        n_features: usize,
        labels: Vec<usize>,
        n_classes: usize,
    ) -> Result<Self> {
        Self::new(features, n_features, Targets::Classes { labels, n_classes })
    }

    /// Shorthand for a regression dataset.
    pub fn regression(
        features: Vec<T>,
        n_features: usize,
        values: Vec<T>,
        n_outputs: usize,
    ) -> Result<Self> {
        Self::new(features, n_features, Targets::Real { values, n_outputs })
    }

    /// Number of rows (examples).
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of features per row.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// All features, row-major `n_rows x n_features`.
    pub fn features(&self) -> &[T] {
        &self.features
    }

    /// The features of one row, or `None` past the end.
    pub fn row(&self, row: usize) -> Option<&[T]> {
        let start = row.checked_mul(self.n_features)?;
        self.features.get(start..start + self.n_features)
    }

    /// The targets.
    pub fn targets(&self) -> &Targets<T> {
        &self.targets
    }

    /// The whole dataset as one batch (what a full-batch loss is computed on).
    ///
    /// ```
    /// let data = unstuck_data::generate::<f64>("xor:n=8")?.train;
    /// let batch = data.as_batch();
    /// assert_eq!((batch.n_rows(), batch.features()), (8, data.features()));
    /// # Ok::<(), unstuck_data::DataError>(())
    /// ```
    pub fn as_batch(&self) -> Batch<'_, T> {
        Batch::new(
            &self.features,
            self.n_features,
            self.targets.as_batch_targets(),
        )
        .expect("a validated dataset's features and targets fit together")
    }

    /// The class labels, or `None` for real targets.
    pub fn labels(&self) -> Option<&[usize]> {
        match &self.targets {
            Targets::Classes { labels, .. } => Some(labels),
            Targets::Real { .. } => None,
        }
    }

    /// The number of classes, or `None` for real targets.
    pub fn n_classes(&self) -> Option<usize> {
        match &self.targets {
            Targets::Classes { n_classes, .. } => Some(*n_classes),
            Targets::Real { .. } => None,
        }
    }

    /// Width of a model's output: the class count, or real values per row.
    pub fn n_outputs(&self) -> usize {
        self.targets.n_outputs()
    }

    /// Rows per class (length `n_classes`), or `None` for real targets.
    pub fn class_counts(&self) -> Option<Vec<usize>> {
        let Targets::Classes { labels, n_classes } = &self.targets else {
            return None;
        };
        let mut counts = vec![0; *n_classes];
        for &label in labels {
            counts[label] += 1;
        }
        Some(counts)
    }

    /// A new dataset of the given rows, in the given order (repeats allowed).
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        if indices.is_empty() {
            return Err(DataError::Empty { what: "selection" });
        }
        if let Some(position) = indices.iter().position(|&index| index >= self.n_rows) {
            return Err(DataError::IndexOutOfRange {
                position,
                index: indices[position],
                n_rows: self.n_rows,
            });
        }
        let d = self.n_features;
        let mut features = try_with_capacity("selected features", &[indices.len(), d])?;
        for &index in indices {
            features.extend_from_slice(&self.features[index * d..(index + 1) * d]);
        }
        let targets = match &self.targets {
            Targets::Classes { labels, n_classes } => Targets::Classes {
                labels: indices.iter().map(|&index| labels[index]).collect(),
                n_classes: *n_classes,
            },
            Targets::Real { values, n_outputs } => {
                let k = *n_outputs;
                let mut selected = try_with_capacity("selected targets", &[indices.len(), k])?;
                for &index in indices {
                    selected.extend_from_slice(&values[index * k..(index + 1) * k]);
                }
                Targets::Real {
                    values: selected,
                    n_outputs: k,
                }
            }
        };
        Ok(Self {
            features,
            n_rows: indices.len(),
            n_features: d,
            targets,
        })
    }

    /// The same data in another element type (`f64` to `f32` rounds to nearest; a value
    /// too large for `f32` is a [`DataError::NonFinite`] error).
    pub fn cast<U: Element>(&self) -> Result<Dataset<U>> {
        let features = self
            .features
            .iter()
            .map(|x| U::from_f64(x.to_f64()))
            .collect();
        let targets = match &self.targets {
            Targets::Classes { labels, n_classes } => Targets::Classes {
                labels: labels.clone(),
                n_classes: *n_classes,
            },
            Targets::Real { values, n_outputs } => Targets::Real {
                values: values.iter().map(|x| U::from_f64(x.to_f64())).collect(),
                n_outputs: *n_outputs,
            },
        };
        Dataset::new(features, self.n_features, targets)
    }

    /// Takes the dataset apart: `(features, n_features, targets)`.
    pub fn into_parts(self) -> (Vec<T>, usize, Targets<T>) {
        (self.features, self.n_features, self.targets)
    }

    /// Replaces the labels (same length, same class count), for label-noise injection.
    pub(crate) fn with_labels(mut self, new_labels: Vec<usize>) -> Result<Self> {
        let Targets::Classes { n_classes, .. } = self.targets else {
            return Err(DataError::WrongTargetKind {
                op: "replacing labels",
                needed: "class",
            });
        };
        let targets = Targets::Classes {
            labels: new_labels,
            n_classes,
        };
        validate_targets(&targets, self.n_rows)?;
        self.targets = targets;
        Ok(self)
    }

    /// Mutable features, for in-place transforms that re-check finiteness afterwards.
    pub(crate) fn features_mut(&mut self) -> &mut [T] {
        &mut self.features
    }
}

/// An empty vector with room for the product of `factors` elements, or
/// [`DataError::TooLarge`] if the product overflows or the memory is not available
/// (instead of a capacity-overflow panic or an allocation abort).
pub(crate) fn try_with_capacity<V>(what: &'static str, factors: &[usize]) -> Result<Vec<V>> {
    let too_large = || DataError::TooLarge {
        what,
        factors: factors.to_vec(),
    };
    let len = factors
        .iter()
        .try_fold(1usize, |acc, &factor| acc.checked_mul(factor))
        .ok_or_else(too_large)?;
    let mut vector = Vec::new();
    vector.try_reserve_exact(len).map_err(|_| too_large())?;
    Ok(vector)
}

/// Checks that every value is finite; reports the first bad one by row and column.
pub(crate) fn check_finite<T: Element>(
    what: &'static str,
    values: &[T],
    n_columns: usize,
) -> Result<()> {
    match values.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(DataError::NonFinite {
            what,
            row: index / n_columns,
            column: index % n_columns,
            value: values[index].to_f64(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_each_invalid_input_with_its_error() {
        let nan = Dataset::<f64>::classification(vec![0.0, f64::NAN], 1, vec![0, 0], 1);
        assert!(matches!(
            nan,
            Err(DataError::NonFinite {
                row: 1,
                column: 0,
                ..
            })
        ));
        let inf_target = Dataset::<f32>::regression(vec![0.0, 1.0], 2, vec![f32::INFINITY], 1);
        assert!(matches!(
            inf_target,
            Err(DataError::NonFinite {
                what: "targets",
                ..
            })
        ));
        let empty = Dataset::<f64>::classification(vec![], 3, vec![], 2);
        assert!(matches!(empty, Err(DataError::Empty { .. })));
        let ragged = Dataset::<f64>::classification(vec![0.0; 5], 2, vec![0, 0], 2);
        assert!(matches!(
            ragged,
            Err(DataError::InvalidConfig {
                field: "features",
                ..
            })
        ));
        let rows = Dataset::<f64>::classification(vec![0.0; 4], 2, vec![0], 2);
        assert!(matches!(
            rows,
            Err(DataError::ShapeMismatch {
                expected: 2,
                got: 1,
                ..
            })
        ));
        let label = Dataset::<f64>::classification(vec![0.0; 4], 2, vec![0, 2], 2);
        assert!(matches!(
            label,
            Err(DataError::LabelOutOfRange {
                row: 1,
                label: 2,
                n_classes: 2
            })
        ));
    }

    #[test]
    fn select_gathers_rows_and_targets_in_order() {
        let data = Dataset::<f64>::regression(
            vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            2,
            vec![10.0, 20.0, 30.0],
            1,
        )
        .unwrap();
        let picked = data.select(&[2, 0, 2]).unwrap();
        assert_eq!(picked.features(), &[4.0, 5.0, 0.0, 1.0, 4.0, 5.0]);
        assert_eq!(
            picked.targets(),
            &Targets::Real {
                values: vec![30.0, 10.0, 30.0],
                n_outputs: 1
            }
        );
        assert!(matches!(
            data.select(&[0, 3]),
            Err(DataError::IndexOutOfRange {
                position: 1,
                index: 3,
                n_rows: 3
            })
        ));
        assert!(matches!(data.select(&[]), Err(DataError::Empty { .. })));
    }

    #[test]
    fn cast_to_f32_overflow_is_an_error() {
        let data = Dataset::<f64>::classification(vec![1e300], 1, vec![0], 1).unwrap();
        assert!(matches!(
            data.cast::<f32>(),
            Err(DataError::NonFinite { .. })
        ));
        let small = Dataset::<f64>::classification(vec![0.25], 1, vec![0], 1).unwrap();
        // 0.25 is exactly representable in f32, so the round trip is bit-identical.
        assert_eq!(small.cast::<f32>().unwrap().features(), &[0.25_f32]);
    }
}

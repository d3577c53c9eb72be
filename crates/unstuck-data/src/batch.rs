//! Seeded, shuffled mini-batches that reuse their buffers.
//!
//! The row order of epoch `e` depends only on `(seed, e)`: a `ChaCha8Rng` seeded with
//! `seed` on stream `e` drives a Fisher-Yates shuffle of `0..n_rows`. So epochs can be
//! replayed in any order, a resumed run sees the same batches, and no thread count
//! enters the picture (the gather is sequential: a `copy_from_slice` per row into
//! buffers allocated once).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use unstuck_core::{Batch, BatchTargets, Element, Targets};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};

/// How to cut a dataset into mini-batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Rows per batch; must be in `1..=n_rows`.
    pub batch_size: usize,
    /// Drop the last batch if it is smaller than `batch_size`.
    pub drop_last: bool,
    /// Shuffle each epoch (false: rows in dataset order, e.g. for evaluation).
    pub shuffle: bool,
    /// Seed of the shuffle.
    pub seed: u64,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            batch_size: 32,
            drop_last: false,
            shuffle: true,
            seed: 0,
        }
    }
}

/// A lending iterator over the mini-batches of one epoch at a time.
///
/// Buffers are allocated once in [`Batches::new`]; [`Batches::next_batch`] and
/// [`Batches::start_epoch`] never allocate.
///
/// ```
/// use unstuck_data::{BatchConfig, Batches, Dataset};
/// let data = Dataset::<f32>::classification((0..20).map(|x| x as f32).collect(), 2, vec![0; 10], 1)?;
/// let config = BatchConfig { batch_size: 4, seed: 7, ..BatchConfig::default() };
/// let mut batches = Batches::new(&data, config)?;
/// let mut seen = 0;
/// while let Some(batch) = batches.next_batch() {
///     assert_eq!(batch.features().len(), batch.n_rows() * 2);
///     seen += batch.n_rows();
/// }
/// assert_eq!((seen, batches.n_batches()), (10, 3));
/// batches.start_epoch(1); // reshuffles, same buffers
/// # Ok::<(), unstuck_data::DataError>(())
/// ```
#[derive(Debug)]
pub struct Batches<'a, T> {
    dataset: &'a Dataset<T>,
    config: BatchConfig,
    epoch: u64,
    order: Vec<usize>,
    cursor: usize,
    features: Vec<T>,
    labels: Vec<usize>,
    values: Vec<T>,
}

impl<'a, T: Element> Batches<'a, T> {
    /// Prepares epoch 0. Batch size 0 or larger than the dataset is an error.
    pub fn new(dataset: &'a Dataset<T>, config: BatchConfig) -> Result<Self> {
        let n_rows = dataset.n_rows();
        if config.batch_size == 0 || config.batch_size > n_rows {
            return Err(DataError::InvalidConfig {
                field: "batch_size",
                reason: format!("{} is not in 1..={n_rows}", config.batch_size),
            });
        }
        let (labels, values) = match dataset.targets() {
            Targets::Classes { .. } => (vec![0; config.batch_size], Vec::new()),
            Targets::Real { n_outputs, .. } => (
                Vec::new(),
                vec![T::default(); config.batch_size * n_outputs],
            ),
        };
        let mut batches = Self {
            dataset,
            config,
            epoch: 0,
            order: (0..n_rows).collect(),
            cursor: 0,
            features: vec![T::default(); config.batch_size * dataset.n_features()],
            labels,
            values,
        };
        batches.start_epoch(0);
        Ok(batches)
    }

    /// Starts epoch `epoch` from its first batch; its order depends only on
    /// `(config.seed, epoch)`.
    pub fn start_epoch(&mut self, epoch: u64) {
        self.epoch = epoch;
        self.cursor = 0;
        for (position, slot) in self.order.iter_mut().enumerate() {
            *slot = position;
        }
        if self.config.shuffle {
            shuffle(&mut self.order, self.config.seed, epoch);
        }
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Batches per epoch (with `drop_last`, a short last batch is not counted).
    pub fn n_batches(&self) -> usize {
        let n_rows = self.order.len();
        if self.config.drop_last {
            n_rows / self.config.batch_size
        } else {
            n_rows.div_ceil(self.config.batch_size)
        }
    }

    /// This epoch's row order.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// The next batch of this epoch, or `None` when the epoch is done.
    pub fn next_batch(&mut self) -> Option<Batch<'_, T>> {
        let n_rows = self.order.len();
        let start = self.cursor;
        let end = n_rows.min(start + self.config.batch_size);
        if start >= end || (self.config.drop_last && end - start < self.config.batch_size) {
            return None;
        }
        self.cursor = end;
        let rows = &self.order[start..end];
        let d = self.dataset.n_features();
        let source = self.dataset.features();
        for (destination, &row) in self.features.chunks_exact_mut(d).zip(rows) {
            destination.copy_from_slice(&source[row * d..(row + 1) * d]);
        }
        let targets = match self.dataset.targets() {
            Targets::Classes { labels, n_classes } => {
                for (destination, &row) in self.labels.iter_mut().zip(rows) {
                    *destination = labels[row];
                }
                BatchTargets::Classes {
                    labels: &self.labels[..rows.len()],
                    n_classes: *n_classes,
                }
            }
            Targets::Real { values, n_outputs } => {
                let k = *n_outputs;
                for (destination, &row) in self.values.chunks_exact_mut(k).zip(rows) {
                    destination.copy_from_slice(&values[row * k..(row + 1) * k]);
                }
                BatchTargets::Real {
                    values: &self.values[..rows.len() * k],
                    n_outputs: k,
                }
            }
        };
        let batch = Batch::new(&self.features[..rows.len() * d], d, targets)
            .and_then(|batch| batch.with_indices(rows))
            .expect("rows gathered from a validated dataset fit together");
        Some(batch)
    }
}

/// Fisher-Yates shuffle driven by `ChaCha8Rng::seed_from_u64(seed)` on stream `stream`.
pub(crate) fn shuffle(items: &mut [usize], seed: u64, stream: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(n_rows: usize) -> Dataset<f64> {
        let features = (0..n_rows * 3).map(|x| x as f64).collect();
        let labels = (0..n_rows).map(|row| row % 4).collect();
        Dataset::classification(features, 3, labels, 4).unwrap()
    }

    #[test]
    fn batch_size_zero_or_too_large_is_an_error() {
        let data = tiny(5);
        for batch_size in [0, 6] {
            let config = BatchConfig {
                batch_size,
                ..BatchConfig::default()
            };
            assert!(matches!(
                Batches::new(&data, config),
                Err(DataError::InvalidConfig {
                    field: "batch_size",
                    ..
                })
            ));
        }
        let config = BatchConfig {
            batch_size: 5,
            ..BatchConfig::default()
        };
        assert!(Batches::new(&data, config).is_ok());
    }

    #[test]
    fn drop_last_drops_only_the_short_batch() {
        let data = tiny(10);
        for (drop_last, expected_sizes) in [(false, vec![4, 4, 2]), (true, vec![4, 4])] {
            let config = BatchConfig {
                batch_size: 4,
                drop_last,
                ..BatchConfig::default()
            };
            let mut batches = Batches::new(&data, config).unwrap();
            let mut sizes = Vec::new();
            while let Some(batch) = batches.next_batch() {
                sizes.push(batch.n_rows());
            }
            assert_eq!(sizes, expected_sizes);
            assert_eq!(batches.n_batches(), expected_sizes.len());
        }
    }

    #[test]
    fn unshuffled_batches_follow_dataset_order() {
        let data = tiny(5);
        let config = BatchConfig {
            batch_size: 2,
            shuffle: false,
            ..BatchConfig::default()
        };
        let mut batches = Batches::new(&data, config).unwrap();
        let first = batches.next_batch().unwrap();
        assert_eq!(first.indices(), Some(&[0, 1][..]));
        assert_eq!(first.features(), &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(first.labels(), Some(&[0, 1][..]));
    }
}

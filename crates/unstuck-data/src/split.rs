//! Seeded train / validation / test splits, optionally stratified by class.

use crate::batch::shuffle;
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use unstuck_core::Element;

/// How to split: the validation and test fractions (train gets the rest), the seed, and
/// whether each class is split separately.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitConfig {
    /// Fraction of rows for validation, in `[0, 1)`; 0 means no validation part.
    pub validation: f64,
    /// Fraction of rows for test, in `[0, 1)`; 0 means no test part.
    pub test: f64,
    /// Split each class separately so every part keeps the class proportions
    /// (classification only).
    pub stratified: bool,
    /// Seed of the shuffle that assigns rows to parts.
    pub seed: u64,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self {
            validation: 0.15,
            test: 0.15,
            stratified: false,
            seed: 0,
        }
    }
}

/// Which rows of the original dataset went to each part, each list ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitIndices {
    /// Training rows.
    pub train: Vec<usize>,
    /// Validation rows (empty when the fraction is 0).
    pub validation: Vec<usize>,
    /// Test rows (empty when the fraction is 0).
    pub test: Vec<usize>,
}

/// The three parts of a split; a part whose fraction is 0 is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Split<T> {
    /// Training part.
    pub train: Dataset<T>,
    /// Validation part.
    pub validation: Option<Dataset<T>>,
    /// Test part.
    pub test: Option<Dataset<T>>,
}

/// Assigns rows to train / validation / test.
///
/// Rows are shuffled with the seed (per class when stratified), then each group of rows
/// (the whole set, or one class) is cut by largest-remainder rounding of
/// `group_size x fraction`: every part's share of every group is within one row of its
/// exact fraction, and the parts add up to the group. A part with a positive fraction
/// that ends up empty is an error, as is an empty training part.
pub fn split_indices<T: Element>(
    dataset: &Dataset<T>,
    config: &SplitConfig,
) -> Result<SplitIndices> {
    let fractions = check_fractions(config)?;
    let groups = if config.stratified {
        let labels = dataset.labels().ok_or(DataError::WrongTargetKind {
            op: "stratified split",
            needed: "class",
        })?;
        let mut groups = vec![Vec::new(); dataset.n_classes().unwrap_or(0)];
        for (row, &label) in labels.iter().enumerate() {
            groups[label].push(row);
        }
        groups
    } else {
        vec![(0..dataset.n_rows()).collect()]
    };
    let mut parts = [Vec::new(), Vec::new(), Vec::new()];
    for (group_index, mut group) in groups.into_iter().enumerate() {
        // One stream per group so a class's assignment does not depend on the others.
        shuffle(&mut group, config.seed, group_index as u64);
        let counts = largest_remainder(group.len(), &fractions);
        let mut rows = group.into_iter();
        for (part, count) in parts.iter_mut().zip(counts) {
            part.extend(rows.by_ref().take(count));
        }
    }
    for part in &mut parts {
        part.sort_unstable();
    }
    let [train, validation, test] = parts;
    if train.is_empty() {
        return Err(DataError::Empty { what: "train part" });
    }
    if config.validation > 0.0 && validation.is_empty() {
        return Err(DataError::Empty {
            what: "validation part",
        });
    }
    if config.test > 0.0 && test.is_empty() {
        return Err(DataError::Empty { what: "test part" });
    }
    Ok(SplitIndices {
        train,
        validation,
        test,
    })
}

/// Splits a dataset (see [`split_indices`] for how rows are assigned).
///
/// ```
/// use unstuck_data::{split, SplitConfig};
/// let data = unstuck_data::digits::<f32>();
/// let config = SplitConfig { validation: 0.1, test: 0.2, stratified: true, seed: 1 };
/// let parts = split(&data, &config)?;
/// let test = parts.test.expect("test fraction is positive");
/// assert_eq!(parts.train.n_rows() + parts.validation.unwrap().n_rows() + test.n_rows(), 1797);
/// # Ok::<(), unstuck_data::DataError>(())
/// ```
pub fn split<T: Element>(dataset: &Dataset<T>, config: &SplitConfig) -> Result<Split<T>> {
    let indices = split_indices(dataset, config)?;
    let optional = |rows: &[usize]| {
        if rows.is_empty() {
            Ok(None)
        } else {
            dataset.select(rows).map(Some)
        }
    };
    Ok(Split {
        train: dataset.select(&indices.train)?,
        validation: optional(&indices.validation)?,
        test: optional(&indices.test)?,
    })
}

fn check_fractions(config: &SplitConfig) -> Result<[f64; 3]> {
    for (field, value) in [("validation", config.validation), ("test", config.test)] {
        if !(0.0..1.0).contains(&value) {
            return Err(DataError::InvalidConfig {
                field,
                reason: format!("fraction {value} is not in [0, 1)"),
            });
        }
    }
    let train = 1.0 - config.validation - config.test;
    if train <= 0.0 {
        return Err(DataError::InvalidConfig {
            field: "validation + test",
            reason: format!(
                "{} + {} leaves no training rows",
                config.validation, config.test
            ),
        });
    }
    Ok([train, config.validation, config.test])
}

/// Integer counts summing to `total`, each within one of `total x fraction`
/// (floors first, then one more to the largest remainders, ties to the earlier part).
fn largest_remainder(total: usize, fractions: &[f64; 3]) -> [usize; 3] {
    let quotas = fractions.map(|fraction| total as f64 * fraction);
    // The quotas are at most `total`, so truncation to usize is exact for the floor.
    let mut counts = quotas.map(|quota| quota.floor() as usize);
    let assigned: usize = counts.iter().sum();
    let mut by_remainder = [0, 1, 2];
    by_remainder.sort_by(|&a, &b| {
        let remainder = |part: usize| quotas[part] - quotas[part].floor();
        remainder(b).total_cmp(&remainder(a)).then(a.cmp(&b))
    });
    for &part in by_remainder.iter().take(total.saturating_sub(assigned)) {
        counts[part] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_remainder_adds_up_and_stays_within_one() {
        for total in 0..200 {
            for fractions in [[0.7, 0.15, 0.15], [0.5, 0.0, 0.5], [0.34, 0.33, 0.33]] {
                let counts = largest_remainder(total, &fractions);
                assert_eq!(counts.iter().sum::<usize>(), total);
                for (count, fraction) in counts.iter().zip(fractions) {
                    assert!((*count as f64 - total as f64 * fraction).abs() < 1.0);
                }
            }
        }
        // A part with fraction 0 never receives a leftover row.
        assert_eq!(largest_remainder(7, &[0.5, 0.0, 0.5])[1], 0);
    }

    #[test]
    fn bad_fractions_are_errors() {
        let data = Dataset::<f64>::classification(vec![0.0; 10], 1, vec![0; 10], 1).unwrap();
        for (validation, test) in [(-0.1, 0.1), (0.5, 0.5), (f64::NAN, 0.1), (0.2, 1.0)] {
            let config = SplitConfig {
                validation,
                test,
                ..SplitConfig::default()
            };
            assert!(matches!(
                split(&data, &config),
                Err(DataError::InvalidConfig { .. })
            ));
        }
        let too_small = SplitConfig {
            validation: 0.01,
            test: 0.0,
            ..SplitConfig::default()
        };
        assert!(matches!(
            split(&data, &too_small),
            Err(DataError::Empty {
                what: "validation part"
            })
        ));
    }

    #[test]
    fn stratifying_real_targets_is_an_error() {
        let data = Dataset::<f64>::regression(vec![0.0; 4], 1, vec![0.0; 4], 1).unwrap();
        let config = SplitConfig {
            stratified: true,
            ..SplitConfig::default()
        };
        assert!(matches!(
            split(&data, &config),
            Err(DataError::WrongTargetKind { .. })
        ));
    }
}

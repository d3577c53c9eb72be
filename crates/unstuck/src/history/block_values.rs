//! [`BlockValues`]: the per-tensor series of one instrument record, cheap to make at
//! every step.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Named values of one record, `KIND/NAME -> value`, in name order (as a
/// `BTreeMap<String, f64>`, and written to JSON the same way: one key per value).
///
/// The names are one sorted table that every record of a run shares (an `Arc`), so the
/// trainer's record of a step allocates only its values, not a string per series.
///
/// ```
/// use std::collections::BTreeMap;
/// use unstuck::BlockValues;
///
/// let values = BlockValues::from(BTreeMap::from([
///     ("weight_norm/0.weight".to_string(), 2.0),
///     ("grad_norm/0.weight".to_string(), 0.5),
/// ]));
/// assert_eq!(values.get("grad_norm/0.weight"), Some(0.5));
/// assert_eq!(values.iter().next(), Some(("grad_norm/0.weight", 0.5)));
/// assert_eq!(values.len(), 2);
/// ```
#[derive(Clone, Default)]
pub struct BlockValues {
    /// Strictly increasing.
    names: Arc<[String]>,
    /// One per name; `None` where this record has no value for the name.
    values: Vec<Option<f64>>,
}

impl BlockValues {
    /// Values over a shared name table: `names` strictly increasing, one value (or
    /// `None`, left out) per name.
    pub(crate) fn over(names: Arc<[String]>, values: Vec<Option<f64>>) -> BlockValues {
        debug_assert_eq!(names.len(), values.len());
        debug_assert!(names.windows(2).all(|pair| pair[0] < pair[1]));
        BlockValues { names, values }
    }

    /// The value named `name`, if this record has it.
    pub fn get(&self, name: &str) -> Option<f64> {
        let index = self.names.binary_search_by(|n| n.as_str().cmp(name)).ok()?;
        self.values[index]
    }

    /// Whether this record has a value named `name`.
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// `(name, value)` in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> + '_ {
        (self.names.iter())
            .zip(&self.values)
            .filter_map(|(name, value)| value.map(|v| (name.as_str(), v)))
    }

    /// How many values this record has.
    pub fn len(&self) -> usize {
        self.values.iter().flatten().count()
    }

    /// Whether this record has no value at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values as a map of their own.
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        self.iter().map(|(name, v)| (name.to_string(), v)).collect()
    }
}

impl From<BTreeMap<String, f64>> for BlockValues {
    fn from(map: BTreeMap<String, f64>) -> BlockValues {
        let values = map.values().map(|v| Some(*v)).collect();
        BlockValues {
            names: map.into_keys().collect(),
            values,
        }
    }
}

impl FromIterator<(String, f64)> for BlockValues {
    fn from_iter<I: IntoIterator<Item = (String, f64)>>(iter: I) -> BlockValues {
        BlockValues::from(iter.into_iter().collect::<BTreeMap<_, _>>())
    }
}

/// Two records are equal when they hold the same names with the same values, whatever
/// table the names come from.
impl PartialEq for BlockValues {
    fn eq(&self, other: &BlockValues) -> bool {
        self.iter().eq(other.iter())
    }
}

impl fmt::Debug for BlockValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for BlockValues {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for BlockValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<BlockValues, D::Error> {
        BTreeMap::<String, f64>::deserialize(deserializer).map(BlockValues::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_table_leaves_out_missing_values_and_reads_like_a_map() {
        let names: Arc<[String]> = ["a/x", "b/x", "c/x"].map(String::from).into();
        let values = BlockValues::over(names, vec![Some(1.0), None, Some(3.0)]);
        let map = BTreeMap::from([("a/x".to_string(), 1.0), ("c/x".to_string(), 3.0)]);
        assert_eq!(values.to_map(), map);
        assert_eq!(values, BlockValues::from(map.clone()));
        assert_eq!(values.get("b/x"), None);
        assert_eq!(values.get("c/x"), Some(3.0));
        assert!(!values.contains_key("d/x"));
        assert_eq!(values.len(), 2);
        assert_eq!(
            serde_json::to_string(&values).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
        assert_eq!(format!("{values:?}"), format!("{map:?}"));
    }
}

//! Saved optimizer state: what a resumed run needs to continue bit for bit.
//!
//! The only schedule state is the step count; the rest is each rule's named buffers
//! (stored as `f64`, which holds every `f32` exactly) and a few named scalars. The JSON
//! form keeps every bit: finite numbers are written in shortest round-trip form and
//! parsed back exactly (`serde_json`'s `float_roundtrip`), and NaN and infinities, which
//! JSON lacks, are written as the strings `"NaN"`, `"inf"` and `"-inf"`.

use serde::{Deserialize, Serialize};

use crate::{Element, OptimError};

/// Everything an optimizer needs to resume: produced by
/// [`Optimizer::state`](crate::Optimizer::state), consumed by
/// [`Optimizer::load_state`](crate::Optimizer::load_state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    /// Registry name of the optimizer that wrote it, e.g. `"adam"`.
    pub optimizer: String,
    /// Element type, `"f32"` or `"f64"`.
    pub dtype: String,
    /// Number of steps taken; the schedule is a pure function of it.
    pub step: u64,
    /// Number of parameters, or `None` before the first step (no buffers yet).
    pub n_params: Option<usize>,
    /// Per-parameter buffers (moments, accumulators), in the rule's order.
    pub buffers: Vec<NamedBuffer>,
    /// Per-optimizer scalars (e.g. NAdam's running momentum product).
    pub scalars: Vec<NamedScalar>,
}

/// One per-parameter buffer of saved state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedBuffer {
    /// Buffer name, e.g. `"exp_avg"`.
    pub name: String,
    /// Values, widened to `f64` (exact).
    #[serde(with = "exact_floats")]
    pub values: Vec<f64>,
}

/// One scalar of saved state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedScalar {
    /// Element name.
    pub name: String,
    /// Value.
    #[serde(with = "exact_float")]
    pub value: f64,
}

impl OptimizerState {
    /// Serializes to JSON that parses back to the same bits.
    pub fn to_json(&self) -> String {
        match serde_json::to_string(self) {
            Ok(text) => text,
            // Only string keys and our own number encoding are involved.
            Err(err) => panic!("optimizer state always serializes: {err}"),
        }
    }

    /// Parses state written by [`OptimizerState::to_json`].
    pub fn from_json(text: &str) -> Result<Self, OptimError> {
        serde_json::from_str(text).map_err(|err| OptimError::StateJson {
            message: err.to_string(),
            line: err.line(),
            column: err.column(),
        })
    }
}

/// Per-optimizer state that can be saved and restored by name.
///
/// An implementation writes each buffer under a fixed name in [`RuleState::save`] and
/// reads the same names back in [`RuleState::load`]; lengths are checked for you.
pub trait RuleState<T: Element>: std::fmt::Debug + Clone + Send + Sync + 'static {
    /// Writes every buffer and scalar.
    fn save(&self, out: &mut StateWriter);
    /// Reads them back into `self`, which [`UpdateRule::init`](crate::UpdateRule::init)
    /// created with the saved number of parameters.
    fn load(&mut self, saved: &StateReader<'_>) -> Result<(), OptimError>;
}

/// Collects buffers and scalars for [`OptimizerState`].
#[derive(Debug, Default)]
pub struct StateWriter {
    pub(crate) buffers: Vec<NamedBuffer>,
    pub(crate) scalars: Vec<NamedScalar>,
}

impl StateWriter {
    /// Saves a per-parameter buffer.
    pub fn buffer<T: Element>(&mut self, name: &str, values: &[T]) {
        self.buffers.push(NamedBuffer {
            name: name.to_owned(),
            values: values.iter().map(|v| v.to_f64()).collect(),
        });
    }

    /// Saves a scalar.
    pub fn scalar(&mut self, name: &str, value: f64) {
        self.scalars.push(NamedScalar {
            name: name.to_owned(),
            value,
        });
    }
}

/// Reads buffers and scalars back from an [`OptimizerState`], checking names and lengths.
#[derive(Debug)]
pub struct StateReader<'a> {
    pub(crate) optimizer: &'static str,
    pub(crate) state: &'a OptimizerState,
}

impl StateReader<'_> {
    /// Fills `into` from the saved buffer `name`; the lengths must match (a rule that
    /// keeps a buffer empty under some configuration, e.g. AMSGrad's maximum, must find
    /// it empty in the saved state too).
    pub fn buffer<T: Element>(&self, name: &str, into: &mut [T]) -> Result<(), OptimError> {
        let saved = self
            .state
            .buffers
            .iter()
            .find(|b| b.name == name)
            .ok_or_else(|| self.mismatch(format!("buffer `{name}`"), "present", "missing"))?;
        if saved.values.len() != into.len() {
            return Err(self.mismatch(
                format!("buffer `{name}` length"),
                &into.len().to_string(),
                &saved.values.len().to_string(),
            ));
        }
        for (dst, &src) in into.iter_mut().zip(&saved.values) {
            *dst = T::from_f64(src);
        }
        Ok(())
    }

    /// The saved scalar `name`.
    pub fn scalar(&self, name: &str) -> Result<f64, OptimError> {
        self.state
            .scalars
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.value)
            .ok_or_else(|| self.mismatch(format!("scalar `{name}`"), "present", "missing"))
    }

    fn mismatch(&self, what: String, expected: &str, got: &str) -> OptimError {
        OptimError::StateMismatch {
            optimizer: self.optimizer,
            what,
            expected: expected.to_owned(),
            got: got.to_owned(),
        }
    }
}

/// A float as JSON: a number when finite, else one of the strings `NaN`, `inf`, `-inf`.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum JsonFloat {
    Number(f64),
    Special(String),
}

impl JsonFloat {
    fn from_f64(value: f64) -> Self {
        if value.is_finite() {
            Self::Number(value)
        } else if value.is_nan() {
            Self::Special("NaN".to_owned())
        } else if value > 0.0 {
            Self::Special("inf".to_owned())
        } else {
            Self::Special("-inf".to_owned())
        }
    }

    fn into_f64<E: serde::de::Error>(self) -> Result<f64, E> {
        match self {
            Self::Number(v) => Ok(v),
            Self::Special(s) => match s.as_str() {
                "NaN" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                other => Err(E::custom(format!(
                    "expected a number, \"NaN\", \"inf\" or \"-inf\", got {other:?}"
                ))),
            },
        }
    }
}

mod exact_float {
    use super::JsonFloat;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
        JsonFloat::from_f64(*value).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        JsonFloat::deserialize(d)?.into_f64()
    }
}

mod exact_floats {
    use super::JsonFloat;
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(values: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(values.len()))?;
        for &v in values {
            seq.serialize_element(&JsonFloat::from_f64(v))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Vec::<JsonFloat>::deserialize(d)?
            .into_iter()
            .map(JsonFloat::into_f64)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn state_with(values: Vec<f64>) -> OptimizerState {
        OptimizerState {
            optimizer: "test".into(),
            dtype: "f64".into(),
            step: 3,
            n_params: Some(values.len()),
            buffers: vec![NamedBuffer {
                name: "m".into(),
                values,
            }],
            scalars: vec![NamedScalar {
                name: "s".into(),
                value: f64::NEG_INFINITY,
            }],
        }
    }

    fn bits(state: &OptimizerState) -> Vec<u64> {
        state.buffers[0]
            .values
            .iter()
            .map(|v| v.to_bits())
            .collect()
    }

    #[test]
    fn special_values_survive_json() {
        let state = state_with(vec![f64::INFINITY, f64::NEG_INFINITY, -0.0, 5e-324]);
        let back = OptimizerState::from_json(&state.to_json()).unwrap();
        assert_eq!(bits(&back), bits(&state));
        assert_eq!(back.scalars[0].value, f64::NEG_INFINITY);
        let nan = state_with(vec![f64::NAN]);
        let back = OptimizerState::from_json(&nan.to_json()).unwrap();
        assert!(back.buffers[0].values[0].is_nan());
    }

    #[test]
    fn bad_json_reports_position() {
        let err = OptimizerState::from_json("{\"optimizer\": 3}").unwrap_err();
        assert!(
            matches!(err, OptimError::StateJson { line: 1, .. }),
            "{err:?}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_f64_bits_round_trip(raw in proptest::collection::vec(any::<u64>(), 1..32)) {
            let values: Vec<f64> = raw.iter().map(|&b| f64::from_bits(b)).filter(|v| !v.is_nan()).collect();
            let state = state_with(values);
            let back = OptimizerState::from_json(&state.to_json()).unwrap();
            prop_assert_eq!(bits(&back), bits(&state));
        }

        #[test]
        fn any_f32_bits_round_trip(raw in proptest::collection::vec(any::<u32>(), 1..32)) {
            let values: Vec<f32> = raw.iter().map(|&b| f32::from_bits(b)).filter(|v| !v.is_nan()).collect();
            let mut writer = StateWriter::default();
            writer.buffer("m", &values);
            let mut state = state_with(vec![]);
            state.buffers = writer.buffers;
            let back = OptimizerState::from_json(&state.to_json()).unwrap();
            let reader = StateReader { optimizer: "test", state: &back };
            let mut restored = vec![0.0f32; values.len()];
            reader.buffer("m", &mut restored).unwrap();
            let a: Vec<u32> = values.iter().map(|v| v.to_bits()).collect();
            let b: Vec<u32> = restored.iter().map(|v| v.to_bits()).collect();
            prop_assert_eq!(a, b);
        }
    }
}

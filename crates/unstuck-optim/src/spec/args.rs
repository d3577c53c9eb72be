//! Typed, position-aware access to a parsed spec's arguments.

use super::{Spec, SpecValue, ValueKind};
use crate::OptimError;

/// One key a builder asked for, with its default (for help texts).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyHelp {
    /// The key.
    pub key: &'static str,
    /// Its default, or `None` when the key is required.
    pub default: Option<String>,
}

/// Typed access to a spec's arguments for a builder, with position-aware errors.
///
/// A builder asks for each key it knows (with a default); [`SpecArgs::finish`] then
/// rejects any key nobody asked for. The keys asked for are recorded, which is how the
/// registry's help lists every key with its default without a hand-written table.
#[derive(Debug)]
pub struct SpecArgs<'a> {
    text: &'a str,
    spec: &'a Spec,
    used: Vec<bool>,
    keys: Vec<KeyHelp>,
}

impl<'a> SpecArgs<'a> {
    /// Arguments of `spec`, which was parsed from `text` (used in error messages).
    pub fn new(text: &'a str, spec: &'a Spec) -> Self {
        Self {
            text,
            spec,
            used: vec![false; spec.args.len()],
            keys: Vec::new(),
        }
    }

    /// The whole spec string.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The spec's name.
    pub fn owner(&self) -> &'a str {
        &self.spec.name
    }

    /// Keys asked for so far, with defaults.
    pub fn keys(&self) -> &[KeyHelp] {
        &self.keys
    }

    fn take(&mut self, key: &'static str, default: Option<String>) -> Option<&'a SpecValue> {
        self.keys.push(KeyHelp { key, default });
        let spec: &'a Spec = self.spec;
        let index = spec.args.iter().position(|a| a.key == key)?;
        self.used[index] = true;
        Some(&spec.args[index].value)
    }

    fn bad(&self, key: &str, value: &SpecValue, expected: &'static str) -> OptimError {
        OptimError::SpecBadValue {
            spec: self.text.to_owned(),
            position: value.position,
            key: key.to_owned(),
            expected,
        }
    }

    fn missing(&self, key: &'static str) -> OptimError {
        OptimError::SpecMissingKey {
            spec: self.text.to_owned(),
            owner: self.spec.name.clone(),
            key,
        }
    }

    fn number(&self, key: &str, value: &SpecValue) -> Result<f64, OptimError> {
        match value.kind {
            ValueKind::Number(v) => Ok(v),
            _ => Err(self.bad(key, value, "a number")),
        }
    }

    fn whole(&self, key: &str, value: &SpecValue) -> Result<u64, OptimError> {
        match value.kind {
            // 2^53: beyond it not every whole number is an f64.
            ValueKind::Number(v)
                if v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_992.0 =>
            {
                Ok(v as u64)
            }
            _ => Err(self.bad(key, value, "a whole number >= 0")),
        }
    }

    /// A number with a default.
    pub fn f64(&mut self, key: &'static str, default: f64) -> Result<f64, OptimError> {
        match self.take(key, Some(format!("{default:?}"))) {
            Some(value) => self.number(key, value),
            None => Ok(default),
        }
    }

    /// A number without a default.
    pub fn f64_required(&mut self, key: &'static str) -> Result<f64, OptimError> {
        match self.take(key, None) {
            Some(value) => self.number(key, value),
            None => Err(self.missing(key)),
        }
    }

    /// A whole number with a default.
    pub fn u64(&mut self, key: &'static str, default: u64) -> Result<u64, OptimError> {
        match self.take(key, Some(default.to_string())) {
            Some(value) => self.whole(key, value),
            None => Ok(default),
        }
    }

    /// A whole number without a default.
    pub fn u64_required(&mut self, key: &'static str) -> Result<u64, OptimError> {
        match self.take(key, None) {
            Some(value) => self.whole(key, value),
            None => Err(self.missing(key)),
        }
    }

    /// `true` or `false`, with a default.
    pub fn bool(&mut self, key: &'static str, default: bool) -> Result<bool, OptimError> {
        match self.take(key, Some(default.to_string())) {
            Some(value) => match &value.kind {
                ValueKind::Word(w) if w == "true" => Ok(true),
                ValueKind::Word(w) if w == "false" => Ok(false),
                _ => Err(self.bad(key, value, "`true` or `false`")),
            },
            None => Ok(default),
        }
    }

    /// One of a fixed set of words, with a default; returns the matching choice.
    pub fn word(
        &mut self,
        key: &'static str,
        default: &'static str,
        choices: &'static [&'static str],
        expected: &'static str,
    ) -> Result<&'static str, OptimError> {
        match self.take(key, Some(default.to_owned())) {
            Some(value) => match &value.kind {
                ValueKind::Word(w) => choices
                    .iter()
                    .find(|c| **c == w)
                    .copied()
                    .ok_or_else(|| self.bad(key, value, expected)),
                _ => Err(self.bad(key, value, expected)),
            },
            None => Ok(default),
        }
    }

    /// A list of whole numbers, such as milestones, without a default.
    pub fn u64_list_required(&mut self, key: &'static str) -> Result<Vec<u64>, OptimError> {
        match self.take(key, None) {
            Some(value) => match &value.kind {
                ValueKind::List(items) => items.iter().map(|item| self.whole(key, item)).collect(),
                _ => Err(self.bad(key, value, "a list of whole numbers, e.g. [10,20]")),
            },
            None => Err(self.missing(key)),
        }
    }

    /// An optional nested spec, written `key=(name:...)`.
    pub fn spec(&mut self, key: &'static str) -> Result<Option<&'a Spec>, OptimError> {
        match self.take(key, Some("none".to_owned())) {
            Some(value) => match &value.kind {
                ValueKind::Spec(spec) => Ok(Some(spec)),
                _ => Err(self.bad(
                    key,
                    value,
                    "a nested spec in parentheses, e.g. (cosine:t_max=100)",
                )),
            },
            None => Ok(None),
        }
    }

    /// A required list of nested specs, written `key=[(a:...),(b:...)]`.
    pub fn spec_list_required(&mut self, key: &'static str) -> Result<Vec<&'a Spec>, OptimError> {
        let expected = "a list of nested specs, e.g. [(linear:total_iters=5),(cosine:t_max=95)]";
        match self.take(key, None) {
            Some(value) => match &value.kind {
                ValueKind::List(items) => items
                    .iter()
                    .map(|item| match &item.kind {
                        ValueKind::Spec(spec) => Ok(spec),
                        _ => Err(self.bad(key, item, expected)),
                    })
                    .collect(),
                _ => Err(self.bad(key, value, expected)),
            },
            None => Err(self.missing(key)),
        }
    }

    /// Rejects keys no builder asked for.
    pub fn finish(self) -> Result<(), OptimError> {
        match self.used.iter().position(|used| !used) {
            None => Ok(()),
            Some(index) => {
                let arg = &self.spec.args[index];
                Err(OptimError::SpecUnknownKey {
                    spec: self.text.to_owned(),
                    position: arg.position,
                    owner: self.spec.name.clone(),
                    key: arg.key.clone(),
                    known: self
                        .keys
                        .iter()
                        .map(|k| k.key)
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
        }
    }
}

/// Formats keys as `key=default` (or `key` when required), comma-separated.
pub fn describe_keys(keys: &[KeyHelp]) -> String {
    keys.iter()
        .map(|k| match &k.default {
            Some(default) => format!("{}={default}", k.key),
            None => format!("{} (required)", k.key),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_spec;

    #[test]
    fn typed_access_reports_key_and_position() {
        let text = "sgd:lr=fast,momentum=0.9,extra=1";
        let spec = parse_spec(text).unwrap();
        let mut args = SpecArgs::new(text, &spec);
        let err = args.f64("lr", 0.1).unwrap_err();
        assert!(
            matches!(&err, OptimError::SpecBadValue { key, position: 7, .. } if key == "lr"),
            "{err:?}"
        );
        assert_eq!(args.f64("momentum", 0.0).unwrap(), 0.9);
        let err = args.finish().unwrap_err();
        assert!(
            matches!(&err, OptimError::SpecUnknownKey { key, position: 25, known, .. } if key == "extra" && known == "lr, momentum"),
            "{err:?}"
        );
    }

    #[test]
    fn whole_numbers_and_words() {
        let text = "x:n=3,m=2.5,flag=true,mode=max,list=[1,2,3]";
        let spec = parse_spec(text).unwrap();
        let mut args = SpecArgs::new(text, &spec);
        assert_eq!(args.u64("n", 0).unwrap(), 3);
        assert!(args.u64("m", 0).is_err());
        assert!(args.bool("flag", false).unwrap());
        assert_eq!(
            args.word("mode", "min", &["min", "max"], "min or max")
                .unwrap(),
            "max"
        );
        assert_eq!(args.u64_list_required("list").unwrap(), vec![1, 2, 3]);
        assert!(matches!(
            args.f64_required("absent"),
            Err(OptimError::SpecMissingKey { key: "absent", .. })
        ));
    }
}

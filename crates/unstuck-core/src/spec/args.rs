//! Typed, recorded, position-aware access to a parsed spec's arguments.

use super::parser::number_len;
use super::{Spec, SpecArg, SpecError, SpecValue, ValueKind};

/// One key a reader asked for, with its default (for help texts and error messages).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyHelp {
    /// The key.
    pub key: &'static str,
    /// Its default, or `None` when the key is required.
    pub default: Option<String>,
}

/// Typed access to a spec's arguments, with errors that carry the byte position.
///
/// Whatever the spec configures asks for each key it knows (with a default);
/// [`SpecArgs::finish`] then rejects any argument nobody asked for. The keys asked for
/// are recorded: that is how help texts list every key with its default, and how an
/// unknown key's error lists the known ones, without a hand-written table.
#[derive(Debug)]
pub struct SpecArgs<'a> {
    text: &'a str,
    spec: &'a Spec,
    owner: &'a str,
    used: Vec<bool>,
    keys: Vec<KeyHelp>,
}

/// 2^53: beyond it not every whole number is an `f64`.
const EXACT_WHOLE_LIMIT: f64 = 9_007_199_254_740_992.0;

impl<'a> SpecArgs<'a> {
    /// Arguments of `spec`, which was parsed from `text` (positions index into it).
    pub fn new(text: &'a str, spec: &'a Spec) -> Self {
        Self {
            text,
            spec,
            owner: &spec.name,
            used: vec![false; spec.args.len()],
            keys: Vec::new(),
        }
    }

    /// Names what the spec configures in messages (by default the spec's name).
    pub fn owned_by(mut self, owner: &'a str) -> Self {
        self.owner = owner;
        self
    }

    /// The whole spec string.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The spec's name.
    pub fn name(&self) -> &'a str {
        &self.spec.name
    }

    /// What the spec configures, as messages name it.
    pub fn owner(&self) -> &'a str {
        self.owner
    }

    /// Keys asked for so far, with defaults.
    pub fn keys(&self) -> &[KeyHelp] {
        &self.keys
    }

    /// A syntax error at `position` of the spec (for a name with its own structure, such
    /// as a model's widths).
    pub fn syntax_error(&self, position: usize, expected: impl Into<String>) -> SpecError {
        SpecError::Syntax {
            spec: self.text.to_owned(),
            position,
            expected: expected.into(),
        }
    }

    /// A value that does not fit its key, for checks beyond the value's type.
    pub fn bad_value(
        &self,
        key: &str,
        value: &SpecValue,
        expected: impl Into<String>,
    ) -> SpecError {
        SpecError::BadValue {
            spec: self.text.to_owned(),
            position: value.position,
            key: key.to_owned(),
            expected: expected.into(),
        }
    }

    fn missing(&self, key: &'static str) -> SpecError {
        SpecError::MissingKey {
            spec: self.text.to_owned(),
            owner: self.owner.to_owned(),
            key,
        }
    }

    /// Records `key` and returns the index of its `key=value` argument, if given.
    fn find(&mut self, key: &'static str, default: Option<String>) -> Option<usize> {
        self.keys.push(KeyHelp { key, default });
        let index = self
            .spec
            .args
            .iter()
            .position(|a| a.key.as_deref() == Some(key))?;
        self.used[index] = true;
        Some(index)
    }

    fn take(&mut self, key: &'static str, default: Option<String>) -> Option<&'a SpecValue> {
        let spec: &'a Spec = self.spec;
        self.find(key, default).map(|index| &spec.args[index].value)
    }

    fn number(&self, key: &str, value: &SpecValue) -> Result<f64, SpecError> {
        match value.kind {
            ValueKind::Number(v) => Ok(v),
            _ => Err(self.bad_value(key, value, "a number")),
        }
    }

    /// A whole number read from the spec's own digits (exact up to `u64::MAX`), or from
    /// a number such as `1e3` that is whole and below 2^53.
    fn whole(&self, key: &str, value: &SpecValue) -> Result<u64, SpecError> {
        let ValueKind::Number(v) = value.kind else {
            return Err(self.bad_value(key, value, "a whole number >= 0"));
        };
        let rest = &self.text[value.position..];
        if let Ok(exact) = rest[..number_len(rest)].parse::<u64>() {
            return Ok(exact);
        }
        if v >= 0.0 && v.fract() == 0.0 && v <= EXACT_WHOLE_LIMIT {
            Ok(v as u64)
        } else {
            Err(self.bad_value(key, value, "a whole number >= 0"))
        }
    }

    fn size(&self, key: &str, value: &SpecValue) -> Result<usize, SpecError> {
        usize::try_from(self.whole(key, value)?)
            .map_err(|_| self.bad_value(key, value, "a whole number that fits in usize"))
    }

    /// A number with a default.
    pub fn f64(&mut self, key: &'static str, default: f64) -> Result<f64, SpecError> {
        match self.take(key, Some(format!("{default:?}"))) {
            Some(value) => self.number(key, value),
            None => Ok(default),
        }
    }

    /// A number without a default.
    pub fn f64_required(&mut self, key: &'static str) -> Result<f64, SpecError> {
        match self.take(key, None) {
            Some(value) => self.number(key, value),
            None => Err(self.missing(key)),
        }
    }

    /// A number that may be left out (`None`).
    pub fn f64_opt(&mut self, key: &'static str) -> Result<Option<f64>, SpecError> {
        self.take(key, Some("none".to_owned()))
            .map(|value| self.number(key, value))
            .transpose()
    }

    /// A whole number with a default.
    pub fn u64(&mut self, key: &'static str, default: u64) -> Result<u64, SpecError> {
        match self.take(key, Some(default.to_string())) {
            Some(value) => self.whole(key, value),
            None => Ok(default),
        }
    }

    /// A whole number without a default.
    pub fn u64_required(&mut self, key: &'static str) -> Result<u64, SpecError> {
        match self.take(key, None) {
            Some(value) => self.whole(key, value),
            None => Err(self.missing(key)),
        }
    }

    /// A count or size with a default.
    pub fn usize(&mut self, key: &'static str, default: usize) -> Result<usize, SpecError> {
        match self.take(key, Some(default.to_string())) {
            Some(value) => self.size(key, value),
            None => Ok(default),
        }
    }

    /// A count or size that may be left out (`None`).
    pub fn usize_opt(&mut self, key: &'static str) -> Result<Option<usize>, SpecError> {
        self.take(key, Some("none".to_owned()))
            .map(|value| self.size(key, value))
            .transpose()
    }

    /// `true` or `false`, with a default.
    pub fn bool(&mut self, key: &'static str, default: bool) -> Result<bool, SpecError> {
        match self.take(key, Some(default.to_string())) {
            Some(value) => self.boolean(key, value),
            None => Ok(default),
        }
    }

    fn boolean(&self, key: &str, value: &SpecValue) -> Result<bool, SpecError> {
        match &value.kind {
            ValueKind::Word(w) if w == "true" => Ok(true),
            ValueKind::Word(w) if w == "false" => Ok(false),
            _ => Err(self.bad_value(key, value, "`true` or `false`")),
        }
    }

    /// A flag, off by default: the bare word `key` turns it on, as does `key=true`.
    pub fn flag(&mut self, key: &'static str) -> Result<bool, SpecError> {
        let keyed = self.take(key, Some("false".to_owned()));
        let spec: &'a Spec = self.spec;
        let mut bare = spec
            .args
            .iter()
            .enumerate()
            .filter(|(_, arg)| arg.bare_word() == Some(key));
        let Some((first, _)) = bare.next() else {
            return keyed.map_or(Ok(false), |value| self.boolean(key, value));
        };
        self.used[first] = true;
        let second = bare.next().map(|(_, arg)| arg);
        let keyed_arg = spec.args.iter().find(|arg| arg.key.as_deref() == Some(key));
        match second.or(keyed_arg) {
            Some(again) => Err(SpecError::DuplicateKey {
                spec: self.text.to_owned(),
                position: again.position.max(spec.args[first].position),
                key: key.to_owned(),
            }),
            None => Ok(true),
        }
    }

    /// The first bare value nobody has claimed (say, the activation of `64-10:tanh`);
    /// a bare word that names a key asked for is not one.
    pub fn positional(&mut self) -> Option<&'a SpecValue> {
        let spec: &'a Spec = self.spec;
        let index = spec.args.iter().enumerate().position(|(index, arg)| {
            arg.key.is_none()
                && !self.used[index]
                && !arg
                    .bare_word()
                    .is_some_and(|word| self.keys.iter().any(|k| k.key == word))
        })?;
        self.used[index] = true;
        Some(&spec.args[index].value)
    }

    /// One of a fixed set of words, with a default; returns the matching choice.
    pub fn word(
        &mut self,
        key: &'static str,
        default: &'static str,
        choices: &'static [&'static str],
        expected: &'static str,
    ) -> Result<&'static str, SpecError> {
        match self.take(key, Some(default.to_owned())) {
            Some(value) => match &value.kind {
                ValueKind::Word(w) => choices
                    .iter()
                    .find(|c| **c == w)
                    .copied()
                    .ok_or_else(|| self.bad_value(key, value, expected)),
                _ => Err(self.bad_value(key, value, expected)),
            },
            None => Ok(default),
        }
    }

    /// The value of `key` as written, without interpreting it.
    pub fn value(&mut self, key: &'static str) -> Option<&'a SpecValue> {
        self.take(key, Some("none".to_owned()))
    }

    /// A list of whole numbers, such as milestones, without a default.
    pub fn u64_list_required(&mut self, key: &'static str) -> Result<Vec<u64>, SpecError> {
        match self.take(key, None) {
            Some(value) => match &value.kind {
                ValueKind::List(items) => items.iter().map(|item| self.whole(key, item)).collect(),
                _ => Err(self.bad_value(key, value, "a list of whole numbers, e.g. [10,20]")),
            },
            None => Err(self.missing(key)),
        }
    }

    /// An optional nested spec, written `key=(name:...)`.
    pub fn spec(&mut self, key: &'static str) -> Result<Option<&'a Spec>, SpecError> {
        match self.take(key, Some("none".to_owned())) {
            Some(value) => match &value.kind {
                ValueKind::Spec(spec) => Ok(Some(spec)),
                _ => Err(self.bad_value(
                    key,
                    value,
                    "a nested spec in parentheses, e.g. (cosine:t_max=100)",
                )),
            },
            None => Ok(None),
        }
    }

    /// A required list of nested specs, written `key=[(a:...),(b:...)]`.
    pub fn spec_list_required(&mut self, key: &'static str) -> Result<Vec<&'a Spec>, SpecError> {
        let expected = "a list of nested specs, e.g. [(linear:total_iters=5),(cosine:t_max=95)]";
        match self.take(key, None) {
            Some(value) => match &value.kind {
                ValueKind::List(items) => items
                    .iter()
                    .map(|item| match &item.kind {
                        ValueKind::Spec(spec) => Ok(spec),
                        _ => Err(self.bad_value(key, item, expected)),
                    })
                    .collect(),
                _ => Err(self.bad_value(key, value, expected)),
            },
            None => Err(self.missing(key)),
        }
    }

    /// Refuses `first` and `second` together, pointing at whichever was written later.
    pub fn exclusive(&self, first: &str, second: &str) -> Result<(), SpecError> {
        let find = |key: &str| {
            self.spec
                .args
                .iter()
                .find(|a| a.key.as_deref() == Some(key))
        };
        let (Some(a), Some(b)) = (find(first), find(second)) else {
            return Ok(());
        };
        let later: &SpecArg = if a.position > b.position { a } else { b };
        let key = later.key.as_deref().unwrap_or_default();
        Err(self.bad_value(
            key,
            &later.value,
            format!("`{first}` or `{second}`, not both: they exclude each other"),
        ))
    }

    /// Rejects the arguments nobody asked for.
    pub fn finish(self) -> Result<(), SpecError> {
        let Some(index) = self.used.iter().position(|used| !used) else {
            return Ok(());
        };
        let arg = &self.spec.args[index];
        let known = self
            .keys
            .iter()
            .map(|k| k.key)
            .collect::<Vec<_>>()
            .join(", ");
        let unknown = |key: &str| SpecError::UnknownKey {
            spec: self.text.to_owned(),
            position: arg.position,
            owner: self.owner.to_owned(),
            key: key.to_owned(),
            known: known.clone(),
        };
        match (&arg.key, arg.bare_word()) {
            (Some(key), _) => Err(unknown(key)),
            (None, Some(word)) if self.keys.iter().any(|k| k.key == word) => {
                Err(SpecError::MissingValue {
                    spec: self.text.to_owned(),
                    position: arg.position,
                    key: word.to_owned(),
                })
            }
            (None, Some(word)) => Err(unknown(word)),
            (None, None) => Err(self.syntax_error(arg.position, "key=value")),
        }
    }
}

/// Formats keys as `key=default` (or `key (required)`), comma-separated.
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
    use crate::spec::parse_spec;

    fn with_args<R>(text: &str, read: impl FnOnce(&mut SpecArgs<'_>) -> R) -> R {
        let spec = parse_spec(text).unwrap();
        let mut args = SpecArgs::new(text, &spec);
        read(&mut args)
    }

    #[test]
    fn typed_access_reports_key_and_position() {
        let text = "sgd:lr=fast,momentum=0.9,extra=1";
        let spec = parse_spec(text).unwrap();
        let mut args = SpecArgs::new(text, &spec);
        let err = args.f64("lr", 0.1).unwrap_err();
        assert!(
            matches!(&err, SpecError::BadValue { key, position: 7, .. } if key == "lr"),
            "{err:?}"
        );
        assert_eq!(args.f64("momentum", 0.0).unwrap(), 0.9);
        let err = args.finish().unwrap_err();
        assert!(
            matches!(&err, SpecError::UnknownKey { key, position: 25, known, .. } if key == "extra" && known == "lr, momentum"),
            "{err:?}"
        );
    }

    #[test]
    fn whole_numbers_and_words() {
        let text = "x:n=3,m=2.5,flag=true,mode=max,list=[1,2,3],big=18446744073709551615,k=1e3";
        with_args(text, |args| {
            assert_eq!(args.u64("n", 0).unwrap(), 3);
            assert!(args.u64("m", 0).is_err());
            assert!(args.bool("flag", false).unwrap());
            assert_eq!(
                args.word("mode", "min", &["min", "max"], "min or max")
                    .unwrap(),
                "max"
            );
            assert_eq!(args.u64_list_required("list").unwrap(), vec![1, 2, 3]);
            assert_eq!(args.u64("big", 0).unwrap(), u64::MAX);
            assert_eq!(args.usize("k", 0).unwrap(), 1000);
            assert!(matches!(
                args.f64_required("absent"),
                Err(SpecError::MissingKey { key: "absent", .. })
            ));
        });
    }

    #[test]
    fn flags_and_positional_values() {
        with_args("64-10:tanh,residual", |args| {
            assert!(args.flag("residual").unwrap());
            assert!(!args.flag("frozen").unwrap());
            let activation = args.positional().unwrap();
            assert_eq!(activation.kind, ValueKind::Word("tanh".into()));
            assert!(args.positional().is_none());
        });
        let err = with_args("64-10:tanh,residual,residual", |args| args.flag("residual"));
        assert!(
            matches!(err, Err(SpecError::DuplicateKey { position: 20, .. })),
            "{err:?}"
        );
        assert!(with_args("a:residual=true", |args| args.flag("residual")).unwrap());
    }

    #[test]
    fn what_nobody_asked_for_is_refused_with_its_position() {
        let finish = |text: &str| {
            let spec = parse_spec(text).unwrap();
            let mut args = SpecArgs::new(text, &spec).owned_by("xor");
            args.usize("n", 0).unwrap();
            args.f64("noise", 0.0).unwrap();
            args.finish().unwrap_err()
        };
        assert!(matches!(
            finish("xor:n=3,noise"),
            SpecError::MissingValue { position: 8, .. }
        ));
        assert!(
            matches!(finish("xor:n=3, colour"), SpecError::UnknownKey { position: 9, ref owner, ref known, .. } if owner == "xor" && known == "n, noise")
        );
        assert!(matches!(
            finish("xor:n=3,[1]"),
            SpecError::Syntax { position: 8, .. }
        ));
    }

    #[test]
    fn exclusive_keys_point_at_the_later_one() {
        let err = with_args("teacher:classes=3,outputs=2", |args| {
            args.exclusive("classes", "outputs")
        });
        assert!(
            matches!(&err, Err(SpecError::BadValue { position: 26, key, .. }) if key == "outputs"),
            "{err:?}"
        );
        assert!(
            with_args("teacher:classes=3", |args| args
                .exclusive("classes", "outputs"))
            .is_ok()
        );
    }
}

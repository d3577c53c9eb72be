//! What can be wrong with a spec string, with the byte position of the problem.

/// A spec string that does not parse, or whose arguments do not fit what reads them.
///
/// Every variant carries the whole spec and, where there is one, the byte offset of the
/// problem, so a message can point at it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// The text does not follow the grammar (see [`crate::spec`]).
    #[error("spec {spec:?}: expected {expected} at byte {position}, found {}", found_at(spec, *position))]
    Syntax {
        /// The whole spec string.
        spec: String,
        /// Byte offset of the first character that does not fit.
        position: usize,
        /// What the grammar allows there.
        expected: String,
    },
    /// The spec names something that does not exist (an optimizer, a generator, ...).
    #[error("spec {spec:?}: unknown {kind} `{name}` at byte {position}; known: {known}")]
    UnknownName {
        /// The whole spec string.
        spec: String,
        /// Byte offset of the name.
        position: usize,
        /// What kind of thing the name was looked up as, e.g. `"optimizer"`.
        kind: &'static str,
        /// The unknown name.
        name: String,
        /// Comma-separated known names.
        known: String,
    },
    /// A key (or a bare word) that the spec's owner does not take.
    #[error("spec {spec:?}: `{owner}` has no key `{key}` (byte {position}); keys: {known}")]
    UnknownKey {
        /// The whole spec string.
        spec: String,
        /// Byte offset of the key.
        position: usize,
        /// What the spec configures, e.g. `"adam"`.
        owner: String,
        /// The unknown key.
        key: String,
        /// Comma-separated accepted keys.
        known: String,
    },
    /// The same key given twice.
    #[error("spec {spec:?}: key `{key}` given twice (second at byte {position})")]
    DuplicateKey {
        /// The whole spec string.
        spec: String,
        /// Byte offset of the second occurrence.
        position: usize,
        /// The repeated key.
        key: String,
    },
    /// A key written without `=` and a value.
    #[error("spec {spec:?}: key `{key}` at byte {position} needs `=` and a value")]
    MissingValue {
        /// The whole spec string.
        spec: String,
        /// Byte offset of the key.
        position: usize,
        /// The key.
        key: String,
    },
    /// A value of the wrong type or range for its key.
    #[error("spec {spec:?}: key `{key}` at byte {position} needs {expected}, found {}", found_at(spec, *position))]
    BadValue {
        /// The whole spec string.
        spec: String,
        /// Byte offset of the value.
        position: usize,
        /// The key whose value is wrong.
        key: String,
        /// What the key accepts.
        expected: String,
    },
    /// A key without a default that the spec does not give.
    #[error("spec {spec:?}: `{owner}` needs key `{key}`")]
    MissingKey {
        /// The whole spec string.
        spec: String,
        /// What the spec configures.
        owner: String,
        /// The missing key.
        key: &'static str,
    },
}

impl SpecError {
    /// The same error about `text`: for a spec parsed in a copy of the user's text blanked
    /// around one part (same byte positions), so the message shows what the user wrote.
    pub fn with_spec(mut self, text: &str) -> SpecError {
        match &mut self {
            SpecError::Syntax { spec, .. }
            | SpecError::UnknownName { spec, .. }
            | SpecError::UnknownKey { spec, .. }
            | SpecError::DuplicateKey { spec, .. }
            | SpecError::MissingValue { spec, .. }
            | SpecError::BadValue { spec, .. }
            | SpecError::MissingKey { spec, .. } => *spec = text.to_string(),
        }
        self
    }

    /// The byte offset the error points at, if it points at one.
    pub fn position(&self) -> Option<usize> {
        match self {
            SpecError::Syntax { position, .. }
            | SpecError::UnknownName { position, .. }
            | SpecError::UnknownKey { position, .. }
            | SpecError::DuplicateKey { position, .. }
            | SpecError::MissingValue { position, .. }
            | SpecError::BadValue { position, .. } => Some(*position),
            SpecError::MissingKey { .. } => None,
        }
    }
}

/// What stands at `position` of `spec`: a whole word or number, one other character, or
/// the end.
pub(crate) fn found_at(spec: &str, position: usize) -> String {
    let Some(rest) = spec.get(position..) else {
        return "end of input".to_string();
    };
    let word_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || "_.+-".contains(c)))
        .unwrap_or(rest.len());
    match rest.chars().next() {
        None => "end of input".to_string(),
        Some(_) if word_len > 0 => format!("{:?}", &rest[..word_len]),
        Some(c) => format!("{c:?}"),
    }
}

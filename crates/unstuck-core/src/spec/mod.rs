//! Spec strings, the one grammar of every command-line configuration in unstuck:
//! optimizers (`adam:lr=1e-3,amsgrad=true`), schedules
//! (`warmup:steps=10,then=(cosine:t_max=100)`), data generators
//! (`spirals:n=400,noise=0.1,seed=1`) and models (`64-128-10:leaky_relu(0.2),residual`).
//!
//! ```text
//! spec  := name [ (':' | ',') item { ',' item } ]
//! item  := key '=' value | value             a bare value: a flag, or a positional value
//! value := number | word [ '(' [ value { ',' value } ] ')' ]
//!        | '(' spec ')' | '[' [ value { ',' value } ] ']'
//! name  := [A-Za-z0-9_] [A-Za-z0-9_-]*        so model widths such as 64-128-10 are a name
//! key, word := [A-Za-z_] [A-Za-z0-9_]*
//! number := what Rust's f64 parser accepts, starting with a digit, '.', '+' or '-'
//! ```
//!
//! ASCII whitespace is allowed between any two tokens, and around the whole spec.
//! A nested spec is wrapped in parentheses so its commas cannot be confused with the
//! outer ones; `word(...)` is a call such as `leaky_relu(0.2)`. Booleans are the words
//! `true` and `false`. A key may appear once.
//!
//! [`parse_spec`] checks the grammar; [`SpecArgs`] then gives typed access to the
//! arguments for whatever the spec configures, records every key it was asked for (the
//! "known keys" of help texts and errors), and rejects the rest. Every error is a
//! [`SpecError`] with the byte position of the problem.
//!
//! ```
//! use unstuck_core::spec::{SpecArgs, parse_spec};
//! let text = "sgd:lr=0.1, momentum=0.9";
//! let spec = parse_spec(text)?;
//! let mut args = SpecArgs::new(text, &spec);
//! assert_eq!(args.f64("lr", 0.01)?, 0.1);
//! assert_eq!(args.f64("momentum", 0.0)?, 0.9);
//! assert!(!args.bool("nesterov", false)?);
//! args.finish()?;
//! # Ok::<(), unstuck_core::spec::SpecError>(())
//! ```

mod args;
mod error;
mod parser;

pub use args::{KeyHelp, SpecArgs, describe_keys};
pub use error::SpecError;
pub use parser::{parse_spec, parse_value};

/// A parsed spec: a name and its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The name (an optimizer, a generator, a model's widths, ...).
    pub name: String,
    /// Byte offset of the name.
    pub position: usize,
    /// Arguments in the order written.
    pub args: Vec<SpecArg>,
}

/// One argument: `key=value`, or a bare value.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecArg {
    /// The key, or `None` for a bare value (a flag such as `residual`, or a positional
    /// value such as the activation of a model spec).
    pub key: Option<String>,
    /// Byte offset of the key (of the value, for a bare value).
    pub position: usize,
    /// The value.
    pub value: SpecValue,
}

impl SpecArg {
    /// The bare word of a flag-like argument (`residual`), if it is one.
    pub fn bare_word(&self) -> Option<&str> {
        match (&self.key, &self.value.kind) {
            (None, ValueKind::Word(word)) => Some(word),
            _ => None,
        }
    }
}

/// A value with its byte offset.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecValue {
    /// What was written.
    pub kind: ValueKind,
    /// Byte offset of the value.
    pub position: usize,
}

/// The kinds of values a spec can hold.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    /// A finite number.
    Number(f64),
    /// A bare word such as `true` or `cos`.
    Word(String),
    /// A word with arguments in parentheses, such as `leaky_relu(0.2)`.
    Call(String, Vec<SpecValue>),
    /// A nested spec, written in parentheses.
    Spec(Spec),
    /// A bracketed list.
    List(Vec<SpecValue>),
}

/// The entry of `entries` whose name is the spec's name, or [`SpecError::UnknownName`]
/// listing every name (`kind` says what was looked up: `"optimizer"`, `"generator"`, ...).
///
/// ```
/// use unstuck_core::spec::{SpecError, lookup, parse_spec};
/// let names = ["sgd", "adam"];
/// let text = "adma:lr=1";
/// let spec = parse_spec(text)?;
/// let err = lookup(text, &spec, "optimizer", &names, |n| n).unwrap_err();
/// assert!(err.to_string().contains("unknown optimizer `adma` at byte 0; known: sgd, adam"));
/// # Ok::<(), SpecError>(())
/// ```
pub fn lookup<'e, E>(
    text: &str,
    spec: &Spec,
    kind: &'static str,
    entries: &'e [E],
    name: impl Fn(&E) -> &str,
) -> Result<&'e E, SpecError> {
    entries
        .iter()
        .find(|entry| name(entry) == spec.name)
        .ok_or_else(|| SpecError::UnknownName {
            spec: text.to_owned(),
            position: spec.position,
            kind,
            name: spec.name.clone(),
            known: entries.iter().map(&name).collect::<Vec<_>>().join(", "),
        })
}

//! Spec strings: `adam:lr=1e-3,amsgrad=true`, `warmup:steps=10,then=(cosine:t_max=100)`.
//!
//! Grammar (ASCII whitespace is allowed between tokens):
//!
//! ```text
//! spec  := name [ ':' key '=' value { ',' key '=' value } ]
//! value := number | word | '(' spec ')' | '[' [ value { ',' value } ] ']'
//! name, key, word := [A-Za-z_][A-Za-z0-9_]*
//! number := what Rust's f64 parser accepts, starting with a digit, '.', '+' or '-'
//! ```
//!
//! A nested spec is wrapped in parentheses so its commas cannot be confused with the
//! outer ones. Booleans are the words `true` and `false`. Every error carries the byte
//! position in the original string and, past parsing, the key it concerns.

mod args;

pub use args::{KeyHelp, SpecArgs, describe_keys};

use crate::OptimError;

/// Nested parentheses and brackets deeper than this are refused (no stack overflow on
/// hostile input).
const MAX_DEPTH: usize = 16;

/// A parsed spec: a name and its `key=value` arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Optimizer or schedule name.
    pub name: String,
    /// Byte offset of the name.
    pub position: usize,
    /// Arguments in the order written.
    pub args: Vec<SpecArg>,
}

/// One `key=value` argument.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecArg {
    /// The key.
    pub key: String,
    /// Byte offset of the key.
    pub position: usize,
    /// The value.
    pub value: SpecValue,
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
    /// A nested spec, written in parentheses.
    Spec(Spec),
    /// A bracketed list.
    List(Vec<SpecValue>),
}

/// Parses a spec string (see the module docs for the grammar).
///
/// ```
/// let spec = unstuck_optim::parse_spec("sgd:lr=0.1,momentum=0.9").unwrap();
/// assert_eq!(spec.name, "sgd");
/// assert_eq!(spec.args[1].key, "momentum");
/// ```
pub fn parse_spec(text: &str) -> Result<Spec, OptimError> {
    let mut parser = Parser {
        text,
        pos: 0,
        depth: 0,
    };
    parser.skip_ws();
    let spec = parser.spec()?;
    parser.skip_ws();
    if parser.pos != text.len() {
        return Err(parser.error("`,` or the end of the spec"));
    }
    Ok(spec)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn error(&self, expected: &'static str) -> OptimError {
        OptimError::SpecSyntax {
            spec: self.text.to_owned(),
            position: self.pos,
            expected,
        }
    }

    fn expect(&mut self, byte: u8, expected: &'static str) -> Result<(), OptimError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    fn ident(&mut self, expected: &'static str) -> Result<(String, usize), OptimError> {
        let start = self.pos;
        if !self
            .peek()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        {
            return Err(self.error(expected));
        }
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            self.pos += 1;
        }
        Ok((self.text[start..self.pos].to_owned(), start))
    }

    fn spec(&mut self) -> Result<Spec, OptimError> {
        let (name, position) = self.ident("a name")?;
        self.skip_ws();
        let mut args: Vec<SpecArg> = Vec::new();
        if self.peek() == Some(b':') {
            self.pos += 1;
            loop {
                self.skip_ws();
                let (key, key_pos) = self.ident("a key")?;
                if args.iter().any(|a| a.key == key) {
                    return Err(OptimError::SpecDuplicateKey {
                        spec: self.text.to_owned(),
                        position: key_pos,
                        key,
                    });
                }
                self.skip_ws();
                self.expect(b'=', "`=`")?;
                self.skip_ws();
                let value = self.value()?;
                args.push(SpecArg {
                    key,
                    position: key_pos,
                    value,
                });
                self.skip_ws();
                if self.peek() != Some(b',') {
                    break;
                }
                self.pos += 1;
            }
        }
        Ok(Spec {
            name,
            position,
            args,
        })
    }

    fn enter(&mut self) -> Result<(), OptimError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("less nesting (at most 16 levels)"));
        }
        Ok(())
    }

    fn value(&mut self) -> Result<SpecValue, OptimError> {
        let position = self.pos;
        let kind = match self.peek() {
            Some(b'(') => {
                self.enter()?;
                self.pos += 1;
                self.skip_ws();
                let spec = self.spec()?;
                self.skip_ws();
                self.expect(b')', "`)`")?;
                self.depth -= 1;
                ValueKind::Spec(spec)
            }
            Some(b'[') => {
                self.enter()?;
                self.pos += 1;
                self.skip_ws();
                let mut items = Vec::new();
                if self.peek() != Some(b']') {
                    loop {
                        self.skip_ws();
                        items.push(self.value()?);
                        self.skip_ws();
                        if self.peek() != Some(b',') {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                self.expect(b']', "`,` or `]`")?;
                self.depth -= 1;
                ValueKind::List(items)
            }
            Some(b) if b.is_ascii_digit() || b == b'.' || b == b'+' || b == b'-' => {
                while self.peek().is_some_and(|b| {
                    b.is_ascii_alphanumeric() || b == b'.' || b == b'+' || b == b'-'
                }) {
                    self.pos += 1;
                }
                match self.text[position..self.pos].parse::<f64>() {
                    Ok(v) if v.is_finite() => ValueKind::Number(v),
                    _ => {
                        self.pos = position;
                        return Err(self.error("a finite number"));
                    }
                }
            }
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {
                ValueKind::Word(self.ident("a word")?.0)
            }
            _ => return Err(self.error("a value: number, word, (spec) or [list]")),
        };
        Ok(SpecValue { kind, position })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
            // Any outcome is fine as long as errors point inside the text.
            if let Err(OptimError::SpecSyntax { position, .. }) = parse_spec(&text) {
                prop_assert!(position <= text.len());
            }
        }

        #[test]
        fn spec_like_text_never_panics(text in "[a-z_:=,()\\[\\]0-9.e+-]{0,40}") {
            if let Err(OptimError::SpecSyntax { position, .. }) = parse_spec(&text) {
                prop_assert!(position <= text.len());
            }
        }
    }

    fn syntax_position(text: &str) -> usize {
        match parse_spec(text) {
            Err(OptimError::SpecSyntax { position, .. }) => position,
            other => panic!("expected a syntax error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn parses_nested_specs_and_lists() {
        let spec = parse_spec(
            "sequence: parts=[(linear:total_iters=10), (cosine:t_max=110)], milestones=[10]",
        )
        .unwrap();
        assert_eq!(spec.name, "sequence");
        let ValueKind::List(parts) = &spec.args[0].value.kind else {
            panic!("parts is a list")
        };
        let ValueKind::Spec(first) = &parts[0].kind else {
            panic!("a nested spec")
        };
        assert_eq!(first.name, "linear");
        assert_eq!(first.args[0].value.kind, ValueKind::Number(10.0));
        assert_eq!(spec.args[1].key, "milestones");
    }

    #[test]
    fn bare_name_has_no_args() {
        assert_eq!(parse_spec("adam").unwrap().args, vec![]);
    }

    #[test]
    fn syntax_errors_point_at_the_byte() {
        assert_eq!(syntax_position("adam:lr"), 7);
        assert_eq!(syntax_position("adam:lr=,"), 8);
        assert_eq!(syntax_position("adam:lr=1e-3x"), 8);
        assert_eq!(syntax_position("adam:lr=1e-3)"), 12);
        assert_eq!(syntax_position("warmup:then=(cosine:t_max=3"), 27);
        assert_eq!(syntax_position(":lr=1"), 0);
        assert_eq!(syntax_position("adam:lr=-inf"), 8);
    }

    #[test]
    fn duplicate_key_is_rejected() {
        let err = parse_spec("sgd:lr=1,lr=2").unwrap_err();
        assert!(
            matches!(err, OptimError::SpecDuplicateKey { position: 9, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let text = format!("a:k={}", "[".repeat(10_000));
        assert!(matches!(
            parse_spec(&text),
            Err(OptimError::SpecSyntax { .. })
        ));
    }
}

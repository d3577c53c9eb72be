//! The recursive-descent parser of the grammar in the module docs.

use super::{Spec, SpecArg, SpecError, SpecValue, ValueKind};

/// Nested parentheses and brackets deeper than this are refused (no stack overflow on
/// hostile input).
const MAX_DEPTH: usize = 16;

/// Parses a spec string (see [`crate::spec`] for the grammar).
///
/// ```
/// use unstuck_core::spec::{ValueKind, parse_spec};
/// let spec = parse_spec("sgd:lr=0.1,momentum=0.9")?;
/// assert_eq!(spec.name, "sgd");
/// assert_eq!(spec.args[1].key.as_deref(), Some("momentum"));
/// let model = parse_spec("64-10:leaky_relu(0.2),residual")?;
/// assert_eq!(model.name, "64-10");
/// assert!(matches!(&model.args[0].value.kind, ValueKind::Call(name, _) if name == "leaky_relu"));
/// assert_eq!(model.args[1].bare_word(), Some("residual"));
/// # Ok::<(), unstuck_core::spec::SpecError>(())
/// ```
pub fn parse_spec(text: &str) -> Result<Spec, SpecError> {
    let mut parser = Parser {
        text,
        pos: 0,
        depth: 0,
    };
    parser.skip_ws();
    let spec = parser.spec(true)?;
    parser.skip_ws();
    if parser.pos != text.len() {
        return Err(parser.error("`,` or the end of the spec"));
    }
    Ok(spec)
}

/// Parses a lone value, such as `leaky_relu(0.2)` or `[1, 2]` (see the grammar's
/// `value`).
///
/// ```
/// use unstuck_core::spec::{ValueKind, parse_value};
/// let value = parse_value(" leaky_relu(0.2) ")?;
/// assert!(matches!(value.kind, ValueKind::Call(ref name, _) if name == "leaky_relu"));
/// # Ok::<(), unstuck_core::spec::SpecError>(())
/// ```
pub fn parse_value(text: &str) -> Result<SpecValue, SpecError> {
    let mut parser = Parser {
        text,
        pos: 0,
        depth: 0,
    };
    parser.skip_ws();
    let value = parser.value()?;
    parser.skip_ws();
    if parser.pos != text.len() {
        return Err(parser.error("the end of the value"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

fn is_word_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_'
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn is_number_start(byte: u8) -> bool {
    byte.is_ascii_digit() || byte == b'.' || byte == b'+' || byte == b'-'
}

fn is_number_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'+' || byte == b'-'
}

/// The length of the number token at the start of `rest` (possibly not a valid number).
pub(crate) fn number_len(rest: &str) -> usize {
    rest.bytes().take_while(|&b| is_number_byte(b)).count()
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

    fn error(&self, expected: &str) -> SpecError {
        SpecError::Syntax {
            spec: self.text.to_owned(),
            position: self.pos,
            expected: expected.to_owned(),
        }
    }

    fn expect(&mut self, byte: u8, expected: &str) -> Result<(), SpecError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    /// The longest run of bytes satisfying `keep`, after a first byte satisfying `first`.
    fn token(
        &mut self,
        first: fn(u8) -> bool,
        keep: fn(u8) -> bool,
        expected: &str,
    ) -> Result<(String, usize), SpecError> {
        let start = self.pos;
        if !self.peek().is_some_and(first) {
            return Err(self.error(expected));
        }
        while self.peek().is_some_and(keep) {
            self.pos += 1;
        }
        Ok((self.text[start..self.pos].to_owned(), start))
    }

    fn word(&mut self, expected: &str) -> Result<(String, usize), SpecError> {
        self.token(is_word_start, is_word_byte, expected)
    }

    /// A spec; `top` allows the first item after `,` as well as `:` (a spec whose first
    /// item is a flag, such as `4-4,residual`).
    fn spec(&mut self, top: bool) -> Result<Spec, SpecError> {
        let (name, position) =
            self.token(is_word_byte, |b| is_word_byte(b) || b == b'-', "a name")?;
        self.skip_ws();
        let mut args: Vec<SpecArg> = Vec::new();
        let opens = self.peek() == Some(b':') || (top && self.peek() == Some(b','));
        if opens {
            loop {
                self.pos += 1;
                self.skip_ws();
                let arg = self.item()?;
                if let Some(key) = &arg.key
                    && args.iter().any(|a| a.key.as_ref() == Some(key))
                {
                    return Err(SpecError::DuplicateKey {
                        spec: self.text.to_owned(),
                        position: arg.position,
                        key: key.clone(),
                    });
                }
                args.push(arg);
                self.skip_ws();
                if self.peek() != Some(b',') {
                    break;
                }
            }
        }
        Ok(Spec {
            name,
            position,
            args,
        })
    }

    /// `key=value`, or a bare value.
    fn item(&mut self) -> Result<SpecArg, SpecError> {
        let start = self.pos;
        if self.peek().is_some_and(is_word_start) {
            let (word, _) = self.word("a key")?;
            self.skip_ws();
            if self.peek() == Some(b'=') {
                self.pos += 1;
                self.skip_ws();
                let value = self.value()?;
                return Ok(SpecArg {
                    key: Some(word),
                    position: start,
                    value,
                });
            }
            // Not a key: read it again as a value (a flag, or a call such as `f(1)`).
            self.pos = start;
        }
        let value = self.value_or("a key=value or a value")?;
        Ok(SpecArg {
            key: None,
            position: start,
            value,
        })
    }

    fn enter(&mut self) -> Result<(), SpecError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("less nesting (at most 16 levels)"));
        }
        Ok(())
    }

    /// `value { ',' value }` up to `close` (which may come at once: an empty list).
    fn values_until(&mut self, close: u8, expected: &str) -> Result<Vec<SpecValue>, SpecError> {
        self.enter()?;
        self.pos += 1;
        self.skip_ws();
        let mut items = Vec::new();
        if self.peek() != Some(close) {
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
        self.expect(close, expected)?;
        self.depth -= 1;
        Ok(items)
    }

    fn value(&mut self) -> Result<SpecValue, SpecError> {
        self.value_or("a value: number, word, (spec) or [list]")
    }

    fn value_or(&mut self, expected: &str) -> Result<SpecValue, SpecError> {
        let position = self.pos;
        let kind = match self.peek() {
            Some(b'(') => {
                self.enter()?;
                self.pos += 1;
                self.skip_ws();
                let spec = self.spec(false)?;
                self.skip_ws();
                self.expect(b')', "`)`")?;
                self.depth -= 1;
                ValueKind::Spec(spec)
            }
            Some(b'[') => ValueKind::List(self.values_until(b']', "`,` or `]`")?),
            Some(b) if is_number_start(b) => {
                let len = number_len(&self.text[position..]);
                self.pos += len;
                match self.text[position..self.pos].parse::<f64>() {
                    Ok(v) if v.is_finite() => ValueKind::Number(v),
                    _ => {
                        self.pos = position;
                        return Err(self.error("a finite number"));
                    }
                }
            }
            Some(b) if is_word_start(b) => {
                let (word, _) = self.word("a word")?;
                let after_word = self.pos;
                self.skip_ws();
                if self.peek() == Some(b'(') {
                    ValueKind::Call(word, self.values_until(b')', "`,` or `)`")?)
                } else {
                    self.pos = after_word;
                    ValueKind::Word(word)
                }
            }
            _ => return Err(self.error(expected)),
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
            if let Err(error) = parse_spec(&text) {
                prop_assert!(error.position().is_some_and(|p| p <= text.len()));
            }
        }

        #[test]
        fn spec_like_text_never_panics(text in "[a-z_:=,()\\[\\]0-9.e+ -]{0,40}") {
            if let Err(error) = parse_spec(&text) {
                prop_assert!(error.position().is_some_and(|p| p <= text.len()));
                let _ = error.to_string();
            }
        }
    }

    fn syntax_position(text: &str) -> usize {
        match parse_spec(text) {
            Err(SpecError::Syntax { position, .. }) => position,
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
        assert_eq!(spec.args[1].key.as_deref(), Some("milestones"));
    }

    #[test]
    fn bare_name_has_no_args() {
        assert_eq!(parse_spec("adam").unwrap().args, vec![]);
    }

    #[test]
    fn model_specs_are_a_name_with_bare_values() {
        let spec =
            parse_spec("3-5-2 : leaky_relu( -1e-2 ), init = xavier_normal, residual").unwrap();
        assert_eq!((spec.name.as_str(), spec.args.len()), ("3-5-2", 3));
        let ValueKind::Call(name, slope) = &spec.args[0].value.kind else {
            panic!("a call: {:?}", spec.args[0])
        };
        assert_eq!(
            (name.as_str(), &slope[0].kind),
            ("leaky_relu", &ValueKind::Number(-0.01))
        );
        assert_eq!(spec.args[1].key.as_deref(), Some("init"));
        assert_eq!(spec.args[2].bare_word(), Some("residual"));
        // A first item that is a flag may follow the name with a comma.
        assert_eq!(
            parse_spec("4-4,residual").unwrap().args[0].bare_word(),
            Some("residual")
        );
    }

    /// The spec written back without whitespace, positions left out.
    fn render(spec: &Spec) -> String {
        fn value(v: &SpecValue) -> String {
            let list = |items: &[SpecValue]| items.iter().map(value).collect::<Vec<_>>().join(",");
            match &v.kind {
                ValueKind::Number(x) => format!("{x:?}"),
                ValueKind::Word(w) => w.clone(),
                ValueKind::Call(name, args) => format!("{name}({})", list(args)),
                ValueKind::Spec(spec) => format!("({})", render(spec)),
                ValueKind::List(items) => format!("[{}]", list(items)),
            }
        }
        let args: Vec<String> = spec
            .args
            .iter()
            .map(|a| match &a.key {
                Some(key) => format!("{key}={}", value(&a.value)),
                None => value(&a.value),
            })
            .collect();
        format!("{}:{}", spec.name, args.join(","))
    }

    #[test]
    fn whitespace_is_allowed_between_every_two_tokens() {
        let tight =
            parse_spec("adam:lr=1e-3,schedule=(cosine:t_max=3),list=[1,2],f=g(1,2)").unwrap();
        let loose = parse_spec(
            "  adam : lr = 1e-3 , schedule = ( cosine : t_max = 3 ) , list = [ 1 , 2 ] , f = g ( 1 , 2 ) ",
        )
        .unwrap();
        assert_eq!(render(&tight), render(&loose));
        assert_eq!(
            render(&tight),
            "adam:lr=0.001,schedule=(cosine:t_max=3.0),list=[1.0,2.0],f=g(1.0,2.0)"
        );
    }

    #[test]
    fn syntax_errors_point_at_the_byte() {
        assert_eq!(syntax_position("adam:lr 1e-3"), 8);
        assert_eq!(syntax_position("adam:lr=,"), 8);
        assert_eq!(syntax_position("adam:lr=1e-3x"), 8);
        assert_eq!(syntax_position("adam:lr=1e-3)"), 12);
        assert_eq!(syntax_position("adam:lr=1e-3,,"), 13);
        assert_eq!(syntax_position("adam:lr=1e-3;beta1=0.9"), 12);
        assert_eq!(syntax_position("warmup:then=(cosine:t_max=3"), 27);
        assert_eq!(syntax_position(":lr=1"), 0);
        assert_eq!(syntax_position("adam:lr=-inf"), 8);
        assert_eq!(syntax_position(""), 0);
        assert_eq!(syntax_position("64-10:leaky_relu(0.2"), 20);
        assert_eq!(syntax_position("64-10:"), 6);
        assert_eq!(syntax_position("6€4-10"), 1);
    }

    #[test]
    fn the_message_says_what_stands_there() {
        let message = parse_spec("adam:lr=1e-3x").unwrap_err().to_string();
        assert!(message.contains("at byte 8, found \"1e-3x\""), "{message}");
        let message = parse_spec("adam:").unwrap_err().to_string();
        assert!(message.contains("found end of input"), "{message}");
    }

    #[test]
    fn duplicate_key_is_rejected() {
        let err = parse_spec("sgd:lr=1,lr=2").unwrap_err();
        assert!(
            matches!(err, SpecError::DuplicateKey { position: 9, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        for text in [
            format!("a:k={}", "[".repeat(10_000)),
            format!("a:k={}", "(b:k=".repeat(10_000)),
            format!("a:{}", "f(".repeat(10_000)),
        ] {
            assert!(matches!(parse_spec(&text), Err(SpecError::Syntax { .. })));
        }
    }
}

//! The short model spec strings of the command line, e.g. `64-128-128-10:relu`.
//!
//! Grammar (no spaces anywhere):
//!
//! ```text
//! spec       = widths [ ":" activation ] { "," option }
//! widths     = width "-" width { "-" width }        input, hidden..., output
//! width      = digits                                 a positive integer
//! activation = "relu" | "tanh" | "sigmoid" | "gelu" | "identity"
//!            | "leaky_relu" [ "(" slope ")" ]         slope: a finite decimal, default 0.01
//! option     = "residual"                             skip connections (see `Mlp`)
//!            | "init=" init                           each option at most once
//! init       = "pytorch" | "xavier_uniform" | "xavier_normal" | "kaiming_normal"
//! ```
//!
//! Without an activation the hidden layers use `relu`; without `init=` the layers use
//! PyTorch's `nn.Linear` default. `64-10` is a linear (softmax-regression) model.
//! A string that does not parse gives [`ModelError::Spec`] with the byte position of the
//! first character that does not fit and what the grammar allows there.
//!
//! ```
//! use unstuck_models::{ModelError, spec::parse_mlp};
//! let mlp = parse_mlp("2-16-16-1:leaky_relu(0.2),residual").unwrap();
//! assert_eq!(mlp.to_string(), "2-16-16-1:leaky_relu(0.2),residual");
//! match parse_mlp("2-16-1:relux") {
//!     Err(ModelError::Spec { position, .. }) => assert_eq!(position, 7),
//!     other => panic!("{other:?}"),
//! }
//! ```

use crate::{Activation, Init, Mlp, ModelError};

/// Parses a full MLP spec; the same as [`Mlp::from_spec`].
pub fn parse_mlp(spec: &str) -> Result<Mlp, ModelError> {
    let mut cursor = Cursor { spec, pos: 0 };
    let widths = cursor.widths()?;
    let activation = if cursor.eat(':') {
        cursor.activation()?
    } else {
        Activation::Relu
    };
    let (mut residual, mut init) = (None, None);
    while cursor.eat(',') {
        let start = cursor.pos;
        match cursor.ident() {
            "residual" if residual.is_none() => residual = Some(true),
            "init" if init.is_none() => {
                cursor.expect('=', "'=' and an initialiser")?;
                init = Some(cursor.init()?);
            }
            "residual" | "init" => {
                return Err(cursor.error_at(start, "an option not given before"));
            }
            _ => {
                return Err(cursor.error_at(start, "an option (residual, init=<initialiser>)"));
            }
        }
    }
    if !cursor.at_end() {
        let expected = if spec[..cursor.pos].contains([':', ',']) {
            "',' or end of input"
        } else {
            "'-', ':', ',' or end of input"
        };
        return Err(cursor.error_at(cursor.pos, expected));
    }
    Mlp::builder(&widths)
        .activation(activation)
        .residual(residual.unwrap_or(false))
        .init(init.unwrap_or_default())
        .build()
}

/// Parses an activation alone (`relu`, `leaky_relu(0.2)`, ...).
pub(crate) fn parse_activation_str(s: &str) -> Result<Activation, ModelError> {
    let mut cursor = Cursor { spec: s, pos: 0 };
    let activation = cursor.activation()?;
    if !cursor.at_end() {
        return Err(cursor.error_at(cursor.pos, "end of input"));
    }
    Ok(activation)
}

struct Cursor<'a> {
    spec: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn rest(&self) -> &str {
        &self.spec[self.pos..]
    }

    fn at_end(&self) -> bool {
        self.pos == self.spec.len()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char, expected: &str) -> Result<(), ModelError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error_at(self.pos, expected))
        }
    }

    /// The longest run of characters satisfying `keep`, consumed.
    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &str {
        let start = self.pos;
        let len = self
            .rest()
            .find(|c: char| !keep(c))
            .unwrap_or(self.rest().len());
        self.pos += len;
        &self.spec[start..self.pos]
    }

    fn ident(&mut self) -> &str {
        self.take_while(|c| c.is_ascii_alphanumeric() || c == '_')
    }

    /// What stands at `pos`: a whole word or number, one other character, or the end.
    fn found_at(&self, pos: usize) -> String {
        let rest = &self.spec[pos..];
        let word_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "_.+".contains(c)))
            .unwrap_or(rest.len());
        match rest.chars().next() {
            None => "end of input".to_string(),
            Some(_) if word_len > 0 => format!("{:?}", &rest[..word_len]),
            Some(c) => format!("{c:?}"),
        }
    }

    fn error_at(&self, position: usize, expected: &str) -> ModelError {
        ModelError::Spec {
            spec: self.spec.to_string(),
            position,
            expected: expected.to_string(),
            found: self.found_at(position),
        }
    }

    fn width(&mut self) -> Result<usize, ModelError> {
        let start = self.pos;
        let digits = self.take_while(|c| c.is_ascii_digit());
        if digits.is_empty() {
            return Err(self.error_at(start, "a width (a positive integer)"));
        }
        match digits.parse::<usize>() {
            Ok(0) => Err(self.error_at(start, "a positive width")),
            Ok(width) => Ok(width),
            Err(_) => Err(self.error_at(start, "a width that fits in usize")),
        }
    }

    fn widths(&mut self) -> Result<Vec<usize>, ModelError> {
        let mut widths = vec![self.width()?];
        if !self.rest().starts_with('-') {
            return Err(self.error_at(self.pos, "'-' and a second width"));
        }
        while self.eat('-') {
            widths.push(self.width()?);
        }
        Ok(widths)
    }

    fn activation(&mut self) -> Result<Activation, ModelError> {
        let start = self.pos;
        let name = self.ident();
        let Some(activation) = Activation::from_name(name) else {
            let expected = format!("an activation ({})", Activation::NAMES.join(", "));
            return Err(self.error_at(start, &expected));
        };
        if !matches!(activation, Activation::LeakyRelu(_)) || !self.eat('(') {
            return Ok(activation);
        }
        let slope_start = self.pos;
        let text = self.take_while(|c| c != ')' && c != ',');
        let slope = match text.parse::<f64>() {
            Ok(slope) if slope.is_finite() => slope,
            _ => return Err(self.error_at(slope_start, "a finite slope such as 0.2")),
        };
        self.expect(')', "')'")?;
        Ok(Activation::LeakyRelu(slope))
    }

    fn init(&mut self) -> Result<Init, ModelError> {
        let start = self.pos;
        let name = self.ident();
        Init::from_name(name).ok_or_else(|| {
            let names = Init::ALL.map(|init| init.name()).join(", ");
            self.error_at(start, &format!("an initialiser ({names})"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Parses `spec`, expecting a spec error at `position` whose message contains `expected`.
    fn check_error(spec: &str, position: usize, expected: &str) {
        match parse_mlp(spec) {
            Err(ModelError::Spec {
                position: got,
                expected: what,
                found,
                ..
            }) => {
                assert_eq!(got, position, "{spec:?}: expected {what}, found {found}");
                assert!(
                    what.contains(expected),
                    "{spec:?}: {what:?} lacks {expected:?}"
                );
            }
            other => panic!("{spec:?}: expected a spec error, got {other:?}"),
        }
    }

    #[test]
    fn accepts_the_documented_forms() {
        let mlp = parse_mlp("64-128-128-10:relu").unwrap();
        assert_eq!(mlp.widths(), &[64, 128, 128, 10]);
        assert_eq!(mlp.activation(), Activation::Relu);
        assert!(!mlp.residual());
        assert_eq!(mlp.initializer(), Init::PytorchDefault);

        let mlp = parse_mlp("3-5-5-5-2:leaky_relu(0.2),init=xavier_normal,residual").unwrap();
        assert_eq!(mlp.activation(), Activation::LeakyRelu(0.2));
        assert!(mlp.residual());
        assert_eq!(mlp.initializer(), Init::XavierNormal);

        assert_eq!(parse_mlp("64-10").unwrap().widths(), &[64, 10]);
        assert_eq!(
            parse_mlp("4-4,residual").unwrap().activation(),
            Activation::Relu
        );
        assert_eq!(
            parse_mlp("2-2:leaky_relu").unwrap().activation(),
            Activation::LeakyRelu(0.01)
        );
        assert_eq!(
            parse_mlp("2-2:leaky_relu(-1e-2)").unwrap().activation(),
            Activation::LeakyRelu(-0.01)
        );
    }

    #[test]
    fn every_malformed_spec_names_its_position_and_what_was_expected() {
        check_error("", 0, "a width");
        check_error("64", 2, "'-' and a second width");
        check_error("64-", 3, "a width");
        check_error("64--10", 3, "a width");
        check_error("64-0-10", 3, "a positive width");
        check_error("64-99999999999999999999999-10", 3, "fits in usize");
        check_error("64-10:", 6, "an activation (relu, leaky_relu");
        check_error("64-10:relux", 6, "an activation");
        check_error("64-10:leaky_relu(abc)", 17, "a finite slope");
        check_error("64-10:leaky_relu(inf)", 17, "a finite slope");
        check_error("64-10:leaky_relu(0.2", 20, "')'");
        check_error("64-10:tanh(0.2)", 10, "',' or end of input");
        check_error("64-10:tanh,", 11, "an option");
        check_error("64-10:tanh,resid", 11, "an option");
        check_error("64-10:tanh,init", 15, "'='");
        check_error("64-10:tanh,init=he", 16, "an initialiser (pytorch");
        check_error("64-10:tanh,residual,residual", 20, "not given before");
        check_error("64-10 :tanh", 5, "'-', ':', ',' or end of input");
        check_error(" 64-10", 0, "a width");
        check_error("64-10x", 5, "'-', ':'");
    }

    #[test]
    fn found_describes_the_offending_token() {
        let err = parse_mlp("64-10:relux").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("at byte 6"), "{message}");
        assert!(message.contains("found \"relux\""), "{message}");
        let err = parse_mlp("64").unwrap_err();
        assert!(err.to_string().contains("found end of input"), "{err}");
    }

    #[test]
    fn non_ascii_input_is_an_error_not_a_panic() {
        check_error("64-10:rélu", 6, "an activation");
        check_error("6€4-10", 1, "'-' and a second width");
    }

    fn activation() -> impl Strategy<Value = Activation> {
        prop_oneof![
            Just(Activation::Relu),
            Just(Activation::Tanh),
            Just(Activation::Sigmoid),
            Just(Activation::Gelu),
            Just(Activation::Identity),
            (-1.0f64..1.0).prop_map(Activation::LeakyRelu),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn display_then_parse_gives_the_same_model(
            widths in proptest::collection::vec(1usize..300, 2..6),
            activation in activation(),
            residual in any::<bool>(),
            init in proptest::sample::select(Init::ALL.to_vec()),
        ) {
            let mlp = Mlp::builder(&widths)
                .activation(activation)
                .residual(residual)
                .init(init)
                .build()
                .unwrap();
            prop_assert_eq!(parse_mlp(&mlp.to_string()).unwrap(), mlp);
        }

        #[test]
        fn arbitrary_strings_never_panic(spec in "[-0-9a-z:,=().é ]{0,24}") {
            let _ = parse_mlp(&spec);
        }
    }
}

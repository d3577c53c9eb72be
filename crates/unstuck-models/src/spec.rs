//! The short model spec strings of the command line, e.g. `64-128-128-10:relu`.
//!
//! A model spec is a spec of the one grammar of unstuck (`unstuck_core::spec`): its name
//! is the widths, its arguments the activation and the options.
//!
//! ```text
//! spec       = widths [ ":" activation ] { "," option }
//! widths     = width "-" width { "-" width }        input, hidden..., output
//! width      = digits                                 a positive integer
//! activation = "relu" | "tanh" | "sigmoid" | "gelu" | "identity"
//!            | "leaky_relu" [ "(" slope ")" ]         slope: a finite number, default 0.01
//! option     = "residual"                             skip connections (see `Mlp`)
//!            | "init=" init                           each option at most once
//! init       = "pytorch" | "xavier_uniform" | "xavier_normal" | "kaiming_normal"
//! ```
//!
//! Without an activation the hidden layers use `relu`; without `init=` the layers use
//! PyTorch's `nn.Linear` default. `64-10` is a linear (softmax-regression) model.
//! Whitespace between tokens is allowed, as in every spec. A string that does not parse
//! gives [`ModelError::Spec`] with the byte position of the first character that does
//! not fit and what is allowed there.
//!
//! ```
//! use unstuck_models::{ModelError, spec::parse_mlp};
//! let mlp = parse_mlp("2-16-16-1:leaky_relu(0.2),residual").unwrap();
//! assert_eq!(mlp.to_string(), "2-16-16-1:leaky_relu(0.2),residual");
//! match parse_mlp("2-16-1:relux") {
//!     Err(ModelError::Spec(error)) => assert_eq!(error.position(), Some(7)),
//!     other => panic!("{other:?}"),
//! }
//! ```

use crate::{Activation, Init, Mlp, ModelError};
use unstuck_core::spec::{
    Spec, SpecArgs, SpecError, SpecValue, ValueKind, parse_spec, parse_value,
};

/// Parses a full MLP spec; the same as [`Mlp::from_spec`].
pub fn parse_mlp(text: &str) -> Result<Mlp, ModelError> {
    let spec = parse_spec(text)?;
    let mut args = SpecArgs::new(text, &spec).owned_by("model");
    let widths = widths(&args, &spec)?;
    let residual = args.flag("residual")?;
    let init = match args.value("init") {
        Some(value) => init(&args, value)?,
        None => Init::default(),
    };
    let activation = match args.positional() {
        Some(value) => activation(&args, value)?,
        None => Activation::Relu,
    };
    args.finish()?;
    Mlp::builder(&widths)
        .activation(activation)
        .residual(residual)
        .init(init)
        .build()
}

/// Parses an activation alone (`relu`, `leaky_relu(0.2)`, ...).
pub(crate) fn parse_activation_str(text: &str) -> Result<Activation, ModelError> {
    let value = parse_value(text)?;
    let spec = Spec {
        name: String::new(),
        position: 0,
        args: Vec::new(),
    };
    Ok(activation(&SpecArgs::new(text, &spec), &value)?)
}

/// The widths `64-128-10` written as the spec's name.
fn widths(args: &SpecArgs<'_>, spec: &Spec) -> Result<Vec<usize>, SpecError> {
    let mut widths = Vec::new();
    let mut start = spec.position;
    for part in spec.name.split('-') {
        let digits = part.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(args.syntax_error(start, "a width (a positive integer)"));
        }
        if digits < part.len() {
            return Err(args.syntax_error(start + digits, "'-', ':', ',' or the end of the spec"));
        }
        match part.parse::<usize>() {
            Ok(0) => return Err(args.syntax_error(start, "a positive width")),
            Ok(width) => widths.push(width),
            Err(_) => return Err(args.syntax_error(start, "a width that fits in usize")),
        }
        start += part.len() + 1;
    }
    if widths.len() < 2 {
        return Err(args.syntax_error(start - 1, "'-' and a second width"));
    }
    Ok(widths)
}

fn activation(args: &SpecArgs<'_>, value: &SpecValue) -> Result<Activation, SpecError> {
    let unknown = || {
        let expected = format!("an activation ({})", Activation::NAMES.join(", "));
        args.bad_value("activation", value, expected)
    };
    match &value.kind {
        ValueKind::Word(name) => Activation::from_name(name).ok_or_else(unknown),
        ValueKind::Call(name, slope) if name == "leaky_relu" => match slope.as_slice() {
            [
                SpecValue {
                    kind: ValueKind::Number(slope),
                    ..
                },
            ] => Ok(Activation::LeakyRelu(*slope)),
            [other, ..] => Err(args.bad_value("activation", other, "a finite slope such as 0.2")),
            [] => Err(args.bad_value("activation", value, "a slope such as leaky_relu(0.2)")),
        },
        ValueKind::Call(name, extra) if Activation::from_name(name).is_some() => {
            let at = extra.first().unwrap_or(value);
            Err(args.bad_value("activation", at, format!("no argument: {name} takes none")))
        }
        _ => Err(unknown()),
    }
}

fn init(args: &SpecArgs<'_>, value: &SpecValue) -> Result<Init, SpecError> {
    let name = match &value.kind {
        ValueKind::Word(name) => Init::from_name(name),
        _ => None,
    };
    name.ok_or_else(|| {
        let names = Init::ALL.map(|init| init.name()).join(", ");
        args.bad_value("init", value, format!("an initialiser ({names})"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Parses `spec`, expecting a spec error at `position` whose message contains `expected`.
    fn check_error(spec: &str, position: usize, expected: &str) {
        match parse_mlp(spec) {
            Err(ModelError::Spec(error)) => {
                let message = error.to_string();
                assert_eq!(error.position(), Some(position), "{spec:?}: {message}");
                assert!(
                    message.contains(expected),
                    "{spec:?}: {message:?} lacks {expected:?}"
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
    fn whitespace_between_tokens_is_allowed_as_in_every_spec() {
        assert_eq!(parse_mlp("64-10 :tanh").unwrap().to_string(), "64-10:tanh");
        assert_eq!(parse_mlp(" 64-10").unwrap().to_string(), "64-10:relu");
        assert_eq!(
            parse_mlp("3-4-2 : leaky_relu( 0.2 ) , residual").unwrap(),
            parse_mlp("3-4-2:leaky_relu(0.2),residual").unwrap()
        );
    }

    #[test]
    fn every_malformed_spec_names_its_position_and_what_was_expected() {
        check_error("", 0, "a name");
        check_error("64", 2, "'-' and a second width");
        check_error("64-", 3, "a width");
        check_error("64--10", 3, "a width");
        check_error("64-0-10", 3, "a positive width");
        check_error("64-99999999999999999999999-10", 3, "fits in usize");
        check_error("64-10:", 6, "a key=value or a value");
        check_error("64-10:relux", 6, "an activation (relu, leaky_relu");
        check_error("64-10:leaky_relu(abc)", 17, "a finite slope");
        check_error("64-10:leaky_relu(inf)", 17, "a finite slope");
        check_error("64-10:leaky_relu(0.2", 20, "`,` or `)`");
        check_error("64-10:tanh(0.2)", 11, "tanh takes none");
        check_error("64-10:tanh,", 11, "a key=value or a value");
        check_error("64-10:tanh,resid", 11, "has no key `resid`");
        check_error("64-10:tanh,init", 11, "needs `=` and a value");
        check_error("64-10:tanh,init=he", 16, "an initialiser (pytorch");
        check_error("64-10:tanh,residual,residual", 20, "given twice");
        check_error("64-10x", 5, "'-', ':', ',' or the end");
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
        check_error("64-10:rélu", 7, "`,` or the end of the spec");
        check_error("6€4-10", 1, "`,` or the end of the spec");
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

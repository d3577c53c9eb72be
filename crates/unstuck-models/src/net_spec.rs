//! One-line specs of layered networks, e.g. the golden `cnn_digits`:
//! `1x8x8/conv1=conv(4,k=3,pad=1)-tanh-maxpool(2)-conv2=conv(6,k=3)-tanh-avgpool(2)-flatten-fc=linear(10)`.
//!
//! ```text
//! network = input "/" layers
//! input   = size { "x" size }                 one example's shape: 1x8x8, 16, 5 (tokens)
//! layers  = layer { "-" layer }
//! layer   = [ name "=" ] kind [ "(" args ")" ]
//!         | [ name "=" ] "residual(" layers ")"   x + layers(x)
//! name    = the layer's state_dict prefix ([A-Za-z0-9_.]+; `_` for none); default: its position
//! args    = the arguments of unstuck's spec grammar (`unstuck_core::spec`): values and key=value
//! ```
//!
//! Sizes that follow from the shape before a layer are inferred (a linear layer's inputs,
//! a convolution's input channels, a norm's width), so a layer only states what is its
//! own; the layers and their keys are listed by [`ModelRegistry::layers`] (`unstuck list`).
//! A spec that does not parse is a [`ModelError::Spec`] with the byte position; a layer
//! that does not fit the shape before it is a [`ModelError::LayerShape`] naming the layer,
//! its position and both shapes.

use crate::layer::dims_str;
use crate::registry::ModelRegistry;
use crate::{Init, Layer, ModelError, Residual, Sequential};
use unstuck_core::spec::{SpecArgs, SpecError, lookup, parse_spec};

/// One layer's text inside the whole spec.
pub(crate) struct LayerText<'a> {
    pub(crate) name: Option<&'a str>,
    kind_start: usize,
    /// Where the layer's text ends.
    end: usize,
    /// The inside of the parentheses, if any, as a byte range.
    pub(crate) inner: Option<(usize, usize)>,
    pub(crate) kind: &'a str,
}

/// Parses a network spec against `registry`'s layers.
pub(crate) fn parse_network(
    registry: &ModelRegistry,
    text: &str,
    init: Init,
) -> Result<Sequential, ModelError> {
    let slash = text
        .find('/')
        .ok_or_else(|| syntax(text, 0, "an input shape and '/'"))?;
    let input = input_dims(text, 0, slash)?;
    let mut builder = Sequential::builder(&input).init(init);
    let mut dims = input.clone();
    for (position, layer) in split_layers(text, slash + 1, text.len())?
        .into_iter()
        .enumerate()
    {
        let built = build_layer(registry, text, &layer, &dims, position)?;
        dims = built
            .output_dims(&dims)
            .map_err(|mismatch| ModelError::LayerShape {
                position,
                layer: built.kind().to_string(),
                got: dims.clone(),
                expected: mismatch.expected,
            })?;
        let name = match layer.name {
            Some("_") => String::new(),
            Some(name) => name.to_string(),
            None => position.to_string(),
        };
        builder = builder.push_boxed(name, built);
    }
    builder.build()
}

fn syntax(text: &str, position: usize, expected: &str) -> ModelError {
    ModelError::Spec(SpecError::Syntax {
        spec: text.to_string(),
        position,
        expected: expected.to_string(),
    })
}

/// `1x8x8` between `start` and `end`.
pub(crate) fn input_dims(text: &str, start: usize, end: usize) -> Result<Vec<usize>, ModelError> {
    let mut dims = Vec::new();
    let mut at = start;
    for part in text[start..end].split('x') {
        match part.trim().parse::<usize>() {
            Ok(size) if size > 0 => dims.push(size),
            _ => {
                return Err(syntax(
                    text,
                    at,
                    "a positive size (an input shape such as 1x8x8)",
                ));
            }
        }
        at += part.len() + 1;
    }
    Ok(dims)
}

/// The layers between `start` and `end`, split at the `-` outside parentheses.
pub(crate) fn split_layers(
    text: &str,
    start: usize,
    end: usize,
) -> Result<Vec<LayerText<'_>>, ModelError> {
    let bytes = text.as_bytes();
    let mut layers = Vec::new();
    let (mut depth, mut from) = (0usize, start);
    for at in start..=end {
        let byte = bytes.get(at).copied().filter(|_| at < end);
        match byte {
            Some(b'(') => depth += 1,
            Some(b')') if depth == 0 => return Err(syntax(text, at, "a layer")),
            Some(b')') => depth -= 1,
            Some(b'-') | None if depth == 0 => {
                layers.push(layer_text(text, from, at)?);
                from = at + 1;
            }
            None => return Err(syntax(text, at, "`)`")),
            _ => {}
        }
    }
    Ok(layers)
}

/// `[name=]kind[(inner)]` between `start` and `end`.
fn layer_text(text: &str, start: usize, end: usize) -> Result<LayerText<'_>, ModelError> {
    let part = &text[start..end];
    let lead = part.len() - part.trim_start().len();
    let open = part.find('(');
    let head_end = open.unwrap_or(part.trim_end().len());
    let (name, kind_start) = match part[..head_end].find('=') {
        Some(eq) => {
            let name = part[lead..eq].trim();
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
            if !valid {
                return Err(syntax(text, start + lead, "a layer name ([A-Za-z0-9_.]+)"));
            }
            (Some(name), start + eq + 1)
        }
        None => (None, start + lead),
    };
    let kind = text[kind_start..start + head_end].trim();
    let kind_start =
        kind_start + (text[kind_start..].len() - text[kind_start..].trim_start().len());
    if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(syntax(
            text,
            kind_start,
            "a layer kind (see `unstuck list`)",
        ));
    }
    let inner = match open {
        Some(open) => {
            let close = part.trim_end().len() - 1;
            if part.as_bytes()[close] != b')' {
                return Err(syntax(
                    text,
                    start + close,
                    "`)` and then `-` or the end of the spec",
                ));
            }
            Some((start + open + 1, start + close))
        }
        None => None,
    };
    Ok(LayerText {
        name,
        kind_start,
        end,
        inner,
        kind,
    })
}

fn build_layer(
    registry: &ModelRegistry,
    text: &str,
    layer: &LayerText<'_>,
    input: &[usize],
    position: usize,
) -> Result<Box<dyn Layer>, ModelError> {
    if layer.kind == "residual" {
        return build_residual(registry, text, layer, input);
    }
    // The layer alone in a copy of the spec, spaces elsewhere, with `kind(args)` rewritten
    // as `kind:args `: core's grammar then parses it with every byte position unchanged.
    let mut blank = vec![b' '; text.len()];
    blank[layer.kind_start..layer.end]
        .copy_from_slice(&text.as_bytes()[layer.kind_start..layer.end]);
    if let Some((open, close)) = layer.inner {
        blank[open - 1] = b':';
        blank[close] = b' ';
    }
    let blank = String::from_utf8(blank).expect("ASCII delimiters keep UTF-8 boundaries");
    let with_text = |error: SpecError| ModelError::Spec(error.with_spec(text));
    let spec = parse_spec(&blank).map_err(with_text)?;
    let entry = lookup(&blank, &spec, "layer", registry.layers(), |e| e.name).map_err(with_text)?;
    let mut args = SpecArgs::new(&blank, &spec).owned_by(entry.name);
    let built = match (entry.build)(&mut args, input) {
        Ok(built) => built,
        Err(ModelError::Spec(error)) => return Err(with_text(error)),
        Err(ModelError::LayerShape { got, expected, .. }) => {
            return Err(ModelError::LayerShape {
                position,
                layer: entry.name.to_string(),
                got,
                expected,
            });
        }
        Err(ModelError::BadLayerArgument {
            layer: kind,
            message,
        }) => {
            return Err(ModelError::Spec(SpecError::BadValue {
                spec: text.to_string(),
                position: layer.kind_start,
                key: kind.to_string(),
                expected: message,
            }));
        }
        Err(other) => return Err(other),
    };
    args.finish().map_err(with_text)?;
    Ok(built)
}

fn build_residual(
    registry: &ModelRegistry,
    text: &str,
    layer: &LayerText<'_>,
    input: &[usize],
) -> Result<Box<dyn Layer>, ModelError> {
    let Some((open, close)) = layer.inner else {
        return Err(syntax(
            text,
            layer.end,
            "`(` and the layers of the residual block",
        ));
    };
    let mut block = Residual::new();
    let mut dims = input.to_vec();
    for (position, inner) in split_layers(text, open, close)?.into_iter().enumerate() {
        let built = build_layer(registry, text, &inner, &dims, position)?;
        dims = built
            .output_dims(&dims)
            .map_err(|mismatch| ModelError::LayerShape {
                position,
                layer: format!("{} inside residual", built.kind()),
                got: dims.clone(),
                expected: mismatch.expected,
            })?;
        let name = match inner.name {
            Some("_") => String::new(),
            Some(name) => name.to_string(),
            None => position.to_string(),
        };
        block = block.push_boxed(name, built);
    }
    if dims != input {
        return Err(ModelError::LayerShape {
            position: 0,
            layer: "residual".into(),
            got: input.to_vec(),
            expected: format!("layers that keep the shape (they give {})", dims_str(&dims)),
        });
    }
    Ok(Box::new(block))
}

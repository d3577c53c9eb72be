//! Variants of a model spec: the models the general guide trains beside the user's.
//!
//! The lecture compares a network that does not train with models that are easy to
//! optimise (a linear model, a shallower network of the same kind) and with a bigger one.
//! These functions work on the parsed spec (an MLP's widths, a network's layer list),
//! never on the string, and return spec strings that [`crate::ModelRegistry::build`]
//! takes:
//!
//! * [`linear_on_inputs`]: a linear (softmax-regression) model on the flattened inputs;
//! * [`shallower`]: an MLP with one hidden layer of the user's narrowest width and
//!   activation, or a network that keeps its first weighted block (a convolution or a
//!   linear layer and the parameter-free layers after it) and then flattens into the
//!   output layer;
//! * [`wider`]: the same model with every hidden width and channel count multiplied.
//!
//! A registered model (`name:args`) has no variants: its structure is its own.
//!
//! ```
//! use unstuck_models::variants::{shallower, wider};
//! let cnn = "1x8x8/conv(4,k=3,pad=1)-tanh-maxpool(2)-conv(6,k=3)-tanh-avgpool(2)-flatten-linear(10)";
//! assert_eq!(
//!     shallower(cnn)?.as_deref(),
//!     Some("1x8x8/conv(4,k=3,pad=1)-tanh-maxpool(2)-flatten-linear(10)")
//! );
//! assert_eq!(
//!     wider(cnn, 2)?.as_deref(),
//!     Some("1x8x8/conv(8,k=3,pad=1)-tanh-maxpool(2)-conv(12,k=3)-tanh-avgpool(2)-flatten-linear(10)")
//! );
//! assert_eq!(wider("64-128-10:relu", 2)?.as_deref(), Some("64-256-10:relu"));
//! # Ok::<(), unstuck_models::ModelError>(())
//! ```

use crate::net_spec::{LayerText, input_dims, split_layers};
use crate::{Activation, Mlp, ModelError};

/// The layer kinds that carry a size of their own (`conv(out)`, `linear(out)`): what
/// starts a block, and what [`wider`] widens.
const WEIGHTED: [&str; 2] = ["conv", "linear"];

/// One layer of a network spec, as pieces of text.
#[derive(Debug, Clone, PartialEq)]
struct LayerSpec {
    name: Option<String>,
    kind: String,
    /// The arguments inside the parentheses, split at the commas outside nested ones.
    args: Vec<String>,
    /// The layers of a residual block.
    inner: Vec<LayerSpec>,
    has_parens: bool,
}

impl LayerSpec {
    fn from_text(text: &str, layer: &LayerText<'_>) -> Result<Self, ModelError> {
        let (args, inner) = match layer.inner {
            Some((open, close)) if layer.kind == "residual" => {
                let inner = split_layers(text, open, close)?
                    .iter()
                    .map(|l| LayerSpec::from_text(text, l))
                    .collect::<Result<_, _>>()?;
                (Vec::new(), inner)
            }
            Some((open, close)) => (split_args(&text[open..close]), Vec::new()),
            None => (Vec::new(), Vec::new()),
        };
        Ok(LayerSpec {
            name: layer.name.map(str::to_string),
            kind: layer.kind.to_string(),
            args,
            inner,
            has_parens: layer.inner.is_some(),
        })
    }

    fn is_weighted(&self) -> bool {
        WEIGHTED.contains(&self.kind.as_str())
    }

    /// The index of the argument holding the output size: `out=N`, else the first bare
    /// value.
    fn size_index(&self) -> Option<usize> {
        self.args
            .iter()
            .position(|a| a.split('=').next().map(str::trim) == Some("out") && a.contains('='))
            .or_else(|| self.args.iter().position(|a| !a.contains('=')))
    }

    fn size(&self) -> Option<usize> {
        let arg = &self.args[self.size_index()?];
        arg.rsplit('=').next()?.trim().parse().ok()
    }

    fn with_size(&self, size: usize) -> LayerSpec {
        let mut layer = self.clone();
        if let Some(index) = self.size_index() {
            let arg = &self.args[index];
            layer.args[index] = match arg.split_once('=') {
                Some((key, _)) => format!("{}={size}", key.trim()),
                None => size.to_string(),
            };
        }
        layer
    }

    fn render(&self) -> String {
        let mut out = match &self.name {
            Some(name) => format!("{name}="),
            None => String::new(),
        };
        out.push_str(&self.kind);
        if self.kind == "residual" {
            out.push_str(&format!("({})", render_layers(&self.inner)));
        } else if self.has_parens {
            out.push_str(&format!("({})", self.args.join(",")));
        }
        out
    }
}

fn render_layers(layers: &[LayerSpec]) -> String {
    layers
        .iter()
        .map(LayerSpec::render)
        .collect::<Vec<_>>()
        .join("-")
}

/// Splits `a,b=(c,d),e` at the commas outside parentheses.
fn split_args(inner: &str) -> Vec<String> {
    let (mut args, mut depth, mut current) = (Vec::new(), 0usize, String::new());
    for c in inner.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                args.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        args.push(current.trim().to_string());
    }
    args
}

/// A network spec (`1x8x8/conv(4,k=3)-...`) split into its input shape and layers.
#[derive(Debug, Clone, PartialEq)]
struct NetworkSpec {
    input: Vec<usize>,
    layers: Vec<LayerSpec>,
}

impl NetworkSpec {
    fn parse(text: &str) -> Result<Self, ModelError> {
        let slash = text.find('/').unwrap_or(0);
        let input = input_dims(text, 0, slash)?;
        let layers = split_layers(text, slash + 1, text.len())?
            .iter()
            .map(|layer| LayerSpec::from_text(text, layer))
            .collect::<Result<_, _>>()?;
        Ok(NetworkSpec { input, layers })
    }

    fn render(&self) -> String {
        let input: Vec<String> = self.input.iter().map(usize::to_string).collect();
        format!("{}/{}", input.join("x"), render_layers(&self.layers))
    }
}

/// What a spec describes, parsed.
enum Family {
    Mlp(Mlp),
    Network(NetworkSpec),
    Registered,
}

/// The same dispatch as [`crate::ModelRegistry::build`].
fn family(text: &str) -> Result<Family, ModelError> {
    if text.contains('/') {
        return Ok(Family::Network(NetworkSpec::parse(text)?));
    }
    if text.trim_start().starts_with(|c: char| c.is_ascii_digit()) {
        return Ok(Family::Mlp(Mlp::from_spec(text)?));
    }
    Ok(Family::Registered)
}

/// The linear (softmax-regression) model on `n_inputs` flattened inputs: `d-k:identity`.
///
/// ```
/// assert_eq!(unstuck_models::variants::linear_on_inputs(64, 10), "64-10:identity");
/// ```
pub fn linear_on_inputs(n_inputs: usize, n_outputs: usize) -> String {
    format!("{n_inputs}-{n_outputs}:identity")
}

/// A model with one hidden layer of `width` units and `activation`: the guide's
/// reference when the user's model has no hidden nonlinearity to keep.
pub fn one_hidden_layer(
    n_inputs: usize,
    width: usize,
    n_outputs: usize,
    activation: Activation,
) -> Result<String, ModelError> {
    Ok(Mlp::builder(&[n_inputs, width.max(1), n_outputs])
        .activation(activation)
        .build()?
        .to_string())
}

/// Whether the model of `spec` is a linear map of its inputs (an MLP without hidden
/// layers).
pub fn is_linear(spec: &str) -> Result<bool, ModelError> {
    Ok(matches!(family(spec)?, Family::Mlp(mlp) if mlp.widths().len() == 2))
}

/// Whether the model of `spec` contains every linear map of its inputs: a linear MLP
/// does, and so does any MLP whose hidden layers are all at least `min(inputs, outputs)`
/// wide (a deep linear net exactly; a tanh or ReLU net approximately, by working in the
/// near-linear range). For a network or a registered model we do not claim it (pooling
/// and narrow channels can drop what a linear map of the pixels uses).
///
/// ```
/// use unstuck_models::variants::contains_linear_map;
/// assert!(contains_linear_map("64-128-10:relu")?);
/// assert!(!contains_linear_map("64-4-10:relu")?);
/// # Ok::<(), unstuck_models::ModelError>(())
/// ```
pub fn contains_linear_map(spec: &str) -> Result<bool, ModelError> {
    Ok(match family(spec)? {
        Family::Mlp(mlp) => {
            let widths = mlp.widths();
            let rank = widths[0].min(widths[widths.len() - 1]);
            widths[1..widths.len() - 1].iter().all(|&w| w >= rank)
        }
        Family::Network(_) | Family::Registered => false,
    })
}

/// Whether an MLP computes a nonlinear function of its input.
fn is_nonlinear(mlp: &Mlp) -> bool {
    mlp.widths().len() > 2 && mlp.activation() != Activation::Identity
}

/// The shallower model of the same kind, or `None` when there is none (a linear MLP, a
/// network with a single weighted block, a registered model).
///
/// An MLP keeps its activation and initialiser and gets one hidden layer of its
/// narrowest hidden width; a network keeps everything up to the end of its first
/// weighted block (see the module's documentation), then `flatten` (after a
/// convolution) and its own output layer.
pub fn shallower(spec: &str) -> Result<Option<String>, ModelError> {
    match family(spec)? {
        Family::Mlp(mlp) if is_nonlinear(&mlp) => {
            let widths = mlp.widths();
            let hidden = &widths[1..widths.len() - 1];
            if hidden.len() == 1 {
                return Ok(None);
            }
            let narrowest = hidden.iter().copied().min().unwrap_or(1);
            let model = Mlp::builder(&[widths[0], narrowest, widths[widths.len() - 1]])
                .activation(mlp.activation())
                .init(mlp.initializer())
                .build()?;
            Ok(Some(model.to_string()))
        }
        Family::Mlp(_) | Family::Registered => Ok(None),
        Family::Network(network) => Ok(shallower_network(&network).map(|n| n.render())),
    }
}

fn shallower_network(network: &NetworkSpec) -> Option<NetworkSpec> {
    let layers = &network.layers;
    let output = layers.last().filter(|l| l.kind == "linear")?;
    let first = layers.iter().position(LayerSpec::is_weighted)?;
    let block_end = layers[first + 1..]
        .iter()
        .position(|l| l.is_weighted() || l.kind == "flatten" || l.kind == "residual")
        .map_or(layers.len(), |offset| first + 1 + offset);
    // Nothing to cut: the first block already ends in the output layer.
    if block_end >= layers.len() - 1 || layers[first].kind == "linear" && first == layers.len() - 1
    {
        return None;
    }
    let mut kept: Vec<LayerSpec> = layers[..block_end].to_vec();
    let has_conv = kept.iter().any(|l| l.kind == "conv");
    if has_conv && !kept.iter().any(|l| l.kind == "flatten") {
        kept.push(LayerSpec {
            name: None,
            kind: "flatten".into(),
            args: Vec::new(),
            inner: Vec::new(),
            has_parens: false,
        });
    }
    let mut head = output.clone();
    head.name = None;
    // `in=` would name the deeper model's width.
    head.args
        .retain(|a| a.split('=').next().map(str::trim) != Some("in"));
    kept.push(head);
    let shallower = NetworkSpec {
        input: network.input.clone(),
        layers: kept,
    };
    (shallower != *network).then_some(shallower)
}

/// The same model with every hidden width (an MLP) or every channel count and hidden
/// linear width (a network, residual blocks included) multiplied by `factor`; the output
/// layer keeps its size. `None` when there is nothing to widen (a linear model, a
/// registered model) or `factor < 2`.
pub fn wider(spec: &str, factor: usize) -> Result<Option<String>, ModelError> {
    if factor < 2 {
        return Ok(None);
    }
    match family(spec)? {
        Family::Mlp(mlp) if mlp.widths().len() > 2 => {
            let mut widths = mlp.widths().to_vec();
            let last = widths.len() - 1;
            for width in &mut widths[1..last] {
                *width = width.saturating_mul(factor);
            }
            let model = Mlp::builder(&widths)
                .activation(mlp.activation())
                .residual(mlp.residual())
                .init(mlp.initializer())
                .build()?;
            Ok(Some(model.to_string()))
        }
        Family::Mlp(_) | Family::Registered => Ok(None),
        Family::Network(mut network) => {
            let n = network.layers.len();
            let mut changed = false;
            for (index, layer) in network.layers.iter_mut().enumerate() {
                let is_output = index == n - 1;
                changed |= widen(layer, factor, is_output);
            }
            Ok(changed.then(|| network.render()))
        }
    }
}

/// Widens a weighted layer (not the output) or the layers of a residual block.
fn widen(layer: &mut LayerSpec, factor: usize, is_output: bool) -> bool {
    if layer.kind == "residual" {
        let mut changed = false;
        for inner in &mut layer.inner {
            changed |= widen(inner, factor, false);
        }
        return changed;
    }
    if !layer.is_weighted() || is_output {
        return false;
    }
    match layer.size() {
        Some(size) => {
            *layer = layer.with_size(size.saturating_mul(factor));
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelRegistry;

    /// Every variant must build, and with the sizes the rule says.
    fn check_builds(spec: &str) -> usize {
        ModelRegistry::builtin().build(spec).unwrap().n_params()
    }

    #[test]
    fn mlp_variants_keep_the_kind() {
        let deep = "2-16-8-16-2:tanh,init=xavier_uniform";
        assert_eq!(
            shallower(deep).unwrap().as_deref(),
            Some("2-8-2:tanh,init=xavier_uniform")
        );
        assert_eq!(
            wider(deep, 2).unwrap().as_deref(),
            Some("2-32-16-32-2:tanh,init=xavier_uniform")
        );
        // One hidden layer is already the shallow model; a linear one has neither.
        assert_eq!(shallower("2-16-2:relu").unwrap(), None);
        assert_eq!(shallower("2-2:identity").unwrap(), None);
        assert_eq!(wider("2-2:identity", 2).unwrap(), None);
        assert_eq!(
            wider("2-16-16-2:relu,residual", 3).unwrap().as_deref(),
            Some("2-48-48-2:relu,residual")
        );
        assert_eq!(wider(deep, 1).unwrap(), None);
    }

    #[test]
    fn a_cnn_keeps_its_first_block() {
        let cnn =
            "1x8x8/c1=conv(4,k=3,pad=1)-tanh-maxpool(2)-conv(out=6,k=3)-relu-flatten-fc=linear(10)";
        let shallow = shallower(cnn).unwrap().unwrap();
        assert_eq!(
            shallow,
            "1x8x8/c1=conv(4,k=3,pad=1)-tanh-maxpool(2)-flatten-linear(10)"
        );
        // conv 4*1*9+4 = 40, linear 4*4*4*10+10 = 650.
        assert_eq!(check_builds(&shallow), 40 + 650);
        let wide = wider(cnn, 2).unwrap().unwrap();
        assert_eq!(
            wide,
            "1x8x8/c1=conv(8,k=3,pad=1)-tanh-maxpool(2)-conv(out=12,k=3)-relu-flatten-fc=linear(10)"
        );
        assert!(check_builds(&wide) > check_builds(cnn));
    }

    #[test]
    fn vector_networks_and_residual_blocks() {
        let net = "16/linear(32)-relu-residual(linear(32)-relu)-linear(4)";
        assert_eq!(
            shallower(net).unwrap().as_deref(),
            Some("16/linear(32)-relu-linear(4)")
        );
        let wide = wider(net, 2).unwrap().unwrap();
        assert_eq!(
            wide,
            "16/linear(64)-relu-residual(linear(64)-relu)-linear(4)"
        );
        assert_eq!(
            check_builds(&wide),
            16 * 64 + 64 + 64 * 64 + 64 + 64 * 4 + 4
        );
        // A single block before the output: nothing shallower of the same kind.
        assert_eq!(
            shallower("1x8x8/conv(4)-relu-flatten-linear(10)").unwrap(),
            None
        );
        assert_eq!(shallower("16/linear(4)").unwrap(), None);
        assert_eq!(wider("16/linear(4)", 2).unwrap(), None);
    }

    #[test]
    fn registered_models_have_no_variants_and_bad_specs_are_errors() {
        assert_eq!(shallower("mymodel:width=3").unwrap(), None);
        assert_eq!(wider("mymodel:width=3", 2).unwrap(), None);
        assert!(matches!(shallower("2-x-2"), Err(ModelError::Spec(_))));
        assert!(shallower("0x8/linear(2)").is_err());
        assert_eq!(linear_on_inputs(4, 3), "4-3:identity");
        assert_eq!(
            one_hidden_layer(4, 8, 3, Activation::Relu).unwrap(),
            "4-8-3:relu"
        );
    }
}

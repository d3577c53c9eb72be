//! The multilayer perceptron: linear layers with an activation between them.

use crate::{Activation, Architecture, Init, Linear, Model, ModelError, ParamSpec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::fmt;
use unstuck_autodiff::{Element, Tape, Var};

/// A multilayer perceptron: `widths = [in, h1, ..., out]` gives `widths.len() - 1`
/// linear layers, the activation after every hidden layer, and raw logits out.
///
/// With residual connections, a hidden layer whose input is itself a hidden layer of the
/// same width computes `h_{k+1} = h_k + act(W_k h_k + b_k)`; the first layer (its input
/// is the data) and the output layer never have one.
///
/// Parameters are named as in this PyTorch module, so `state_dict()` and theta hold the
/// same tensors in the same order (`layers.0.weight`, `layers.0.bias`,
/// `layers.1.weight`, ...):
///
/// ```python
/// class Mlp(nn.Module):
///     def __init__(self, widths, act):
///         super().__init__()
///         self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
///         self.act = act
///     def forward(self, x):
///         for layer in self.layers[:-1]:
///             x = self.act(layer(x))        # or x + self.act(layer(x)) with residual
///         return self.layers[-1](x)
/// ```
///
/// ```
/// use unstuck_models::{Activation, Architecture, Init, Mlp};
/// let built = Mlp::builder(&[64, 128, 128, 10])
///     .activation(Activation::Relu)
///     .residual(true)
///     .init(Init::KaimingNormal)
///     .build()
///     .unwrap();
/// let parsed = Mlp::from_spec("64-128-128-10:relu,residual,init=kaiming_normal").unwrap();
/// assert_eq!(built, parsed);
/// assert_eq!(built.n_params(), 64 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10);
/// assert_eq!(built.residual_layers(), vec![1]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    widths: Vec<usize>,
    activation: Activation,
    residual: bool,
    init: Init,
    layers: Vec<Linear>,
    layout: Vec<ParamSpec>,
}

/// Builds an [`Mlp`]; defaults: ReLU, no residual connections, PyTorch's init.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpBuilder {
    widths: Vec<usize>,
    activation: Activation,
    residual: bool,
    init: Init,
}

impl MlpBuilder {
    /// The activation after every hidden layer.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Whether equal-width hidden layers get a skip connection.
    pub fn residual(mut self, residual: bool) -> Self {
        self.residual = residual;
        self
    }

    /// The initialiser used by [`Model::init`].
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// Checks the widths and the activation, and lays out theta.
    pub fn build(self) -> Result<Mlp, ModelError> {
        let widths = self.widths;
        if widths.len() < 2 {
            return Err(ModelError::TooFewWidths { got: widths.len() });
        }
        if let Some(index) = widths.iter().position(|&w| w == 0) {
            return Err(ModelError::ZeroWidth { index });
        }
        self.activation.validate()?;
        let mut layers = Vec::with_capacity(widths.len() - 1);
        let mut layout = Vec::with_capacity(2 * (widths.len() - 1));
        let mut offset = 0usize;
        for (k, pair) in widths.windows(2).enumerate() {
            let layer = Linear {
                fan_in: pair[0],
                fan_out: pair[1],
                offset,
            };
            // Checked so that a huge spec is an error, not an overflow.
            offset = pair[0]
                .checked_add(1)
                .and_then(|n| n.checked_mul(pair[1]))
                .and_then(|n| n.checked_add(offset))
                .ok_or(ModelError::TooManyParams)?;
            layout.extend(layer.layout(&format!("layers.{k}")));
            layers.push(layer);
        }
        Ok(Mlp {
            widths,
            activation: self.activation,
            residual: self.residual,
            init: self.init,
            layers,
            layout,
        })
    }
}

impl Mlp {
    /// A builder for the widths `[in, hidden..., out]`.
    pub fn builder(widths: &[usize]) -> MlpBuilder {
        MlpBuilder {
            widths: widths.to_vec(),
            activation: Activation::Relu,
            residual: false,
            init: Init::default(),
        }
    }

    /// Parses a spec string such as `"64-128-128-10:relu,residual"`; see
    /// [`crate::spec`] for the grammar.
    pub fn from_spec(spec: &str) -> Result<Self, ModelError> {
        crate::spec::parse_mlp(spec)
    }

    /// `[in, hidden..., out]`.
    pub fn widths(&self) -> &[usize] {
        &self.widths
    }

    /// The hidden-layer activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Whether residual connections were asked for.
    pub fn residual(&self) -> bool {
        self.residual
    }

    /// The initialiser used by [`Model::init`].
    pub fn initializer(&self) -> Init {
        self.init
    }

    /// The linear layers, in order.
    pub fn layers(&self) -> &[Linear] {
        &self.layers
    }

    /// Indices of the layers that carry a skip connection.
    pub fn residual_layers(&self) -> Vec<usize> {
        (0..self.layers.len())
            .filter(|&k| self.has_skip(k))
            .collect()
    }

    fn has_skip(&self, k: usize) -> bool {
        let layer = &self.layers[k];
        self.residual && k > 0 && k + 1 < self.layers.len() && layer.fan_in == layer.fan_out
    }
}

impl Architecture for Mlp {
    fn layout(&self) -> &[ParamSpec] {
        &self.layout
    }

    fn input_width(&self) -> usize {
        self.widths[0]
    }

    fn output_width(&self) -> usize {
        self.widths[self.widths.len() - 1]
    }

    /// Linear layers and elementwise activations: every example on its own.
    fn per_example(&self) -> bool {
        true
    }
}

impl<T: Element> Model<T> for Mlp {
    /// Draws every layer in order, weight then bias, from one `ChaCha8Rng` stream in
    /// `f64`, then rounds to `T`: the `f32` theta of a seed is the `f64` theta rounded.
    fn init(&self, seed: u64) -> Vec<T> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut theta = vec![0.0f64; self.n_params()];
        for layer in &self.layers {
            let (weight, rest) = theta[layer.offset..].split_at_mut(layer.fan_in * layer.fan_out);
            let bias = &mut rest[..layer.fan_out];
            self.init
                .fill_linear(&mut rng, layer.fan_in, layer.fan_out, weight, bias);
        }
        theta.into_iter().map(T::from_f64).collect()
    }

    fn forward(&self, tape: &Tape<T>, theta: Var, x: Var) -> Var {
        let mut h = x;
        let last = self.layers.len() - 1;
        for (k, layer) in self.layers.iter().enumerate() {
            h = if k == last {
                layer.apply(tape, theta, h)
            } else {
                let a = layer.apply_activated(tape, theta, h, self.activation);
                if self.has_skip(k) { tape.add(h, a) } else { a }
            };
        }
        h
    }
}

impl fmt::Display for Mlp {
    /// The canonical spec string; [`Mlp::from_spec`] of it gives back an equal model.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let widths: Vec<String> = self.widths.iter().map(usize::to_string).collect();
        write!(f, "{}:{}", widths.join("-"), self.activation)?;
        if self.residual {
            f.write_str(",residual")?;
        }
        if self.init != Init::default() {
            write!(f, ",init={}", self.init)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Mlp {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, ModelError> {
        Mlp::from_spec(s)
    }
}

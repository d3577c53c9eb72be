//! PyTorch's `nn.Sequential` as a model: layers in order, one flat theta.

use crate::chain::Chain;
use crate::{
    Architecture, BufferDecl, Forward, Init, Layer, Model, ModelError, ParamDecl, ParamInit,
    ParamSpec, Pass,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::fmt;
use unstuck_autodiff::{Element, Tape, Var};

/// Layers applied in order to examples of a fixed shape, ending in logits `[classes]`.
///
/// Parameters are named as in PyTorch: `{layer}.{param}`, where a layer's name is its
/// position (as in `nn.Sequential`) unless given (`push_named("conv1", ...)` gives
/// `conv1.weight`; the empty name puts a layer's parameters at the top level). Theta holds
/// them in that order; batch norm's running statistics are buffers, outside theta
/// ([`Architecture::buffer_layout`]).
///
/// The input may be the examples' shape (`[N, 1, 8, 8]`) or flattened (`[N, 64]`), so
/// any dataset of feature rows trains an image model.
///
/// ```
/// use unstuck_models::{Activation, Architecture, AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, Sequential};
/// let cnn = Sequential::builder(&[1, 8, 8])
///     .push_named("conv1", Conv2d::new(1, 4, 3)?.padding(1))
///     .push(Activation::Tanh)
///     .push(MaxPool2d::new(2)?)
///     .push_named("conv2", Conv2d::new(4, 6, 3)?)
///     .push(Activation::Tanh)
///     .push(AvgPool2d::new(2)?)
///     .push(Flatten)
///     .push_named("fc", Linear::new(6, 10))
///     .build()?;
/// assert_eq!(cnn.n_params(), 332);
/// assert_eq!(cnn.layout()[4].name, "fc.weight");
/// // A layer that does not fit names itself, its position and both shapes.
/// let err = Sequential::builder(&[1, 8, 8]).push(Linear::new(10, 2)).build().unwrap_err();
/// assert!(err.to_string().contains("layer 0 (linear) takes [..., 10], got [1, 8, 8]"), "{err}");
/// # Ok::<(), unstuck_models::ModelError>(())
/// ```
#[derive(Debug)]
pub struct Sequential {
    input_dims: Vec<usize>,
    output_width: usize,
    chain: Chain,
    init: Init,
    params: Vec<ParamDecl>,
    layout: Vec<ParamSpec>,
    buffer_layout: Vec<ParamSpec>,
    initial_buffers: Vec<f64>,
}

/// Builds a [`Sequential`]; the shapes are checked by [`SequentialBuilder::build`].
#[derive(Debug)]
pub struct SequentialBuilder {
    input_dims: Vec<usize>,
    chain: Chain,
    init: Init,
}

impl SequentialBuilder {
    /// Appends a layer named by its position.
    pub fn push(self, layer: impl Layer + 'static) -> Self {
        let name = self.chain.children.len().to_string();
        self.push_boxed(name, Box::new(layer))
    }

    /// Appends a layer with a name of its own (`""`: its parameters at the top level).
    pub fn push_named(self, name: &str, layer: impl Layer + 'static) -> Self {
        self.push_boxed(name.to_string(), Box::new(layer))
    }

    /// Appends a boxed layer (from a registry).
    pub fn push_boxed(mut self, name: String, layer: Box<dyn Layer>) -> Self {
        self.chain.push(name, layer);
        self
    }

    /// The initialiser of weights and biases used by [`Model::init`].
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// Checks every layer against the shape it receives and lays out theta.
    pub fn build(self) -> Result<Sequential, ModelError> {
        if self.input_dims.is_empty() || self.input_dims.contains(&0) {
            return Err(ModelError::InputDims {
                dims: self.input_dims,
            });
        }
        let output =
            self.chain
                .output_dims(&self.input_dims)
                .map_err(|e| ModelError::LayerShape {
                    position: e.position,
                    layer: e.layer,
                    got: e.got,
                    expected: e.expected,
                })?;
        let output_width = match output[..] {
            [width] if width > 0 => width,
            _ => return Err(ModelError::OutputDims { dims: output }),
        };
        let params = self.chain.params();
        let layout = pack(params.iter().map(|p| (p.name.clone(), p.shape.clone())))?;
        let buffers = self.chain.buffers();
        let buffer_layout = pack(buffers.iter().map(|b| (b.name.clone(), b.shape.clone())))?;
        let initial_buffers = buffers
            .iter()
            .flat_map(|b: &BufferDecl| std::iter::repeat_n(b.initial, b.shape.iter().product()))
            .collect();
        Ok(Sequential {
            input_dims: self.input_dims,
            output_width,
            chain: self.chain,
            init: self.init,
            params,
            layout,
            buffer_layout,
            initial_buffers,
        })
    }
}

/// Consecutive tensors from offset 0, with overflow checked.
fn pack(tensors: impl Iterator<Item = (String, Vec<usize>)>) -> Result<Vec<ParamSpec>, ModelError> {
    let mut offset = 0usize;
    tensors
        .map(|(name, shape)| {
            let len = shape
                .iter()
                .try_fold(1usize, |n, &d| n.checked_mul(d))
                .ok_or(ModelError::TooManyParams)?;
            let spec = ParamSpec {
                name,
                shape,
                offset,
            };
            offset = offset.checked_add(len).ok_or(ModelError::TooManyParams)?;
            Ok(spec)
        })
        .collect()
}

impl Sequential {
    /// A builder for examples of shape `input_dims` (`[1, 8, 8]`, `[16]`, `[5]` tokens).
    pub fn builder(input_dims: &[usize]) -> SequentialBuilder {
        SequentialBuilder {
            input_dims: input_dims.to_vec(),
            chain: Chain::default(),
            init: Init::default(),
        }
    }

    /// The layers with their names, in order.
    pub fn layers(&self) -> impl Iterator<Item = (&str, &dyn Layer)> {
        self.chain
            .children
            .iter()
            .map(|child| (child.name.as_str(), child.layer.as_ref()))
    }

    /// The initialiser of weights and biases.
    pub fn initializer(&self) -> Init {
        self.init
    }

    /// Records the parameters as tensors of their declared shapes.
    fn param_vars<T: Element>(&self, tape: &Tape<T>, theta: Var) -> Vec<Var> {
        self.layout
            .iter()
            .map(|spec| tape.reshape(tape.slice(theta, spec.offset, spec.len()), &spec.shape))
            .collect()
    }
}

impl fmt::Display for Sequential {
    /// The network spec; [`crate::ModelRegistry::build`] of it gives back the same layers
    /// (with the default initialiser).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let input: Vec<String> = self.input_dims.iter().map(usize::to_string).collect();
        write!(f, "{}/{}", input.join("x"), self.chain.describe())
    }
}

impl Architecture for Sequential {
    fn layout(&self) -> &[ParamSpec] {
        &self.layout
    }

    fn input_width(&self) -> usize {
        self.input_dims.iter().product()
    }

    fn output_width(&self) -> usize {
        self.output_width
    }

    fn input_dims(&self) -> Vec<usize> {
        self.input_dims.clone()
    }

    fn buffer_layout(&self) -> &[ParamSpec] {
        &self.buffer_layout
    }

    fn initial_buffers(&self) -> Vec<f64> {
        self.initial_buffers.clone()
    }

    fn token_vocabulary(&self) -> Option<usize> {
        self.chain.token_vocabulary()
    }

    fn per_example(&self) -> bool {
        self.chain.per_example()
    }

    fn check_training_batch(&self, batch: usize) -> Result<(), ModelError> {
        match self.chain.too_small_batch(&self.input_dims, batch) {
            None => Ok(()),
            Some((position, layer, input, needed)) => Err(ModelError::TrainingBatch {
                position,
                layer,
                input,
                batch,
                needed,
            }),
        }
    }
}

impl<T: Element> Model<T> for Sequential {
    /// Draws every parameter in layout order from one `ChaCha8Rng` stream in `f64`, then
    /// rounds to `T`: weights and biases by the model's [`Init`], the rest by their layer's
    /// law.
    fn init(&self, seed: u64) -> Vec<T> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut theta = vec![0.0f64; self.n_params()];
        for (param, spec) in self.params.iter().zip(&self.layout) {
            let law = match param.init {
                ParamInit::Weight { fan_in, fan_out } => self.init.weight(fan_in, fan_out),
                ParamInit::Bias { fan_in } => self.init.bias(fan_in),
                ParamInit::Fixed(law) => law,
            };
            law.fill(&mut rng, &mut theta[spec.range()]);
        }
        theta.into_iter().map(T::from_f64).collect()
    }

    /// A training-mode pass with dropout seed 0 that records no buffer updates.
    fn forward(&self, tape: &Tape<T>, theta: Var, x: Var) -> Var {
        let buffers = self.initial_buffers.clone();
        Model::<T>::forward_pass(self, tape, theta, x, &mut Pass::train(0, &buffers))
    }

    fn forward_pass(&self, tape: &Tape<T>, theta: Var, x: Var, pass: &mut Pass<'_>) -> Var {
        assert_eq!(
            pass.buffers().len(),
            self.initial_buffers.len(),
            "a pass with {} buffer values for a model with {} buffer elements",
            pass.buffers().len(),
            self.initial_buffers.len()
        );
        let params = self.param_vars(tape, theta);
        let batch = tape.dims(x)[0];
        let mut dims = vec![batch];
        dims.extend(&self.input_dims);
        let x = if tape.dims(x) == dims {
            x
        } else {
            tape.reshape(x, &dims)
        };
        let (mode, buffers, updates) = pass.parts();
        let mut cx = Forward::new(tape, mode, &params, buffers, updates);
        self.chain.forward(&mut cx, x)
    }
}

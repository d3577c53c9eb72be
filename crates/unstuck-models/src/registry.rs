//! Spec strings to models: `"64-128-10:relu"` (an MLP), `"1x8x8/conv(4,k=3)-..."` (a
//! layered network), or `"name:args"` (a model someone registered).
//!
//! [`ModelRegistry::builtin`] is the one list of layers the spec grammar, `unstuck list`
//! and the CLI know; a user adds a layer of their own with
//! [`ModelRegistry::register_layer`] (its builder reads its keys with core's
//! [`SpecArgs`], so help texts list them) or a whole model with
//! [`ModelRegistry::register_model`], and everything that takes a model spec takes theirs
//! (see `examples/custom_layer.rs`).

use crate::net_spec::parse_network;
use crate::{
    Activation, AvgPool2d, BatchNorm, CausalSelfAttention, Conv2d, Dropout, Embedding, Flatten,
    Init, Layer, LayerNorm, Linear, MaxPool2d, Mlp, Model, ModelError, PositionEmbedding,
    TokenMean,
};
use std::fmt;
use unstuck_core::spec::{
    KeyHelp, Spec, SpecArg, SpecArgs, SpecError, SpecValue, ValueKind, describe_keys, lookup,
    parse_spec,
};

/// A model usable at both element types, shown as its spec: what a registry builds.
pub trait AnyModel: Model<f32> + Model<f64> + fmt::Display {}

impl<M: Model<f32> + Model<f64> + fmt::Display> AnyModel for M {}

/// Builds a layer from its spec arguments and the shape of one example reaching it.
pub type BuildLayer = fn(&mut SpecArgs<'_>, &[usize]) -> Result<Box<dyn Layer>, ModelError>;

/// Builds a whole model from its spec arguments.
pub type BuildModel = fn(&mut SpecArgs<'_>) -> Result<Box<dyn AnyModel>, ModelError>;

/// One layer kind a network spec can name.
#[derive(Debug, Clone, Copy)]
pub struct LayerEntry {
    /// Name used in specs (`conv`).
    pub name: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// The builder.
    pub build: BuildLayer,
}

impl LayerEntry {
    /// Every key the builder reads, with its default (from the builder's own record).
    pub fn keys(&self) -> Vec<KeyHelp> {
        // Two bare sizes stand in for the required ones (`conv(4)`, `embedding(11, 8)`);
        // builders read every other key before they check the shape, so the record is
        // complete even when this shapeless call fails.
        let size = SpecArg {
            key: None,
            position: 0,
            value: SpecValue {
                kind: ValueKind::Number(1.0),
                position: 0,
            },
        };
        let spec = Spec {
            name: self.name.to_string(),
            position: 0,
            args: vec![size.clone(), size],
        };
        let mut args = SpecArgs::new("", &spec);
        let _ = (self.build)(&mut args, &[1, 1, 1]);
        args.keys().to_vec()
    }

    /// Summary, then `key=default` for every key.
    pub fn help(&self) -> String {
        let keys = self.keys();
        if keys.is_empty() {
            self.summary.to_string()
        } else {
            format!("{} Keys: {}", self.summary, describe_keys(&keys))
        }
    }
}

/// One whole model a spec can name (`name:args`).
#[derive(Debug, Clone, Copy)]
pub struct ModelEntry {
    /// Name used in specs.
    pub name: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// The builder.
    pub build: BuildModel,
}

/// The layers and models that model specs can name.
#[derive(Debug, Clone)]
pub struct ModelRegistry {
    layers: Vec<LayerEntry>,
    models: Vec<ModelEntry>,
}

fn entry(name: &'static str, summary: &'static str, build: BuildLayer) -> LayerEntry {
    LayerEntry {
        name,
        summary,
        build,
    }
}

impl ModelRegistry {
    /// Every layer this crate ships. Add a line here to add one to the grammar and the CLI.
    pub fn builtin() -> Self {
        let mut layers = vec![
            entry(
                "linear",
                "linear(out): nn.Linear on the last axis; in= defaults to the width reaching it.",
                linear,
            ),
            entry(
                "conv",
                "conv(out,k=3): nn.Conv2d on [C, H, W]; C is inferred.",
                conv,
            ),
            entry(
                "maxpool",
                "maxpool(k): nn.MaxPool2d; stride= defaults to k.",
                max_pool,
            ),
            entry(
                "avgpool",
                "avgpool(k): nn.AvgPool2d; stride= defaults to k.",
                avg_pool,
            ),
            entry("flatten", "nn.Flatten: one example to one vector.", flatten),
            entry(
                "batchnorm",
                "BatchNorm1d on [C] or [C, L], BatchNorm2d on [C, H, W].",
                batch_norm,
            ),
            entry("layernorm", "nn.LayerNorm over the last axis.", layer_norm),
            entry(
                "dropout",
                "dropout(p): nn.Dropout with a seeded mask (identity in eval mode); p defaults to 0.5.",
                dropout,
            ),
            entry(
                "embedding",
                "embedding(vocab,width): nn.Embedding of token ids, [T] to [T, width].",
                embedding,
            ),
            entry(
                "posembed",
                "A learned position embedding added to [T, width]; max_len= defaults to T.",
                position_embedding,
            ),
            entry(
                "attention",
                "attention(heads): causal self-attention on [T, width] (q, k, v, o); 1 head by default.",
                attention,
            ),
            entry(
                "tokenmean",
                "The mean over positions: [T, width] to [width].",
                token_mean,
            ),
        ];
        for name in Activation::NAMES {
            layers.push(entry(name, "An elementwise activation.", activation));
        }
        ModelRegistry {
            layers,
            models: Vec::new(),
        }
    }

    /// Adds a layer kind; names must be unique (`residual` is taken by the grammar).
    pub fn register_layer(&mut self, layer: LayerEntry) -> Result<(), ModelError> {
        self.check_free(layer.name)?;
        self.layers.push(layer);
        Ok(())
    }

    /// Adds a whole model, built from `name:args`; names must be unique.
    pub fn register_model(&mut self, model: ModelEntry) -> Result<(), ModelError> {
        self.check_free(model.name)?;
        self.models.push(model);
        Ok(())
    }

    fn check_free(&self, name: &str) -> Result<(), ModelError> {
        let taken = name == "residual"
            || self.layers.iter().any(|e| e.name == name)
            || self.models.iter().any(|e| e.name == name);
        if taken {
            return Err(ModelError::DuplicateName {
                name: name.to_string(),
            });
        }
        Ok(())
    }

    /// The layer kinds, in registration order.
    pub fn layers(&self) -> &[LayerEntry] {
        &self.layers
    }

    /// The registered whole models.
    pub fn models(&self) -> &[ModelEntry] {
        &self.models
    }

    /// Builds the model of a spec: an MLP (`64-128-10:relu`), a layered network
    /// (`1x8x8/conv(4,k=3)-tanh-flatten-linear(10)`, see [`crate::net_spec`]) or a
    /// registered model (`name:args`).
    ///
    /// ```
    /// use unstuck_models::{Architecture, ModelRegistry};
    /// let registry = ModelRegistry::builtin();
    /// let cnn = registry.build("1x8x8/conv(4,k=3,pad=1)-tanh-maxpool(2)-conv(6,k=3)-tanh-avgpool(2)-flatten-linear(10)")?;
    /// assert_eq!(cnn.n_params(), 332);
    /// assert_eq!(registry.build("64-128-10:relu")?.n_params(), 64 * 128 + 128 + 128 * 10 + 10);
    /// let err = registry.build("1x8x8/conv(4,k=3)-linear(10)-tanh").unwrap_err();
    /// assert!(err.to_string().contains("model must end in [classes]"), "{err}");
    /// # Ok::<(), unstuck_models::ModelError>(())
    /// ```
    pub fn build(&self, text: &str) -> Result<Box<dyn AnyModel>, ModelError> {
        self.build_with_init(text, Init::default())
    }

    /// [`ModelRegistry::build`] with weights and biases drawn by `init` (for an MLP spec
    /// its own `init=` key wins).
    pub fn build_with_init(&self, text: &str, init: Init) -> Result<Box<dyn AnyModel>, ModelError> {
        if text.contains('/') {
            return Ok(Box::new(parse_network(self, text, init)?));
        }
        if text.trim_start().starts_with(|c: char| c.is_ascii_digit()) {
            return Ok(Box::new(Mlp::from_spec(text)?));
        }
        let spec = parse_spec(text)?;
        let entry = lookup(text, &spec, "model", &self.models, |e| e.name)?;
        let mut args = SpecArgs::new(text, &spec);
        let model = (entry.build)(&mut args)?;
        args.finish()?;
        Ok(model)
    }
}

impl Default for ModelRegistry {
    fn default() -> Self {
        Self::builtin()
    }
}

/// A required size, written as the first bare value (`linear(10)`) or as `key=10`.
pub fn size_arg(args: &mut SpecArgs<'_>, key: &'static str) -> Result<usize, SpecError> {
    if let Some(size) = args.usize_opt(key)? {
        return Ok(size);
    }
    match args.positional() {
        Some(value) => match value.kind {
            ValueKind::Number(x) if x >= 1.0 && x.fract() == 0.0 && x < 9e15 => Ok(x as usize),
            _ => Err(args.bad_value(key, value, "a positive whole number")),
        },
        None => Err(SpecError::MissingKey {
            spec: args.text().to_string(),
            owner: args.owner().to_string(),
            key,
        }),
    }
}

/// The error of a layer that cannot be built on the shape reaching it.
pub fn shape_error(layer: &str, input: &[usize], expected: &str) -> ModelError {
    ModelError::LayerShape {
        position: 0,
        layer: layer.to_string(),
        got: input.to_vec(),
        expected: expected.to_string(),
    }
}

fn last(input: &[usize]) -> usize {
    input.last().copied().unwrap_or(0)
}

fn linear(args: &mut SpecArgs<'_>, input: &[usize]) -> Result<Box<dyn Layer>, ModelError> {
    let fan_out = size_arg(args, "out")?;
    let fan_in = args.usize_opt("in")?.unwrap_or(last(input));
    Ok(Box::new(Linear::new(fan_in, fan_out)))
}

fn conv(args: &mut SpecArgs<'_>, input: &[usize]) -> Result<Box<dyn Layer>, ModelError> {
    let out = size_arg(args, "out")?;
    let kernel = args.usize("k", 3)?;
    let stride = args.usize("stride", 1)?;
    let padding = args.usize("pad", 0)?;
    let bias = args.bool("bias", true)?;
    let [channels, _, _] = input[..] else {
        return Err(shape_error("conv", input, "[C, H, W]"));
    };
    if stride == 0 {
        return Err(ModelError::BadLayerArgument {
            layer: "conv",
            message: "stride must be positive".into(),
        });
    }
    let conv = Conv2d::new(channels, out, kernel)?
        .stride(stride)
        .padding(padding)
        .bias(bias);
    Ok(Box::new(conv))
}

fn max_pool(args: &mut SpecArgs<'_>, _: &[usize]) -> Result<Box<dyn Layer>, ModelError> {
    let kernel = size_arg(args, "k")?;
    let stride = args.usize_opt("stride")?.unwrap_or(kernel);
    Ok(Box::new(MaxPool2d::with_stride(kernel, stride)?))
}

fn avg_pool(args: &mut SpecArgs<'_>, _: &[usize]) -> Result<Box<dyn Layer>, ModelError> {
    let kernel = size_arg(args, "k")?;
    let stride = args.usize_opt("stride")?.unwrap_or(kernel);
    Ok(Box::new(AvgPool2d::with_stride(kernel, stride)?))
}

fn flatten(_: &mut SpecArgs<'_>, _: &[usize]) -> Result<Box<dyn Layer>, ModelError> {
    Ok(Box::new(Flatten))
}

fn batch_norm(args: &mut SpecArgs<'_>, input: &[usize]) -> Result<Box<dyn Layer>, ModelError> {
    let eps = args.f64("eps", crate::DEFAULT_NORM_EPS)?;
    let momentum = args.f64("momentum", crate::DEFAULT_BN_MOMENTUM)?;
    let spatial_rank = match input.len() {
        1 | 2 => 1,
        3 => 2,
        _ => return Err(shape_error("batchnorm", input, "[C], [C, L] or [C, H, W]")),
    };
    Ok(Box::new(BatchNorm::with_options(
        input[0],
        spatial_rank,
        eps,
        momentum,
    )?))
}

fn layer_norm(args: &mut SpecArgs<'_>, input: &[usize]) -> Result<Box<dyn Layer>, ModelError> {
    let eps = args.f64("eps", crate::DEFAULT_NORM_EPS)?;
    Ok(Box::new(LayerNorm::with_eps(last(input), eps)?))
}

fn dropout(args: &mut SpecArgs<'_>, _: &[usize]) -> Result<Box<dyn Layer>, ModelError> {
    let keyed = args.f64_opt("p")?;
    let p = match (keyed, args.positional()) {
        (None, Some(value)) => match value.kind {
            ValueKind::Number(p) => p,
            _ => return Err(args.bad_value("p", value, "a probability in [0, 1)").into()),
        },
        (Some(_), Some(value)) => return Err(args.bad_value("p", value, "one probability").into()),
        (keyed, None) => keyed.unwrap_or(0.5),
    };
    Ok(Box::new(Dropout::new(p)?))
}

fn embedding(args: &mut SpecArgs<'_>, _: &[usize]) -> Result<Box<dyn Layer>, ModelError> {
    let vocabulary = size_arg(args, "vocab")?;
    let width = size_arg(args, "width")?;
    Ok(Box::new(Embedding::new(vocabulary, width)?))
}

fn position_embedding(
    args: &mut SpecArgs<'_>,
    input: &[usize],
) -> Result<Box<dyn Layer>, ModelError> {
    let max_len = args.usize_opt("max_len")?;
    let [len, width] = input[..] else {
        return Err(shape_error("posembed", input, "[T, width]"));
    };
    Ok(Box::new(PositionEmbedding::new(
        max_len.unwrap_or(len),
        width,
    )?))
}

fn attention(args: &mut SpecArgs<'_>, input: &[usize]) -> Result<Box<dyn Layer>, ModelError> {
    let keyed = args.usize_opt("heads")?;
    let heads = match (keyed, args.positional()) {
        (None, Some(value)) => match value.kind {
            ValueKind::Number(x) if x >= 1.0 && x.fract() == 0.0 && x < 1e9 => x as usize,
            _ => {
                return Err(args
                    .bad_value("heads", value, "a positive whole number")
                    .into());
            }
        },
        (Some(_), Some(value)) => {
            return Err(args.bad_value("heads", value, "one head count").into());
        }
        (keyed, None) => keyed.unwrap_or(1),
    };
    let [_, width] = input[..] else {
        return Err(shape_error("attention", input, "[T, width]"));
    };
    Ok(Box::new(CausalSelfAttention::new(width, heads)?))
}

fn token_mean(_: &mut SpecArgs<'_>, _: &[usize]) -> Result<Box<dyn Layer>, ModelError> {
    Ok(Box::new(TokenMean))
}

fn activation(args: &mut SpecArgs<'_>, _: &[usize]) -> Result<Box<dyn Layer>, ModelError> {
    let name = args.name();
    let activation = match (name, args.positional()) {
        ("leaky_relu", Some(value)) => match value.kind {
            ValueKind::Number(slope) => Activation::LeakyRelu(slope),
            _ => return Err(args.bad_value("slope", value, "a finite slope").into()),
        },
        _ => Activation::from_name(name).ok_or_else(|| ModelError::UnknownName {
            kind: "activation",
            name: name.to_string(),
            expected: Activation::NAMES.join(", "),
        })?,
    };
    activation.validate()?;
    Ok(Box::new(activation))
}

//! Per-example gradient moments for a whole batch from one backward pass.
//!
//! For a product `z = x Wᵀ` (a linear layer), example `i`'s weight gradient is the outer
//! product `ĝ_i x_iᵀ` of its input row and its row of `∂ℓ_i/∂z`, so its squared norm is
//! `|x_i|² |ĝ_i|²` and the per-parameter sum over the batch of the squared gradients is
//! `(Ĝ∘Ĝ)ᵀ (X∘X)`; the bias's is the rows `ĝ_i`. `∂L/∂z` comes from the same reverse sweep
//! that gives `∂L/∂theta` (BackPACK's approach); since `L` is the mean of the `ℓ_i`,
//! `ĝ_i = B · (∂L/∂z)_i`. Nothing is computed per example beyond these row sums.
//! A product over a sequence's tokens, or a convolution's over the unfolded input, sums
//! over tokens or positions, so its per-example products are formed one by one.
//!
//! The parameters covered are those that enter through a linear product of a
//! `[batch, fan_in]` or `[batch, tokens, fan_in]` input ([`unstuck_autodiff::LinearSite`]:
//! `linear` layers, attention's four projections) or through a convolution
//! ([`unstuck_autodiff::ConvSite`]: `conv` layers), with their biases
//! ([`super::per_sample_linear`], [`super::per_sample_conv`]). The others are listed in
//! [`PerSampleGradients::excluded`]: layer norm's scale and shift, embeddings and
//! position embeddings, and any weight used by more than one product. A model with
//! buffers (batch norm in training mode) mixes the examples of a batch, so
//! per-example gradients do not exist for it: it is refused with
//! [`InstrumentError::BatchMixing`].

use super::InstrumentError;
use super::per_sample_conv::conv_sums;
use super::per_sample_linear::linear_sums;
use std::ops::Range;
use unstuck_autodiff::{ConvSite, LinearSite, Tape, Tensor, Var};
use unstuck_models::{Model, Objective, ParamSpec, Pass};

/// The per-example gradient moments of one parameter tensor (a `state_dict` entry).
#[derive(Debug, Clone, PartialEq)]
pub struct BlockMoments {
    /// The tensor's `state_dict` name.
    pub name: String,
    /// Where it lies inside theta.
    pub range: Range<usize>,
    /// `|ḡ|²`, the squared norm of the batch's mean gradient (the mini-batch gradient).
    pub mean_sq: f64,
    /// `Σ_i |g_i|²`, the per-example gradients' squared norms summed over the batch.
    pub sum_example_sq: f64,
    /// The per-parameter `Σ_i g_ij²`, in the tensor's layout.
    pub sum_sq_per_param: Vec<f64>,
    /// The block's mean gradient `ḡ` (its slice of the mini-batch gradient).
    pub mean: Vec<f64>,
}

/// Per-example gradient moments of a batch, block by block.
#[derive(Debug, Clone, PartialEq)]
pub struct PerSampleGradients {
    /// The number of examples `B`.
    pub batch_size: usize,
    /// The covered tensors, in layout order.
    pub blocks: Vec<BlockMoments>,
    /// The `state_dict` names of the tensors not covered (no supported site, or a weight
    /// shared by several products).
    pub excluded: Vec<String>,
}

/// The products per-example gradients are computed at, found on a recorded pass.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sites {
    linear: Vec<LinearSite>,
    conv: Vec<ConvSite>,
}

impl Sites {
    /// The sites of the parameters carved from `theta` on `tape`.
    pub(crate) fn find(tape: &Tape<f64>, theta: Var) -> Sites {
        Sites {
            linear: tape.linear_sites(theta),
            conv: tape.conv_sites(theta),
        }
    }

    /// `theta` then every site's output: what one reverse sweep differentiates, in the
    /// order [`from_recorded`] reads the gradients.
    pub(crate) fn wrt(&self, theta: Var) -> Vec<Var> {
        std::iter::once(theta)
            .chain(self.linear.iter().map(|site| site.output))
            .chain(self.conv.iter().map(|site| site.output))
            .collect()
    }
}

/// Refuses a model whose training pass mixes the examples of a batch.
pub(crate) fn check_separable(model: &dyn Model<f64>) -> Result<(), InstrumentError> {
    if model.buffer_layout().is_empty() {
        return Ok(());
    }
    Err(InstrumentError::BatchMixing {
        buffers: model
            .buffer_layout()
            .iter()
            .map(|spec| spec.name.clone())
            .collect(),
    })
}

/// Per-example gradient moments of `objective` at `theta`, from one forward and one
/// backward pass (training mode, dropout seed 0, as [`Objective::gradient`]).
///
/// ```
/// use unstuck::instruments::per_sample_gradients;
/// use unstuck::models::{Loss, Model, ModelRegistry, Objective, Targets};
/// use unstuck::autodiff::Tensor;
/// let model = ModelRegistry::builtin().build("2-4-2:tanh")?;
/// let model: &dyn Model<f64> = model.as_ref();
/// let x = Tensor::matrix(vec![0.1, 0.2, -0.3, 0.4, 0.5, -0.6], 3, 2)?;
/// let targets = Targets::Classes { labels: vec![0, 1, 1], n_classes: 2 };
/// let objective = Objective::new(model, x, targets, Loss::CrossEntropy)?;
/// let moments = per_sample_gradients(&objective, &model.init(0))?;
/// assert_eq!(moments.blocks.len(), 4);
/// assert!(moments.excluded.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn per_sample_gradients(
    objective: &Objective<'_, f64>,
    theta: &[f64],
) -> Result<PerSampleGradients, InstrumentError> {
    let model = objective.model();
    check_separable(model)?;
    if theta.len() != model.n_params() {
        return Err(InstrumentError::ThetaLength {
            expected: model.n_params(),
            got: theta.len(),
        });
    }
    let buffers = model.initial_buffers();
    let tape = Tape::<f64>::new();
    let theta_var = tape.leaf_from(theta, &[theta.len()]);
    let loss = objective.record_pass(&tape, theta_var, &mut Pass::train(0, &buffers));
    let sites = Sites::find(&tape, theta_var);
    let mut grads = tape.grad(loss, &sites.wrt(theta_var));
    let output_grads = grads.split_off(1);
    let grad = grads.pop().expect("theta's gradient").into_data();
    Ok(from_recorded(
        &tape,
        &sites,
        &output_grads,
        &grad,
        model.layout(),
        objective.batch_size(),
    ))
}

/// The moments from a recorded pass: the sites, the loss's gradient with respect to
/// each site's output (in the order of [`Sites::wrt`], after theta's), the gradient with
/// respect to theta, the model's layout and the batch size.
pub(crate) fn from_recorded(
    tape: &Tape<f64>,
    sites: &Sites,
    output_grads: &[Tensor<f64>],
    grad: &[f64],
    layout: &[ParamSpec],
    batch_size: usize,
) -> PerSampleGradients {
    let mut sums: Vec<Option<Vec<f64>>> = vec![None; layout.len()];
    let mut shared = vec![false; layout.len()];
    let mut add = |range: &Range<usize>, values: Vec<f64>| {
        if let Some(k) = layout
            .iter()
            .position(|spec| spec.offset == range.start && spec.len() == range.len())
        {
            shared[k] |= sums[k].is_some();
            sums[k] = Some(values);
        }
    };
    let scale = batch_size as f64;
    let (linear_grads, conv_grads) = output_grads.split_at(sites.linear.len());
    for (site, dz) in sites.linear.iter().zip(linear_grads) {
        let (weight, bias) = linear_sums(tape, site, dz, scale);
        add(&site.weight, weight);
        if let (Some(range), Some(sums)) = (&site.bias, bias) {
            add(range, sums);
        }
    }
    for (site, dz) in sites.conv.iter().zip(conv_grads) {
        let (weight, bias) = conv_sums(tape, site, dz.data(), scale);
        add(&site.weight, weight);
        if let (Some(range), Some(sums)) = (&site.bias, bias) {
            add(range, sums);
        }
    }
    let mut blocks = Vec::new();
    let mut excluded = Vec::new();
    for ((spec, sum), shared) in layout.iter().zip(sums).zip(shared) {
        match sum {
            Some(sum_sq_per_param) if !shared => {
                let range = spec.offset..spec.offset + spec.len();
                let mean = grad[range.clone()].to_vec();
                blocks.push(BlockMoments {
                    name: spec.name.clone(),
                    mean_sq: mean.iter().map(|g| g * g).sum(),
                    sum_example_sq: sum_sq_per_param.iter().sum(),
                    sum_sq_per_param,
                    mean,
                    range,
                });
            }
            _ => excluded.push(spec.name.clone()),
        }
    }
    PerSampleGradients {
        batch_size,
        blocks,
        excluded,
    }
}

impl PerSampleGradients {
    /// `Σ_i |g_i|²` over the covered blocks.
    pub fn sum_example_sq(&self) -> f64 {
        self.blocks.iter().map(|b| b.sum_example_sq).sum()
    }

    /// `|ḡ|²` over the covered blocks.
    pub fn mean_sq(&self) -> f64 {
        self.blocks.iter().map(|b| b.mean_sq).sum()
    }
}

impl BlockMoments {
    /// The unbiased per-parameter variances of the per-example gradients,
    /// `σ²_j = (Σ_i g_ij² - B ḡ_j²) / (B - 1)`; `None` for a batch of one.
    pub fn variances(&self, batch_size: usize) -> Option<Vec<f64>> {
        if batch_size < 2 {
            return None;
        }
        let b = batch_size as f64;
        Some(
            self.sum_sq_per_param
                .iter()
                .zip(&self.mean)
                .map(|(s, m)| ((s - b * m * m) / (b - 1.0)).max(0.0))
                .collect(),
        )
    }
}

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
//! ([`super::per_sample_linear`], [`super::per_sample_conv`]), through a scale or shift
//! shared by every example ([`unstuck_autodiff::ElementwiseSite`]: layer norm's weight and
//! bias, position embeddings) or a row lookup ([`unstuck_autodiff::GatherSite`]:
//! embeddings) ([`super::per_sample_uses`]), and any combination of these: a tensor used
//! more than once (a tied weight) has as each example's gradient the sum of its uses'
//! contributions, added before squaring. A tensor with any other use (an elementwise op
//! with another parameter, a weight transformed before its product, theta in a penalty)
//! is listed in [`PerSampleGradients::excluded`]. A model with
//! buffers (batch norm in training mode) mixes the examples of a batch, so
//! per-example gradients do not exist for it: it is refused with
//! [`InstrumentError::BatchMixing`].

use super::InstrumentError;
use super::per_sample_conv::conv_sums;
use super::per_sample_linear::linear_sums;
use super::per_sample_uses::{Use, elementwise_sums, gather_sums, shared_sums};
use std::ops::Range;
use unstuck_autodiff::{ParameterSites, Tape, Tensor, Var};
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
    /// The `state_dict` names of the tensors not covered (a use that no per-example rule
    /// covers, see the module's documentation).
    pub excluded: Vec<String>,
}

/// The uses of theta per-example gradients are computed at, found on a recorded pass.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sites(ParameterSites);

impl Sites {
    /// The sites of the parameters carved from `theta` on `tape`.
    pub(crate) fn find(tape: &Tape<f64>, theta: Var) -> Sites {
        Sites(tape.parameter_sites(theta))
    }

    /// `theta` then every site's output: what one reverse sweep differentiates, in the
    /// order [`from_recorded`] reads the gradients.
    pub(crate) fn wrt(&self, theta: Var) -> Vec<Var> {
        let sites = &self.0;
        std::iter::once(theta)
            .chain(sites.linear.iter().map(|site| site.output))
            .chain(sites.conv.iter().map(|site| site.output))
            .chain(sites.elementwise.iter().map(|site| site.output))
            .chain(sites.gather.iter().map(|site| site.output))
            .collect()
    }

    /// Every use of theta with the gradient of its output (`output_grads` in the order
    /// of [`Sites::wrt`], after theta's).
    fn uses<'a>(&'a self, output_grads: &'a [Tensor<f64>]) -> Vec<Use<'a>> {
        let sites = &self.0;
        let (linear, rest) = output_grads.split_at(sites.linear.len());
        let (conv, rest) = rest.split_at(sites.conv.len());
        let (elementwise, gather) = rest.split_at(sites.elementwise.len());
        let mut uses = Vec::new();
        for (site, dz) in sites.linear.iter().zip(linear) {
            uses.push(Use::LinearWeight(site, dz));
            if site.bias.is_some() {
                uses.push(Use::LinearBias(site, dz));
            }
        }
        for (site, dz) in sites.conv.iter().zip(conv) {
            uses.push(Use::ConvWeight(site, dz));
            if site.bias.is_some() {
                uses.push(Use::ConvBias(site, dz));
            }
        }
        let elementwise = sites.elementwise.iter().zip(elementwise);
        uses.extend(elementwise.map(|(site, dz)| Use::Elementwise(site, dz)));
        let gather = sites.gather.iter().zip(gather);
        uses.extend(gather.map(|(site, dz)| Use::Gather(site, dz)));
        uses
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
///
/// A tensor is covered when every use of it is a site whose output splits by example;
/// used once, its sums come from that site's rule (no per-example gradient is formed for
/// a product); used more than once, each example's contributions are added before they
/// are squared ([`shared_sums`]).
pub(crate) fn from_recorded(
    tape: &Tape<f64>,
    sites: &Sites,
    output_grads: &[Tensor<f64>],
    grad: &[f64],
    layout: &[ParamSpec],
    batch_size: usize,
) -> PerSampleGradients {
    let uses = sites.uses(output_grads);
    let scale = batch_size as f64;
    let mut product_sums = ProductSums::default();
    let mut blocks = Vec::new();
    let mut excluded = Vec::new();
    for spec in layout {
        let block = spec.offset..spec.offset + spec.len();
        let overlaps = |range: &Range<usize>| range.start < block.end && block.start < range.end;
        let inside = |range: &Range<usize>| block.start <= range.start && range.end <= block.end;
        let block_uses: Vec<Use<'_>> = uses
            .iter()
            .filter(|use_| overlaps(&use_.range()))
            .copied()
            .collect();
        let known = !block_uses.is_empty()
            && block_uses
                .iter()
                .all(|use_| inside(&use_.range()) && use_.splits_by_example(batch_size))
            && !sites.0.other_uses.iter().any(overlaps);
        if !known {
            excluded.push(spec.name.clone());
            continue;
        }
        let sum_sq_per_param = match block_uses[..] {
            [use_] => {
                let range = use_.range();
                let values = product_sums.single(tape, use_, batch_size, scale);
                if range == block {
                    values
                } else {
                    // A use of part of the tensor (a position table longer than the
                    // sequence): the rest has no gradient.
                    let mut sums = vec![0.0; block.len()];
                    sums[range.start - block.start..range.end - block.start]
                        .copy_from_slice(&values);
                    sums
                }
            }
            _ => shared_sums(tape, &block_uses, block.clone(), batch_size, scale),
        };
        let mean = grad[block.clone()].to_vec();
        blocks.push(BlockMoments {
            name: spec.name.clone(),
            mean_sq: mean.iter().map(|g| g * g).sum(),
            sum_example_sq: sum_sq_per_param.iter().sum(),
            sum_sq_per_param,
            mean,
            range: block,
        });
    }
    PerSampleGradients {
        batch_size,
        blocks,
        excluded,
    }
}

/// A product site's weight and bias sums.
type WeightAndBias = (Vec<f64>, Option<Vec<f64>>);

/// The sums of a product site's weight and bias, computed once for both.
#[derive(Default)]
struct ProductSums {
    /// By the site's output.
    done: Vec<(Var, WeightAndBias)>,
}

impl ProductSums {
    /// `Σ_i g_ij²` over the run of a use that is its tensor's only one.
    fn single(&mut self, tape: &Tape<f64>, use_: Use<'_>, batch: usize, scale: f64) -> Vec<f64> {
        let (key, weight) = match use_ {
            Use::Elementwise(site, dz) => return elementwise_sums(tape, site, dz, scale),
            Use::Gather(site, dz) => return gather_sums(site, dz, batch, scale),
            Use::LinearWeight(site, _) | Use::LinearBias(site, _) => {
                (site.output, matches!(use_, Use::LinearWeight(..)))
            }
            Use::ConvWeight(site, _) | Use::ConvBias(site, _) => {
                (site.output, matches!(use_, Use::ConvWeight(..)))
            }
        };
        let position = match self.done.iter().position(|(k, _)| *k == key) {
            Some(position) => position,
            None => {
                let sums = match use_ {
                    Use::LinearWeight(site, dz) | Use::LinearBias(site, dz) => {
                        linear_sums(tape, site, dz, scale)
                    }
                    Use::ConvWeight(site, dz) | Use::ConvBias(site, dz) => {
                        conv_sums(tape, site, dz.data(), scale)
                    }
                    _ => unreachable!("elementwise and gather uses returned above"),
                };
                self.done.push((key, sums));
                self.done.len() - 1
            }
        };
        let (weight_sums, bias_sums) = &mut self.done[position].1;
        if weight {
            std::mem::take(weight_sums)
        } else {
            bias_sums.take().expect("a bias use has bias sums")
        }
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

//! Where parameters meet data on a recorded tape: the sites per-example gradients are
//! computed at, found by reading the recorded ops rather than by asking the model.
//!
//! A model carves its weights out of one flat `theta` (a narrow, then a reshape) and
//! multiplies its input by them. Reading those product nodes back lets per-example
//! quantities (BackPACK's trick: for `z = x Wᵀ`, example `i`'s weight gradient is
//! `g_i x_iᵀ`) work for any model built from the tape's ops, not only for the model types
//! this crate's callers know.

use crate::error::{AutodiffError, ensure_len};
use crate::kernels::conv_per_example::conv2d_weight_grad_squares;
use crate::op::{BiasActivation, Op};
use crate::tape::{Node, Tape, Var, view_of};
use crate::tensor::{Tensor, View};
use crate::{Conv2dOptions, Element};
use std::ops::Range;

/// A matrix product `z = x W` or `z = x Wᵀ` of a `[batch, fan_in]` input (or a
/// `[batch, tokens, fan_in]` one, every token times the same weight, as attention's
/// projections) with a weight that is a contiguous run of `theta`, and the bias added to
/// it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinearSite {
    /// The input `x`, `[batch, fan_in]` or `[batch, tokens, fan_in]`.
    pub input: Var,
    /// The product `z` before the bias, `[batch, fan_out]` or `[batch, tokens, fan_out]`:
    /// the gradient of the loss with
    /// respect to it is the same as with respect to `z + b`.
    pub output: Var,
    /// Where the weight lies inside `theta`.
    pub weight: Range<usize>,
    /// `true` for `z = x Wᵀ` (a `[fan_out, fan_in]` weight, PyTorch's layout), `false`
    /// for `z = x W` (`[fan_in, fan_out]`).
    pub transposed: bool,
    /// Where the bias `[fan_out]` added to `z` lies inside `theta`.
    pub bias: Option<Range<usize>>,
}

/// A convolution `z = conv2d(x, W)` ([`Tape::conv2d`]) of a `[batch, C, H, W]` input
/// with a weight `[O, C, KH, KW]` that is a contiguous run of `theta`, and the bias
/// `[O]` added to it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvSite {
    /// The input `x`, `[batch, C, H, W]`.
    pub input: Var,
    /// The convolution `z` before the bias, `[batch, O, Ho, Wo]`.
    pub output: Var,
    /// Where the weight lies inside `theta`.
    pub weight: Range<usize>,
    /// Where the bias `[O]` added to `z` lies inside `theta`.
    pub bias: Option<Range<usize>>,
    /// The convolution's stride and zero padding.
    pub options: Conv2dOptions,
    /// The kernel's height and width.
    pub kernel: [usize; 2],
}

/// Which site a product node starts.
#[derive(Clone, Copy)]
enum SiteOf {
    Linear(usize),
    Conv(usize),
}

impl<T: Element> Tape<T> {
    /// Every [`LinearSite`] recorded on this tape whose weight is a view of `theta` (a
    /// flat vector), in recording order. Products of batches of matrices (attention's
    /// scores), convolutions (see [`Tape::conv_sites`]), and weights reached through
    /// anything but a narrow or a reshape are not sites: their parameters are left to
    /// the caller to report.
    pub fn linear_sites(&self, theta: Var) -> Vec<LinearSite> {
        self.sites(theta).0
    }

    /// Every [`ConvSite`] recorded on this tape whose weight is a view of `theta`, in
    /// recording order.
    pub fn conv_sites(&self, theta: Var) -> Vec<ConvSite> {
        self.sites(theta).1
    }

    pub(crate) fn sites(&self, theta: Var) -> (Vec<LinearSite>, Vec<ConvSite>) {
        self.check(theta);
        let nodes = self.nodes.borrow();
        let theta = theta.index();
        let mut linear: Vec<LinearSite> = Vec::new();
        let mut conv: Vec<ConvSite> = Vec::new();
        let mut site_of_node: Vec<Option<SiteOf>> = vec![None; nodes.len()];
        for (index, node) in nodes.iter().enumerate() {
            match node.op {
                Op::MatMul { ta: false, tb } if node.n_inputs() == 2 => {
                    let [x, w] = node.inputs();
                    let (x_shape, w_shape) = (nodes[x].shape, nodes[w].shape);
                    if !(2..=3).contains(&x_shape.rank()) || w_shape.rank() != 2 {
                        continue;
                    }
                    let Some(offset) = theta_offset(&nodes, w, theta) else {
                        continue;
                    };
                    site_of_node[index] = Some(SiteOf::Linear(linear.len()));
                    linear.push(LinearSite {
                        input: self.var(x),
                        output: self.var(index),
                        weight: offset..offset + w_shape.numel(),
                        transposed: tb,
                        bias: None,
                    });
                }
                Op::Conv2d(geom) => {
                    let [x, w] = node.inputs();
                    let Some(offset) = theta_offset(&nodes, w, theta) else {
                        continue;
                    };
                    site_of_node[index] = Some(SiteOf::Conv(conv.len()));
                    conv.push(ConvSite {
                        input: self.var(x),
                        output: self.var(index),
                        weight: offset..offset + nodes[w].shape.numel(),
                        bias: None,
                        options: Conv2dOptions {
                            stride: geom.stride,
                            padding: geom.padding,
                        },
                        kernel: geom.kernel,
                    });
                }
                // A fused bias and activation adds its bias the same way: the gradient
                // with respect to `z` is the one the bias's rows sum.
                Op::Add | Op::BiasAct(_) if node.n_inputs() == 2 => {
                    let [a, b] = node.inputs();
                    let Some(site) = site_of_node[a] else {
                        continue;
                    };
                    // The bias is one value per output channel, broadcast over the rest:
                    // the last axis of a product, axis 1 of a convolution.
                    let dims = nodes[a].shape.dims();
                    let (slot, axis) = match site {
                        SiteOf::Linear(k) => (&mut linear[k].bias, dims.len() - 1),
                        SiteOf::Conv(k) => (&mut conv[k].bias, 1),
                    };
                    let channels = dims[axis];
                    let mut per_channel = [1; 4];
                    per_channel[axis] = channels;
                    let per_channel = &per_channel[..dims.len()];
                    if slot.is_some() || !is_broadcast_of(nodes[b].shape.dims(), per_channel) {
                        continue;
                    }
                    if let Some(offset) = theta_offset(&nodes, b, theta) {
                        *slot = Some(offset..offset + channels);
                    }
                }
                _ => {}
            }
        }
        (linear, conv)
    }

    /// `Σ_i (scale · G_i)²` entry by entry, `[O, C, KH, KW]`, where `G_i` is example
    /// `i`'s share of the weight gradient of the convolution at `site`, given the
    /// gradient `output_grad` of a loss with respect to the site's output (`[batch, O,
    /// Ho, Wo]` row-major, from the same backward pass as the weight's gradient). `G_i` is
    /// `output_grad[i] · unfold(x_i)ᵀ`, the term the weight gradient sums over the batch
    /// (BackPACK's `SumGradSquared` for `Conv2d`); for a loss that is the mean of the
    /// examples' losses, `scale` = the batch size turns it into example `i`'s own
    /// gradient. The cost is that of one more weight gradient; the bits do not depend on
    /// the thread count.
    ///
    /// Fails with [`AutodiffError::LengthMismatch`] when `output_grad` does not have the
    /// output's shape.
    ///
    /// # Panics
    /// If `site.output` is not a convolution on this tape.
    ///
    /// ```
    /// use unstuck_autodiff::{Conv2dOptions, Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let theta = tape.leaf(Tensor::vector(vec![1.0, -1.0]));
    /// let w = tape.reshape(theta, &[1, 1, 1, 2]);
    /// let x = tape.constant(Tensor::new(vec![1.0, 2.0, 3.0, 5.0], &[2, 1, 1, 2])?);
    /// let z = tape.conv2d(x, w, None, Conv2dOptions::default());
    /// let site = &tape.conv_sites(theta)[0];
    /// // The loss sum(z): each example's weight gradient is its own input row.
    /// let squares = tape.conv_weight_grad_squares(site, &[1.0, 1.0], 1.0)?;
    /// assert_eq!(squares.data(), &[1.0 + 9.0, 4.0 + 25.0]);
    /// # let _ = z;
    /// # Ok::<(), unstuck_autodiff::AutodiffError>(())
    /// ```
    pub fn conv_weight_grad_squares(
        &self,
        site: &ConvSite,
        output_grad: &[T],
        scale: T,
    ) -> Result<Tensor<T>, AutodiffError> {
        self.check(site.output);
        let nodes = self.nodes.borrow();
        let node = &nodes[site.output.index()];
        let Op::Conv2d(geom) = node.op else {
            panic!(
                "conv_weight_grad_squares: node {} is not a conv2d",
                site.output.index()
            );
        };
        let what = "conv_weight_grad_squares: output gradient";
        ensure_len(what, node.shape.numel(), output_grad.len())?;
        let [x, w] = node.inputs();
        let squares = conv2d_weight_grad_squares(
            view_of(&nodes, x),
            View::new(output_grad, node.shape),
            &geom,
            scale,
        );
        Ok(Tensor::from_parts(squares, nodes[w].shape))
    }

    /// Calls `read` with a recorded value's elements (row-major) and dimensions, in place:
    /// [`Tape::value`] copies the tensor out, which an instrument reading every ReLU's
    /// output at every step would pay for in time and memory traffic.
    pub fn read_value<R>(&self, v: Var, read: impl FnOnce(&[T], &[usize]) -> R) -> R {
        self.check(v);
        let nodes = self.nodes.borrow();
        let view = view_of(&nodes, v.index());
        read(view.data, view.shape.dims())
    }

    /// The outputs of every ReLU (alone, or fused with its bias) whose input depends on a
    /// leaf, in recording order: where a caller counts dead units.
    pub fn relu_outputs(&self) -> Vec<Var> {
        let nodes = self.nodes.borrow();
        nodes
            .iter()
            .enumerate()
            .filter(|(_, node)| {
                matches!(node.op, Op::Relu | Op::BiasAct(BiasActivation::Relu)) && node.tracked
            })
            .map(|(index, _)| self.var(index))
            .collect()
    }
}

/// The offset inside `theta` of node `index`, if it is `theta` seen through narrows of
/// whole outer rows and reshapes (a contiguous run of it).
fn theta_offset<T>(nodes: &[Node<T>], mut index: usize, theta: usize) -> Option<usize> {
    let mut offset = 0;
    loop {
        if index == theta {
            return Some(offset);
        }
        let node = &nodes[index];
        let [input, _] = node.inputs();
        match node.op {
            Op::Reshape(_) => {}
            Op::Narrow { axis, start, .. } => {
                let input_shape = nodes[input].shape;
                if input_shape.dims()[..axis].iter().any(|&d| d != 1) {
                    return None;
                }
                let (_, _, inner) = input_shape.split_at_axis(axis);
                offset += start * inner;
            }
            _ => return None,
        }
        index = input;
    }
}

/// Whether a tensor of `dims` broadcasts as one value per channel of `per_channel`
/// (a shape with a single axis above 1, aligned at the right).
fn is_broadcast_of(dims: &[usize], per_channel: &[usize]) -> bool {
    dims.len() <= per_channel.len()
        && dims
            .iter()
            .rev()
            .zip(per_channel.iter().rev())
            .all(|(a, b)| a == b)
        && per_channel[..per_channel.len() - dims.len()]
            .iter()
            .all(|&d| d == 1)
}

#[cfg(test)]
mod tests {
    use crate::{AutodiffError, BiasActivation, Conv2dOptions, Tape, Tensor};

    #[test]
    fn a_linear_layer_carved_from_theta_is_found_with_its_bias() {
        let tape = Tape::<f64>::new();
        // theta = [unused 1, W (2x3), b (2)]
        let theta = tape.leaf(Tensor::vector((0..9).map(f64::from).collect()));
        let w = tape.reshape(tape.slice(theta, 1, 6), &[2, 3]);
        let b = tape.slice(theta, 7, 2);
        let x = tape.constant(Tensor::matrix(vec![1.0; 12], 4, 3).unwrap());
        let z = tape.matmul_t(x, w, false, true);
        let y = tape.relu(tape.add(z, b));
        let sites = tape.linear_sites(theta);
        assert_eq!(sites.len(), 1);
        assert_eq!(sites[0].input, x);
        assert_eq!(sites[0].output, z);
        assert_eq!(sites[0].weight, 1..7);
        assert!(sites[0].transposed);
        assert_eq!(sites[0].bias, Some(7..9));
        assert_eq!(tape.relu_outputs(), vec![y]);
    }

    #[test]
    fn a_product_with_a_weight_that_is_not_a_view_of_theta_is_not_a_site() {
        let tape = Tape::<f64>::new();
        let theta = tape.leaf(Tensor::vector(vec![1.0; 6]));
        let w = tape.scale(tape.reshape(theta, &[3, 2]), 2.0);
        let x = tape.constant(Tensor::matrix(vec![1.0; 6], 2, 3).unwrap());
        let _ = tape.matmul(x, w);
        assert!(tape.linear_sites(theta).is_empty());
    }

    #[test]
    fn a_fused_bias_and_relu_is_found_as_the_sites_bias_and_a_relu() {
        let tape = Tape::<f64>::new();
        let theta = tape.leaf(Tensor::vector((0..8).map(f64::from).collect()));
        let w = tape.reshape(tape.slice(theta, 0, 6), &[2, 3]);
        let b = tape.slice(theta, 6, 2);
        let x = tape.constant(Tensor::matrix(vec![1.0; 12], 4, 3).unwrap());
        let z = tape.matmul_t(x, w, false, true);
        let y = tape.bias_activation(z, b, BiasActivation::Relu);
        let sites = tape.linear_sites(theta);
        assert_eq!(sites.len(), 1);
        assert_eq!(sites[0].output, z);
        assert_eq!(sites[0].bias, Some(6..8));
        assert_eq!(tape.relu_outputs(), vec![y]);
    }

    #[test]
    fn a_convolution_carved_from_theta_is_found_with_its_bias_and_geometry() {
        let tape = Tape::<f64>::new();
        // theta = [unused 1, W (3x2x2x2 = 24), b (3)]
        let theta = tape.leaf(Tensor::vector((0..28).map(f64::from).collect()));
        let w = tape.reshape(tape.slice(theta, 1, 24), &[3, 2, 2, 2]);
        let b = tape.slice(theta, 25, 3);
        let x = tape.constant(Tensor::new(vec![0.5; 2 * 2 * 5 * 5], &[2, 2, 5, 5]).unwrap());
        let options = Conv2dOptions::new(2, 1);
        let y = tape.conv2d(x, w, Some(b), options);
        assert!(tape.linear_sites(theta).is_empty());
        let sites = tape.conv_sites(theta);
        assert_eq!(sites.len(), 1);
        let site = &sites[0];
        assert_eq!((site.input, site.weight.clone()), (x, 1..25));
        assert_eq!(site.bias, Some(25..28));
        assert_eq!((site.options, site.kernel), (options, [2, 2]));
        assert_ne!(site.output, y, "the site's output is before the bias");
        assert_eq!(tape.value(site.output).dims(), &[2, 3, 3, 3]);
        // A gradient of the wrong length is an error, not a panic.
        let error = tape.conv_weight_grad_squares(site, &[1.0; 5], 1.0);
        assert!(matches!(
            error,
            Err(AutodiffError::LengthMismatch {
                expected: 54,
                got: 5,
                ..
            })
        ));
    }

    #[test]
    fn a_per_channel_term_that_is_not_broadcast_per_channel_is_not_a_bias() {
        let tape = Tape::<f64>::new();
        // Three values added along the width of a [1, 3, 3, 3] output: not a bias.
        let theta = tape.leaf(Tensor::vector(vec![0.5; 27 + 3]));
        let w = tape.reshape(tape.slice(theta, 0, 27), &[3, 1, 3, 3]);
        let x = tape.constant(Tensor::new(vec![1.0; 9], &[1, 1, 3, 3]).unwrap());
        let y = tape.conv2d(x, w, None, Conv2dOptions::new(1, 1));
        let _ = tape.add(y, tape.slice(theta, 27, 3));
        assert_eq!(tape.conv_sites(theta)[0].bias, None);
    }

    #[test]
    fn a_product_of_every_token_with_one_weight_is_a_site_with_its_bias() {
        let tape = Tape::<f64>::new();
        let theta = tape.leaf(Tensor::vector(vec![0.5; 6 + 2]));
        let w = tape.reshape(tape.slice(theta, 0, 6), &[2, 3]);
        let x = tape.constant(Tensor::new(vec![1.0; 4 * 5 * 3], &[4, 5, 3]).unwrap());
        let z = tape.matmul_t(x, w, false, true);
        let _ = tape.add(z, tape.slice(theta, 6, 2));
        let sites = tape.linear_sites(theta);
        assert_eq!(sites.len(), 1);
        assert_eq!((sites[0].input, sites[0].output), (x, z));
        assert_eq!(sites[0].bias, Some(6..8));
    }
}

//! Where parameters meet data on a recorded tape: the sites per-example gradients are
//! computed at, found by reading the recorded ops rather than by asking the model.
//!
//! A model carves its weights out of one flat `theta` (a narrow, then a reshape) and
//! multiplies its input by them. Reading those product nodes back lets per-example
//! quantities (BackPACK's trick: for `z = x Wᵀ`, example `i`'s weight gradient is
//! `g_i x_iᵀ`) work for any model built from the tape's ops, not only for the model types
//! this crate's callers know.

use crate::Element;
use crate::op::{BiasActivation, Op};
use crate::tape::{Node, Tape, Var, view_of};
use std::ops::Range;

/// A matrix product `z = x W` or `z = x Wᵀ` of a `[batch, fan_in]` input with a weight
/// that is a contiguous run of `theta`, and the bias added to it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinearSite {
    /// The input `x`, `[batch, fan_in]`.
    pub input: Var,
    /// The product `z` before the bias, `[batch, fan_out]`: the gradient of the loss with
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

impl<T: Element> Tape<T> {
    /// Every [`LinearSite`] recorded on this tape whose weight is a view of `theta` (a
    /// flat vector), in recording order. Products of a higher-rank input (a sequence's
    /// tokens), convolutions, and weights reached through anything but a narrow or a
    /// reshape are not sites: their parameters are left to the caller to report.
    pub fn linear_sites(&self, theta: Var) -> Vec<LinearSite> {
        self.check(theta);
        let nodes = self.nodes.borrow();
        let theta = theta.index();
        let mut sites: Vec<LinearSite> = Vec::new();
        let mut site_of_node = vec![usize::MAX; nodes.len()];
        for (index, node) in nodes.iter().enumerate() {
            match node.op {
                Op::MatMul { ta: false, tb } if node.n_inputs() == 2 => {
                    let [x, w] = node.inputs();
                    let (x_shape, w_shape) = (nodes[x].shape, nodes[w].shape);
                    if x_shape.rank() != 2 || w_shape.rank() != 2 {
                        continue;
                    }
                    let Some(offset) = theta_offset(&nodes, w, theta) else {
                        continue;
                    };
                    site_of_node[index] = sites.len();
                    sites.push(LinearSite {
                        input: self.var(x),
                        output: self.var(index),
                        weight: offset..offset + w_shape.numel(),
                        transposed: tb,
                        bias: None,
                    });
                }
                // A fused bias and activation adds its bias the same way: the gradient
                // with respect to `z` is the one the bias's rows sum.
                Op::Add | Op::BiasAct(_) if node.n_inputs() == 2 => {
                    let [a, b] = node.inputs();
                    let Some(&site) = site_of_node.get(a).filter(|&&s| s != usize::MAX) else {
                        continue;
                    };
                    let fan_out = nodes[a].shape.dims()[1];
                    if nodes[b].shape.numel() != fan_out || sites[site].bias.is_some() {
                        continue;
                    }
                    if let Some(offset) = theta_offset(&nodes, b, theta) {
                        sites[site].bias = Some(offset..offset + fan_out);
                    }
                }
                _ => {}
            }
        }
        sites
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

#[cfg(test)]
mod tests {
    use crate::{BiasActivation, Tape, Tensor};

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
}

//! Every use of `theta` on a recorded tape, sorted into the kinds per-example gradients
//! are known for: products ([`LinearSite`], [`ConvSite`], with their biases),
//! elementwise scales and shifts ([`ElementwiseSite`]: layer norm's scale and shift, a
//! position embedding), row lookups ([`GatherSite`]: an embedding), and the rest
//! ([`ParameterSites::other_uses`]), whose per-example gradients are not known.
//!
//! A run of theta used by several sites (a shared or tied weight) has, per example, the
//! sum of the per-use contributions as its gradient; finding every use is what lets the
//! caller add them before squaring, and knowing the unmatched ones is what keeps it from
//! reporting a partial gradient as the whole.

use crate::kernels::conv::conv2d_weight_grad;
use crate::op::Op;
use crate::tape::{Tape, Var, view_of};
use crate::tensor::View;
use crate::{ConvSite, Element, LinearSite, Shape};
use std::ops::Range;

/// `y = a ∘ p` (a scale) or `y = a + p` (a shift) of a parameter `p` that is a
/// contiguous run of theta and is the same for every example: `p`'s dimensions,
/// aligned at the right with `y`'s, are 1 on `y`'s batch axis 0 and on every axis where
/// they are not `y`'s. Example `i`'s gradient is `∂ℓ_i/∂y_i` (times `a_i` for a scale)
/// summed down to `p`'s shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementwiseSite {
    /// `y`, `[batch, ...]`.
    pub output: Var,
    /// For a scale, the other factor `a`, of `y`'s shape; `None` for a shift.
    pub factor: Option<Var>,
    /// Where `p` lies inside theta.
    pub param: Range<usize>,
    /// `p`'s dimensions with leading 1s up to `y`'s rank.
    pub param_dims: Vec<usize>,
}

/// Rows of a table that is a contiguous run of theta, gathered by index
/// ([`Tape::gather`], an embedding's lookup): the `k`-th row of the output is row
/// `indices[k]` of the table. For a batch whose examples own equal, consecutive runs of
/// the indices, example `i`'s gradient is its rows of `∂ℓ_i/∂output` added into the
/// table's rows at its indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatherSite {
    /// The gathered rows, `[indices.len(), ...]`.
    pub output: Var,
    /// Where the table lies inside theta.
    pub table: Range<usize>,
    /// The elements in one row of the table.
    pub row_len: usize,
    /// The row of the table each output row is.
    pub indices: Vec<usize>,
}

/// Every use of theta on a tape, by kind ([`Tape::parameter_sites`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParameterSites {
    /// Products with a weight carved from theta, and the biases added to them.
    pub linear: Vec<LinearSite>,
    /// Convolutions with a weight carved from theta, and their biases.
    pub conv: Vec<ConvSite>,
    /// Scales and shifts by a parameter shared by every example.
    pub elementwise: Vec<ElementwiseSite>,
    /// Row lookups in a table carved from theta.
    pub gather: Vec<GatherSite>,
    /// The runs of theta read by an op that is none of the sites above (an elementwise
    /// op with a parameter that varies along the batch axis, a weight scaled before its
    /// product, theta in a penalty): their per-example gradients are not known.
    pub other_uses: Vec<Range<usize>>,
}

impl<T: Element> Tape<T> {
    /// Every use of `theta` (a flat vector) recorded on this tape, by kind, in recording
    /// order. Call it after the forward pass and before the backward one: the backward
    /// pass's own nodes would count as other uses.
    ///
    /// ```
    /// use unstuck_autodiff::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// // theta = [scale (2), shift (2)]: y = x ∘ scale + shift, as layer norm's affine.
    /// let theta = tape.leaf(Tensor::vector(vec![1.0, 2.0, 0.5, -0.5]));
    /// let x = tape.constant(Tensor::matrix(vec![1.0, 2.0, 3.0, 4.0], 2, 2)?);
    /// let scaled = tape.mul(x, tape.slice(theta, 0, 2));
    /// let _ = tape.add(scaled, tape.slice(theta, 2, 2));
    /// let sites = tape.parameter_sites(theta);
    /// assert_eq!(sites.elementwise.len(), 2);
    /// assert_eq!(sites.elementwise[0].param, 0..2);
    /// assert_eq!(sites.elementwise[1].param, 2..4);
    /// assert!(sites.other_uses.is_empty());
    /// # Ok::<(), unstuck_autodiff::AutodiffError>(())
    /// ```
    pub fn parameter_sites(&self, theta: Var) -> ParameterSites {
        let (linear, conv) = self.sites(theta);
        let nodes = self.nodes.borrow();
        let theta_index = theta.index();
        // Each node's offset inside theta, if it is a contiguous view of it.
        let mut offsets: Vec<Option<usize>> = Vec::with_capacity(nodes.len());
        for (index, node) in nodes.iter().enumerate() {
            let offset = if index == theta_index {
                Some(0)
            } else {
                let input = node.inputs()[0];
                match node.op {
                    Op::Reshape(_) if node.n_inputs() == 1 => offsets[input],
                    Op::Narrow { axis, start, .. } if node.n_inputs() == 1 => {
                        let input_shape = nodes[input].shape;
                        let whole_rows = input_shape.dims()[..axis].iter().all(|&d| d == 1);
                        let (_, _, inner) = input_shape.split_at_axis(axis);
                        offsets[input]
                            .filter(|_| whole_rows)
                            .map(|o| o + start * inner)
                    }
                    _ => None,
                }
            };
            offsets.push(offset);
        }
        let range_of = |index: usize| offsets[index].map(|o| o..o + nodes[index].shape.numel());
        // The (node, input slot) pairs the product sites account for.
        let mut matched: Vec<(usize, usize)> = Vec::new();
        let mut site_outputs: Vec<(usize, Option<Range<usize>>)> = Vec::new();
        for site in &linear {
            matched.push((site.output.index(), 1));
            site_outputs.push((site.output.index(), site.bias.clone()));
        }
        for site in &conv {
            matched.push((site.output.index(), 1));
            site_outputs.push((site.output.index(), site.bias.clone()));
        }
        let mut elementwise = Vec::new();
        let mut gather = Vec::new();
        let mut other_uses: Vec<Range<usize>> = Vec::new();
        for (index, node) in nodes.iter().enumerate() {
            let n_inputs = node.n_inputs();
            let inputs = node.inputs();
            let param_slots: Vec<usize> = (0..n_inputs)
                .filter(|&slot| offsets[inputs[slot]].is_some())
                .collect();
            if param_slots.is_empty() || offsets[index].is_some() {
                continue;
            }
            // A product site's bias: the add that `sites` attached to it.
            let is_bias = matches!(node.op, Op::Add | Op::BiasAct(_))
                && n_inputs == 2
                && site_outputs.iter().any(|(output, bias)| {
                    *output == inputs[0] && bias.is_some() && *bias == range_of(inputs[1])
                });
            if is_bias {
                continue;
            }
            match (&node.op, param_slots.as_slice()) {
                (Op::Add | Op::Mul, &[slot]) if n_inputs == 2 => {
                    let (p, a) = (inputs[slot], inputs[1 - slot]);
                    let scale = matches!(node.op, Op::Mul);
                    if let Some(dims) = shared_by_every_example(nodes[p].shape, node.shape)
                        && (!scale || nodes[a].shape == node.shape)
                    {
                        elementwise.push(ElementwiseSite {
                            output: self.var(index),
                            factor: scale.then(|| self.var(a)),
                            param: range_of(p).expect("a parameter slot"),
                            param_dims: dims,
                        });
                        continue;
                    }
                }
                (Op::Gather(indices), &[0]) => {
                    let table = nodes[inputs[0]].shape;
                    let rows = table.dims().first().copied().unwrap_or(1).max(1);
                    gather.push(GatherSite {
                        output: self.var(index),
                        table: range_of(inputs[0]).expect("a parameter slot"),
                        row_len: table.numel() / rows,
                        indices: indices.to_vec(),
                    });
                    continue;
                }
                _ => {}
            }
            for slot in param_slots {
                if !matched.contains(&(index, slot)) {
                    other_uses.extend(range_of(inputs[slot]));
                }
            }
            // `p * p` reads its run once.
            other_uses.dedup();
        }
        ParameterSites {
            linear,
            conv,
            elementwise,
            gather,
            other_uses,
        }
    }

    /// Example `n`'s share of the weight gradient of the convolution at `site`,
    /// `scale · output_grad[n] · unfold(x[n])ᵀ` (`[O, C·KH·KW]` row-major), added into
    /// row `n - examples.start` of `out` at `offset`, for every `n` in `examples`:
    /// what a shared convolution weight's per-example gradient sums with its other uses.
    ///
    /// Fails with [`crate::AutodiffError::LengthMismatch`] when `output_grad` does not
    /// have the output's shape.
    ///
    /// # Panics
    /// If `site.output` is not a convolution on this tape, or `out` has fewer than
    /// `examples.len()` rows of `row_len >= offset + O·C·KH·KW` elements.
    pub fn add_conv_weight_grads_of_examples(
        &self,
        site: &ConvSite,
        output_grad: &[T],
        scale: T,
        examples: Range<usize>,
        (out, row_len, offset): (&mut [T], usize, usize),
    ) -> Result<(), crate::AutodiffError> {
        self.check(site.output);
        let nodes = self.nodes.borrow();
        let node = &nodes[site.output.index()];
        let Op::Conv2d(geom) = node.op else {
            panic!("add_conv_weight_grads_of_examples: node is not a conv2d");
        };
        crate::error::ensure_len(
            "add_conv_weight_grads_of_examples: output gradient",
            node.shape.numel(),
            output_grad.len(),
        )?;
        let x = view_of(&nodes, node.inputs()[0]);
        let one = |shape: Shape| shape.with_dim(0, 1);
        let (x_len, g_len) = (one(x.shape).numel(), one(node.shape).numel());
        for (row, n) in examples.enumerate() {
            let xi = View::new(&x.data[n * x_len..(n + 1) * x_len], one(x.shape));
            let gi = View::new(&output_grad[n * g_len..(n + 1) * g_len], one(node.shape));
            let grad = conv2d_weight_grad(xi, gi, &geom);
            let target = &mut out[row * row_len + offset..][..grad.numel()];
            for (t, &v) in target.iter_mut().zip(grad.data()) {
                *t += scale * v;
            }
        }
        Ok(())
    }
}

/// `p`'s dimensions aligned with `y`'s (leading 1s), if `p` broadcasts to `y` and is
/// the same for every example (1 on the batch axis 0).
fn shared_by_every_example(p: Shape, y: Shape) -> Option<Vec<usize>> {
    let (p, y) = (p.dims(), y.dims());
    if y.is_empty() || p.len() > y.len() {
        return None;
    }
    let mut dims = vec![1; y.len() - p.len()];
    dims.extend_from_slice(p);
    let broadcasts = dims.iter().zip(y).all(|(&d, &e)| d == e || d == 1);
    (broadcasts && dims[0] == 1).then_some(dims)
}

#[cfg(test)]
mod tests {
    use crate::{Conv2dOptions, Tape, Tensor};

    #[test]
    fn layer_norms_affine_a_lookup_and_a_shared_weight_are_each_found() {
        let tape = Tape::<f64>::new();
        // theta = [table 5x2 (10), W 2x2 (4), scale (2), shift (2)]
        let theta = tape.leaf(Tensor::vector((0..18).map(f64::from).collect()));
        let table = tape.reshape(tape.slice(theta, 0, 10), &[5, 2]);
        let w = tape.reshape(tape.slice(theta, 10, 4), &[2, 2]);
        let rows = tape.embedding(table, &[4, 0, 4, 1, 2, 3], &[2, 3]);
        let h = tape.matmul_t(rows, w, false, true);
        let h = tape.add(
            tape.mul(h, tape.slice(theta, 14, 2)),
            tape.slice(theta, 16, 2),
        );
        // The same W again, untransposed: a shared weight, two linear sites.
        let _ = tape.matmul(h, w);
        let sites = tape.parameter_sites(theta);
        assert_eq!(sites.gather.len(), 1);
        let gather = &sites.gather[0];
        assert_eq!((gather.table.clone(), gather.row_len), (0..10, 2));
        assert_eq!(gather.indices, vec![4, 0, 4, 1, 2, 3]);
        assert_eq!(sites.linear.len(), 2);
        assert!(sites.linear.iter().all(|site| site.weight == (10..14)));
        let params: Vec<_> = sites.elementwise.iter().map(|s| s.param.clone()).collect();
        assert_eq!(params, vec![14..16, 16..18]);
        assert_eq!(sites.elementwise[0].param_dims, vec![1, 1, 2]);
        assert!(sites.elementwise[0].factor.is_some());
        assert!(sites.elementwise[1].factor.is_none());
        assert!(sites.other_uses.is_empty(), "{:?}", sites.other_uses);
    }

    #[test]
    fn a_parameter_that_varies_per_example_or_is_transformed_is_another_use() {
        let tape = Tape::<f64>::new();
        let theta = tape.leaf(Tensor::vector(vec![0.5; 4 + 6]));
        let x = tape.constant(Tensor::matrix(vec![1.0; 4], 2, 2).unwrap());
        // A [2, 2] parameter added to a [2, 2] batch: one value per example, not shared.
        let _ = tape.add(x, tape.reshape(tape.slice(theta, 0, 4), &[2, 2]));
        // A weight scaled before its product, and theta in a penalty.
        let w = tape.scale(tape.reshape(tape.slice(theta, 4, 6), &[2, 3]), 2.0);
        let _ = tape.matmul(x, w);
        let _ = tape.sum(tape.square(theta));
        let sites = tape.parameter_sites(theta);
        assert!(sites.elementwise.is_empty() && sites.linear.is_empty());
        assert_eq!(sites.other_uses, vec![0..4, 4..10, 0..10]);
    }

    #[test]
    fn a_convolutions_per_example_weight_gradients_add_up_to_its_weight_gradient() {
        let tape = Tape::<f64>::new();
        let theta = tape.leaf(Tensor::vector(
            (0..8).map(|k| f64::from(k) * 0.25).collect(),
        ));
        let w = tape.reshape(theta, &[2, 1, 2, 2]);
        let x = (0..2 * 9).map(|k| f64::from(k % 5) - 2.0).collect();
        let x = tape.constant(Tensor::new(x, &[2, 1, 3, 3]).unwrap());
        let z = tape.conv2d(x, w, None, Conv2dOptions::default());
        let loss = tape.sum(tape.square(z));
        let grads = tape.grad(loss, &[theta, z]);
        let site = &tape.parameter_sites(theta).conv[0];
        let mut out = vec![0.0; 2 * 9];
        tape.add_conv_weight_grads_of_examples(site, grads[1].data(), 1.0, 0..2, (&mut out, 9, 1))
            .unwrap();
        // Quarter-integer data: the sums are exact.
        let sum: Vec<f64> = (0..8).map(|k| out[1 + k] + out[9 + 1 + k]).collect();
        assert_eq!(sum, grads[0].data());
        assert_eq!((out[0], out[9]), (0.0, 0.0));
    }
}

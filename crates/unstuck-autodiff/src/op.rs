//! The op table: every op's attributes, its forward computation and its vector-Jacobian
//! rule, each matched once, in this file.
//!
//! Adding an op is one variant of [`Op`], one arm of [`forward`] and one arm of [`vjp`]
//! (plus its public constructor on the tape). Rules are written against [`Algebra`],
//! never against numbers: the numeric evaluator computes them through [`forward`] and
//! records nothing; the recording evaluator appends them to the tape, so every gradient
//! can be differentiated again. Nothing here depends on either evaluator.

use crate::Element;
use crate::kernels::conv::{self, ConvGeom};
use crate::kernels::elementwise::{bias_map, broadcast_to, map, map_costly, sum_to, zip};
use crate::kernels::index::{gather_rows, masked_fill, pick, scatter, scatter_add_rows};
use crate::kernels::layout::{Perm, add_at, narrow, pad, permute};
use crate::kernels::matmul::matmul;
use crate::kernels::pool::{self, PoolGeom};
use crate::kernels::softmax::{log_softmax, softmax, softmax_cross_entropy};
use crate::mask::Mask;
use crate::shape::Shape;
use crate::tape::MAX_INPUTS;
use crate::tensor::{Tensor, View};
use crate::{fast_exp, fast_tanh};
use std::sync::Arc;

/// What an op does, with its attributes; the inputs are stored beside it on the node.
#[derive(Debug, Clone)]
pub(crate) enum Op<T> {
    Leaf,
    Constant,
    /// `a + b`, NumPy broadcasting.
    Add,
    /// `a * b`, NumPy broadcasting.
    Mul,
    Neg,
    Scale(T),
    Shift(T),
    Exp,
    Log,
    PowF(T),
    Tanh,
    Sigmoid,
    Relu,
    LeakyRelu(T),
    /// `(g, y) -> g (1 - y²)`: tanh's backward from its output, fused.
    TanhBackward,
    /// `(g, y) -> g y (1 - y)`: sigmoid's backward from its output, fused.
    SigmoidBackward,
    /// `(g, x) -> g` where `x > 0`, `slope · g` elsewhere: (leaky) ReLU's backward.
    StepMul(T),
    /// `(x, bias) -> act(x + bias)`, the bias along the last axis: a layer's bias and
    /// activation in one pass over its output.
    BiasAct(BiasActivation),
    /// `[m, n] -> []`: the mean over rows of `-log softmax(row)[labels[i]]`.
    SoftmaxCrossEntropy(Arc<[usize]>),
    /// `op(a) · op(b)` over the last two axes, batched over the leading ones.
    MatMul {
        ta: bool,
        tb: bool,
    },
    Reshape(Shape),
    Permute(Perm),
    BroadcastTo(Shape),
    /// Sums down to a shape that broadcasts to the input's (the adjoint of `BroadcastTo`).
    SumTo(Shape),
    Narrow {
        axis: usize,
        start: usize,
        len: usize,
    },
    Pad {
        axis: usize,
        start: usize,
        total: usize,
    },
    /// `(acc, part) -> acc + pad(part)`: `part` added at `start` along `axis`, how the
    /// recorded gradient of a sliced input gathers its slices without a padded copy each.
    AddAt {
        axis: usize,
        start: usize,
    },
    LogSoftmax(usize),
    Softmax(usize),
    /// `[m, n] -> [m]`: entry `labels[i]` of row `i`.
    Pick(Arc<[usize]>),
    /// `[m] -> [m, n_classes]`, the adjoint of `Pick`.
    Scatter(Arc<[usize]>, usize),
    /// Rows of a table by index (embedding lookup).
    Gather(Arc<[usize]>),
    /// Rows added into a table of `rows` rows, the adjoint of `Gather`.
    ScatterAdd(Arc<[usize]>, usize),
    MaskedFill(Mask, T),
    Conv2d(ConvGeom),
    /// `(grad, weight) -> ∂/∂x` of a convolution (a transposed convolution).
    Conv2dInputGrad(ConvGeom),
    /// `(x, grad) -> ∂/∂weight` of a convolution.
    Conv2dWeightGrad(ConvGeom),
    /// `(values, keys)`: each window's value at its largest key; `max_pool2d(x)` is `(x, x)`.
    MaxPool(PoolGeom),
    /// `(grad, keys)`: the adjoint of `MaxPool` in its values.
    MaxPoolScatter(PoolGeom),
    AvgPool(PoolGeom),
    AvgPoolTranspose(PoolGeom),
}

/// The activations [`Tape::bias_activation`](crate::Tape::bias_activation) fuses with a
/// bias: those whose derivative can be read off their output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BiasActivation {
    /// `max(v, 0)`.
    Relu,
    /// `tanh(v)`.
    Tanh,
    /// `1 / (1 + e^-v)`.
    Sigmoid,
}

impl<T> Op<T> {
    /// For an op whose result is a contiguous run of its input's elements (a reshape, a
    /// narrow of whole outer rows), the run's offset and the result's shape: the tape then
    /// records a view instead of a copy. `forward` computes the same values.
    pub(crate) fn view(&self, input: Shape) -> Option<(usize, Shape)> {
        match *self {
            Op::Reshape(to) => {
                assert!(
                    input.numel() == to.numel(),
                    "reshape: cannot view shape {input:?} as {to:?}"
                );
                Some((0, to))
            }
            Op::Narrow { axis, start, len } if input.dims()[..axis].iter().all(|&d| d == 1) => {
                assert!(
                    axis < input.rank() && start + len <= input.dims()[axis],
                    "narrow: range {start}..{} of axis {axis} out of bounds for shape {input:?}",
                    start + len
                );
                let (_, _, inner) = input.split_at_axis(axis);
                Some((start * inner, input.with_dim(axis, len)))
            }
            _ => None,
        }
    }

    /// The op's name as the panics and the rule-perturbation tests spell it.
    #[cfg(test)]
    pub(crate) fn name(&self) -> String
    where
        T: std::fmt::Debug,
    {
        let text = format!("{self:?}");
        text.split(|c: char| !c.is_alphanumeric())
            .next()
            .unwrap_or_default()
            .to_string()
    }
}

/// The algebra rules are written in: a value type and ops on it.
///
/// Only [`Algebra::apply`] and the bookkeeping methods are implemented per evaluator; the
/// named helpers below are shorthands for `apply`.
pub(crate) trait Algebra<T: Element> {
    /// A value: a tensor for the numeric evaluator, a node for the recording one.
    type V;

    /// `op` applied to `inputs`.
    fn apply(&mut self, op: Op<T>, inputs: &[&Self::V]) -> Self::V;
    /// Node `i`'s forward value.
    fn primal(&mut self, node: usize) -> Self::V;
    /// The shape of node `i`'s forward value.
    fn node_shape(&self, node: usize) -> Shape;
    /// The shape of a value.
    fn shape(&self, v: &Self::V) -> Shape;
    /// A second handle to the same value.
    fn dup(&mut self, v: &Self::V) -> Self::V;

    fn add(&mut self, a: &Self::V, b: &Self::V) -> Self::V {
        self.apply(Op::Add, &[a, b])
    }
    fn mul(&mut self, a: &Self::V, b: &Self::V) -> Self::V {
        self.apply(Op::Mul, &[a, b])
    }
    fn neg(&mut self, a: &Self::V) -> Self::V {
        self.apply(Op::Neg, &[a])
    }
    fn scale(&mut self, a: &Self::V, c: T) -> Self::V {
        self.apply(Op::Scale(c), &[a])
    }
    fn matmul(&mut self, a: &Self::V, b: &Self::V, ta: bool, tb: bool) -> Self::V {
        self.apply(Op::MatMul { ta, tb }, &[a, b])
    }
    /// `a` under another shape with as many elements; consumes `a`, so an evaluator may
    /// relabel it instead of copying.
    fn reshape(&mut self, a: Self::V, to: Shape) -> Self::V {
        self.apply(Op::Reshape(to), &[&a])
    }
    /// `g` summed back to `to` where it was broadcast (`g` itself when the shapes agree).
    fn sum_to(&mut self, g: Self::V, to: Shape) -> Self::V {
        if self.shape(&g) == to {
            g
        } else {
            self.apply(Op::SumTo(to), &[&g])
        }
    }
    /// `g` summed along `axis`, keeping it with length 1.
    fn sum_keep(&mut self, g: &Self::V, axis: usize) -> Self::V {
        let to = self.shape(g).keep_dims_reduced(&[axis]);
        self.apply(Op::SumTo(to), &[g])
    }
}

/// The computation of `op` on `x` (its inputs, in order).
pub(crate) fn forward<T: Element>(op: &Op<T>, x: &[View<'_, T>]) -> Tensor<T> {
    let zero = T::ZERO;
    match *op {
        Op::Leaf | Op::Constant => unreachable!("sources are recorded, never computed"),
        Op::Add => zip("add", x[0], x[1], move |p, q| p + q),
        Op::Mul => zip("mul", x[0], x[1], move |p, q| p * q),
        Op::Neg => map(x[0], move |p| -p),
        Op::Scale(c) => map(x[0], move |p| c * p),
        Op::Shift(c) => map(x[0], move |p| p + c),
        Op::Exp => map_costly(x[0], fast_exp::exp),
        Op::Log => map(x[0], T::ln),
        Op::PowF(e) => map(x[0], move |p| p.powf(e)),
        Op::Tanh => map_costly(x[0], fast_tanh::tanh),
        Op::Sigmoid => map_costly(x[0], sigmoid),
        Op::Relu => map(x[0], move |p| if p > zero { p } else { zero }),
        Op::LeakyRelu(s) => map(x[0], move |p| if p > zero { p } else { s * p }),
        Op::TanhBackward => zip("tanh_backward", x[0], x[1], move |g, y| {
            g * (T::ONE - y * y)
        }),
        Op::SigmoidBackward => zip("sigmoid_backward", x[0], x[1], move |g, y| {
            g * (y * (-y + T::ONE))
        }),
        Op::StepMul(s) => zip("relu_backward", x[0], x[1], move |g, v| {
            g * if v > zero { T::ONE } else { s }
        }),
        Op::BiasAct(BiasActivation::Relu) => {
            bias_map(x[0], x[1], move |p| if p > zero { p } else { zero })
        }
        Op::BiasAct(BiasActivation::Tanh) => bias_map(x[0], x[1], fast_tanh::tanh),
        Op::BiasAct(BiasActivation::Sigmoid) => bias_map(x[0], x[1], sigmoid),
        Op::SoftmaxCrossEntropy(ref labels) => softmax_cross_entropy(x[0], labels),
        Op::MatMul { ta, tb } => matmul(x[0], x[1], ta, tb),
        Op::Reshape(to) => {
            assert!(
                x[0].shape.numel() == to.numel(),
                "reshape: cannot view shape {:?} as {to:?}",
                x[0].shape
            );
            x[0].to_tensor().with_shape(to)
        }
        Op::Permute(perm) => permute(x[0], perm),
        Op::BroadcastTo(to) => broadcast_to(x[0], to),
        Op::SumTo(to) => sum_to(x[0], to),
        Op::Narrow { axis, start, len } => narrow(x[0], axis, start, len),
        Op::Pad { axis, start, total } => pad(x[0], axis, start, total),
        Op::AddAt { axis, start } => add_at(x[0], x[1], axis, start),
        Op::LogSoftmax(axis) => log_softmax(x[0], axis),
        Op::Softmax(axis) => softmax(x[0], axis),
        Op::Pick(ref labels) => pick(x[0], labels),
        Op::Scatter(ref labels, n_classes) => scatter(x[0], labels, n_classes),
        Op::Gather(ref indices) => gather_rows(x[0], indices),
        Op::ScatterAdd(ref indices, rows) => scatter_add_rows(x[0], indices, rows),
        Op::MaskedFill(ref mask, value) => masked_fill(x[0], mask.data(), mask.shape(), value),
        Op::Conv2d(ref g) => conv::conv2d(x[0], x[1], g),
        Op::Conv2dInputGrad(ref g) => conv::conv2d_input_grad(x[0], x[1], g),
        Op::Conv2dWeightGrad(ref g) => conv::conv2d_weight_grad(x[0], x[1], g),
        Op::MaxPool(ref g) => pool::max_pool_select(x[0], x[1], g),
        Op::MaxPoolScatter(ref g) => pool::max_pool_scatter(x[0], x[1], g),
        Op::AvgPool(ref g) => pool::avg_pool(x[0], g),
        Op::AvgPoolTranspose(ref g) => pool::avg_pool_transpose(x[0], g),
    }
}

/// Logistic sigmoid, without overflow for any input.
pub(crate) fn sigmoid<T: Element>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + fast_exp::exp(-x))
    } else {
        let e = fast_exp::exp(x);
        e / (T::ONE + e)
    }
}

/// Where a contribution lands in its input's gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// The contribution has the input's shape.
    Whole,
    /// The contribution covers `start..` along `axis` of the input (the adjoint of a
    /// narrow): the numeric evaluator adds it in place instead of padding a copy.
    At { axis: usize, start: usize },
}

/// One contribution of a rule: input slot, placement and value.
pub(crate) type Contribution<V> = (usize, Placement, V);

/// The vector-Jacobian rule of `op`, the op of node `out` with input nodes `inputs`: for
/// each input slot, `g · ∂out/∂input`, written in [`Algebra`] ops.
///
/// `wants[slot]` says whether the sweep uses input `slot`'s contribution: the costly
/// rules (products, convolutions) skip the ones it would drop, such as the gradient of a
/// batch of data, which would otherwise be computed (or recorded) and thrown away.
pub(crate) fn vjp<T: Element, A: Algebra<T>>(
    alg: &mut A,
    op: &Op<T>,
    inputs: &[usize],
    out: usize,
    g: A::V,
    wants: [bool; MAX_INPUTS],
    emit: &mut Vec<Contribution<A::V>>,
) {
    let whole = |slot: usize, v: A::V| (slot, Placement::Whole, v);
    let x = |slot: usize| inputs[slot];
    match *op {
        Op::Leaf | Op::Constant => {}
        Op::Add => {
            let (s0, s1) = (alg.node_shape(x(0)), alg.node_shape(x(1)));
            let g1 = alg.dup(&g);
            let c1 = alg.sum_to(g1, s1);
            emit.push(whole(0, alg.sum_to(g, s0)));
            emit.push(whole(1, c1));
        }
        Op::Mul => {
            let (a, b) = (alg.primal(x(0)), alg.primal(x(1)));
            let (ga, gb) = (alg.mul(&g, &b), alg.mul(&g, &a));
            let (sa, sb) = (alg.node_shape(x(0)), alg.node_shape(x(1)));
            emit.push(whole(0, alg.sum_to(ga, sa)));
            emit.push(whole(1, alg.sum_to(gb, sb)));
        }
        Op::Neg => emit.push(whole(0, alg.neg(&g))),
        Op::Scale(c) => emit.push(whole(0, alg.scale(&g, c))),
        Op::Shift(_) => emit.push(whole(0, g)),
        Op::Exp => {
            let y = alg.primal(out);
            emit.push(whole(0, alg.mul(&g, &y)));
        }
        Op::Log => {
            let a = alg.primal(x(0));
            let inverse = alg.apply(Op::PowF(-T::ONE), &[&a]);
            emit.push(whole(0, alg.mul(&g, &inverse)));
        }
        Op::PowF(e) => {
            let a = alg.primal(x(0));
            let d = alg.apply(Op::PowF(e - T::ONE), &[&a]);
            let d = alg.scale(&d, e);
            emit.push(whole(0, alg.mul(&g, &d)));
        }
        Op::Tanh => {
            let y = alg.primal(out);
            emit.push(whole(0, alg.apply(Op::TanhBackward, &[&g, &y])));
        }
        Op::Sigmoid => {
            let y = alg.primal(out);
            emit.push(whole(0, alg.apply(Op::SigmoidBackward, &[&g, &y])));
        }
        Op::Relu => {
            let a = alg.primal(x(0));
            emit.push(whole(0, alg.apply(Op::StepMul(T::ZERO), &[&g, &a])));
        }
        Op::LeakyRelu(s) => {
            let a = alg.primal(x(0));
            emit.push(whole(0, alg.apply(Op::StepMul(s), &[&g, &a])));
        }
        Op::TanhBackward => {
            // out = u (1 - y²): linear in u; d/dy = -2 u y.
            let (u, y) = (alg.primal(x(0)), alg.primal(x(1)));
            emit.push(whole(0, alg.apply(Op::TanhBackward, &[&g, &y])));
            let uy = alg.mul(&u, &y);
            let d = alg.mul(&g, &uy);
            emit.push(whole(1, alg.scale(&d, -T::from_f64(2.0))));
        }
        Op::SigmoidBackward => {
            // out = u y (1 - y): linear in u; d/dy = u (1 - 2y).
            let (u, y) = (alg.primal(x(0)), alg.primal(x(1)));
            emit.push(whole(0, alg.apply(Op::SigmoidBackward, &[&g, &y])));
            let slope = alg.scale(&y, -T::from_f64(2.0));
            let slope = alg.apply(Op::Shift(T::ONE), &[&slope]);
            let gu = alg.mul(&g, &u);
            emit.push(whole(1, alg.mul(&gu, &slope)));
        }
        Op::StepMul(s) => {
            // Piecewise linear in u with a constant slope: nothing flows to the gate.
            let gate = alg.primal(x(1));
            emit.push(whole(0, alg.apply(Op::StepMul(s), &[&g, &gate])));
        }
        Op::BiasAct(act) => {
            // The derivative from the output, as tanh's and sigmoid's own rules; ReLU's
            // gate `y > 0` is `x + bias > 0`.
            let y = alg.primal(out);
            let op = match act {
                BiasActivation::Relu => Op::StepMul(T::ZERO),
                BiasActivation::Tanh => Op::TanhBackward,
                BiasActivation::Sigmoid => Op::SigmoidBackward,
            };
            let d = alg.apply(op, &[&g, &y]);
            let bias_shape = alg.node_shape(x(1));
            let d_bias = alg.dup(&d);
            let d_bias = alg.sum_to(d_bias, bias_shape);
            emit.push(whole(0, d));
            emit.push(whole(1, d_bias));
        }
        Op::SoftmaxCrossEntropy(ref labels) => {
            // The rules of -mean(pick(log_softmax(z))) chained, in the same ops and order
            // (so the same bits): g scattered to the labels as -g/m, minus softmax(z)
            // times its row sums.
            let z = alg.primal(x(0));
            let classes = alg.node_shape(x(0)).dims()[1];
            let g = alg.neg(&g);
            let g = alg.scale(&g, T::ONE / T::from_f64(labels.len() as f64));
            let g = alg.apply(Op::BroadcastTo(Shape::vector(labels.len())), &[&g]);
            let g = alg.apply(Op::Scatter(labels.clone(), classes), &[&g]);
            let log_probs = alg.apply(Op::LogSoftmax(1), &[&z]);
            let probs = alg.apply(Op::Exp, &[&log_probs]);
            let sums = alg.sum_keep(&g, 1);
            let spread = alg.mul(&probs, &sums);
            let spread = alg.neg(&spread);
            emit.push(whole(0, alg.add(&g, &spread)));
        }
        Op::MatMul { ta, tb } => {
            let (a, b) = (alg.primal(x(0)), alg.primal(x(1)));
            if wants[0] {
                let ga = if ta {
                    alg.matmul(&b, &g, tb, true)
                } else {
                    alg.matmul(&g, &b, false, !tb)
                };
                emit.push(whole(0, ga));
            }
            if !wants[1] {
                return;
            }
            let (sa, sb) = (alg.node_shape(x(0)), alg.node_shape(x(1)));
            let gb = if sb.rank() == 2 && sa.rank() > 2 {
                // A shared weight: stack the batch's rows (ta is false here, see forward).
                let rows = sa.numel() / sa.dims()[sa.rank() - 1];
                let a2 = alg.reshape(a, Shape::matrix(rows, sa.dims()[sa.rank() - 1]));
                let g_dims = alg.shape(&g);
                let g2 = alg.reshape(g, Shape::matrix(rows, g_dims.dims()[g_dims.rank() - 1]));
                if tb {
                    alg.matmul(&g2, &a2, true, false)
                } else {
                    alg.matmul(&a2, &g2, true, false)
                }
            } else if tb {
                alg.matmul(&g, &a, true, ta)
            } else {
                alg.matmul(&a, &g, !ta, false)
            };
            emit.push(whole(1, gb));
        }
        Op::Reshape(_) => {
            let to = alg.node_shape(x(0));
            emit.push(whole(0, alg.reshape(g, to)));
        }
        Op::Permute(perm) => emit.push(whole(0, alg.apply(Op::Permute(perm.inverse()), &[&g]))),
        Op::BroadcastTo(_) => {
            let to = alg.node_shape(x(0));
            emit.push(whole(0, alg.sum_to(g, to)));
        }
        Op::SumTo(_) => {
            let to = alg.node_shape(x(0));
            emit.push(whole(0, alg.apply(Op::BroadcastTo(to), &[&g])));
        }
        Op::Narrow { axis, start, .. } => {
            emit.push((0, Placement::At { axis, start }, g));
        }
        Op::Pad { axis, start, .. } => {
            let len = alg.node_shape(x(0)).dims()[axis];
            emit.push(whole(0, alg.apply(Op::Narrow { axis, start, len }, &[&g])));
        }
        Op::AddAt { axis, start } => {
            let len = alg.node_shape(x(1)).dims()[axis];
            let part = alg.apply(Op::Narrow { axis, start, len }, &[&g]);
            emit.push(whole(0, g));
            emit.push(whole(1, part));
        }
        Op::LogSoftmax(axis) => {
            // g - softmax(a) · Σ_axis g, with softmax(a) = exp(out).
            let y = alg.primal(out);
            let probs = alg.apply(Op::Exp, &[&y]);
            let sums = alg.sum_keep(&g, axis);
            let spread = alg.mul(&probs, &sums);
            let spread = alg.neg(&spread);
            emit.push(whole(0, alg.add(&g, &spread)));
        }
        Op::Softmax(axis) => {
            // y (g - Σ_axis g y).
            let y = alg.primal(out);
            let gy = alg.mul(&g, &y);
            let sums = alg.sum_keep(&gy, axis);
            let sums = alg.neg(&sums);
            let centred = alg.add(&g, &sums);
            emit.push(whole(0, alg.mul(&y, &centred)));
        }
        Op::Pick(ref labels) => {
            let classes = alg.node_shape(x(0)).dims()[1];
            emit.push(whole(
                0,
                alg.apply(Op::Scatter(labels.clone(), classes), &[&g]),
            ));
        }
        Op::Scatter(ref labels, _) => {
            emit.push(whole(0, alg.apply(Op::Pick(labels.clone()), &[&g])))
        }
        Op::Gather(ref indices) => {
            let rows = alg.node_shape(x(0)).dims()[0];
            emit.push(whole(
                0,
                alg.apply(Op::ScatterAdd(indices.clone(), rows), &[&g]),
            ));
        }
        Op::ScatterAdd(ref indices, _) => {
            emit.push(whole(0, alg.apply(Op::Gather(indices.clone()), &[&g])));
        }
        Op::MaskedFill(ref mask, _) => {
            emit.push(whole(
                0,
                alg.apply(Op::MaskedFill(mask.clone(), T::ZERO), &[&g]),
            ));
        }
        Op::Conv2d(geom) => {
            // Bilinear in (x, w): each derivative is the product with the other fixed.
            let (a, w) = (alg.primal(x(0)), alg.primal(x(1)));
            if wants[0] {
                emit.push(whole(0, alg.apply(Op::Conv2dInputGrad(geom), &[&g, &w])));
            }
            if wants[1] {
                emit.push(whole(1, alg.apply(Op::Conv2dWeightGrad(geom), &[&a, &g])));
            }
        }
        Op::Conv2dInputGrad(geom) => {
            // <input_grad(u, w), g> = <conv(g, w), u> = <w, weight_grad(g, u)>.
            let (u, w) = (alg.primal(x(0)), alg.primal(x(1)));
            emit.push(whole(0, alg.apply(Op::Conv2d(geom), &[&g, &w])));
            emit.push(whole(1, alg.apply(Op::Conv2dWeightGrad(geom), &[&g, &u])));
        }
        Op::Conv2dWeightGrad(geom) => {
            // <weight_grad(a, u), g> = <conv(a, g), u> = <a, input_grad(u, g)>.
            let (a, u) = (alg.primal(x(0)), alg.primal(x(1)));
            emit.push(whole(0, alg.apply(Op::Conv2dInputGrad(geom), &[&u, &g])));
            emit.push(whole(1, alg.apply(Op::Conv2d(geom), &[&a, &g])));
        }
        Op::MaxPool(geom) => {
            // Linear in the values; the keys only choose positions (no derivative).
            let keys = alg.primal(x(1));
            emit.push(whole(0, alg.apply(Op::MaxPoolScatter(geom), &[&g, &keys])));
        }
        Op::MaxPoolScatter(geom) => {
            let keys = alg.primal(x(1));
            emit.push(whole(0, alg.apply(Op::MaxPool(geom), &[&g, &keys])));
        }
        Op::AvgPool(geom) => emit.push(whole(0, alg.apply(Op::AvgPoolTranspose(geom), &[&g]))),
        Op::AvgPoolTranspose(geom) => emit.push(whole(0, alg.apply(Op::AvgPool(geom), &[&g]))),
    }
}

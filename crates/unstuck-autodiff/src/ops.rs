//! Every op: its constructor on the tape (the forward) and its vector-Jacobian rule (the
//! backward), in the same order, matched in this file only.
//!
//! Rules are written against [`Backend`], never against raw numbers: the numeric backend
//! evaluates them for a plain first-order gradient, the recording backend appends them to
//! the tape so that the gradient is itself differentiable (Hessian-vector products).
//! Ops without a rule of their own (`sub`, `div`, `square`, `sqrt`, `mean`, `gelu`,
//! `softmax_cross_entropy`, `mse`, ...) are compositions and inherit exact derivatives.

use crate::Element;
use crate::backend::Backend;
use crate::kernels::{self, Broadcast};
use crate::tape::{Tape, Var};
use crate::tensor::{Shape, Tensor};
use std::sync::Arc;

/// A node index inside one tape.
pub(crate) type NodeId = u32;

/// The op that produced a node, with the node ids of its inputs.
#[derive(Debug, Clone)]
pub(crate) enum Op<T> {
    Leaf,
    Constant,
    Add(NodeId, NodeId),
    Mul(NodeId, NodeId),
    Neg(NodeId),
    Scale(NodeId, T),
    Shift(NodeId, T),
    MatMul {
        a: NodeId,
        b: NodeId,
        ta: bool,
        tb: bool,
    },
    Transpose(NodeId),
    Sum(NodeId),
    SumAxis(NodeId, usize),
    Expand(NodeId),
    Reshape(NodeId),
    Exp(NodeId),
    Log(NodeId),
    PowF(NodeId, T),
    Tanh(NodeId),
    TanhBackward(NodeId, NodeId),
    Sigmoid(NodeId),
    Relu(NodeId),
    LeakyRelu(NodeId, T),
    Slice {
        a: NodeId,
        offset: usize,
    },
    Pad {
        a: NodeId,
        offset: usize,
    },
    LogSoftmax(NodeId),
    Pick(NodeId, Arc<[usize]>),
    Scatter(NodeId, Arc<[usize]>),
}

impl<T> Op<T> {
    /// The input node ids (at most two).
    pub(crate) fn inputs(&self) -> [Option<NodeId>; 2] {
        use Op::*;
        match *self {
            Leaf | Constant => [None, None],
            Add(a, b) | Mul(a, b) | TanhBackward(a, b) | MatMul { a, b, .. } => [Some(a), Some(b)],
            Neg(a)
            | Scale(a, _)
            | Shift(a, _)
            | Transpose(a)
            | Sum(a)
            | SumAxis(a, _)
            | Expand(a)
            | Reshape(a)
            | Exp(a)
            | Log(a)
            | PowF(a, _)
            | Tanh(a)
            | Sigmoid(a)
            | Relu(a)
            | LeakyRelu(a, _)
            | Slice { a, .. }
            | Pad { a, .. }
            | LogSoftmax(a)
            | Pick(a, _)
            | Scatter(a, _) => [Some(a), None],
        }
    }
}

impl<T: Element> Tape<T> {
    fn unary(&self, a: Var, op: Op<T>, forward: impl FnOnce(&Tensor<T>) -> Tensor<T>) -> Var {
        let value = self.with_value(a, forward);
        self.push(value, op, self.is_tracked(a))
    }

    fn binary(
        &self,
        a: Var,
        b: Var,
        op: Op<T>,
        forward: impl FnOnce(&Tensor<T>, &Tensor<T>) -> Tensor<T>,
    ) -> Var {
        let value = self.with_values(a, b, forward);
        let tracked = self.is_tracked(a) || self.is_tracked(b);
        self.push(value, op, tracked)
    }

    /// `a + b`, broadcasting a scalar, a row `[n]` or a column `[m, 1]` over `[m, n]`.
    pub fn add(&self, a: Var, b: Var) -> Var {
        self.binary(a, b, Op::Add(a.index, b.index), |x, y| {
            kernels::zip("add", x, y, |p, q| p + q)
        })
    }

    /// `a * b` elementwise, with the broadcasting of [`Tape::add`].
    pub fn mul(&self, a: Var, b: Var) -> Var {
        self.binary(a, b, Op::Mul(a.index, b.index), |x, y| {
            kernels::zip("mul", x, y, |p, q| p * q)
        })
    }

    /// `-a`.
    pub fn neg(&self, a: Var) -> Var {
        self.unary(a, Op::Neg(a.index), |x| kernels::map(x, |p| -p))
    }

    /// `c * a` for a constant `c`.
    pub fn scale(&self, a: Var, c: T) -> Var {
        self.unary(a, Op::Scale(a.index, c), |x| kernels::map(x, |p| c * p))
    }

    /// `a + c` for a constant `c`.
    pub fn shift(&self, a: Var, c: T) -> Var {
        self.unary(a, Op::Shift(a.index, c), |x| kernels::map(x, |p| p + c))
    }

    /// Matrix product `a · b` of `[m, k]` and `[k, n]`.
    pub fn matmul(&self, a: Var, b: Var) -> Var {
        self.matmul_t(a, b, false, false)
    }

    /// `op(a) · op(b)`, where `op` transposes when the flag is set; no transpose is materialised.
    pub fn matmul_t(&self, a: Var, b: Var, ta: bool, tb: bool) -> Var {
        let op = Op::MatMul {
            a: a.index,
            b: b.index,
            ta,
            tb,
        };
        self.binary(a, b, op, |x, y| kernels::matmul(x, y, ta, tb))
    }

    /// Matrix transpose.
    pub fn transpose(&self, a: Var) -> Var {
        self.unary(a, Op::Transpose(a.index), kernels::transpose)
    }

    /// Sum of all elements (a scalar).
    pub fn sum(&self, a: Var) -> Var {
        self.unary(a, Op::Sum(a.index), kernels::sum)
    }

    /// Sum over one axis of a matrix: axis 0 gives `[n]`, axis 1 gives `[m]`.
    pub fn sum_axis(&self, a: Var, axis: usize) -> Var {
        self.unary(a, Op::SumAxis(a.index, axis), |x| {
            kernels::sum_axis(x, axis)
        })
    }

    /// Stretches a scalar, a row or a column to `dims` (see [`Tape::add`]).
    pub fn expand(&self, a: Var, dims: &[usize]) -> Var {
        let to = shape_arg("expand", dims);
        self.unary(a, Op::Expand(a.index), |x| kernels::expand(x, to))
    }

    /// The same elements under new dimensions.
    pub fn reshape(&self, a: Var, dims: &[usize]) -> Var {
        let to = shape_arg("reshape", dims);
        self.unary(a, Op::Reshape(a.index), |x| {
            assert!(
                x.numel() == to.numel(),
                "reshape: cannot view shape {:?} as {to:?}",
                x.shape()
            );
            x.clone().with_shape(to)
        })
    }

    /// `e^a` elementwise.
    pub fn exp(&self, a: Var) -> Var {
        self.unary(a, Op::Exp(a.index), |x| kernels::map(x, T::exp))
    }

    /// Natural logarithm elementwise.
    pub fn log(&self, a: Var) -> Var {
        self.unary(a, Op::Log(a.index), |x| kernels::map(x, T::ln))
    }

    /// `a^p` elementwise for a constant exponent `p`.
    pub fn powf(&self, a: Var, p: T) -> Var {
        self.unary(a, Op::PowF(a.index, p), |x| kernels::map(x, |q| q.powf(p)))
    }

    /// Hyperbolic tangent elementwise.
    pub fn tanh(&self, a: Var) -> Var {
        self.unary(a, Op::Tanh(a.index), |x| {
            kernels::map(x, crate::fast_tanh::tanh)
        })
    }

    /// `g * (1 - y^2)`: the backward of `tanh` given its output `y`, fused into one node
    /// because every tanh network's backward pass (and its recorded gradient) runs it.
    pub(crate) fn tanh_backward(&self, g: Var, y: Var) -> Var {
        self.binary(g, y, Op::TanhBackward(g.index, y.index), |gv, yv| {
            kernels::zip("tanh_backward", gv, yv, |p, q| p * (T::ONE - q * q))
        })
    }

    /// Logistic sigmoid `1 / (1 + e^-a)` elementwise, computed without overflow.
    pub fn sigmoid(&self, a: Var) -> Var {
        self.unary(a, Op::Sigmoid(a.index), |x| kernels::map(x, sigmoid))
    }

    /// `max(a, 0)` elementwise; its derivative at 0 is taken as 0, as in PyTorch.
    pub fn relu(&self, a: Var) -> Var {
        self.unary(a, Op::Relu(a.index), |x| {
            kernels::map(x, |p| if p > T::ZERO { p } else { T::ZERO })
        })
    }

    /// `a` where positive, `slope * a` elsewhere.
    pub fn leaky_relu(&self, a: Var, slope: T) -> Var {
        self.unary(a, Op::LeakyRelu(a.index, slope), |x| {
            kernels::map(x, |p| if p > T::ZERO { p } else { slope * p })
        })
    }

    /// Elements `offset..offset + len` of a flat vector: how a model carves a layer out of theta.
    pub fn slice(&self, a: Var, offset: usize, len: usize) -> Var {
        self.unary(a, Op::Slice { a: a.index, offset }, |x| {
            kernels::slice(x, offset, len)
        })
    }

    /// A flat vector placed at `offset` inside zeros of length `total` (the adjoint of `slice`).
    pub fn pad(&self, a: Var, offset: usize, total: usize) -> Var {
        self.unary(a, Op::Pad { a: a.index, offset }, |x| {
            assert!(
                x.shape().rank() == 1 && offset + x.numel() <= total,
                "pad: shape {:?} at offset {offset} does not fit in length {total}",
                x.shape()
            );
            kernels::pad(x, offset, total)
        })
    }

    /// Row-wise log-softmax of a `[batch, classes]` matrix (or of one row `[classes]`).
    pub fn log_softmax(&self, a: Var) -> Var {
        self.unary(a, Op::LogSoftmax(a.index), kernels::log_softmax)
    }

    /// `out[i] = a[i, labels[i]]` for a `[m, n]` matrix: one entry per row.
    pub fn pick(&self, a: Var, labels: &[usize]) -> Var {
        let labels: Arc<[usize]> = labels.into();
        self.unary(a, Op::Pick(a.index, labels.clone()), |x| {
            kernels::pick(x, &labels)
        })
    }

    /// The adjoint of [`Tape::pick`]: a `[m, n_classes]` matrix of zeros with `a[i]` at `(i, labels[i])`.
    pub fn scatter(&self, a: Var, labels: &[usize], n_classes: usize) -> Var {
        let labels: Arc<[usize]> = labels.into();
        self.unary(a, Op::Scatter(a.index, labels.clone()), |x| {
            assert!(
                x.numel() == labels.len() && labels.iter().all(|&c| c < n_classes),
                "scatter: {} values, {} labels, {n_classes} classes",
                x.numel(),
                labels.len()
            );
            kernels::scatter(x, &labels, n_classes)
        })
    }

    // ---- compositions: no rule of their own ----

    /// `a - b`, with the broadcasting of [`Tape::add`].
    pub fn sub(&self, a: Var, b: Var) -> Var {
        self.add(a, self.neg(b))
    }

    /// `a / b`, with the broadcasting of [`Tape::add`].
    pub fn div(&self, a: Var, b: Var) -> Var {
        self.mul(a, self.powf(b, -T::ONE))
    }

    /// `a^2` elementwise.
    pub fn square(&self, a: Var) -> Var {
        self.mul(a, a)
    }

    /// Square root elementwise.
    pub fn sqrt(&self, a: Var) -> Var {
        self.powf(a, T::from_f64(0.5))
    }

    /// Mean of all elements (a scalar).
    pub fn mean(&self, a: Var) -> Var {
        let n = self.shape_of(a).numel();
        self.scale(self.sum(a), T::ONE / T::from_f64(n as f64))
    }

    /// Mean over one axis of a matrix (see [`Tape::sum_axis`]).
    pub fn mean_axis(&self, a: Var, axis: usize) -> Var {
        let [m, n] = kernels::matrix_dims("mean_axis", self.shape_of(a));
        let count = if axis == 0 { m } else { n };
        self.scale(self.sum_axis(a, axis), T::ONE / T::from_f64(count as f64))
    }

    /// GELU in its tanh form: `0.5 a (1 + tanh(sqrt(2/pi) (a + 0.044715 a^3)))`.
    pub fn gelu(&self, a: Var) -> Var {
        let c = T::from_f64((2.0 / std::f64::consts::PI).sqrt());
        let cube = self.powf(a, T::from_f64(3.0));
        let inner = self.scale(self.add(a, self.scale(cube, T::from_f64(0.044715))), c);
        let gate = self.shift(self.tanh(inner), T::ONE);
        self.scale(self.mul(a, gate), T::from_f64(0.5))
    }

    /// Mean softmax cross-entropy of `[batch, classes]` logits against integer labels.
    ///
    /// Stable for any logits: it goes through [`Tape::log_softmax`], which subtracts each
    /// row's maximum. Labels are checked against the class count (a panic names both).
    pub fn softmax_cross_entropy(&self, logits: Var, labels: &[usize]) -> Var {
        let log_probs = self.log_softmax(logits);
        self.neg(self.mean(self.pick(log_probs, labels)))
    }

    /// Mean squared error over all elements.
    pub fn mse(&self, pred: Var, target: Var) -> Var {
        let (p, t) = (self.shape_of(pred), self.shape_of(target));
        assert!(
            p == t,
            "mse: prediction shape {p:?} differs from target shape {t:?}"
        );
        self.mean(self.square(self.sub(pred, target)))
    }
}

fn shape_arg(op: &str, dims: &[usize]) -> Shape {
    Shape::from_dims(dims).unwrap_or_else(|e| panic!("{op}: {e}"))
}

fn sigmoid<T: Element>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::ONE + e)
    }
}

/// The vector-Jacobian rule of the op that made node `out`: for each input, the
/// contribution `g · ∂out/∂input`, written with backend ops so that it can be recorded.
pub(crate) fn vjp<T: Element, B: Backend<T>>(
    b: &mut B,
    op: &Op<T>,
    out: usize,
    g: &B::V,
    emit: &mut Vec<(usize, Placement, B::V)>,
) {
    let n = |id: NodeId| id as usize;
    match *op {
        Op::Leaf | Op::Constant => {}
        Op::Add(x, y) => {
            for id in [x, y] {
                let to = b.node_shape(n(id));
                emit.push((n(id), Placement::Whole, b.reduce_to(g, to)));
            }
        }
        Op::Mul(x, y) => {
            let (px, py) = (b.primal(n(x)), b.primal(n(y)));
            let gx = b.mul(g, &py);
            let gy = b.mul(g, &px);
            let (sx, sy) = (b.node_shape(n(x)), b.node_shape(n(y)));
            emit.push((n(x), Placement::Whole, b.reduce_to(&gx, sx)));
            emit.push((n(y), Placement::Whole, b.reduce_to(&gy, sy)));
        }
        Op::Neg(x) => emit.push((n(x), Placement::Whole, b.neg(g))),
        Op::Scale(x, c) => emit.push((n(x), Placement::Whole, b.scale(g, c))),
        Op::Shift(x, _) => emit.push((n(x), Placement::Whole, b.dup(g))),
        Op::MatMul { a, b: y, ta, tb } => {
            let (pa, pb) = (b.primal(n(a)), b.primal(n(y)));
            let ga = if ta {
                b.matmul(&pb, g, tb, true)
            } else {
                b.matmul(g, &pb, false, !tb)
            };
            let gb = if tb {
                b.matmul(g, &pa, true, ta)
            } else {
                b.matmul(&pa, g, !ta, false)
            };
            emit.push((n(a), Placement::Whole, ga));
            emit.push((n(y), Placement::Whole, gb));
        }
        Op::Transpose(x) => emit.push((n(x), Placement::Whole, b.transpose(g))),
        Op::Sum(x) | Op::Expand(x) => {
            // Sum and Expand are each other's adjoints; both reduce or stretch g to x's shape.
            let to = b.node_shape(n(x));
            let gx = if b.shape(g).numel() == 1 {
                b.expand(g, to)
            } else {
                b.reduce_to(g, to)
            };
            emit.push((n(x), Placement::Whole, gx));
        }
        Op::SumAxis(x, axis) => {
            let to = b.node_shape(n(x));
            let [m, _] = kernels::matrix_dims("sum_axis", to);
            let gx = if axis == 0 {
                b.expand(g, to)
            } else {
                let column = b.reshape(g, Shape::matrix(m, 1));
                b.expand(&column, to)
            };
            emit.push((n(x), Placement::Whole, gx));
        }
        Op::Reshape(x) => {
            let to = b.node_shape(n(x));
            emit.push((n(x), Placement::Whole, b.reshape(g, to)));
        }
        Op::Exp(x) => {
            let y = b.primal(out);
            emit.push((n(x), Placement::Whole, b.mul(g, &y)));
        }
        Op::Log(x) => {
            let px = b.primal(n(x));
            let inv = b.powf(&px, -T::ONE);
            emit.push((n(x), Placement::Whole, b.mul(g, &inv)));
        }
        Op::PowF(x, p) => {
            let px = b.primal(n(x));
            let d = b.powf(&px, p - T::ONE);
            let d = b.scale(&d, p);
            emit.push((n(x), Placement::Whole, b.mul(g, &d)));
        }
        Op::Tanh(x) => {
            // d tanh = 1 - y^2
            let y = b.primal(out);
            emit.push((n(x), Placement::Whole, b.tanh_backward(g, &y)));
        }
        Op::TanhBackward(gn, yn) => {
            // out = g (1 - y^2): d/dg is the same map, d/dy = -2 g y.
            let y = b.primal(n(yn));
            let g_forward = b.primal(n(gn));
            emit.push((n(gn), Placement::Whole, b.tanh_backward(g, &y)));
            let gy = b.mul(&g_forward, &y);
            let d = b.mul(g, &gy);
            emit.push((n(yn), Placement::Whole, b.scale(&d, -T::from_f64(2.0))));
        }
        Op::Sigmoid(x) => {
            // d sigmoid = y (1 - y)
            let y = b.primal(out);
            let one_minus = b.neg(&y);
            let one_minus = b.shift(&one_minus, T::ONE);
            let d = b.mul(&y, &one_minus);
            emit.push((n(x), Placement::Whole, b.mul(g, &d)));
        }
        Op::Relu(x) => {
            let mask = b.step_mask(n(x), T::ZERO);
            emit.push((n(x), Placement::Whole, b.mul(g, &mask)));
        }
        Op::LeakyRelu(x, slope) => {
            let mask = b.step_mask(n(x), slope);
            emit.push((n(x), Placement::Whole, b.mul(g, &mask)));
        }
        Op::Slice { a, offset } => {
            // The adjoint is `pad(g)`; emitting it as a placement lets the numeric backend
            // add `g` into the accumulator's range instead of building a padded copy.
            let total = b.node_shape(n(a)).numel();
            emit.push((n(a), Placement::At { offset, total }, b.dup(g)));
        }
        Op::Pad { a, offset } => {
            let len = b.node_shape(n(a)).numel();
            emit.push((n(a), Placement::Whole, b.slice(g, offset, len)));
        }
        Op::LogSoftmax(x) => {
            // g - softmax(x) * rowsum(g), with softmax(x) = exp(y).
            let y = b.primal(out);
            let probs = b.exp(&y);
            let shape = b.node_shape(n(x));
            let row_sums = if shape.rank() == 2 {
                let s = b.sum_axis(g, 1);
                b.reshape(&s, Shape::matrix(shape.dims()[0], 1))
            } else {
                b.sum(g)
            };
            let spread = b.mul(&probs, &row_sums);
            let spread = b.neg(&spread);
            emit.push((n(x), Placement::Whole, b.add(g, &spread)));
        }
        Op::Pick(x, ref labels) => {
            let [_, classes] = kernels::matrix_dims("pick", b.node_shape(n(x)));
            emit.push((n(x), Placement::Whole, b.scatter(g, labels, classes)));
        }
        Op::Scatter(x, ref labels) => emit.push((n(x), Placement::Whole, b.pick(g, labels))),
    }
}

/// Where a contribution lands in its input's gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// The contribution has the input's shape.
    Whole,
    /// The contribution covers `offset..offset + len` of a flat input of length `total`.
    At { offset: usize, total: usize },
}

/// How a broadcast operand's gradient is summed back, shared by both backends.
pub(crate) fn reduce_plan(from: Shape, to: Shape) -> Broadcast {
    kernels::broadcast_kind(to, from)
        .unwrap_or_else(|| panic!("reduce_to: gradient shape {from:?} does not reduce to {to:?}"))
}

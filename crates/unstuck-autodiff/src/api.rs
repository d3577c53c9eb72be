//! The public constructors of the ops in `op.rs`: each records one node.
//!
//! Inside the tape a shape that does not fit is a programming error: the op panics with
//! its name and the shapes involved.

use crate::Element;
use crate::kernels::conv::ConvGeom;
use crate::kernels::layout::Perm;
use crate::kernels::pool::PoolGeom;
use crate::mask::Mask;
use crate::op::{BiasActivation, Op};
use crate::shape::Shape;
use crate::tape::{Tape, Var};

/// Stride and zero padding of a 2-D convolution, as (height, width).
///
/// ```
/// use unstuck_autodiff::Conv2dOptions;
/// let o = Conv2dOptions::new(2, 1);
/// assert_eq!((o.stride, o.padding), ([2, 2], [1, 1]));
/// assert_eq!(Conv2dOptions::default(), Conv2dOptions::new(1, 0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dOptions {
    /// Step between windows.
    pub stride: [usize; 2],
    /// Zeros added on each side.
    pub padding: [usize; 2],
}

impl Conv2dOptions {
    /// The same stride and padding along height and width.
    pub fn new(stride: usize, padding: usize) -> Self {
        Conv2dOptions {
            stride: [stride; 2],
            padding: [padding; 2],
        }
    }
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Self::new(1, 0)
    }
}

fn rank4(op: &str, s: Shape) -> [usize; 4] {
    match *s.dims() {
        [a, b, c, d] => [a, b, c, d],
        _ => panic!("{op}: needs a rank-4 tensor [N, C, H, W], got shape {s:?}"),
    }
}

fn axis_arg(op: &str, axis: usize, s: Shape) -> usize {
    assert!(
        axis < s.rank(),
        "{op}: axis {axis} out of range for shape {s:?}"
    );
    axis
}

impl<T: Element> Tape<T> {
    fn unary(&self, op: Op<T>, a: Var) -> Var {
        self.record(op, &[a])
    }

    /// `a + b`, broadcasting as NumPy does (trailing dimensions equal or 1).
    pub fn add(&self, a: Var, b: Var) -> Var {
        self.record(Op::Add, &[a, b])
    }

    /// `a * b` elementwise, broadcasting as [`Tape::add`].
    pub fn mul(&self, a: Var, b: Var) -> Var {
        self.record(Op::Mul, &[a, b])
    }

    /// `-a`.
    pub fn neg(&self, a: Var) -> Var {
        self.unary(Op::Neg, a)
    }

    /// `c * a` for a constant `c`.
    pub fn scale(&self, a: Var, c: T) -> Var {
        self.unary(Op::Scale(c), a)
    }

    /// `a + c` for a constant `c`.
    pub fn shift(&self, a: Var, c: T) -> Var {
        self.unary(Op::Shift(c), a)
    }

    /// `e^a` elementwise.
    pub fn exp(&self, a: Var) -> Var {
        self.unary(Op::Exp, a)
    }

    /// Natural logarithm elementwise.
    pub fn log(&self, a: Var) -> Var {
        self.unary(Op::Log, a)
    }

    /// `a^p` elementwise for a constant exponent `p`.
    pub fn powf(&self, a: Var, p: T) -> Var {
        self.unary(Op::PowF(p), a)
    }

    /// Hyperbolic tangent elementwise.
    pub fn tanh(&self, a: Var) -> Var {
        self.unary(Op::Tanh, a)
    }

    /// Logistic sigmoid `1 / (1 + e^-a)` elementwise, computed without overflow.
    pub fn sigmoid(&self, a: Var) -> Var {
        self.unary(Op::Sigmoid, a)
    }

    /// `max(a, 0)` elementwise; its derivative at 0 is taken as 0, as in PyTorch.
    pub fn relu(&self, a: Var) -> Var {
        self.unary(Op::Relu, a)
    }

    /// `a` where positive, `slope * a` elsewhere.
    pub fn leaky_relu(&self, a: Var, slope: T) -> Var {
        self.unary(Op::LeakyRelu(slope), a)
    }

    /// `act(x + bias)` for `x [..., n]` and `bias [n]`: a layer's bias and activation in
    /// one op (one pass over the output, one node), with the values and derivatives of
    /// `act(add(x, bias))`.
    ///
    /// ```
    /// use unstuck_autodiff::{BiasActivation, Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::matrix(vec![1.0, -2.0, 0.5, 3.0], 2, 2).unwrap());
    /// let b = tape.leaf(Tensor::vector(vec![0.5, 1.0]));
    /// let y = tape.bias_activation(x, b, BiasActivation::Relu);
    /// assert_eq!(tape.value(y).data(), &[1.5, 0.0, 1.0, 4.0]);
    /// ```
    ///
    /// # Panics
    /// If `bias` is not a vector as long as the last axis of `x`.
    pub fn bias_activation(&self, x: Var, bias: Var, act: BiasActivation) -> Var {
        self.record(Op::BiasAct(act), &[x, bias])
    }

    /// Mean softmax cross-entropy of `[batch, classes]` logits against integer labels,
    /// as one op: `-mean_i log_softmax(logits)[i, labels[i]]`, with the values and
    /// derivatives of that composition.
    ///
    /// Stable for any logits: each row's maximum is subtracted before `exp`.
    ///
    /// # Panics
    /// If the logits are not a matrix, or the labels are not one per row, each below the
    /// class count (the panic names both).
    pub fn softmax_cross_entropy(&self, logits: Var, labels: &[usize]) -> Var {
        self.unary(Op::SoftmaxCrossEntropy(labels.into()), logits)
    }

    /// Matrix product `a · b` of `[m, k]` and `[k, n]`, or of batches of them (see
    /// [`Tape::matmul_t`]).
    pub fn matmul(&self, a: Var, b: Var) -> Var {
        self.matmul_t(a, b, false, false)
    }

    /// `op(a) · op(b)` over the last two axes, where `op` transposes when its flag is set;
    /// no transpose is materialised.
    ///
    /// Leading axes are batch axes: they must be equal (`[B, H, T, D] · [B, H, D, T]`), or
    /// `b` is a single matrix shared by every matrix of an untransposed `a`
    /// (`[B, T, D] · [D, E]`).
    pub fn matmul_t(&self, a: Var, b: Var, ta: bool, tb: bool) -> Var {
        self.record(Op::MatMul { ta, tb }, &[a, b])
    }

    /// The last two axes swapped (a matrix transpose).
    pub fn transpose(&self, a: Var) -> Var {
        let rank = self.shape_of(a).rank();
        assert!(
            rank >= 2,
            "transpose: needs at least two axes, got rank {rank}"
        );
        let mut axes: Vec<usize> = (0..rank).collect();
        axes.swap(rank - 2, rank - 1);
        self.permute(a, &axes)
    }

    /// The axes reordered: output axis `i` is input axis `axes[i]` (PyTorch's `permute`).
    pub fn permute(&self, a: Var, axes: &[usize]) -> Var {
        self.unary(Op::Permute(Perm::new("permute", axes)), a)
    }

    /// The same elements under new dimensions.
    pub fn reshape(&self, a: Var, dims: &[usize]) -> Var {
        self.unary(Op::Reshape(Shape::of("reshape", dims)), a)
    }

    /// `a` stretched to `dims` by NumPy broadcasting (PyTorch's `expand`).
    pub fn broadcast_to(&self, a: Var, dims: &[usize]) -> Var {
        self.unary(Op::BroadcastTo(Shape::of("broadcast_to", dims)), a)
    }

    /// The same as [`Tape::broadcast_to`].
    pub fn expand(&self, a: Var, dims: &[usize]) -> Var {
        self.broadcast_to(a, dims)
    }

    /// `a` summed down to `dims`, a shape that broadcasts to `a`'s (the adjoint of
    /// [`Tape::broadcast_to`]).
    pub fn sum_to(&self, a: Var, dims: &[usize]) -> Var {
        self.unary(Op::SumTo(Shape::of("sum_to", dims)), a)
    }

    /// Sum of all elements (a scalar).
    pub fn sum(&self, a: Var) -> Var {
        self.unary(Op::SumTo(Shape::SCALAR), a)
    }

    /// Sum over `axes`; with `keep_dims` they stay with length 1.
    pub fn sum_axes(&self, a: Var, axes: &[usize], keep_dims: bool) -> Var {
        let shape = self.shape_of(a);
        for &axis in axes {
            axis_arg("sum_axes", axis, shape);
        }
        let kept = self.sum_to(a, shape.keep_dims_reduced(axes).dims());
        if keep_dims {
            kept
        } else {
            self.reshape(kept, shape.without_axes(axes).dims())
        }
    }

    /// Sum over one axis, which disappears: axis 0 of `[m, n]` gives the column sums `[n]`.
    pub fn sum_axis(&self, a: Var, axis: usize) -> Var {
        self.sum_axes(a, &[axis], false)
    }

    /// Elements `start..start + len` along `axis`.
    pub fn narrow(&self, a: Var, axis: usize, start: usize, len: usize) -> Var {
        axis_arg("narrow", axis, self.shape_of(a));
        self.unary(Op::Narrow { axis, start, len }, a)
    }

    /// `a` placed at `start` along `axis` inside zeros of length `total` there (the
    /// adjoint of [`Tape::narrow`]).
    pub fn pad_axis(&self, a: Var, axis: usize, start: usize, total: usize) -> Var {
        axis_arg("pad", axis, self.shape_of(a));
        self.unary(Op::Pad { axis, start, total }, a)
    }

    /// Elements `offset..offset + len` of a flat vector: how a model carves a layer out of theta.
    pub fn slice(&self, a: Var, offset: usize, len: usize) -> Var {
        let shape = self.shape_of(a);
        assert!(
            shape.rank() == 1,
            "slice: needs a flat vector, got shape {shape:?}"
        );
        self.narrow(a, 0, offset, len)
    }

    /// A flat vector placed at `offset` inside zeros of length `total` (the adjoint of `slice`).
    pub fn pad(&self, a: Var, offset: usize, total: usize) -> Var {
        let shape = self.shape_of(a);
        assert!(
            shape.rank() == 1,
            "pad: needs a flat vector, got shape {shape:?}"
        );
        self.pad_axis(a, 0, offset, total)
    }

    /// Log-softmax over the last axis (rows of a `[batch, classes]` matrix).
    pub fn log_softmax(&self, a: Var) -> Var {
        let rank = self.shape_of(a).rank();
        self.log_softmax_axis(a, rank.saturating_sub(1))
    }

    /// Log-softmax along `axis`: `a - logsumexp(a)`, shifted so no `exp` overflows.
    pub fn log_softmax_axis(&self, a: Var, axis: usize) -> Var {
        axis_arg("log_softmax", axis, self.shape_of(a));
        self.unary(Op::LogSoftmax(axis), a)
    }

    /// Softmax along `axis`.
    pub fn softmax(&self, a: Var, axis: usize) -> Var {
        axis_arg("softmax", axis, self.shape_of(a));
        self.unary(Op::Softmax(axis), a)
    }

    /// `out[i] = a[i, labels[i]]` for a `[m, n]` matrix: one entry per row.
    pub fn pick(&self, a: Var, labels: &[usize]) -> Var {
        self.unary(Op::Pick(labels.into()), a)
    }

    /// The adjoint of [`Tape::pick`]: a `[m, n_classes]` matrix of zeros with `a[i]` at `(i, labels[i])`.
    pub fn scatter(&self, a: Var, labels: &[usize], n_classes: usize) -> Var {
        self.unary(Op::Scatter(labels.into(), n_classes), a)
    }

    /// Rows of `table` (everything after its first axis) by index: row `indices[i]` of
    /// `table` becomes row `i` of the result.
    pub fn gather(&self, table: Var, indices: &[usize]) -> Var {
        self.unary(Op::Gather(indices.into()), table)
    }

    /// Rows of `a` added into a table of `rows` rows at `indices` (the adjoint of
    /// [`Tape::gather`]; repeated indices sum).
    pub fn scatter_add(&self, a: Var, indices: &[usize], rows: usize) -> Var {
        self.unary(Op::ScatterAdd(indices.into(), rows), a)
    }

    /// `value` where `mask` is true, `a` elsewhere; the mask broadcasts to `a`.
    ///
    /// Causal attention fills the scores above the diagonal with `-inf` (or a large
    /// negative number) before the softmax: `tape.masked_fill(scores, &Mask::causal(t), f)`.
    pub fn masked_fill(&self, a: Var, mask: &Mask, value: T) -> Var {
        self.unary(Op::MaskedFill(mask.clone(), value), a)
    }

    /// A 2-D convolution (PyTorch's `conv2d`, a cross-correlation) of `x [N, C, H, W]`
    /// with `weight [O, C, KH, KW]`, plus an optional `bias [O]`: `[N, O, Ho, Wo]` with
    /// `Ho = (H + 2 pad - KH) / stride + 1`.
    pub fn conv2d(&self, x: Var, weight: Var, bias: Option<Var>, options: Conv2dOptions) -> Var {
        let [_, _, h, w] = rank4("conv2d", self.shape_of(x));
        let [o, _, kh, kw] = rank4("conv2d", self.shape_of(weight));
        let geom = ConvGeom {
            stride: options.stride,
            padding: options.padding,
            kernel: [kh, kw],
            input: [h, w],
        };
        let y = self.record(Op::Conv2d(geom), &[x, weight]);
        match bias {
            Some(b) => self.add(y, self.reshape(b, &[o, 1, 1])),
            None => y,
        }
    }

    /// Max pooling of `x [N, C, H, W]` over `kernel x kernel` windows every `stride`
    /// (no padding; PyTorch's `max_pool2d`). The gradient goes to each window's maximum.
    pub fn max_pool2d(&self, x: Var, kernel: usize, stride: usize) -> Var {
        let geom = self.pool_geom("max_pool2d", x, kernel, stride);
        self.record(Op::MaxPool(geom), &[x, x])
    }

    /// Average pooling of `x [N, C, H, W]` over `kernel x kernel` windows every `stride`
    /// (no padding; PyTorch's `avg_pool2d`).
    pub fn avg_pool2d(&self, x: Var, kernel: usize, stride: usize) -> Var {
        let geom = self.pool_geom("avg_pool2d", x, kernel, stride);
        self.unary(Op::AvgPool(geom), x)
    }

    fn pool_geom(&self, op: &str, x: Var, kernel: usize, stride: usize) -> PoolGeom {
        let [_, _, h, w] = rank4(op, self.shape_of(x));
        let geom = PoolGeom {
            kernel: [kernel; 2],
            stride: [stride; 2],
            input: [h, w],
        };
        geom.output();
        geom
    }
}

//! The two ways to evaluate a backward rule: on numbers, or recorded on the tape.

use crate::Element;
use crate::kernels;
use crate::ops::{Op, Placement, reduce_plan};
use crate::tape::{Node, Tape, Var};
use crate::tensor::{Shape, Tensor};
use std::sync::Arc;

/// The algebra backward rules are written in.
///
/// [`Numeric`] computes the numbers and records nothing (first-order gradients and the
/// second backward of an HVP); [`Recording`] appends every step to the tape so the result
/// can be differentiated again (PyTorch's `create_graph=True`).
pub(crate) trait Backend<T: Element> {
    /// A value in this backend: a tensor, or a node on the tape.
    type V;

    /// The op that made node `i`.
    fn node_op(&self, i: usize) -> Op<T>;
    /// The shape of node `i`'s value.
    fn node_shape(&self, i: usize) -> Shape;
    /// Node `i`'s forward value, as a value of this backend.
    fn primal(&mut self, i: usize) -> Self::V;
    /// The shape of a value.
    fn shape(&self, v: &Self::V) -> Shape;
    /// A second handle to the same value.
    fn dup(&mut self, v: &Self::V) -> Self::V;

    fn add(&mut self, a: &Self::V, b: &Self::V) -> Self::V;
    fn mul(&mut self, a: &Self::V, b: &Self::V) -> Self::V;
    fn neg(&mut self, a: &Self::V) -> Self::V;
    fn scale(&mut self, a: &Self::V, c: T) -> Self::V;
    fn shift(&mut self, a: &Self::V, c: T) -> Self::V;
    fn matmul(&mut self, a: &Self::V, b: &Self::V, ta: bool, tb: bool) -> Self::V;
    fn transpose(&mut self, a: &Self::V) -> Self::V;
    fn sum(&mut self, a: &Self::V) -> Self::V;
    fn sum_axis(&mut self, a: &Self::V, axis: usize) -> Self::V;
    fn expand(&mut self, a: &Self::V, to: Shape) -> Self::V;
    fn reshape(&mut self, a: &Self::V, to: Shape) -> Self::V;
    fn exp(&mut self, a: &Self::V) -> Self::V;
    fn tanh_backward(&mut self, g: &Self::V, y: &Self::V) -> Self::V;
    fn powf(&mut self, a: &Self::V, p: T) -> Self::V;
    fn slice(&mut self, a: &Self::V, offset: usize, len: usize) -> Self::V;
    fn pick(&mut self, a: &Self::V, labels: &Arc<[usize]>) -> Self::V;
    fn scatter(&mut self, a: &Self::V, labels: &Arc<[usize]>, n_classes: usize) -> Self::V;
    /// The derivative of (leaky) ReLU at node `i`'s value: 1 where positive, `slope`
    /// elsewhere. A constant: it is piecewise constant, so its own derivative is zero.
    fn step_mask(&mut self, i: usize, slope: T) -> Self::V;
    /// `acc + g` (or `g` alone when nothing has accumulated yet), with `g` placed as
    /// `placement` says; reuses `acc`'s storage where the backend can.
    fn accumulate(&mut self, acc: Option<Self::V>, g: Self::V, placement: Placement) -> Self::V;

    /// Sums a broadcast result back to an operand's shape.
    fn reduce_to(&mut self, g: &Self::V, to: Shape) -> Self::V {
        match reduce_plan(self.shape(g), to) {
            kernels::Broadcast::Same => self.dup(g),
            kernels::Broadcast::Scalar => {
                let s = self.sum(g);
                self.reshape(&s, to)
            }
            kernels::Broadcast::Rows => {
                let s = self.sum_axis(g, 0);
                self.reshape(&s, to)
            }
            kernels::Broadcast::Cols => {
                let s = self.sum_axis(g, 1);
                self.reshape(&s, to)
            }
        }
    }
}

fn step_mask_of<T: Element>(x: &Tensor<T>, slope: T) -> Tensor<T> {
    kernels::map(x, |p| if p > T::ZERO { T::ONE } else { slope })
}

fn add_into<T: Element>(acc: &mut [T], g: &[T]) {
    for (a, &b) in acc.iter_mut().zip(g) {
        *a += b;
    }
}

/// A value of the numeric backend: a node's value (borrowed, never copied) or a new tensor.
#[derive(Debug)]
pub(crate) enum NumVal<T> {
    Node(usize),
    Owned(Tensor<T>),
}

/// Evaluates rules on numbers over a frozen slice of nodes; records nothing.
#[derive(Debug)]
pub(crate) struct Numeric<'a, T> {
    pub(crate) nodes: &'a [Node<T>],
}

impl<T: Element> Numeric<'_, T> {
    fn get<'v>(&'v self, v: &'v NumVal<T>) -> &'v Tensor<T> {
        match v {
            NumVal::Node(i) => &self.nodes[*i].value,
            NumVal::Owned(t) => t,
        }
    }

    fn unary(&self, a: &NumVal<T>, f: impl FnOnce(&Tensor<T>) -> Tensor<T>) -> NumVal<T> {
        NumVal::Owned(f(self.get(a)))
    }

    fn binary(
        &self,
        a: &NumVal<T>,
        b: &NumVal<T>,
        f: impl FnOnce(&Tensor<T>, &Tensor<T>) -> Tensor<T>,
    ) -> NumVal<T> {
        NumVal::Owned(f(self.get(a), self.get(b)))
    }

    /// Takes the tensor out of a value, copying only when it is a node's.
    pub(crate) fn take_tensor(&self, v: NumVal<T>) -> Tensor<T> {
        match v {
            NumVal::Node(i) => self.nodes[i].value.clone(),
            NumVal::Owned(t) => t,
        }
    }
}

impl<T: Element> Backend<T> for Numeric<'_, T> {
    type V = NumVal<T>;

    fn node_op(&self, i: usize) -> Op<T> {
        self.nodes[i].op.clone()
    }
    fn node_shape(&self, i: usize) -> Shape {
        self.nodes[i].value.shape()
    }
    fn primal(&mut self, i: usize) -> NumVal<T> {
        NumVal::Node(i)
    }
    fn shape(&self, v: &NumVal<T>) -> Shape {
        self.get(v).shape()
    }
    fn dup(&mut self, v: &NumVal<T>) -> NumVal<T> {
        match v {
            NumVal::Node(i) => NumVal::Node(*i),
            NumVal::Owned(t) => NumVal::Owned(t.clone()),
        }
    }
    fn add(&mut self, a: &NumVal<T>, b: &NumVal<T>) -> NumVal<T> {
        self.binary(a, b, |x, y| kernels::zip("add", x, y, |p, q| p + q))
    }
    fn mul(&mut self, a: &NumVal<T>, b: &NumVal<T>) -> NumVal<T> {
        self.binary(a, b, |x, y| kernels::zip("mul", x, y, |p, q| p * q))
    }
    fn neg(&mut self, a: &NumVal<T>) -> NumVal<T> {
        self.unary(a, |x| kernels::map(x, |p| -p))
    }
    fn scale(&mut self, a: &NumVal<T>, c: T) -> NumVal<T> {
        self.unary(a, |x| kernels::map(x, |p| c * p))
    }
    fn shift(&mut self, a: &NumVal<T>, c: T) -> NumVal<T> {
        self.unary(a, |x| kernels::map(x, |p| p + c))
    }
    fn matmul(&mut self, a: &NumVal<T>, b: &NumVal<T>, ta: bool, tb: bool) -> NumVal<T> {
        self.binary(a, b, |x, y| kernels::matmul(x, y, ta, tb))
    }
    fn transpose(&mut self, a: &NumVal<T>) -> NumVal<T> {
        self.unary(a, kernels::transpose)
    }
    fn sum(&mut self, a: &NumVal<T>) -> NumVal<T> {
        self.unary(a, kernels::sum)
    }
    fn sum_axis(&mut self, a: &NumVal<T>, axis: usize) -> NumVal<T> {
        self.unary(a, |x| kernels::sum_axis(x, axis))
    }
    fn expand(&mut self, a: &NumVal<T>, to: Shape) -> NumVal<T> {
        self.unary(a, |x| kernels::expand(x, to))
    }
    fn reshape(&mut self, a: &NumVal<T>, to: Shape) -> NumVal<T> {
        match a {
            NumVal::Owned(t) => NumVal::Owned(t.clone().with_shape(to)),
            NumVal::Node(i) => NumVal::Owned(self.nodes[*i].value.clone().with_shape(to)),
        }
    }
    fn tanh_backward(&mut self, g: &NumVal<T>, y: &NumVal<T>) -> NumVal<T> {
        self.binary(g, y, |gv, yv| {
            kernels::zip("tanh_backward", gv, yv, |p, q| p * (T::ONE - q * q))
        })
    }
    fn exp(&mut self, a: &NumVal<T>) -> NumVal<T> {
        self.unary(a, |x| kernels::map(x, T::exp))
    }
    fn powf(&mut self, a: &NumVal<T>, p: T) -> NumVal<T> {
        self.unary(a, |x| kernels::map(x, |q| q.powf(p)))
    }
    fn slice(&mut self, a: &NumVal<T>, offset: usize, len: usize) -> NumVal<T> {
        self.unary(a, |x| kernels::slice(x, offset, len))
    }
    fn pick(&mut self, a: &NumVal<T>, labels: &Arc<[usize]>) -> NumVal<T> {
        self.unary(a, |x| kernels::pick(x, labels))
    }
    fn scatter(&mut self, a: &NumVal<T>, labels: &Arc<[usize]>, n_classes: usize) -> NumVal<T> {
        self.unary(a, |x| kernels::scatter(x, labels, n_classes))
    }
    fn step_mask(&mut self, i: usize, slope: T) -> NumVal<T> {
        NumVal::Owned(step_mask_of(&self.nodes[i].value, slope))
    }
    fn accumulate(
        &mut self,
        acc: Option<NumVal<T>>,
        g: NumVal<T>,
        placement: Placement,
    ) -> NumVal<T> {
        let (offset, total) = match placement {
            Placement::Whole => match acc {
                None => return g,
                Some(NumVal::Owned(mut t)) if t.shape() == self.shape(&g) => {
                    add_into(t.data_mut(), self.get(&g).data());
                    return NumVal::Owned(t);
                }
                Some(acc) => return self.add(&acc, &g),
            },
            Placement::At { offset, total } => (offset, total),
        };
        let mut t = match acc {
            Some(NumVal::Owned(t)) => t,
            Some(NumVal::Node(i)) => self.nodes[i].value.clone(),
            None => Tensor::zeros(Shape::vector(total)),
        };
        let part = self.get(&g).data();
        add_into(&mut t.data_mut()[offset..offset + part.len()], part);
        NumVal::Owned(t)
    }
}

/// Evaluates rules by appending ops to the tape, so the result stays differentiable.
#[derive(Debug)]
pub(crate) struct Recording<'a, T: Element> {
    pub(crate) tape: &'a Tape<T>,
}

impl<T: Element> Backend<T> for Recording<'_, T> {
    type V = Var;

    fn node_op(&self, i: usize) -> Op<T> {
        self.tape.nodes.borrow()[i].op.clone()
    }
    fn node_shape(&self, i: usize) -> Shape {
        self.tape.nodes.borrow()[i].value.shape()
    }
    fn primal(&mut self, i: usize) -> Var {
        self.tape.var(i)
    }
    fn shape(&self, v: &Var) -> Shape {
        self.tape.shape_of(*v)
    }
    fn dup(&mut self, v: &Var) -> Var {
        *v
    }
    fn add(&mut self, a: &Var, b: &Var) -> Var {
        self.tape.add(*a, *b)
    }
    fn mul(&mut self, a: &Var, b: &Var) -> Var {
        self.tape.mul(*a, *b)
    }
    fn neg(&mut self, a: &Var) -> Var {
        self.tape.neg(*a)
    }
    fn scale(&mut self, a: &Var, c: T) -> Var {
        self.tape.scale(*a, c)
    }
    fn shift(&mut self, a: &Var, c: T) -> Var {
        self.tape.shift(*a, c)
    }
    fn matmul(&mut self, a: &Var, b: &Var, ta: bool, tb: bool) -> Var {
        self.tape.matmul_t(*a, *b, ta, tb)
    }
    fn transpose(&mut self, a: &Var) -> Var {
        self.tape.transpose(*a)
    }
    fn sum(&mut self, a: &Var) -> Var {
        self.tape.sum(*a)
    }
    fn sum_axis(&mut self, a: &Var, axis: usize) -> Var {
        self.tape.sum_axis(*a, axis)
    }
    fn expand(&mut self, a: &Var, to: Shape) -> Var {
        self.tape.expand(*a, to.dims())
    }
    fn reshape(&mut self, a: &Var, to: Shape) -> Var {
        self.tape.reshape(*a, to.dims())
    }
    fn tanh_backward(&mut self, g: &Var, y: &Var) -> Var {
        self.tape.tanh_backward(*g, *y)
    }
    fn exp(&mut self, a: &Var) -> Var {
        self.tape.exp(*a)
    }
    fn powf(&mut self, a: &Var, p: T) -> Var {
        self.tape.powf(*a, p)
    }
    fn slice(&mut self, a: &Var, offset: usize, len: usize) -> Var {
        self.tape.slice(*a, offset, len)
    }
    fn pick(&mut self, a: &Var, labels: &Arc<[usize]>) -> Var {
        self.tape.pick(*a, labels)
    }
    fn scatter(&mut self, a: &Var, labels: &Arc<[usize]>, n_classes: usize) -> Var {
        self.tape.scatter(*a, labels, n_classes)
    }
    fn step_mask(&mut self, i: usize, slope: T) -> Var {
        let mask = step_mask_of(&self.tape.nodes.borrow()[i].value, slope);
        self.tape.constant(mask)
    }
    fn accumulate(&mut self, acc: Option<Var>, g: Var, placement: Placement) -> Var {
        let g = match placement {
            Placement::Whole => g,
            Placement::At { offset, total } => self.tape.pad(g, offset, total),
        };
        match acc {
            Some(acc) => self.tape.add(acc, g),
            None => g,
        }
    }
}

//! The k-wide evaluator of rules: one reverse sweep carries `k` cotangents at once, for
//! `H · V` with a block of `k` vectors.
//!
//! Rules are linear in the cotangent, so every value of the sweep either depends on the
//! seed (batched: `k` blocks laid out one after another, `[k, ...shape]`) or does not
//! (a primal: a node's value, or something computed from node values only). Primal work
//! is done once for all `k` vectors; batched work runs as one wide product where the
//! shapes allow (a matrix product with the `k` blocks stacked, a convolution with the
//! `k` blocks folded into its batch) and block by block through `op::forward` otherwise.
//! So any op is supported without a line here, and the common ones share their work.

use crate::Element;
use crate::buffers;
use crate::kernels::matmul::{Operand, gemm};
use crate::numeric::{NumVal, Numeric, Scratch};
use crate::op::{Algebra, Op, Placement, forward};
use crate::shape::Shape;
use crate::sweep::Evaluator;
use crate::tape::{MAX_INPUTS, Node};
use crate::tensor::{Tensor, View};
use std::rc::Rc;

/// A value of the batched sweep.
#[derive(Debug)]
pub(crate) enum BVal<T: Element> {
    /// Independent of the seed: shared by all `k` vectors.
    Primal(NumVal<T>),
    /// `k` blocks of the logical shape, one per vector.
    Batched(Rc<Scratch<T>>, Shape),
}

/// Evaluates rules for `k` cotangents at once over frozen nodes.
#[derive(Debug)]
pub(crate) struct Batched<'a, T> {
    pub(crate) numeric: Numeric<'a, T>,
    pub(crate) k: usize,
}

fn flat(n: usize) -> Shape {
    Shape::vector(n)
}

impl<'a, T: Element> Batched<'a, T> {
    pub(crate) fn new(nodes: &'a [Node<T>], k: usize) -> Self {
        Batched {
            numeric: Numeric { nodes },
            k,
        }
    }

    /// A batched value from `k` blocks of `shape` laid out one after another.
    pub(crate) fn batched(data: Vec<T>, shape: Shape) -> BVal<T> {
        let n = data.len();
        BVal::Batched(
            Rc::new(Scratch::new(Tensor::from_parts(data, flat(n)))),
            shape,
        )
    }

    /// The `k` blocks of a batched value, taken without a copy when unshared.
    pub(crate) fn take_blocks(&self, v: BVal<T>) -> Vec<T> {
        match v {
            BVal::Batched(rc, _) => match Rc::try_unwrap(rc) {
                Ok(mut scratch) => scratch.take(),
                Err(rc) => buffers::copy(rc.tensor().data()),
            },
            BVal::Primal(p) => {
                panic!("batched sweep: a result that does not depend on the seed ({p:?})")
            }
        }
    }

    /// Block `j` of `v` (all of it when `v` is primal).
    fn block<'v>(&'v self, v: &'v BVal<T>, j: usize) -> View<'v, T> {
        match v {
            BVal::Primal(p) => self.numeric.get(p),
            BVal::Batched(rc, shape) => {
                let n = shape.numel();
                View::new(&rc.tensor().data()[j * n..(j + 1) * n], *shape)
            }
        }
    }

    /// The whole data of a batched value.
    fn all<'v>(&'v self, v: &'v BVal<T>) -> &'v [T] {
        match v {
            BVal::Batched(rc, _) => rc.tensor().data(),
            BVal::Primal(_) => unreachable!("only called on batched values"),
        }
    }

    /// `op` on each block in turn, through `op::forward`: right for every op.
    fn block_by_block(&self, op: &Op<T>, inputs: &[&BVal<T>]) -> BVal<T> {
        let mut data = Vec::new();
        let mut shape = Shape::SCALAR;
        for j in 0..self.k {
            let mut views = [View::new(&[], flat(0)); MAX_INPUTS];
            for (view, input) in views.iter_mut().zip(inputs) {
                *view = self.block(input, j);
            }
            let out = forward(op, &views[..inputs.len()]);
            if j == 0 {
                shape = out.shape();
                data = buffers::take(self.k * shape.numel());
            }
            data.extend_from_slice(out.data());
            buffers::give(out.into_data());
        }
        Self::batched(data, shape)
    }

    /// The shared work of the common cases, or `None` to go block by block.
    fn wide(&self, op: &Op<T>, inputs: &[&BVal<T>]) -> Option<BVal<T>> {
        let k = self.k;
        let batched: Vec<bool> = inputs
            .iter()
            .map(|v| matches!(v, BVal::Batched(..)))
            .collect();
        match *op {
            // Maps of one value: the k blocks are one long vector.
            Op::Neg | Op::Scale(_) | Op::Shift(_) if batched[0] => {
                let data = self.all(inputs[0]);
                let out = forward(op, &[View::new(data, flat(data.len()))]);
                Some(Self::batched(out.into_data(), self.shape(inputs[0])))
            }
            // Elementwise pairs of equal shapes: batched with batched, or with a primal
            // broadcast over the k blocks.
            Op::Add | Op::Mul | Op::TanhBackward | Op::SigmoidBackward | Op::StepMul(_)
                if self.shape(inputs[0]) == self.shape(inputs[1]) =>
            {
                let shape = self.shape(inputs[0]);
                let n = shape.numel();
                let as_view = |i: usize| -> View<'_, T> {
                    if batched[i] {
                        let d = self.all(inputs[i]);
                        View::new(d, Shape::matrix(k, n))
                    } else {
                        View::new(self.block(inputs[i], 0).data, Shape::matrix(1, n))
                    }
                };
                let out = forward(op, &[as_view(0), as_view(1)]);
                Some(Self::batched(out.into_data(), shape))
            }
            Op::MatMul { ta, tb } => self.wide_matmul(inputs, &batched, ta, tb),
            Op::Conv2d(_) | Op::Conv2dInputGrad(_) if batched[0] && !batched[1] => {
                // The k blocks join the images' batch axis.
                let shape = self.shape(inputs[0]);
                let d = shape.dims();
                let folded = Shape::of("batched conv", &[k * d[0], d[1], d[2], d[3]]);
                let w = self.block(inputs[1], 0);
                let out = forward(op, &[View::new(self.all(inputs[0]), folded), w]);
                let o = out.dims().to_vec();
                let logical = Shape::of("batched conv", &[d[0], o[1], o[2], o[3]]);
                Some(Self::batched(out.into_data(), logical))
            }
            _ => None,
        }
    }

    /// A matrix product whose left operand is batched and untransposed, against one
    /// shared matrix: the k blocks are already k stacked row blocks, so this is one
    /// product. (Other placements would need the blocks transposed into place first;
    /// measured, the copies cost more than the wider product saves, so they go block by
    /// block.)
    fn wide_matmul(
        &self,
        inputs: &[&BVal<T>],
        batched: &[bool],
        ta: bool,
        tb: bool,
    ) -> Option<BVal<T>> {
        let (sa, sb) = (self.shape(inputs[0]), self.shape(inputs[1]));
        if ta || sb.rank() != 2 || !batched[0] || batched[1] {
            return None;
        }
        let (br, bc) = (sb.dims()[0], sb.dims()[1]);
        let n = if tb { br } else { bc };
        let bd = Operand {
            rows: br,
            cols: bc,
            transposed: tb,
        };
        let a = self.all(inputs[0]);
        let inner = sa.dims()[sa.rank() - 1];
        let rows = a.len() / inner.max(1);
        let mut out = buffers::zeros(rows * n);
        let ad = Operand {
            rows,
            cols: inner,
            transposed: false,
        };
        gemm(a, ad, self.block(inputs[1], 0).data, bd, &mut out, false);
        let mut dims = sa.dims().to_vec();
        *dims.last_mut().expect("rank 2 at least") = n;
        Some(Self::batched(out, Shape::of("batched matmul", &dims)))
    }
}

impl<T: Element> Algebra<T> for Batched<'_, T> {
    type V = BVal<T>;

    fn apply(&mut self, op: Op<T>, inputs: &[&BVal<T>]) -> BVal<T> {
        if inputs.iter().all(|v| matches!(v, BVal::Primal(_))) {
            let primals: Vec<&NumVal<T>> = inputs
                .iter()
                .map(|v| match v {
                    BVal::Primal(p) => p,
                    BVal::Batched(..) => unreachable!(),
                })
                .collect();
            return BVal::Primal(self.numeric.apply(op, &primals));
        }
        match self.wide(&op, inputs) {
            Some(v) => v,
            None => self.block_by_block(&op, inputs),
        }
    }

    fn primal(&mut self, node: usize) -> BVal<T> {
        BVal::Primal(NumVal::Node(node))
    }

    fn node_shape(&self, node: usize) -> Shape {
        self.numeric.node_shape(node)
    }

    fn shape(&self, v: &BVal<T>) -> Shape {
        match v {
            BVal::Primal(p) => self.numeric.get(p).shape,
            BVal::Batched(_, shape) => *shape,
        }
    }

    fn dup(&mut self, v: &BVal<T>) -> BVal<T> {
        match v {
            BVal::Primal(p) => BVal::Primal(self.numeric.dup(p)),
            BVal::Batched(rc, shape) => BVal::Batched(Rc::clone(rc), *shape),
        }
    }

    fn reshape(&mut self, a: BVal<T>, to: Shape) -> BVal<T> {
        match a {
            BVal::Primal(p) => BVal::Primal(self.numeric.reshape(p, to)),
            BVal::Batched(rc, shape) => {
                assert!(
                    shape.numel() == to.numel(),
                    "reshape: cannot view shape {shape:?} as {to:?}"
                );
                BVal::Batched(rc, to)
            }
        }
    }
}

impl<T: Element> Evaluator<T> for Batched<'_, T> {
    fn node(&self, i: usize) -> (Op<T>, [usize; MAX_INPUTS], usize) {
        self.numeric.node(i)
    }

    fn accumulate(
        &mut self,
        acc: Option<BVal<T>>,
        g: BVal<T>,
        placement: Placement,
        node: usize,
    ) -> BVal<T> {
        assert!(
            matches!(g, BVal::Batched(..)),
            "batched sweep: a contribution that does not depend on the seed"
        );
        let shape = self.numeric.node_shape(node);
        let n = shape.numel();
        let mut total = match acc {
            Some(acc) => self.take_blocks(acc),
            None if placement == Placement::Whole => return g,
            None => buffers::zeros(self.k * n),
        };
        match placement {
            Placement::Whole => {
                for (a, &b) in total.iter_mut().zip(self.all(&g)) {
                    *a += b;
                }
            }
            Placement::At { axis, start } => {
                let part_shape = self.shape(&g);
                let part_n = part_shape.numel();
                for (j, block) in total.chunks_exact_mut(n).enumerate() {
                    let part = View::new(&self.all(&g)[j * part_n..(j + 1) * part_n], part_shape);
                    crate::numeric::add_into_block(block, shape, part, axis, start);
                }
            }
        }
        Self::batched(total, shape)
    }
}

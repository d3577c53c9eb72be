//! The k-wide evaluator of rules: one reverse sweep carries `k` cotangents at once, for
//! `H · V` with a block of `k` vectors.
//!
//! Rules are linear in the cotangent, so every value of the sweep either depends on the
//! seed (batched) or does not (a primal: a node's value, or something computed from node
//! values only). Primal work is done once for all `k` vectors.
//!
//! A batched value of logical shape `[d0, .., dn]` holds its `k` vectors interleaved just
//! before the last axis: physically `[d0, .., k, dn]` (a scalar: `[k, 1]`). This is the
//! layout in which every rule of a dense network runs as one wide operation (JAX's
//! `vmap` picks a batch axis per value for the same reason):
//! - a matrix product with a batched left operand is one product with `k` times the rows
//!   (`[r, k, c]` is `[r·k, c]`), and one with a batched right operand is one product with
//!   `k` times the columns (`[r, k, c]` is `[r, k·c]`): `Aᵀ·G` for `k` vectors is a
//!   single product;
//! - a primal broadcasts over the `k` vectors by NumPy rules without a copy (it is seen
//!   as `[d0, .., 1, dn]`), so elementwise rules, broadcasts and sums run once;
//! - the seed and the result (rank 1) are `[k, P]`, the caller's layout.
//!
//! What the layout does not cover (a reshape that changes the last axis, a transposed
//! batched product, an op beyond rank 3, the ops without a wide path here) is moved to
//! `k` blocks one after another (`[k, ..shape]`), computed there (convolutions with the
//! blocks folded into the image batch, anything else block by block through
//! `op::forward`, so every op works without a line here) and moved back.

use crate::Element;
use crate::buffers;
use crate::kernels::elementwise::{add_into, broadcast_to, sum_to};
use crate::kernels::matmul::{Operand, gemm};
use crate::numeric::{NumVal, Numeric, Scratch};
use crate::op::{Algebra, Op, Placement, forward};
use crate::shape::{MAX_RANK, Shape};
use crate::sweep::Evaluator;
use crate::tape::{MAX_INPUTS, Node};
use crate::tensor::{Tensor, View};
use std::rc::Rc;
use unstuck_core::vectorized;

/// A value of the batched sweep.
#[derive(Debug)]
pub(crate) enum BVal<T: Element> {
    /// Independent of the seed: shared by all `k` vectors.
    Primal(NumVal<T>),
    /// `k` values of the logical shape, interleaved before its last axis.
    Batched(Rc<Scratch<T>>, Shape),
}

/// Evaluates rules for `k` cotangents at once over frozen nodes.
#[derive(Debug)]
pub(crate) struct Batched<'a, T> {
    pub(crate) numeric: Numeric<'a, T>,
    pub(crate) k: usize,
}

/// A logical shape seen as `[outer, last]`: the batched layout is `[outer, k, last]`.
fn outer_last(shape: Shape) -> (usize, usize) {
    match shape.dims().split_last() {
        Some((&last, lead)) => (lead.iter().product(), last),
        None => (1, 1),
    }
}

/// The physical shape of a batched value (`k` inserted before the last axis), when it
/// fits in [`MAX_RANK`] axes; with `k = 1`, the shape under which a primal broadcasts
/// against batched values.
fn physical(shape: Shape, k: usize) -> Option<Shape> {
    let dims = shape.dims();
    if dims.len() + 1 > MAX_RANK {
        return None;
    }
    let mut out = [0; MAX_RANK];
    let (lead, last) = match dims.split_last() {
        Some((&last, lead)) => (lead, last),
        None => (&[][..], 1),
    };
    out[..lead.len()].copy_from_slice(lead);
    out[lead.len()] = k;
    out[lead.len() + 1] = last;
    Some(Shape::of("batched sweep", &out[..lead.len() + 2]))
}

/// `[outer, k, last]` to `[k, outer, last]` (`to_blocks`), or back.
fn relayout<T: Element>(
    data: &[T],
    outer: usize,
    k: usize,
    last: usize,
    to_blocks: bool,
) -> Vec<T> {
    let mut out = buffers::take(data.len());
    if last == 0 {
        return out;
    }
    // Written in the destination's order, so the buffer is filled without zeroing it.
    let (slow, fast) = if to_blocks { (k, outer) } else { (outer, k) };
    for a in 0..slow {
        for b in 0..fast {
            let (o, j) = if to_blocks { (b, a) } else { (a, b) };
            let from = if to_blocks {
                (o * k + j) * last
            } else {
                (j * outer + o) * last
            };
            out.extend_from_slice(&data[from..from + last]);
        }
    }
    out
}

/// `f(g[o, j, c], p[o, c])` over a batched `g` of `k` rows per primal row of `p`.
///
/// Index loops inside `vectorized`, and `f` a `move` closure (see
/// [`crate::kernels::elementwise::map`]): written through `extend`, the loop stayed in a
/// `Map::fold` compiled for the baseline CPU, two lanes wide, and took 14% of a full
/// Hessian's time (`perf`). Writing over a recycled buffer measured 2-10% faster than
/// copying `g` and updating the copy in place.
fn rows_map<T: Element>(g: &[T], p: &[T], k: usize, last: usize, f: impl Fn(T, T) -> T) -> Vec<T> {
    let mut out = buffers::overwritten(g.len());
    if last == 0 {
        return out;
    }
    vectorized(
        #[inline(always)]
        || {
            let rows = out.chunks_exact_mut(k * last).zip(g.chunks_exact(k * last));
            for ((dst, src), prow) in rows.zip(p.chunks_exact(last)) {
                for (d, s) in dst.chunks_exact_mut(last).zip(src.chunks_exact(last)) {
                    for c in 0..last {
                        d[c] = f(s[c], prow[c]);
                    }
                }
            }
        },
    );
    out
}

/// A narrow or the adjoint of one along `axis` of a batched value of logical `shape`: the
/// value seen as `[outer, len, inner]` around that axis, with `k` folded into `outer`
/// (last axis) or `inner` (any other).
fn around_axis(shape: Shape, axis: usize, k: usize) -> (usize, usize, usize) {
    let dims = shape.dims();
    let len = dims[axis];
    let before: usize = dims[..axis].iter().product();
    if axis + 1 == dims.len() {
        (before * k, len, 1)
    } else {
        let after: usize = dims[axis + 1..].iter().product();
        (before, len, after * k)
    }
}

impl<'a, T: Element> Batched<'a, T> {
    pub(crate) fn new(nodes: &'a [Node<T>], k: usize) -> Self {
        Batched {
            numeric: Numeric { nodes },
            k,
        }
    }

    /// A batched value from data already in the interleaved layout.
    fn wrap(data: Vec<T>, shape: Shape) -> BVal<T> {
        let n = data.len();
        BVal::Batched(
            Rc::new(Scratch::new(Tensor::from_parts(data, Shape::vector(n)))),
            shape,
        )
    }

    /// A batched value from `k` blocks of `shape` laid out one after another.
    pub(crate) fn interleave(&self, data: Vec<T>, shape: Shape) -> BVal<T> {
        let (outer, last) = outer_last(shape);
        if outer == 1 {
            return Self::wrap(data, shape);
        }
        let inter = relayout(&data, outer, self.k, last, false);
        buffers::give(data);
        Self::wrap(inter, shape)
    }

    /// The `k` blocks of a batched value one after another, without a copy when they
    /// already are (a vector) and the value is unshared.
    pub(crate) fn deinterleave(&self, v: BVal<T>) -> Vec<T> {
        match v {
            BVal::Batched(rc, shape) => {
                let (outer, last) = outer_last(shape);
                if outer != 1 {
                    return relayout(rc.tensor().data(), outer, self.k, last, true);
                }
                match Rc::try_unwrap(rc) {
                    Ok(mut scratch) => scratch.take(),
                    Err(rc) => buffers::copy(rc.tensor().data()),
                }
            }
            BVal::Primal(p) => {
                panic!("batched sweep: a result that does not depend on the seed ({p:?})")
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

    /// A primal's data (with its logical shape).
    fn primal_view<'v>(&'v self, v: &'v BVal<T>) -> View<'v, T> {
        match v {
            BVal::Primal(p) => self.numeric.get(p),
            BVal::Batched(..) => unreachable!("only called on primals"),
        }
    }

    /// An input as the wide kernels see it: batched values in their physical shape,
    /// primals with a 1 where the batched values have `k`.
    fn physical_view<'v>(&'v self, v: &'v BVal<T>) -> Option<View<'v, T>> {
        match v {
            BVal::Batched(rc, shape) => {
                Some(View::new(rc.tensor().data(), physical(*shape, self.k)?))
            }
            BVal::Primal(p) => {
                let view = self.numeric.get(p);
                Some(View::new(view.data, physical(view.shape, 1)?))
            }
        }
    }

    /// `op` on inputs moved to `k` blocks one after another, and the result moved back:
    /// right for every op.
    fn through_blocks(&self, op: &Op<T>, inputs: &[&BVal<T>]) -> BVal<T> {
        let blocks: Vec<Option<Vec<T>>> = inputs
            .iter()
            .map(|v| match v {
                BVal::Batched(rc, shape) => {
                    let (outer, last) = outer_last(*shape);
                    Some(relayout(rc.tensor().data(), outer, self.k, last, true))
                }
                BVal::Primal(_) => None,
            })
            .collect();
        let block = |i: usize, j: usize| -> View<'_, T> {
            match &blocks[i] {
                Some(data) => {
                    let shape = self.shape(inputs[i]);
                    let n = shape.numel();
                    View::new(&data[j * n..(j + 1) * n], shape)
                }
                None => self.primal_view(inputs[i]),
            }
        };
        let (data, shape) = match *op {
            Op::Conv2d(_) | Op::Conv2dInputGrad(_)
                if blocks[0].is_some() && blocks[1].is_none() =>
            {
                // The k blocks join the images' batch axis.
                let d = self.shape(inputs[0]).dims().to_vec();
                let folded = Shape::of("batched conv", &[self.k * d[0], d[1], d[2], d[3]]);
                let data = blocks[0].as_deref().expect("batched input");
                let out = forward(op, &[View::new(data, folded), block(1, 0)]);
                let o = out.dims().to_vec();
                let logical = Shape::of("batched conv", &[d[0], o[1], o[2], o[3]]);
                (out.into_data(), logical)
            }
            _ => {
                let mut data = Vec::new();
                let mut shape = Shape::SCALAR;
                for j in 0..self.k {
                    let mut views = [View::new(&[], Shape::vector(0)); MAX_INPUTS];
                    for (i, view) in views.iter_mut().enumerate().take(inputs.len()) {
                        *view = block(i, j);
                    }
                    let out = forward(op, &views[..inputs.len()]);
                    if j == 0 {
                        shape = out.shape();
                        data = buffers::take(self.k * shape.numel());
                    }
                    data.extend_from_slice(out.data());
                    buffers::give(out.into_data());
                }
                (data, shape)
            }
        };
        for data in blocks.into_iter().flatten() {
            buffers::give(data);
        }
        self.interleave(data, shape)
    }

    /// The wide computation of `op`, or `None` where the layout has none.
    fn wide(&self, op: &Op<T>, inputs: &[&BVal<T>]) -> Option<BVal<T>> {
        let batched = |i: usize| matches!(inputs[i], BVal::Batched(..));
        match *op {
            // Maps of one value: the layout does not matter.
            Op::Neg | Op::Scale(_) | Op::Shift(_) if batched(0) => {
                let data = self.all(inputs[0]);
                let out = forward(op, &[View::new(data, Shape::vector(data.len()))]);
                Some(Self::wrap(out.into_data(), self.shape(inputs[0])))
            }
            // Elementwise pairs under NumPy broadcasting, a primal stretched over k.
            Op::Add | Op::Mul | Op::TanhBackward | Op::SigmoidBackward | Op::StepMul(_) => {
                let shape = Shape::broadcast(self.shape(inputs[0]), self.shape(inputs[1]))?;
                if let Some(out) = self.rows_against_primal(op, inputs, shape) {
                    return Some(out);
                }
                let (a, b) = (
                    self.physical_view(inputs[0])?,
                    self.physical_view(inputs[1])?,
                );
                let out = forward(op, &[a, b]);
                Some(Self::wrap(out.into_data(), shape))
            }
            Op::BroadcastTo(to) | Op::SumTo(to) if batched(0) => {
                let x = self.physical_view(inputs[0])?;
                let to_physical = physical(to, self.k)?;
                let out = match op {
                    Op::BroadcastTo(_) => broadcast_to(x, to_physical),
                    _ => sum_to(x, to_physical),
                };
                Some(Self::wrap(out.into_data(), to))
            }
            Op::Narrow { axis, start, len } if batched(0) => {
                let shape = self.shape(inputs[0]);
                let (outer, full, inner) = around_axis(shape, axis, self.k);
                let data = self.all(inputs[0]);
                let mut out = buffers::take(outer * len * inner);
                for o in 0..outer {
                    let at = (o * full + start) * inner;
                    out.extend_from_slice(&data[at..at + len * inner]);
                }
                Some(Self::wrap(out, shape.with_dim(axis, len)))
            }
            Op::MatMul { ta, tb } => self.wide_matmul(inputs, ta, tb),
            _ => None,
        }
    }

    /// An elementwise pair of a batched value and a primal of the same shape: each of the
    /// `k` rows `[o, j, :]` against the primal's row `[o, :]`, without NumPy's general
    /// strided loop (the values are those of `op::forward`, element by element).
    fn rows_against_primal(
        &self,
        op: &Op<T>,
        inputs: &[&BVal<T>],
        shape: Shape,
    ) -> Option<BVal<T>> {
        let (g, p, swapped) = match (inputs[0], inputs[1]) {
            (BVal::Batched(..), BVal::Primal(_)) => (inputs[0], inputs[1], false),
            (BVal::Primal(_), BVal::Batched(..)) => (inputs[1], inputs[0], true),
            _ => return None,
        };
        if self.shape(g) != shape || self.shape(p) != shape {
            return None;
        }
        let (g, p) = (self.all(g), self.primal_view(p).data);
        let last = outer_last(shape).1;
        let one = T::ONE;
        let zero = T::ZERO;
        let out = match *op {
            Op::Add => rows_map(g, p, self.k, last, move |a, b| a + b),
            Op::Mul if swapped => rows_map(g, p, self.k, last, move |a, b| b * a),
            Op::Mul => rows_map(g, p, self.k, last, move |a, b| a * b),
            Op::TanhBackward if !swapped => {
                rows_map(g, p, self.k, last, move |g, y| g * (one - y * y))
            }
            Op::SigmoidBackward if !swapped => {
                rows_map(g, p, self.k, last, move |g, y| g * (y * (-y + one)))
            }
            Op::StepMul(s) if !swapped => rows_map(g, p, self.k, last, move |g, v| {
                g * if v > zero { one } else { s }
            }),
            _ => return None,
        };
        Some(Self::wrap(out, shape))
    }

    /// A matrix product of one batched and one primal matrix as one product (see the
    /// module's notes); a batched matrix used transposed is moved to blocks first, or its
    /// product is moved back after.
    fn wide_matmul(&self, inputs: &[&BVal<T>], ta: bool, tb: bool) -> Option<BVal<T>> {
        let k = self.k;
        let (sa, sb) = (self.shape(inputs[0]), self.shape(inputs[1]));
        let left_batched = match (inputs[0], inputs[1]) {
            (BVal::Batched(..), BVal::Primal(_)) => true,
            (BVal::Primal(_), BVal::Batched(..)) => false,
            _ => return None,
        };
        let operand = |s: Shape, transposed: bool| {
            let (rows, cols) = s.as_matrix();
            Operand {
                rows,
                cols,
                transposed,
            }
        };
        if sb.rank() != 2 || (sa.rank() != 2 && (ta || !left_batched)) {
            return None;
        }
        let bd = operand(sb, tb);
        let n = if tb { sb.dims()[0] } else { sb.dims()[1] };
        if left_batched {
            let inner = sa.dims()[sa.rank() - 1];
            let rows = sa.numel() / inner.max(1);
            let b = self.primal_view(inputs[1]).data;
            let a = self.all(inputs[0]);
            if !ta {
                // [rows, k, inner] is [rows·k, inner]: the result is [rows, k, n].
                let mut out = buffers::overwritten(rows * k * n);
                let ad = Operand {
                    rows: rows * k,
                    cols: inner,
                    transposed: false,
                };
                gemm(a, ad, b, bd, &mut out, false);
                let mut dims = sa.dims().to_vec();
                *dims.last_mut().expect("rank 2 at least") = n;
                return Some(Self::wrap(out, Shape::of("batched matmul", &dims)));
            }
            // [rows, k·inner] transposed is [k·inner, rows]: the result comes in blocks.
            let mut out = buffers::overwritten(k * inner * n);
            let ad = Operand {
                rows,
                cols: k * inner,
                transposed: true,
            };
            gemm(a, ad, b, bd, &mut out, false);
            return Some(self.interleave(out, Shape::matrix(inner, n)));
        }
        let a = self.primal_view(inputs[0]).data;
        let ad = operand(sa, ta);
        let m = if ta { sa.dims()[1] } else { sa.dims()[0] };
        let (br, bc) = sb.as_matrix();
        let mut out = buffers::overwritten(m * k * n);
        if !tb {
            // [br, k, bc] is [br, k·bc]: the result is [m, k, bc].
            let bd = Operand {
                rows: br,
                cols: k * bc,
                transposed: false,
            };
            gemm(a, ad, self.all(inputs[1]), bd, &mut out, false);
        } else {
            // The blocks [k, br, bc] are [k·br, bc]; transposed they give [m, k·br].
            let blocks = relayout(self.all(inputs[1]), br, k, bc, true);
            let bd = Operand {
                rows: k * br,
                cols: bc,
                transposed: true,
            };
            gemm(a, ad, &blocks, bd, &mut out, false);
            buffers::give(blocks);
        }
        Some(Self::wrap(out, Shape::matrix(m, n)))
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
            None => self.through_blocks(&op, inputs),
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

    /// A relabel when the last axis stays (the interleaved layout is the same), a move
    /// through blocks otherwise.
    fn reshape(&mut self, a: BVal<T>, to: Shape) -> BVal<T> {
        match a {
            BVal::Primal(p) => BVal::Primal(self.numeric.reshape(p, to)),
            BVal::Batched(rc, shape) => {
                assert!(
                    shape.numel() == to.numel(),
                    "reshape: cannot view shape {shape:?} as {to:?}"
                );
                if outer_last(shape).1 == outer_last(to).1 {
                    return BVal::Batched(rc, to);
                }
                let blocks = self.deinterleave(BVal::Batched(rc, shape));
                self.interleave(blocks, to)
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
        let mut total = match acc {
            Some(BVal::Batched(rc, _)) => match Rc::try_unwrap(rc) {
                Ok(mut scratch) => scratch.take(),
                Err(rc) => buffers::copy(rc.tensor().data()),
            },
            Some(BVal::Primal(_)) => unreachable!("accumulated gradients are batched"),
            None if placement == Placement::Whole => return g,
            None => buffers::zeros(self.k * shape.numel()),
        };
        let part = self.all(&g);
        match placement {
            Placement::Whole => add_into(&mut total, part),
            Placement::At { axis, start } => {
                let full = shape.dims()[axis];
                let (outer, len, inner) = around_axis(self.shape(&g), axis, self.k);
                if len * inner > 0 {
                    for (o, src) in part.chunks_exact(len * inner).enumerate().take(outer) {
                        let at = (o * full + start) * inner;
                        add_into(&mut total[at..at + len * inner], src);
                    }
                }
            }
        }
        Self::wrap(total, shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_map_writes_every_row_against_its_primal_row() {
        // 40 primal rows of 33, 4 batched rows each: 5280 elements, a pooled buffer.
        let (outer, k, last) = (40, 4, 33);
        let g: Vec<f64> = (0..outer * k * last)
            .map(|i| ((i * 37) % 101) as f64 / 10.0 - 5.0)
            .collect();
        let p: Vec<f64> = (0..outer * last)
            .map(|i| ((i * 13) % 29) as f64 / 7.0 - 2.0)
            .collect();
        let f = move |a: f64, b: f64| a * (1.0 - b * b);
        let out = rows_map(&g, &p, k, last, f);
        for o in 0..outer {
            for j in 0..k {
                for c in 0..last {
                    let at = (o * k + j) * last + c;
                    assert_eq!(out[at].to_bits(), f(g[at], p[o * last + c]).to_bits());
                }
            }
        }
        crate::buffers::check_overwrites_recycled("rows_map", || rows_map(&g, &p, k, last, f));
    }
}

//! The numeric evaluator of rules: numbers through `op::forward`, nothing recorded.

use crate::Element;
use crate::buffers;
use crate::kernels::elementwise::add_into;
use crate::kernels::layout::place_in_zeros;
use crate::op::{Algebra, Op, Placement, forward};
use crate::shape::Shape;
use crate::sweep::{Evaluator, accumulate_in_order};
use crate::tape::{MAX_INPUTS, Node, view_of};
use crate::tensor::{Tensor, View};
use std::rc::Rc;

/// A tensor owned by a sweep; its buffer goes back to the pool when the last handle drops.
#[derive(Debug)]
pub(crate) struct Scratch<T: Element>(Tensor<T>);

impl<T: Element> Scratch<T> {
    pub(crate) fn new(t: Tensor<T>) -> Self {
        Scratch(t)
    }

    pub(crate) fn tensor(&self) -> &Tensor<T> {
        &self.0
    }

    /// The elements, moved out (the emptied scratch gives nothing back to the pool).
    pub(crate) fn take(&mut self) -> Vec<T> {
        self.0.take_data()
    }
}

impl<T: Element> Drop for Scratch<T> {
    fn drop(&mut self) {
        buffers::give(self.0.take_data());
    }
}

/// A value of the numeric evaluator: a node's value (borrowed, never copied, possibly
/// under another shape) or a tensor the sweep owns, shared by cheap handles.
#[derive(Debug)]
pub(crate) enum NumVal<T: Element> {
    Node(usize),
    NodeAs(usize, Shape),
    Owned(Rc<Scratch<T>>),
}

impl<T: Element> NumVal<T> {
    pub(crate) fn owned(t: Tensor<T>) -> Self {
        NumVal::Owned(Rc::new(Scratch(t)))
    }
}

/// Evaluates rules on numbers over a frozen slice of nodes; records nothing, so a
/// first-order gradient leaves the tape as it was.
#[derive(Debug)]
pub(crate) struct Numeric<'a, T> {
    pub(crate) nodes: &'a [Node<T>],
}

impl<T: Element> Numeric<'_, T> {
    pub(crate) fn get<'v>(&'v self, v: &'v NumVal<T>) -> View<'v, T> {
        match v {
            NumVal::Node(i) => view_of(self.nodes, *i),
            NumVal::NodeAs(i, shape) => View::new(view_of(self.nodes, *i).data, *shape),
            NumVal::Owned(t) => t.0.view(),
        }
    }

    /// The tensor of `v`, taken without a copy when this is its only handle (to return it,
    /// or to write into it).
    pub(crate) fn take_tensor(&self, v: NumVal<T>) -> Tensor<T> {
        match v {
            NumVal::Owned(rc) => match Rc::try_unwrap(rc) {
                Ok(mut scratch) => {
                    let shape = scratch.0.shape();
                    Tensor::from_parts(scratch.0.take_data(), shape)
                }
                Err(rc) => rc.0.clone(),
            },
            other => self.get(&other).to_tensor(),
        }
    }
}

/// Adds `part` into `total` (of shape `shape`) at `start` along `axis` (the shapes agree
/// elsewhere).
pub(crate) fn add_into_block<T: Element>(
    total: &mut [T],
    shape: Shape,
    part: View<'_, T>,
    axis: usize,
    start: usize,
) {
    let full = shape.dims()[axis];
    let (outer, len, inner) = part.shape.split_at_axis(axis);
    if len * inner == 0 {
        return;
    }
    let data = total;
    for (o, block) in part.data.chunks_exact(len * inner).enumerate().take(outer) {
        let at = (o * full + start) * inner;
        add_into(&mut data[at..at + len * inner], block);
    }
}

impl<T: Element> Algebra<T> for Numeric<'_, T> {
    type V = NumVal<T>;

    fn apply(&mut self, op: Op<T>, inputs: &[&NumVal<T>]) -> NumVal<T> {
        let mut views = [View::new(&[], Shape::vector(0)); MAX_INPUTS];
        for (view, input) in views.iter_mut().zip(inputs) {
            *view = self.get(input);
        }
        NumVal::owned(forward(&op, &views[..inputs.len()]))
    }

    fn primal(&mut self, node: usize) -> NumVal<T> {
        NumVal::Node(node)
    }

    fn node_shape(&self, node: usize) -> Shape {
        self.nodes[node].shape
    }

    fn shape(&self, v: &NumVal<T>) -> Shape {
        self.get(v).shape
    }

    fn dup(&mut self, v: &NumVal<T>) -> NumVal<T> {
        match v {
            NumVal::Node(i) => NumVal::Node(*i),
            NumVal::NodeAs(i, shape) => NumVal::NodeAs(*i, *shape),
            NumVal::Owned(t) => NumVal::Owned(Rc::clone(t)),
        }
    }

    fn reshape(&mut self, a: NumVal<T>, to: Shape) -> NumVal<T> {
        assert!(
            self.shape(&a).numel() == to.numel(),
            "reshape: cannot view shape {:?} as {to:?}",
            self.shape(&a)
        );
        match a {
            NumVal::Node(i) | NumVal::NodeAs(i, _) => NumVal::NodeAs(i, to),
            owned => NumVal::owned(self.take_tensor(owned).with_shape(to)),
        }
    }
}

impl<T: Element> Evaluator<T> for Numeric<'_, T> {
    fn node(&self, i: usize) -> (Op<T>, [usize; MAX_INPUTS], usize) {
        let node = &self.nodes[i];
        (node.op.clone(), node.inputs(), node.n_inputs())
    }

    /// `acc + g` where `g` lands as `placement` says inside node `node`'s shape; adds in
    /// place when the sweep holds the accumulator's only handle.
    fn accumulate(
        &mut self,
        acc: Option<NumVal<T>>,
        g: NumVal<T>,
        placement: Placement,
        node: usize,
    ) -> NumVal<T> {
        let (axis, start) = match placement {
            Placement::Whole => {
                return match acc {
                    None => g,
                    Some(acc) => {
                        let mut total = self.take_tensor(acc);
                        add_into(total.data_mut(), self.get(&g).data);
                        NumVal::owned(total)
                    }
                };
            }
            Placement::At { axis, start } => (axis, start),
        };
        let shape = self.nodes[node].shape;
        let total = match acc {
            Some(acc) => {
                let mut total = self.take_tensor(acc);
                add_into_block(total.data_mut(), shape, self.get(&g), axis, start);
                total
            }
            None => {
                // `0 + g`: the very bits of adding `g` into zeros (`-0` included).
                let placed = place_in_zeros(shape, self.get(&g), axis, start, |v| T::ZERO + v);
                Tensor::from_parts(placed, shape)
            }
        };
        NumVal::owned(total)
    }

    fn gathers_slices(&self) -> bool {
        true
    }

    /// Slices that do not overlap (the layers' parameters carved out of theta) are each
    /// written once into the result, and only the gaps between them are zeroed; anything
    /// else is summed in order as [`Numeric::accumulate`] does. Either way each element
    /// gets the same sums, so the same bits.
    fn assemble(&mut self, parts: Vec<(Placement, NumVal<T>)>, node: usize) -> NumVal<T> {
        match self.disjoint_slices(&parts, node) {
            Some(data) => NumVal::owned(Tensor::from_parts(data, self.nodes[node].shape)),
            None => accumulate_in_order(self, parts, node),
        }
    }
}

impl<T: Element> Numeric<'_, T> {
    /// Node `node`'s gradient from slices along one axis that do not overlap, each
    /// element `0 + v` as adding it into zeros gives (`-0` included); `None` when the
    /// parts are not such slices.
    fn disjoint_slices(&self, parts: &[(Placement, NumVal<T>)], node: usize) -> Option<Vec<T>> {
        let shape = self.nodes[node].shape;
        let Placement::At { axis, .. } = parts.first()?.0 else {
            return None;
        };
        let mut blocks = Vec::with_capacity(parts.len());
        for (placement, g) in parts {
            match *placement {
                Placement::At { axis: a, start } if a == axis => {
                    blocks.push((start, self.get(g)));
                }
                _ => return None,
            }
        }
        blocks.sort_unstable_by_key(|&(start, _)| start);
        let len = |part: &View<'_, T>| part.shape.dims()[axis];
        if blocks
            .windows(2)
            .any(|pair| pair[0].0 + len(&pair[0].1) > pair[1].0)
        {
            return None;
        }
        let (outer, full, inner) = shape.split_at_axis(axis);
        let mut data = buffers::take(shape.numel());
        for o in 0..outer {
            let row = o * full * inner;
            for (start, part) in &blocks {
                let block = len(part) * inner;
                data.resize(row + start * inner, T::ZERO);
                let values = &part.data[o * block..(o + 1) * block];
                data.extend(values.iter().map(|&v| T::ZERO + v));
            }
            data.resize(row + full * inner, T::ZERO);
        }
        Some(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first gradient of a slice, as [`Numeric::accumulate`] places it.
    fn in_zeros(shape: Shape, part: View<'_, f64>, axis: usize, start: usize) -> Vec<f64> {
        place_in_zeros(shape, part, axis, start, |v| 0.0 + v)
    }

    #[test]
    fn a_block_in_zeros_has_the_bits_of_adding_it_into_zeros() {
        // A [3, 5, 2] total, a [3, 2, 2] part at 1 along axis 1, with -0 and NaN in it.
        let shape = Shape::of("test", &[3, 5, 2]);
        let part_shape = Shape::of("test", &[3, 2, 2]);
        let data: Vec<f64> = (0..12)
            .map(|i| match i {
                0 => -0.0,
                5 => f64::NAN,
                _ => f64::from(i) - 6.5,
            })
            .collect();
        let part = View::new(&data, part_shape);
        let mut added = vec![0.0; shape.numel()];
        add_into_block(&mut added, shape, part, 1, 1);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        // A recycled buffer full of NaN underneath changes nothing.
        buffers::give(vec![f64::NAN; 4096]);
        assert_eq!(bits(&in_zeros(shape, part, 1, 1)), bits(&added));
        // Along the first axis, and an empty part.
        let flat = Shape::of("test", &[30]);
        let mut added = vec![0.0; 30];
        let part = View::new(&data, Shape::of("test", &[12]));
        add_into_block(&mut added, flat, part, 0, 17);
        assert_eq!(bits(&in_zeros(flat, part, 0, 17)), bits(&added));
        let empty = View::<f64>::new(&[], Shape::of("test", &[0]));
        assert_eq!(in_zeros(flat, empty, 0, 3), vec![0.0; 30]);
    }
}

//! The numeric evaluator of rules: numbers through `op::forward`, nothing recorded.

use crate::Element;
use crate::op::{Algebra, Op, Placement, forward};
use crate::shape::Shape;
use crate::sweep::Evaluator;
use crate::tape::{MAX_INPUTS, Node};
use crate::tensor::{Tensor, View};

/// A value of the numeric evaluator: a node's value (borrowed, never copied) or a tensor
/// the sweep owns.
#[derive(Debug)]
pub(crate) enum NumVal<T> {
    Node(usize),
    Owned(Tensor<T>),
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
            NumVal::Node(i) => self.nodes[*i].value.view(),
            NumVal::Owned(t) => t.view(),
        }
    }

    /// Takes the tensor out of a value, copying only when it is a node's.
    pub(crate) fn take_tensor(&self, v: NumVal<T>) -> Tensor<T> {
        match v {
            NumVal::Node(i) => self.nodes[i].value.clone(),
            NumVal::Owned(t) => t,
        }
    }
}

fn add_into<T: Element>(acc: &mut [T], g: &[T]) {
    for (a, &b) in acc.iter_mut().zip(g) {
        *a += b;
    }
}

/// Adds `part` into `total` at `start` along `axis` (the shapes agree elsewhere).
fn add_into_block<T: Element>(total: &mut Tensor<T>, part: View<'_, T>, axis: usize, start: usize) {
    let full = total.shape().dims()[axis];
    let (outer, len, inner) = part.shape.split_at_axis(axis);
    if len * inner == 0 {
        return;
    }
    let data = total.data_mut();
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
        NumVal::Owned(forward(&op, &views[..inputs.len()]))
    }

    fn primal(&mut self, node: usize) -> NumVal<T> {
        NumVal::Node(node)
    }

    fn node_shape(&self, node: usize) -> Shape {
        self.nodes[node].value.shape()
    }

    fn shape(&self, v: &NumVal<T>) -> Shape {
        self.get(v).shape
    }

    fn dup(&mut self, v: &NumVal<T>) -> NumVal<T> {
        match v {
            NumVal::Node(i) => NumVal::Node(*i),
            NumVal::Owned(t) => NumVal::Owned(t.clone()),
        }
    }
}

impl<T: Element> Evaluator<T> for Numeric<'_, T> {
    fn node(&self, i: usize) -> (Op<T>, [usize; MAX_INPUTS], usize) {
        let node = &self.nodes[i];
        (node.op.clone(), node.inputs(), node.n_inputs())
    }

    /// `acc + g` where `g` lands as `placement` says inside node `node`'s shape; adds in
    /// place when the sweep already owns the accumulator.
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
                    Some(NumVal::Owned(mut t)) if t.shape() == self.get(&g).shape => {
                        add_into(t.data_mut(), self.get(&g).data);
                        NumVal::Owned(t)
                    }
                    Some(acc) => self.apply(Op::Add, &[&acc, &g]),
                };
            }
            Placement::At { axis, start } => (axis, start),
        };
        let mut total = match acc {
            Some(NumVal::Owned(t)) => t,
            Some(NumVal::Node(i)) => self.nodes[i].value.clone(),
            None => Tensor::zeros(self.nodes[node].value.shape()),
        };
        add_into_block(&mut total, self.get(&g), axis, start);
        NumVal::Owned(total)
    }
}

//! The recording evaluator of rules: every step of the backward pass is appended to the
//! tape, so the gradient is itself a differentiable function (`create_graph=True`).

use crate::Element;
use crate::op::{Algebra, Op, Placement};
use crate::shape::Shape;
use crate::sweep::Evaluator;
use crate::tape::{MAX_INPUTS, Tape, Var};

/// Evaluates rules by appending ops to the tape.
#[derive(Debug)]
pub(crate) struct Recording<'a, T: Element> {
    pub(crate) tape: &'a Tape<T>,
}

impl<T: Element> Algebra<T> for Recording<'_, T> {
    type V = Var;

    fn apply(&mut self, op: Op<T>, inputs: &[&Var]) -> Var {
        let mut vars = [self.tape.var(0); MAX_INPUTS];
        for (slot, &&input) in vars.iter_mut().zip(inputs) {
            *slot = input;
        }
        self.tape.record(op, &vars[..inputs.len()])
    }

    fn primal(&mut self, node: usize) -> Var {
        self.tape.var(node)
    }

    fn node_shape(&self, node: usize) -> Shape {
        self.tape.nodes.borrow()[node].shape
    }

    fn shape(&self, v: &Var) -> Shape {
        self.tape.shape_of(*v)
    }

    fn dup(&mut self, v: &Var) -> Var {
        *v
    }
}

impl<T: Element> Evaluator<T> for Recording<'_, T> {
    fn node(&self, i: usize) -> (Op<T>, [usize; MAX_INPUTS], usize) {
        let nodes = self.tape.nodes.borrow();
        (nodes[i].op.clone(), nodes[i].inputs(), nodes[i].n_inputs())
    }

    /// Records `acc + g` (one `AddAt` node for a slice's gradient, not a padded copy and
    /// a full-length sum).
    fn accumulate(&mut self, acc: Option<Var>, g: Var, placement: Placement, node: usize) -> Var {
        match (acc, placement) {
            (None, Placement::Whole) => g,
            (Some(acc), Placement::Whole) => self.add(&acc, &g),
            (None, Placement::At { axis, start }) => {
                let total = self.node_shape(node).dims()[axis];
                self.apply(Op::Pad { axis, start, total }, &[&g])
            }
            (Some(acc), Placement::At { axis, start }) => {
                self.apply(Op::AddAt { axis, start }, &[&acc, &g])
            }
        }
    }
}

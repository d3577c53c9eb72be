//! The tape: an append-only arena of nodes, addressed by index.

use crate::Element;
use crate::op::{Op, forward};
use crate::shape::Shape;
use crate::tensor::{Tensor, View};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering};

/// A handle to a value recorded on a [`Tape`]; only valid on the tape that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Var {
    pub(crate) tape: u32,
    pub(crate) index: u32,
}

impl Var {
    /// The node's position on its tape (creation order, which is a topological order).
    pub fn index(self) -> usize {
        self.index as usize
    }
}

/// The most inputs an op takes.
pub(crate) const MAX_INPUTS: usize = 2;

/// One recorded value, the op that produced it and that op's inputs.
#[derive(Debug, Clone)]
pub(crate) struct Node<T> {
    pub(crate) value: Tensor<T>,
    pub(crate) op: Op<T>,
    inputs: [u32; MAX_INPUTS],
    n_inputs: u8,
    /// Whether any leaf flows into this node; constants and their functions do not.
    pub(crate) tracked: bool,
}

impl<T> Node<T> {
    /// The input node ids, in slot order.
    pub(crate) fn inputs(&self) -> [usize; MAX_INPUTS] {
        self.inputs.map(|i| i as usize)
    }

    pub(crate) fn n_inputs(&self) -> usize {
        self.n_inputs as usize
    }
}

static NEXT_TAPE_ID: AtomicU32 = AtomicU32::new(0);

/// A reverse-mode tape.
///
/// Nodes live in one `Vec`; a [`Var`] is an index into it, so creation order is a
/// topological order and the reverse pass is a plain backwards loop. The arena sits in a
/// single `RefCell` so that ops take `&self` and models can be written as closures
/// `Fn(&Tape<T>, Var) -> Var`.
///
/// ```
/// use unstuck_autodiff::{Tape, Tensor};
/// let tape = Tape::<f64>::new();
/// let x = tape.leaf(Tensor::vector(vec![1.0, 2.0]));
/// let y = tape.sum(tape.square(x)); // y = x0^2 + x1^2
/// let g = tape.grad(y, &[x]);
/// assert_eq!(g[0].data(), &[2.0, 4.0]);
/// ```
#[derive(Debug)]
pub struct Tape<T: Element = f64> {
    id: u32,
    pub(crate) nodes: RefCell<Vec<Node<T>>>,
}

impl<T: Element> Default for Tape<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Element> Tape<T> {
    /// An empty tape.
    pub fn new() -> Self {
        Tape {
            id: NEXT_TAPE_ID.fetch_add(1, Ordering::Relaxed),
            nodes: RefCell::new(Vec::new()),
        }
    }

    /// Records a differentiable input.
    pub fn leaf(&self, value: Tensor<T>) -> Var {
        self.push(value, Op::Leaf, &[], true)
    }

    /// Records an input that gradients do not flow into (data, labels, masks).
    pub fn constant(&self, value: Tensor<T>) -> Var {
        self.push(value, Op::Constant, &[], false)
    }

    /// Records a scalar constant.
    pub fn scalar(&self, x: T) -> Var {
        self.constant(Tensor::scalar(x))
    }

    /// A copy of a recorded value.
    pub fn value(&self, v: Var) -> Tensor<T> {
        self.check(v);
        self.nodes.borrow()[v.index()].value.clone()
    }

    /// The value of a single-element node.
    ///
    /// # Panics
    /// If the node holds more than one element.
    pub fn scalar_value(&self, v: Var) -> T {
        self.check(v);
        let nodes = self.nodes.borrow();
        let value = &nodes[v.index()].value;
        assert!(
            value.numel() == 1,
            "scalar_value: node has shape {:?}",
            value.shape()
        );
        value.data()[0]
    }

    /// The dimensions of a recorded value.
    pub fn dims(&self, v: Var) -> Vec<usize> {
        self.shape_of(v).dims().to_vec()
    }

    /// The shape of a recorded value.
    pub fn shape(&self, v: Var) -> Shape {
        self.shape_of(v)
    }

    /// The number of nodes recorded so far.
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn shape_of(&self, v: Var) -> Shape {
        self.check(v);
        self.nodes.borrow()[v.index()].value.shape()
    }

    /// Records `op` applied to `inputs`: computes the value, then appends the node.
    pub(crate) fn record(&self, op: Op<T>, inputs: &[Var]) -> Var {
        for &input in inputs {
            self.check(input);
        }
        let (value, tracked) = {
            let nodes = self.nodes.borrow();
            let mut views = [View::new(&[], Shape::vector(0)); MAX_INPUTS];
            for (view, input) in views.iter_mut().zip(inputs) {
                *view = nodes[input.index()].value.view();
            }
            let tracked = inputs.iter().any(|v| nodes[v.index()].tracked);
            (forward(&op, &views[..inputs.len()]), tracked)
        };
        self.push(value, op, inputs, tracked)
    }

    fn push(&self, value: Tensor<T>, op: Op<T>, inputs: &[Var], tracked: bool) -> Var {
        let mut ids = [0u32; MAX_INPUTS];
        for (id, input) in ids.iter_mut().zip(inputs) {
            *id = input.index;
        }
        let mut nodes = self.nodes.borrow_mut();
        let index = u32::try_from(nodes.len()).expect("tape holds at most u32::MAX nodes");
        nodes.push(Node {
            value,
            op,
            inputs: ids,
            n_inputs: inputs.len() as u8,
            tracked,
        });
        Var {
            tape: self.id,
            index,
        }
    }

    pub(crate) fn var(&self, index: usize) -> Var {
        Var {
            tape: self.id,
            index: index as u32,
        }
    }

    /// Panics if `v` was made by another tape: mixing tapes is a programming error.
    pub(crate) fn check(&self, v: Var) {
        assert!(
            v.tape == self.id,
            "Var {} belongs to tape {}, not to tape {}",
            v.index,
            v.tape,
            self.id
        );
    }
}

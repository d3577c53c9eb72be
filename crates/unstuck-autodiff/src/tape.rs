//! The tape: an append-only arena of nodes, addressed by index.

use crate::Element;
use crate::buffers;
use crate::op::{Op, forward};
use crate::shape::Shape;
use crate::tensor::{Tensor, View};
use std::cell::{Cell, RefCell};
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

/// Where a node's elements live: its own buffer, or a run of another node's buffer (a
/// reshape or a contiguous narrow, which copy nothing).
#[derive(Debug, Clone)]
pub(crate) enum Storage<T> {
    Own(Vec<T>),
    Alias { node: u32, offset: usize },
}

/// One recorded value, the op that produced it and that op's inputs.
#[derive(Debug, Clone)]
pub(crate) struct Node<T> {
    storage: Storage<T>,
    pub(crate) shape: Shape,
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

/// Node `i`'s value, seen through any alias (an alias always names a node that owns).
pub(crate) fn view_of<T: Element>(nodes: &[Node<T>], i: usize) -> View<'_, T> {
    let node = &nodes[i];
    let data = match node.storage {
        Storage::Own(ref v) => &v[..],
        Storage::Alias { node: of, offset } => match nodes[of as usize].storage {
            Storage::Own(ref v) => &v[offset..offset + node.shape.numel()],
            Storage::Alias { .. } => unreachable!("aliases point at owning nodes"),
        },
    };
    View::new(data, node.shape)
}

/// Returns every owned buffer of `nodes` to the pool.
pub(crate) fn recycle<T: Element>(nodes: &mut Vec<Node<T>>) {
    for node in nodes.drain(..) {
        if let Storage::Own(v) = node.storage {
            buffers::give(v);
        }
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
    id: Cell<u32>,
    pub(crate) nodes: RefCell<Vec<Node<T>>>,
}

impl<T: Element> Drop for Tape<T> {
    fn drop(&mut self) {
        recycle(self.nodes.get_mut());
    }
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
            id: Cell::new(NEXT_TAPE_ID.fetch_add(1, Ordering::Relaxed)),
            nodes: RefCell::new(Vec::new()),
        }
    }

    /// Forgets everything recorded, keeping the memory for what is recorded next: a tape
    /// cleared and refilled every training step allocates nothing once warm. `Var`s from
    /// before are refused afterwards (the tape takes a new id).
    ///
    /// ```
    /// use unstuck_autodiff::{Tape, Tensor};
    /// let tape = Tape::<f32>::new();
    /// let x = tape.leaf(Tensor::vector(vec![1.0, 2.0]));
    /// tape.clear();
    /// assert!(tape.is_empty());
    /// let y = tape.leaf(Tensor::vector(vec![3.0]));
    /// assert_eq!(y.index(), 0);
    /// # let _ = x;
    /// ```
    pub fn clear(&self) {
        recycle(&mut self.nodes.borrow_mut());
        self.id.set(NEXT_TAPE_ID.fetch_add(1, Ordering::Relaxed));
    }

    /// Records a constant copied from `data` (into reused memory): how a batch that stays
    /// the same from step to step goes onto a fresh tape without a new allocation.
    ///
    /// # Panics
    /// If `data` does not fill `dims` or the rank is above 4.
    pub fn constant_from(&self, data: &[T], dims: &[usize]) -> Var {
        let shape =
            Shape::filled(dims, data.len()).unwrap_or_else(|e| panic!("constant_from: {e}"));
        self.push(
            Storage::Own(buffers::copy(data)),
            shape,
            Op::Constant,
            &[],
            false,
        )
    }

    /// Records a differentiable input copied from `data` (into reused memory).
    ///
    /// # Panics
    /// If `data` does not fill `dims` or the rank is above 4 (user data should go through
    /// [`Tensor::new`], which returns an error instead).
    pub fn leaf_from(&self, data: &[T], dims: &[usize]) -> Var {
        let shape = Shape::filled(dims, data.len()).unwrap_or_else(|e| panic!("leaf_from: {e}"));
        self.push(
            Storage::Own(buffers::copy(data)),
            shape,
            Op::Leaf,
            &[],
            true,
        )
    }

    /// Records a differentiable input.
    pub fn leaf(&self, value: Tensor<T>) -> Var {
        let shape = value.shape();
        self.push(Storage::Own(value.into_data()), shape, Op::Leaf, &[], true)
    }

    /// Records an input that gradients do not flow into (data, labels, masks).
    pub fn constant(&self, value: Tensor<T>) -> Var {
        let shape = value.shape();
        self.push(
            Storage::Own(value.into_data()),
            shape,
            Op::Constant,
            &[],
            false,
        )
    }

    /// Records a scalar constant.
    pub fn scalar(&self, x: T) -> Var {
        self.constant(Tensor::scalar(x))
    }

    /// A copy of a recorded value.
    pub fn value(&self, v: Var) -> Tensor<T> {
        self.check(v);
        view_of(&self.nodes.borrow(), v.index()).to_tensor()
    }

    /// The value of a single-element node.
    ///
    /// # Panics
    /// If the node holds more than one element.
    pub fn scalar_value(&self, v: Var) -> T {
        self.check(v);
        let nodes = self.nodes.borrow();
        let value = view_of(&nodes, v.index());
        assert!(
            value.data.len() == 1,
            "scalar_value: node has shape {:?}",
            value.shape
        );
        value.data[0]
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
        self.nodes.borrow()[v.index()].shape
    }

    /// Records `op` applied to `inputs`: computes the value (or, for a reshape or a
    /// contiguous narrow, points into the input's), then appends the node.
    pub(crate) fn record(&self, op: Op<T>, inputs: &[Var]) -> Var {
        for &input in inputs {
            self.check(input);
        }
        let (storage, shape, tracked) = {
            let nodes = self.nodes.borrow();
            let tracked = inputs.iter().any(|v| nodes[v.index()].tracked);
            let first = inputs.first().map(|v| &nodes[v.index()]);
            match first.and_then(|node| op.view(node.shape).map(|view| (node, view))) {
                Some((node, (offset, shape))) => {
                    let (root, base) = match node.storage {
                        Storage::Own(_) => (inputs[0].index, 0),
                        Storage::Alias { node, offset } => (node, offset),
                    };
                    let storage = Storage::Alias {
                        node: root,
                        offset: base + offset,
                    };
                    (storage, shape, tracked)
                }
                None => {
                    let mut views = [View::new(&[], Shape::vector(0)); MAX_INPUTS];
                    for (view, input) in views.iter_mut().zip(inputs) {
                        *view = view_of(&nodes, input.index());
                    }
                    let value = forward(&op, &views[..inputs.len()]);
                    let shape = value.shape();
                    (Storage::Own(value.into_data()), shape, tracked)
                }
            }
        };
        self.push(storage, shape, op, inputs, tracked)
    }

    fn push(
        &self,
        storage: Storage<T>,
        shape: Shape,
        op: Op<T>,
        inputs: &[Var],
        tracked: bool,
    ) -> Var {
        let mut ids = [0u32; MAX_INPUTS];
        for (id, input) in ids.iter_mut().zip(inputs) {
            *id = input.index;
        }
        let mut nodes = self.nodes.borrow_mut();
        let index = u32::try_from(nodes.len()).expect("tape holds at most u32::MAX nodes");
        nodes.push(Node {
            storage,
            shape,
            op,
            inputs: ids,
            n_inputs: inputs.len() as u8,
            tracked,
        });
        Var {
            tape: self.id.get(),
            index,
        }
    }

    /// Moves the buffer of node `v` (which owns its elements) out of the tape, leaving the
    /// node empty: for the last use of a tape, just before it is dropped.
    pub(crate) fn take_owned(&self, v: Var) -> Vec<T> {
        self.check(v);
        let mut nodes = self.nodes.borrow_mut();
        match &mut nodes[v.index()].storage {
            Storage::Own(data) => std::mem::take(data),
            Storage::Alias { .. } => unreachable!("take_owned: node {} is a view", v.index),
        }
    }

    pub(crate) fn var(&self, index: usize) -> Var {
        Var {
            tape: self.id.get(),
            index: index as u32,
        }
    }

    /// Panics if `v` was made by another tape: mixing tapes is a programming error.
    pub(crate) fn check(&self, v: Var) {
        assert!(
            v.tape == self.id.get(),
            "Var {} belongs to tape {}, not to tape {} (or to it before a clear)",
            v.index,
            v.tape,
            self.id.get()
        );
    }
}

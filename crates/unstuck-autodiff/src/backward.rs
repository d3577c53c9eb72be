//! The reverse sweep, written once for both backends.

use crate::Element;
use crate::backend::{Backend, NumVal, Numeric, Recording};
use crate::ops::vjp;
use crate::tape::{Tape, Var};
use crate::tensor::{Shape, Tensor};

/// Walks nodes `y, y-1, ..., 0`, pushing `seed` (the cotangent of `y`) back to `wrt`.
///
/// Creation order is a topological order, so when the sweep reaches a node every
/// consumer has already added its contribution. Only nodes on a path to `wrt` are
/// visited. Returns one entry per `wrt`; `None` where `y` does not depend on it.
pub(crate) fn sweep<T: Element, B: Backend<T>>(
    b: &mut B,
    y: usize,
    seed: B::V,
    wrt: &[usize],
) -> Vec<Option<B::V>> {
    let mut needed = vec![false; y + 1];
    for &w in wrt {
        if w <= y {
            needed[w] = true;
        }
    }
    let lowest = wrt.iter().copied().min().unwrap_or(y + 1);
    for i in lowest..=y {
        if !needed[i] {
            needed[i] = b
                .node_op(i)
                .inputs()
                .iter()
                .flatten()
                .any(|&input| needed[input as usize]);
        }
    }

    let mut grads: Vec<Option<B::V>> = (0..=y).map(|_| None).collect();
    let mut results: Vec<Option<B::V>> = (0..wrt.len()).map(|_| None).collect();
    if !needed[y] {
        return results;
    }
    grads[y] = Some(seed);
    let mut emitted = Vec::with_capacity(2);
    for i in (lowest..=y).rev() {
        let Some(g) = grads[i].take() else { continue };
        if !needed[i] {
            continue;
        }
        let op = b.node_op(i);
        vjp(b, &op, i, &g, &mut emitted);
        for (input, placement, contribution) in emitted.drain(..) {
            if needed[input] {
                grads[input] = Some(b.accumulate(grads[input].take(), contribution, placement));
            }
        }
        // A node may be both a target and an intermediate: keep its finished gradient.
        for (slot, &w) in results.iter_mut().zip(wrt) {
            if w == i && slot.is_none() {
                *slot = Some(b.dup(&g));
            }
        }
    }
    results
}

impl<T: Element> Tape<T> {
    fn seed_index(&self, y: Var, wrt: &[Var]) -> (usize, Vec<usize>) {
        self.check(y);
        for &w in wrt {
            self.check(w);
        }
        let shape = self.shape_of(y);
        assert!(
            shape.numel() == 1,
            "grad: the output must be a single element, got shape {shape:?}"
        );
        (y.index(), wrt.iter().map(|w| w.index()).collect())
    }

    /// The gradient of the scalar `y` with respect to each of `wrt`, as numbers.
    ///
    /// Records nothing on the tape: first order pays nothing for second-order support.
    ///
    /// # Panics
    /// If `y` is not a single element or a `Var` belongs to another tape.
    pub fn grad(&self, y: Var, wrt: &[Var]) -> Vec<Tensor<T>> {
        let (y_index, wrt_index) = self.seed_index(y, wrt);
        let nodes = self.nodes.borrow();
        let mut numeric = Numeric { nodes: &nodes };
        let seed = NumVal::Owned(Tensor::from_parts(
            vec![T::ONE],
            nodes[y_index].value.shape(),
        ));
        let grads = sweep(&mut numeric, y_index, seed, &wrt_index);
        grads
            .into_iter()
            .zip(&wrt_index)
            .map(|(g, &w)| match g {
                Some(g) => numeric.take_tensor(g),
                None => Tensor::zeros(nodes[w].value.shape()),
            })
            .collect()
    }

    /// The gradient of the scalar `y` with respect to each of `wrt`, recorded on the tape
    /// so that it can be differentiated again (PyTorch's `create_graph=True`).
    ///
    /// ```
    /// use unstuck_autodiff::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::scalar(3.0));
    /// let y = tape.powf(x, 3.0); // y = x^3
    /// let dy = tape.grad_graph(y, &[x])[0]; // 3 x^2 = 27
    /// let d2y = tape.grad(dy, &[x]); // 6 x = 18
    /// assert_eq!(tape.scalar_value(dy), 27.0);
    /// assert_eq!(d2y[0].data(), &[18.0]);
    /// ```
    pub fn grad_graph(&self, y: Var, wrt: &[Var]) -> Vec<Var> {
        let (y_index, wrt_index) = self.seed_index(y, wrt);
        let seed = self.constant(Tensor::from_parts(vec![T::ONE], self.shape_of(y)));
        let mut recording = Recording { tape: self };
        let grads = sweep(&mut recording, y_index, seed, &wrt_index);
        grads
            .into_iter()
            .zip(&wrt_index)
            .map(|(g, &w)| g.unwrap_or_else(|| self.constant(Tensor::zeros(self.shape_at(w)))))
            .collect()
    }

    fn shape_at(&self, index: usize) -> Shape {
        self.nodes.borrow()[index].value.shape()
    }
}

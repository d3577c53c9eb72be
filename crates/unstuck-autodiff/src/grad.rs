//! `Tape::grad` (numbers, records nothing) and `Tape::grad_graph` (recorded, so it can
//! be differentiated again): one sweep, two evaluators.

use crate::Element;
use crate::buffers;
use crate::numeric::{NumVal, Numeric};
use crate::recording::Recording;
use crate::sweep::sweep;
use crate::tape::{Tape, Var};
use crate::tensor::Tensor;

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
        let seed = NumVal::owned(Tensor::from_parts(vec![T::ONE], nodes[y_index].shape));
        let grads = sweep(&mut numeric, y_index, seed, &wrt_index);
        grads
            .into_iter()
            .zip(&wrt_index)
            .map(|(g, &w)| match g {
                Some(g) => numeric.take_tensor(g),
                None => Tensor::zeros(nodes[w].shape),
            })
            .collect()
    }

    /// The gradient of the scalar `y` with respect to `x`, written into `out` (which must
    /// have `x`'s number of elements): with [`Tape::clear`] and [`Tape::leaf_from`], a
    /// training step that records, differentiates and clears a tape allocates nothing
    /// once warm.
    ///
    /// # Panics
    /// If `out` has the wrong length, `y` is not a single element or a `Var` belongs to
    /// another tape.
    pub fn grad_into(&self, y: Var, x: Var, out: &mut [T]) {
        let grad = self.grad(y, &[x]).pop().expect("one gradient per input");
        assert!(
            grad.numel() == out.len(),
            "grad_into: the gradient has {} elements, the output {}",
            grad.numel(),
            out.len()
        );
        out.copy_from_slice(grad.data());
        buffers::give(grad.into_data());
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
            .map(|(g, &w)| {
                g.unwrap_or_else(|| {
                    let shape = self.nodes.borrow()[w].shape;
                    self.constant(Tensor::zeros(shape))
                })
            })
            .collect()
    }
}

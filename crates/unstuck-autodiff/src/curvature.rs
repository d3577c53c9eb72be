//! Gradients and Hessian-vector products of a scalar function of one flat vector.

use crate::batched::Batched;
use crate::buffers;
use crate::error::{ensure_finite, ensure_len};
use crate::numeric::{NumVal, Numeric};
use crate::shape::Shape;
use crate::sweep::sweep;
use crate::tape::{Node, Tape, Var, recycle};
use crate::tensor::Tensor;
use crate::{AutodiffError, Element};
use rayon::prelude::*;

/// Runs `f` on a fresh tape at `theta` and checks that it returned a finite scalar.
fn record<T: Element, F>(f: F, theta: &[T]) -> Result<(Tape<T>, Var, Var), AutodiffError>
where
    F: FnOnce(&Tape<T>, Var) -> Var,
{
    ensure_finite("theta", theta)?;
    let tape = Tape::new();
    let theta_var = tape.leaf_from(theta, &[theta.len()]);
    let y = f(&tape, theta_var);
    crate::step::scalar_output(&tape, y)?;
    Ok((tape, theta_var, y))
}

/// The value and gradient of `f` at `theta`.
///
/// ```
/// use unstuck_autodiff::gradient;
/// // L(w1, w2) = (1 - w1 w2)^2, the lecture's one-hidden-unit network
/// let loss = |tape: &unstuck_autodiff::Tape<f64>, w| {
///     let w1 = tape.slice(w, 0, 1);
///     let w2 = tape.slice(w, 1, 1);
///     tape.sum(tape.square(tape.shift(tape.neg(tape.mul(w1, w2)), 1.0)))
/// };
/// let (value, grad) = gradient(loss, &[0.5, 2.0]).unwrap();
/// assert_eq!(value, 0.0);
/// assert_eq!(grad, vec![0.0, 0.0]);
/// ```
pub fn gradient<T: Element, F>(f: F, theta: &[T]) -> Result<(T, Vec<T>), AutodiffError>
where
    F: FnOnce(&Tape<T>, Var) -> Var,
{
    let (tape, theta_var, y) = record(f, theta)?;
    let value = tape.scalar_value(y);
    let grad = tape
        .grad(y, &[theta_var])
        .pop()
        .expect("one gradient per input");
    Ok((value, grad.into_data()))
}

/// The Hessian-vector product `H(theta) · v` of `f`.
///
/// ```
/// use unstuck_autodiff::hvp;
/// // f(x) = x0^2 x1: H = [[2 x1, 2 x0], [2 x0, 0]]
/// let f = |tape: &unstuck_autodiff::Tape<f64>, x| {
///     let x0 = tape.slice(x, 0, 1);
///     let x1 = tape.slice(x, 1, 1);
///     tape.sum(tape.mul(tape.square(x0), x1))
/// };
/// let hv = hvp(f, &[1.0, 3.0], &[1.0, 0.0]).unwrap();
/// assert_eq!(hv, vec![6.0, 2.0]);
/// ```
pub fn hvp<T: Element, F>(f: F, theta: &[T], v: &[T]) -> Result<Vec<T>, AutodiffError>
where
    F: FnOnce(&Tape<T>, Var) -> Var,
{
    Curvature::new(f, theta)?.hvp(v)
}

/// `f` recorded once at `theta` with its gradient graph, ready for many `H · v`.
///
/// Recording the forward pass and the differentiable gradient happens once; each
/// Hessian-vector product is then a single non-recording backward sweep through the
/// gradient's graph, seeded with `v` (reverse-over-reverse). The recorded nodes are
/// frozen, so `Curvature` is `Sync` and many threads may apply it at once.
#[derive(Debug)]
pub struct Curvature<T: Element> {
    nodes: Vec<Node<T>>,
    theta_index: usize,
    grad_index: usize,
    value: T,
    gradient: Vec<T>,
}

impl<T: Element> Drop for Curvature<T> {
    fn drop(&mut self) {
        recycle(&mut self.nodes);
    }
}

impl<T: Element> Curvature<T> {
    /// Records `f` and its gradient graph at `theta`.
    pub fn new<F>(f: F, theta: &[T]) -> Result<Self, AutodiffError>
    where
        F: FnOnce(&Tape<T>, Var) -> Var,
    {
        let (tape, theta_var, y) = record(f, theta)?;
        let grad = tape.grad_graph(y, &[theta_var])[0];
        let value = tape.scalar_value(y);
        let gradient = tape.value(grad).into_data();
        Ok(Curvature {
            nodes: std::mem::take(&mut *tape.nodes.borrow_mut()),
            theta_index: theta_var.index(),
            grad_index: grad.index(),
            value,
            gradient,
        })
    }

    /// The number of parameters `P`.
    pub fn dim(&self) -> usize {
        self.gradient.len()
    }

    /// `f(theta)`.
    pub fn value(&self) -> T {
        self.value
    }

    /// `∇f(theta)`.
    pub fn gradient(&self) -> &[T] {
        &self.gradient
    }

    /// `H · v`.
    pub fn hvp(&self, v: &[T]) -> Result<Vec<T>, AutodiffError> {
        ensure_len("hvp direction", self.dim(), v.len())?;
        ensure_finite("hvp direction", v)?;
        Ok(self.hvp_unchecked(v))
    }

    fn hvp_unchecked(&self, v: &[T]) -> Vec<T> {
        let mut numeric = Numeric { nodes: &self.nodes };
        let seed = NumVal::owned(Tensor::from_parts(buffers::copy(v), Shape::vector(v.len())));
        let mut grads = sweep(&mut numeric, self.grad_index, seed, &[self.theta_index]);
        match grads.pop().flatten() {
            Some(hv) => numeric.take_tensor(hv).into_data(),
            None => vec![T::ZERO; self.dim()],
        }
    }

    /// `H · V` for `k` vectors stored one after another (vector `j` is
    /// `vs[j*P..(j+1)*P]`); the result has the same layout.
    ///
    /// The vectors go through the gradient's graph [`HVP_BLOCK`] at a time in one k-wide
    /// sweep (see `batched.rs`): work that does not depend on the vectors is done once per
    /// sweep and the rules run once for all of its vectors. Sweeps run on rayon's
    /// threads; the cut into sweeps depends on `k` alone, so the result does not depend on
    /// the thread count. Up to [`HVP_BLOCK`] vectors take one sweep on the calling thread
    /// and its result is returned as it is: a Lanczos step on the digits network spent a
    /// tenth of its product zeroing and copying a separate output.
    pub fn hvp_block(&self, vs: &[T], k: usize) -> Result<Vec<T>, AutodiffError> {
        let p = self.dim();
        ensure_len("hvp_block vectors", p * k, vs.len())?;
        ensure_finite("hvp_block vectors", vs)?;
        if p == 0 || k == 0 {
            return Ok(Vec::new());
        }
        if k <= HVP_BLOCK {
            return Ok(self.hvp_sweep(vs, k));
        }
        let sweeps: Vec<Vec<T>> = vs
            .par_chunks(p * HVP_BLOCK)
            .map(|v| self.hvp_sweep(v, v.len() / p))
            .collect();
        Ok(sweeps.concat())
    }

    /// One k-wide second sweep: `H · V` for the `k` vectors of `vs`.
    ///
    /// One vector (a Lanczos step, or a block's last one) takes the plain sweep: the same
    /// arithmetic and bits without the interleaving (on the digits network, 64-32-10 at
    /// batch 32, 358k instructions against 430k).
    fn hvp_sweep(&self, vs: &[T], k: usize) -> Vec<T> {
        if k == 1 {
            return self.hvp_unchecked(vs);
        }
        let mut batched = Batched::new(&self.nodes, k);
        let seed = batched.interleave(buffers::copy(vs), Shape::vector(self.dim()));
        let mut grads = sweep(&mut batched, self.grad_index, seed, &[self.theta_index]);
        match grads.pop().flatten() {
            Some(hv) => batched.deinterleave(hv),
            None => vec![T::ZERO; vs.len()],
        }
    }
}

/// Vectors per k-wide sweep in [`Curvature::hvp_block`]. Measured on the P = 2960 MLP
/// (CPU time, 1 thread): 2 and 4 vectors per sweep cost the same, about 0.75 of a single
/// product per vector; from 8 up the sweep's values (`[256, k, 48]`) outgrow the 512 KiB
/// L2 cache and it gets slower again. A sweep does the same instructions per vector as a
/// single product (the products' multiply-adds dominate), so a wider one saves no work.
pub const HVP_BLOCK: usize = 4;

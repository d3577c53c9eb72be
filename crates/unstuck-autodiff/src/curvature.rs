//! Gradients and Hessian-vector products of a scalar function of one flat vector.

use crate::buffers;
use crate::error::{ensure_finite, ensure_len};
use crate::kernels::elementwise::add_into;
use crate::recorded_graph::{RecordedGraph, record};
use crate::tape::{Tape, Var};
use crate::{AutodiffError, Element};
use rayon::prelude::*;

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

/// `H(theta) · v` of `f(theta) = f(tape, theta, 0) + ... + f(tape, theta, parts - 1)`:
/// the same bits as [`Curvature::sum_of`] followed by [`Curvature::hvp`], but each part is
/// recorded, swept and dropped in one task on one of rayon's threads, so its buffers stay
/// in that thread's pool and the threads meet once. The other workers poll for the parts
/// while it runs ([`unstuck_core::with_hot_workers`]).
///
/// ```
/// use unstuck_autodiff::{Tape, hvp_of_sum};
/// // f(x) = x0^2 x1 as 0.5 f + 0.5 f: H = [[2 x1, 2 x0], [2 x0, 0]]
/// let half = |tape: &Tape<f64>, x, _part| {
///     let x0 = tape.slice(x, 0, 1);
///     let x1 = tape.slice(x, 1, 1);
///     tape.scale(tape.sum(tape.mul(tape.square(x0), x1)), 0.5)
/// };
/// assert_eq!(hvp_of_sum(2, half, &[1.0, 3.0], &[1.0, 0.0]).unwrap(), vec![6.0, 2.0]);
/// ```
pub fn hvp_of_sum<T: Element, F>(
    parts: usize,
    f: F,
    theta: &[T],
    v: &[T],
) -> Result<Vec<T>, AutodiffError>
where
    F: Fn(&Tape<T>, Var, usize) -> Var + Sync,
{
    if parts == 0 {
        return Err(AutodiffError::NoParts);
    }
    // The parts run at once on rayon's threads; a hot worker starts its part without
    // being woken first.
    let products = unstuck_core::with_hot_workers(|| {
        each_part(parts, |part| {
            hvp(|tape, theta| f(tape, theta, part), theta, v)
        })
    });
    Ok(sum_in_order(
        products.into_iter().collect::<Result<Vec<_>, _>>()?,
    ))
}

/// `f` recorded once at `theta` with its gradient graph, ready for many `H · v`.
///
/// Recording the forward pass and the differentiable gradient happens once; each
/// Hessian-vector product is then a single non-recording backward sweep through the
/// gradient's graph, seeded with `v` (reverse-over-reverse). The recorded nodes are
/// frozen, so `Curvature` is `Sync` and many threads may apply it at once.
///
/// A function that is a sum of parts, such as a loss over a batch cut into slices of
/// examples, can be recorded part by part ([`Curvature::sum_of`]): the parts are recorded
/// and swept on rayon's threads, and their results added in the parts' order, so the bits
/// do not depend on the thread count.
#[derive(Debug)]
pub struct Curvature<T: Element> {
    graphs: Vec<RecordedGraph<T>>,
    value: T,
    gradient: Vec<T>,
}

impl<T: Element> Drop for Curvature<T> {
    fn drop(&mut self) {
        // Each part's buffers go back to the pool of a worker thread, where the next
        // recording of the parts takes them; dropped here, they would pile up in the
        // calling thread's pool while the workers asked the system for fresh pages.
        if self.graphs.len() > 1 && rayon::current_num_threads() > 1 {
            std::mem::take(&mut self.graphs)
                .into_par_iter()
                .for_each(drop);
        }
    }
}

impl<T: Element> Curvature<T> {
    /// Records `f` and its gradient graph at `theta`.
    pub fn new<F>(f: F, theta: &[T]) -> Result<Self, AutodiffError>
    where
        F: FnOnce(&Tape<T>, Var) -> Var,
    {
        let (graph, value, gradient) = RecordedGraph::new(f, theta)?;
        Ok(Curvature {
            graphs: vec![graph],
            value,
            gradient,
        })
    }

    /// Records `f(theta) = f(tape, theta, 0) + ... + f(tape, theta, parts - 1)`, each part
    /// on a tape of its own, on rayon's threads.
    ///
    /// Values, gradients and products are the parts' added in the parts' order: the same
    /// bits on any number of threads, though not the bits of recording the sum on one
    /// tape (the additions come in another order).
    ///
    /// ```
    /// use unstuck_autodiff::{Curvature, Tape};
    /// // f(x) = x0^2 x1, recorded as 0.5 f + 0.5 f.
    /// let curvature = Curvature::sum_of(2, |tape: &Tape<f64>, x, _part| {
    ///     let x0 = tape.slice(x, 0, 1);
    ///     let x1 = tape.slice(x, 1, 1);
    ///     tape.scale(tape.sum(tape.mul(tape.square(x0), x1)), 0.5)
    /// }, &[1.0, 3.0]).unwrap();
    /// assert_eq!(curvature.value(), 3.0);
    /// assert_eq!(curvature.hvp(&[1.0, 0.0]).unwrap(), vec![6.0, 2.0]);
    /// ```
    pub fn sum_of<F>(parts: usize, f: F, theta: &[T]) -> Result<Self, AutodiffError>
    where
        F: Fn(&Tape<T>, Var, usize) -> Var + Sync,
    {
        if parts == 0 {
            return Err(AutodiffError::NoParts);
        }
        if parts == 1 {
            return Self::new(|tape, theta| f(tape, theta, 0), theta);
        }
        let recorded = each_part(parts, |part| {
            RecordedGraph::new(|tape, theta| f(tape, theta, part), theta)
        });
        let mut graphs = Vec::with_capacity(parts);
        let mut value = T::ZERO;
        let mut gradient: Vec<T> = Vec::new();
        // The first part's error is reported, whichever thread failed first.
        for (i, part) in recorded.into_iter().enumerate() {
            let (graph, part_value, part_gradient) = part?;
            graphs.push(graph);
            if i == 0 {
                value = part_value;
                gradient = part_gradient;
            } else {
                value += part_value;
                add_into(&mut gradient, &part_gradient);
            }
        }
        Ok(Curvature {
            graphs,
            value,
            gradient,
        })
    }

    /// The number of parameters `P`.
    pub fn dim(&self) -> usize {
        self.gradient.len()
    }

    /// The number of parts recorded separately (1 unless made by [`Curvature::sum_of`]).
    pub fn parts(&self) -> usize {
        self.graphs.len()
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
        Ok(self.hvp_sweep(v, 1))
    }

    /// `H · V` for `k` vectors stored one after another (vector `j` is
    /// `vs[j*P..(j+1)*P]`); the result has the same layout.
    ///
    /// The vectors go through the gradient's graph [`HVP_BLOCK`] at a time in one k-wide
    /// sweep (see `batched.rs`): work that does not depend on the vectors is done once per
    /// sweep and the rules run once for all of its vectors. Sweeps run on rayon's
    /// threads; the cut into sweeps depends on `k` alone, so the result does not depend on
    /// the thread count. Up to [`HVP_BLOCK`] vectors take one sweep on the calling thread
    /// (one per part, on rayon's threads, for a sum of parts) and its result is returned
    /// as it is: a Lanczos step on the digits network spent a tenth of its product zeroing
    /// and copying a separate output.
    pub fn hvp_block(&self, vs: &[T], k: usize) -> Result<Vec<T>, AutodiffError> {
        if k > HVP_BLOCK {
            let mut out = vec![T::ZERO; self.dim() * k];
            self.hvp_block_into(vs, k, &mut out)?;
            return Ok(out);
        }
        self.check_block(vs, k)?;
        if self.dim() == 0 || k == 0 {
            return Ok(Vec::new());
        }
        Ok(self.hvp_sweep(vs, k))
    }

    fn check_block(&self, vs: &[T], k: usize) -> Result<(), AutodiffError> {
        ensure_len("hvp_block vectors", self.dim() * k, vs.len())?;
        ensure_finite("hvp_block vectors", vs)
    }

    /// [`Curvature::hvp_block`] written into `out` (`k · P` elements): each sweep's
    /// result goes straight to its place, on the thread that computed it.
    ///
    /// [`Curvature::hvp_block`] used to hold every sweep's result until they were all
    /// copied into one: with all `P` columns of the P = 2960 MLP in one call, 70 MB more
    /// of fresh pages and one more pass over them. The full Hessian (in blocks of 32
    /// columns) now writes each block where it belongs.
    ///
    /// ```
    /// use unstuck_autodiff::{Curvature, Tape};
    /// // f(x) = x0^2 x1: H = [[2 x1, 2 x0], [2 x0, 0]]
    /// let curvature = Curvature::new(|tape: &Tape<f64>, x| {
    ///     let x0 = tape.slice(x, 0, 1);
    ///     let x1 = tape.slice(x, 1, 1);
    ///     tape.sum(tape.mul(tape.square(x0), x1))
    /// }, &[1.0, 3.0]).unwrap();
    /// let mut h = [0.0; 4];
    /// curvature.hvp_block_into(&[1.0, 0.0, 0.0, 1.0], 2, &mut h).unwrap();
    /// assert_eq!(h, [6.0, 2.0, 2.0, 0.0]);
    /// ```
    pub fn hvp_block_into(&self, vs: &[T], k: usize, out: &mut [T]) -> Result<(), AutodiffError> {
        let p = self.dim();
        ensure_len("hvp_block output", p * k, out.len())?;
        self.check_block(vs, k)?;
        if p == 0 || k == 0 {
            return Ok(());
        }
        if k <= HVP_BLOCK {
            let sweep = self.hvp_sweep(vs, k);
            out.copy_from_slice(&sweep);
            buffers::give(sweep);
            return Ok(());
        }
        out.par_chunks_mut(p * HVP_BLOCK)
            .zip(vs.par_chunks(p * HVP_BLOCK))
            .for_each(|(dst, v)| {
                let sweep = self.hvp_sweep_in_turn(v, v.len() / p);
                dst.copy_from_slice(&sweep);
                buffers::give(sweep);
            });
        Ok(())
    }

    /// `H · V` for the `k` vectors of `vs`: one sweep of each part, the parts on rayon's
    /// threads.
    fn hvp_sweep(&self, vs: &[T], k: usize) -> Vec<T> {
        let p = self.dim();
        match &self.graphs[..] {
            [graph] => graph.hvp_sweep(vs, k, p),
            graphs => sum_in_order(each_part(graphs.len(), |i| graphs[i].hvp_sweep(vs, k, p))),
        }
    }

    /// [`Curvature::hvp_sweep`] with the parts one after another on the calling thread,
    /// for sweeps that already run on rayon's threads. Same bits.
    fn hvp_sweep_in_turn(&self, vs: &[T], k: usize) -> Vec<T> {
        let p = self.dim();
        let mut graphs = self.graphs.iter();
        let first = graphs.next().expect("at least one part");
        let mut sum = first.hvp_sweep(vs, k, p);
        for graph in graphs {
            add_into(&mut sum, &graph.hvp_sweep(vs, k, p));
        }
        sum
    }
}

/// `f(0), ..., f(parts - 1)` in order: on rayon's threads, or in turn on the calling
/// thread when the pool has one (handing each part to its only worker and back costs two
/// context switches for no gain).
fn each_part<R: Send>(parts: usize, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
    if parts > 1 && rayon::current_num_threads() > 1 {
        (0..parts).into_par_iter().map(f).collect()
    } else {
        (0..parts).map(f).collect()
    }
}

/// The parts' results added in their order.
fn sum_in_order<T: Element>(parts: Vec<Vec<T>>) -> Vec<T> {
    let mut parts = parts.into_iter();
    let mut sum = parts.next().expect("at least one part");
    for part in parts {
        add_into(&mut sum, &part);
    }
    sum
}

/// Vectors per k-wide sweep in [`Curvature::hvp_block`]. Measured on the P = 2960 MLP
/// (CPU time, 1 thread): 2 and 4 vectors per sweep cost the same, about 0.75 of a single
/// product per vector; from 8 up the sweep's values (`[256, k, 48]`) outgrow the 512 KiB
/// L2 cache and it gets slower again. A sweep does the same instructions per vector as a
/// single product (the products' multiply-adds dominate), so a wider one saves no work.
pub const HVP_BLOCK: usize = 4;

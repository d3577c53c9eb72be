//! A per-thread pool of element buffers, so that a tape recorded and dropped every
//! training step reuses the same memory instead of asking the system for fresh pages.
//!
//! A large buffer from the allocator is a fresh mapping: the kernel faults in and zeroes
//! every page on first touch, and unmaps it again on free. In a training step that is
//! most of the time outside the matrix products. Buffers of nodes, of the backward
//! sweep's temporaries and of dropped tapes come back here and are handed out again.

use crate::Element;
use std::cell::RefCell;
use std::collections::BTreeMap;
use unstuck_core::ElementVec;

/// Buffers below this many elements come from the allocator, which serves them well.
const MIN_POOLED: usize = 1 << 10;
/// At most this many bytes stay pooled per thread and element type; beyond, buffers are
/// freed. A training step of the networks we benchmark touches a few MiB.
const MAX_POOLED_BYTES: usize = 64 << 20;

/// Free buffers by capacity: a run can park thousands of small buffers here (up to
/// [`MAX_POOLED_BYTES`]), and a scan over all of them on every request cost a small
/// network's step more than its arithmetic.
#[derive(Debug, Default)]
struct Pool<E> {
    free: BTreeMap<usize, Vec<Vec<E>>>,
    bytes: usize,
}

impl<E> Pool<E> {
    /// The smallest free buffer that holds `n` elements (and is not more than twice too
    /// large); with `filled`, of those as small, one that already holds `n` elements, as it
    /// needs no zeroing.
    ///
    /// A larger buffer handed to a small request comes back holding only the small
    /// request's elements, and the next request of its own size has to zero the rest (or,
    /// once it has moved to another thread, take a fresh one). With eight times, a
    /// curvature measurement every 50 steps of a digits run took the evaluation's buffers
    /// and the run zeroed 9.4M instructions' worth more than without it (callgrind); with
    /// twice, the validation set (a quarter of the training set) no longer takes the
    /// training set's buffers either. Sizes within a factor two (a smaller last batch)
    /// still share.
    fn take(&mut self, n: usize, filled: bool) -> Option<Vec<E>> {
        let (&capacity, same) = self.free.range_mut(n..=n.saturating_mul(2)).next()?;
        let last = same.len() - 1;
        let best = match filled {
            true => same.iter().rposition(|v| v.len() >= n).unwrap_or(last),
            false => last,
        };
        let v = same.swap_remove(best);
        if same.is_empty() {
            self.free.remove(&capacity);
        }
        self.bytes -= capacity * std::mem::size_of::<E>();
        Some(v)
    }

    /// Keeps `v` with its elements (stale values that [`overwritten`] hands out again
    /// without zeroing them).
    fn give(&mut self, v: Vec<E>) {
        let bytes = v.capacity() * std::mem::size_of::<E>();
        if self.bytes + bytes <= MAX_POOLED_BYTES {
            self.bytes += bytes;
            self.free.entry(v.capacity()).or_default().push(v);
        }
    }
}

thread_local! {
    static F32: RefCell<Pool<f32>> = RefCell::new(Pool::default());
    static F64: RefCell<Pool<f64>> = RefCell::new(Pool::default());
}

#[cfg(test)]
thread_local! {
    /// Pool-sized buffers this thread had to get from the allocator (for the tests).
    pub(crate) static FRESH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn fresh<T>(n: usize) -> Vec<T> {
    #[cfg(test)]
    FRESH.with(|f| f.set(f.get() + 1));
    Vec::with_capacity(n)
}

/// An empty buffer with room for at least `n` elements.
pub(crate) fn take<T: Element>(n: usize) -> Vec<T> {
    let mut v = pooled(n, false);
    v.clear();
    v
}

/// `n` elements of unspecified (finite or not) values, for a kernel that writes every
/// one of them before anything reads it: a recycled buffer keeps its old values instead
/// of being zeroed first. Only the part beyond what the buffer held before is zeroed.
pub(crate) fn overwritten<T: Element>(n: usize) -> Vec<T> {
    let mut v = pooled(n, true);
    if v.len() >= n {
        v.truncate(n);
    } else {
        v.resize(n, T::ZERO);
    }
    v
}

/// A buffer with room for at least `n` elements, from the pool when it has one; it may
/// hold stale elements (with `filled`, preferably at least `n` of them).
fn pooled<T: Element>(n: usize, filled: bool) -> Vec<T> {
    if n < MIN_POOLED {
        return Vec::with_capacity(n);
    }
    let typed = match T::DTYPE {
        unstuck_core::DType::F32 => F32
            .with(|p| p.borrow_mut().take(n, filled))
            .map(ElementVec::F32),
        unstuck_core::DType::F64 => F64
            .with(|p| p.borrow_mut().take(n, filled))
            .map(ElementVec::F64),
    };
    match typed.map(T::from_typed) {
        Some(Ok(v)) => v,
        _ => fresh(n),
    }
}

/// `n` zeros.
pub(crate) fn zeros<T: Element>(n: usize) -> Vec<T> {
    let mut v = take(n);
    v.resize(n, T::ZERO);
    v
}

/// A copy of `x` in a pooled buffer.
pub(crate) fn copy<T: Element>(x: &[T]) -> Vec<T> {
    let mut v = take(x.len());
    v.extend_from_slice(x);
    v
}

/// Hands a buffer back for reuse.
pub(crate) fn give<T: Element>(v: Vec<T>) {
    if v.capacity() < MIN_POOLED {
        return;
    }
    match T::into_typed(v) {
        ElementVec::F32(v) => F32.with(|p| p.borrow_mut().give(v)),
        ElementVec::F64(v) => F64.with(|p| p.borrow_mut().give(v)),
    }
}

/// Fills this thread's pool with NaN buffers of every power-of-two size the pool serves
/// (up to 2^20 elements), so that the next [`overwritten`] buffers of those sizes hold
/// NaN: a kernel that leaves an element unwritten shows it in its result.
#[cfg(test)]
pub(crate) fn poison<T: Element>() {
    for log in 10..=20 {
        give(vec![T::from_f64(f64::NAN); 1 << log]);
    }
}

/// Checks that `run` gives the same bits from a thread whose pool is full of NaN as
/// from a fresh one (and holds no NaN itself): every buffer it takes with
/// [`overwritten`] is written in full.
#[cfg(test)]
pub(crate) fn check_overwrites_recycled<T: Element>(what: &str, run: impl Fn() -> Vec<T>) {
    let bits = |v: Vec<T>| v.iter().map(|x| x.to_f64().to_bits()).collect::<Vec<_>>();
    let clean = bits(run());
    assert!(
        clean.iter().all(|b| !f64::from_bits(*b).is_nan()),
        "{what}: NaN from clean buffers"
    );
    poison::<T>();
    assert_eq!(
        clean,
        bits(run()),
        "{what}: a recycled buffer leaked into the result"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_returned_buffer_is_handed_out_again() {
        let v: Vec<f32> = zeros(5000);
        let at = v.as_ptr();
        give(v);
        let again: Vec<f32> = take(4000);
        assert_eq!(again.as_ptr(), at);
        assert!(again.is_empty());
        // Another element type has its own pool.
        let other: Vec<f64> = take(4000);
        assert_ne!(other.as_ptr() as usize, at as usize);
    }

    #[test]
    fn a_tape_refilled_every_step_allocates_nothing_once_warm() {
        use crate::Tape;
        let x: Vec<f32> = (0..64 * 100).map(|i| (i % 7) as f32 * 0.1).collect();
        let theta: Vec<f32> = (0..100 * 50 + 50).map(|i| (i % 5) as f32 * 0.01).collect();
        let labels: Vec<usize> = (0..64).map(|i| i % 50).collect();
        let tape = Tape::<f32>::new();
        let mut grad = vec![0.0f32; theta.len()];
        let mut step = || {
            let t = tape.leaf_from(&theta, &[theta.len()]);
            let x = tape.constant_from(&x, &[64, 100]);
            let w = tape.reshape(tape.slice(t, 0, 5000), &[50, 100]);
            let b = tape.slice(t, 5000, 50);
            let logits = tape.relu(tape.add(tape.matmul_t(x, w, false, true), b));
            let loss = tape.softmax_cross_entropy(logits, &labels);
            tape.grad_into(loss, t, &mut grad);
            tape.clear();
        };
        step();
        step();
        let before = FRESH.with(|f| f.get());
        step();
        assert_eq!(
            FRESH.with(|f| f.get()),
            before,
            "a warm step took fresh buffers"
        );
    }
}

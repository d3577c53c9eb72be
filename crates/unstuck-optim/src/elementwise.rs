//! The fast element loop every update rule gets for free: [`for_each_element`].
//!
//! A rule hands over its slices as a tuple (`(params, grads, exp_avg)`) and the math of
//! one element as a closure. The helper splits long slices into fixed chunks of
//! [`CHUNK`] elements and runs them on rayon's threads, and compiles each chunk's loop for
//! AVX2+FMA through [`vectorized`]: zipped slice iterators (no bounds checks), the closure
//! inlined into the loop, so LLVM vectorises it and `mul_add` is one instruction.
//! Every element is computed on its own, so the values never depend on the thread count
//! or on where a chunk starts.

use unstuck_core::vectorized;

/// Elements per task when a loop runs on several threads. Fixed, so the work split does
/// not depend on the thread count (the values could not anyway: elements are independent).
pub(crate) const CHUNK: usize = 1 << 14;

/// Loops shorter than this stay on the calling thread: a rayon task costs about a
/// microsecond, more than 64k elements of an update take on one core.
const PARALLEL_MIN: usize = 4 * CHUNK;

/// Whether a loop over `len` elements is worth spreading over rayon's threads.
pub(crate) fn parallel(len: usize) -> bool {
    len >= PARALLEL_MIN && rayon::current_num_threads() > 1
}

/// One slice of an element loop: read (`&[T]`, items `&T`) or updated (`&mut [T]`,
/// items `&mut T`).
pub trait Lane: Sized + Send {
    /// What the closure receives for one element.
    type Item;
    /// The slice's own iterator (zips of these compile to one indexed loop).
    type Iter: Iterator<Item = Self::Item>;
    /// Number of elements.
    fn len(&self) -> usize;
    /// Whether the slice is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The first `mid` elements and the rest.
    fn split_at(self, mid: usize) -> (Self, Self);
    /// Iterates over the elements.
    fn elements(self) -> Self::Iter;
}

impl<'a, T: Sync> Lane for &'a [T] {
    type Item = &'a T;
    type Iter = std::slice::Iter<'a, T>;
    #[inline(always)]
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    #[inline(always)]
    fn split_at(self, mid: usize) -> (Self, Self) {
        <[T]>::split_at(self, mid)
    }
    #[inline(always)]
    fn elements(self) -> Self::Iter {
        self.iter()
    }
}

impl<'a, T: Send> Lane for &'a mut [T] {
    type Item = &'a mut T;
    type Iter = std::slice::IterMut<'a, T>;
    #[inline(always)]
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    #[inline(always)]
    fn split_at(self, mid: usize) -> (Self, Self) {
        <[T]>::split_at_mut(self, mid)
    }
    #[inline(always)]
    fn elements(self) -> Self::Iter {
        self.iter_mut()
    }
}

/// Slices of equal length walked together: a tuple of one to six [`Lane`]s.
pub trait Lanes: Sized + Send {
    /// The tuple of items the closure receives for one element.
    type Item;
    /// The common length.
    ///
    /// # Panics
    /// If the slices differ in length (a rule sized its state wrongly: a bug, not input).
    fn common_len(&self) -> usize;
    /// The first `mid` elements of every slice, and the rest.
    fn split_at(self, mid: usize) -> (Self, Self);
    /// Calls `f` on every element, in order.
    fn for_each(self, f: impl FnMut(Self::Item));
}

macro_rules! impl_lanes {
    ($($lane:ident $var:ident),+) => {
        impl<$($lane: Lane),+> Lanes for ($($lane,)+) {
            type Item = ($($lane::Item,)+);

            fn common_len(&self) -> usize {
                let ($($var,)+) = self;
                let lens = [$($var.len()),+];
                assert!(
                    lens.iter().all(|&len| len == lens[0]),
                    "element loop over slices of different lengths: {lens:?}"
                );
                lens[0]
            }

            #[inline(always)]
            fn split_at(self, mid: usize) -> (Self, Self) {
                let ($($var,)+) = self;
                $(let $var = $var.split_at(mid);)+
                (($($var.0,)+), ($($var.1,)+))
            }

            #[inline(always)]
            fn for_each(self, op: impl FnMut(Self::Item)) {
                // The slices become separate arguments, so LLVM knows they do not overlap
                // (`&mut [T]` arguments are `noalias`) and vectorises without runtime checks.
                #[inline(always)]
                fn zip_each<$($lane: Lane,)+ Op: FnMut(($($lane::Item,)+))>(
                    $($var: $lane,)+
                    mut op: Op,
                ) {
                    impl_lanes!(@zip op; $($var),+);
                }
                let ($($var,)+) = self;
                zip_each($($var,)+ op);
            }
        }
    };
    // A left-nested zip `a.zip(b).zip(c)...` walked with the pattern `((a, b), c)...`.
    (@zip $f:ident; $first:ident $(, $rest:ident)*) => {
        $first.elements()$(.zip($rest.elements()))*.for_each(
            #[inline(always)]
            |impl_lanes!(@nest $first $(, $rest)*)| $f(($first, $($rest,)*)),
        )
    };
    (@nest $first:ident $(, $rest:ident)*) => {
        impl_lanes!(@nest_acc $first $(, $rest)*)
    };
    (@nest_acc $acc:tt) => { $acc };
    (@nest_acc $acc:tt, $next:ident $(, $rest:ident)*) => {
        impl_lanes!(@nest_acc ($acc, $next) $(, $rest)*)
    };
}

impl_lanes!(A a);
impl_lanes!(A a, B b);
impl_lanes!(A a, B b, C c);
impl_lanes!(A a, B b, C c, D d);
impl_lanes!(A a, B b, C c, D d, E e);
impl_lanes!(A a, B b, C c, D d, E e, F f);

/// Runs `f` on every element of the zipped slices `lanes`, as fast as the machine allows.
///
/// Long slices are split into fixed chunks run on rayon's threads; each chunk's loop is
/// compiled for AVX2+FMA when the CPU has them (see [`vectorized`]). Elements are
/// independent, so the results are the same bits on any number of threads and on any
/// instruction set.
///
/// Write the closure as `#[inline(always)] move |(...)| ...`: `#[inline(always)]` compiles
/// it inside the vectorised loop (otherwise LLVM may call it per element, and `mul_add`
/// becomes a libm call on baseline x86-64), and `move` copies the scalars it uses into
/// the loop (captured by reference, they are reloaded from memory every element, since a
/// store to the slices might have changed them, and the loop does not vectorise).
///
/// ```
/// use unstuck_optim::for_each_element;
///
/// let (mut params, grads, mut velocity) = (vec![1.0f32; 100_000], vec![0.5f32; 100_000], vec![0.0f32; 100_000]);
/// for_each_element(
///     (&mut params[..], &grads[..], &mut velocity[..]),
///     #[inline(always)]
///     |(p, &g, v)| {
///         *v = v.mul_add(0.9, g);
///         *p = v.mul_add(-0.1, *p);
///     },
/// );
/// assert_eq!(params[99_999], 0.95);
/// ```
///
/// # Panics
/// If the slices differ in length.
pub fn for_each_element<L: Lanes>(lanes: L, f: impl Fn(L::Item) + Sync) {
    let len = lanes.common_len();
    if parallel(len) {
        split_chunks(lanes, len, &f);
    } else {
        run_chunk(lanes, &f);
    }
}

/// Halves the chunk count until one chunk is left, running the halves on rayon's threads.
fn split_chunks<L: Lanes, F: Fn(L::Item) + Sync>(lanes: L, len: usize, f: &F) {
    let n_chunks = len.div_ceil(CHUNK);
    if n_chunks <= 1 {
        return run_chunk(lanes, f);
    }
    let mid = n_chunks / 2 * CHUNK;
    let (head, tail) = lanes.split_at(mid);
    rayon::join(
        || split_chunks(head, mid, f),
        || split_chunks(tail, len - mid, f),
    );
}

#[inline(always)]
fn run_chunk<L: Lanes, F: Fn(L::Item)>(lanes: L, f: &F) {
    vectorized(
        #[inline(always)]
        || lanes.for_each(f),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_element_is_visited_once_in_any_split() {
        // Ragged length: many chunks and a short last one.
        let n = 5 * CHUNK + 17;
        let index: Vec<u64> = (0..n as u64).collect();
        let mut seen = vec![0u64; n];
        let mut count = vec![0u32; n];
        let on = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
        };
        for threads in [1, 2, 3] {
            on(threads).install(|| {
                for_each_element((&mut seen[..], &index[..], &mut count[..]), |(s, &i, c)| {
                    *s = i;
                    *c += 1;
                });
            });
        }
        assert!(seen.iter().enumerate().all(|(i, &s)| s == i as u64));
        assert!(count.iter().all(|&c| c == 3));
    }

    #[test]
    #[should_panic(expected = "different lengths")]
    fn unequal_lengths_are_a_bug() {
        let mut a = [0.0f32; 3];
        for_each_element((&mut a[..], &[1.0f32, 2.0][..]), |(x, &y)| *x = y);
    }

    #[test]
    fn one_lane_and_six_lanes() {
        let mut a = vec![1.0f64; 10];
        for_each_element((&mut a[..],), |(x,)| *x *= 2.0);
        assert_eq!(a, vec![2.0; 10]);
        let (b, c, d, e) = (
            vec![1.0f64; 10],
            vec![2.0; 10],
            vec![3.0; 10],
            vec![4.0; 10],
        );
        let mut out = vec![0.0f64; 10];
        for_each_element(
            (&mut out[..], &a[..], &b[..], &c[..], &d[..], &e[..]),
            |(o, &a, &b, &c, &d, &e)| *o = a + b + c + d + e,
        );
        assert_eq!(out, vec![12.0; 10]);
    }
}

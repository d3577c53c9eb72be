//! Elementwise maps, NumPy broadcasting, and its adjoint (summing back to a shape).

use crate::Element;
use crate::buffers;
use crate::shape::{MAX_RANK, Shape};
use crate::tensor::{Tensor, View};
use rayon::prelude::*;
use unstuck_core::vectorized;

/// Elements per task of a threaded elementwise map. Every element is computed on its own,
/// so the values never depend on the cut; it is fixed anyway, as every parallel loop here.
const MAP_CHUNK: usize = 1 << 13;

/// Whether a map over `len` elements is worth spreading over rayon's threads (a task
/// costs a few microseconds; a chunk of ReLU takes about as long).
fn threaded(len: usize) -> bool {
    len >= 4 * MAP_CHUNK && rayon::current_num_threads() > 1
}

/// `out[i] = f(i, x)` over `out` in chunks of about [`MAP_CHUNK`] elements (whole runs of
/// `run` elements each), on rayon's threads when it pays; `f` gets a chunk's offset and
/// writes every element of its chunk (the buffer is recycled, not zeroed).
fn fill<T: Element>(len: usize, run: usize, f: impl Fn(usize, &mut [T]) + Sync) -> Vec<T> {
    let mut data = buffers::overwritten(len);
    let chunk = (MAP_CHUNK / run.max(1)).max(1) * run.max(1);
    if threaded(len) {
        data.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(c, dst)| f(c * chunk, dst));
    } else {
        f(0, &mut data);
    }
    data
}

/// `acc[i] += g[i]`, in a loop compiled for the running CPU (a sum of gradients, of a
/// sweep's contributions or of a sum's parts). Outside `vectorized` the baseline build
/// adds two lanes at a time: in a 64-vector Hessian block that loop took a tenth of the
/// time (`perf`).
pub(crate) fn add_into<T: Element>(acc: &mut [T], g: &[T]) {
    vectorized(
        #[inline(always)]
        || {
            for (a, &b) in acc.iter_mut().zip(g) {
                *a += b;
            }
        },
    );
}

/// `f` applied to every element, in a loop compiled for the running CPU (`f`'s bits must
/// not depend on the instruction set: see [`unstuck_core::vectorized`]).
///
/// Pass `f` as a `move` closure: a scalar it captures by reference is reloaded every
/// element, and the loop stops vectorising (this cost a ReLU step 5% once). The same holds
/// for [`bias_map`] and [`zip`].
pub(crate) fn map<T: Element>(x: View<'_, T>, f: impl Fn(T) -> T + Sync) -> Tensor<T> {
    if !threaded(x.data.len()) {
        let mut data = buffers::take(x.data.len());
        vectorized(
            #[inline(always)]
            || data.extend(x.data.iter().map(|&v| f(v))),
        );
        return Tensor::from_parts(data, x.shape);
    }
    let data = fill(x.data.len(), 1, |at, dst| {
        vectorized(
            #[inline(always)]
            || {
                for (o, &v) in dst.iter_mut().zip(&x.data[at..]) {
                    *o = f(v);
                }
            },
        )
    });
    Tensor::from_parts(data, x.shape)
}

/// [`map`] for a costly `f` (`exp`, `tanh`, the sigmoid): `x` copied, then mapped in
/// place in a loop compiled for the running CPU. [`map`] writes through `extend`, whose
/// `Map::fold` the compiler leaves outside that loop: a cheap `f` loses little there, but
/// `exp` ran one element at a time (an HVP of the P = 2960 MLP: 92k instructions of
/// `exp` became 42k, and the copy costs far less).
pub(crate) fn map_costly<T: Element>(x: View<'_, T>, f: impl Fn(T) -> T + Sync) -> Tensor<T> {
    if threaded(x.data.len()) {
        return map(x, f);
    }
    let mut data = buffers::copy(x.data);
    vectorized(
        #[inline(always)]
        || {
            for v in data.iter_mut() {
                *v = f(*v);
            }
        },
    );
    Tensor::from_parts(data, x.shape)
}

/// `f(x + bias)` with `bias` of shape `[n]` along the last axis of `x` (a layer's bias
/// and activation): one pass, compiled for the running CPU as [`map`], on rayon's threads
/// in whole rows when it pays.
pub(crate) fn bias_map<T: Element>(
    x: View<'_, T>,
    bias: View<'_, T>,
    f: impl Fn(T) -> T + Sync,
) -> Tensor<T> {
    let n = bias.data.len();
    assert!(
        bias.shape.rank() == 1 && x.shape.rank() >= 1 && x.dims()[x.shape.rank() - 1] == n,
        "bias_activation: bias of shape {:?} does not match the last axis of {:?}",
        bias.shape,
        x.shape
    );
    if n == 0 {
        return Tensor::from_parts(Vec::new(), x.shape);
    }
    let data = fill(x.data.len(), n, |at, dst| {
        // `#[inline(always)]` compiles the loop inside the function `vectorized` dispatches
        // to (see `for_each_element` in unstuck-optim).
        vectorized(
            #[inline(always)]
            || {
                for (src, dst) in x.data[at..at + dst.len()]
                    .chunks_exact(n)
                    .zip(dst.chunks_exact_mut(n))
                {
                    for ((o, &p), &b) in dst.iter_mut().zip(src).zip(bias.data) {
                        *o = f(p + b);
                    }
                }
            },
        )
    });
    Tensor::from_parts(data, x.shape)
}

/// The shape of a broadcasting binary op's result, or a panic naming the op and both shapes.
pub(crate) fn broadcast_shape(op: &str, a: Shape, b: Shape) -> Shape {
    Shape::broadcast(a, b).unwrap_or_else(|| {
        panic!("{op}: shapes {a:?} and {b:?} do not broadcast (NumPy rules: trailing dimensions equal or 1)")
    })
}

/// `to`'s dimensions padded with leading 1s to rank 4, and `from`'s strides over them
/// (0 along every axis where `from` is stretched).
fn strides_over(from: Shape, to: Shape) -> ([usize; MAX_RANK], [usize; MAX_RANK]) {
    let dims = to.aligned_dims(MAX_RANK);
    let from_dims = from.aligned_dims(MAX_RANK);
    let mut strides = [0; MAX_RANK];
    let mut acc = 1;
    for axis in (0..MAX_RANK).rev() {
        if from_dims[axis] != 1 {
            strides[axis] = acc;
        }
        acc *= from_dims[axis];
    }
    (dims, strides)
}

/// Whether `small` repeats as one contiguous block over `big` (a row over a matrix, a
/// `[C, H, W]` image over a batch): its dimensions, without leading 1s, end `big`'s.
fn is_trailing_block(small: Shape, big: Shape) -> bool {
    let dims = small.dims();
    let first = dims.iter().position(|&d| d != 1).unwrap_or(dims.len());
    big.dims().ends_with(&dims[first..])
}

/// `f(a, b)` elementwise under NumPy broadcasting, in a loop compiled for the running CPU
/// (see [`map`]).
pub(crate) fn zip<T: Element>(
    op: &str,
    a: View<'_, T>,
    b: View<'_, T>,
    f: impl Fn(T, T) -> T,
) -> Tensor<T> {
    let out = broadcast_shape(op, a.shape, b.shape);
    let mut data = buffers::take(out.numel());
    vectorized(
        #[inline(always)]
        || zip_into(a, b, out, &f, &mut data),
    );
    Tensor::from_parts(data, out)
}

/// Appends `f(a, b)` under broadcasting to `out`'s shape onto `data`.
#[inline(always)]
fn zip_into<T: Element>(
    a: View<'_, T>,
    b: View<'_, T>,
    out: Shape,
    f: &impl Fn(T, T) -> T,
    data: &mut Vec<T>,
) {
    let (x, y) = (a.data, b.data);
    if a.shape == b.shape {
        data.extend(x.iter().zip(y).map(|(&p, &q)| f(p, q)));
    } else if a.shape == out && y.len() == 1 {
        data.extend(x.iter().map(|&p| f(p, y[0])));
    } else if b.shape == out && x.len() == 1 {
        data.extend(y.iter().map(|&q| f(x[0], q)));
    } else if a.shape == out && !y.is_empty() && is_trailing_block(b.shape, out) {
        for row in x.chunks_exact(y.len()) {
            data.extend(row.iter().zip(y).map(|(&p, &q)| f(p, q)));
        }
    } else if b.shape == out && !x.is_empty() && is_trailing_block(a.shape, out) {
        for row in y.chunks_exact(x.len()) {
            data.extend(x.iter().zip(row).map(|(&p, &q)| f(p, q)));
        }
    } else {
        let (dims, sa) = strides_over(a.shape, out);
        let (_, sb) = strides_over(b.shape, out);
        for i0 in 0..dims[0] {
            for i1 in 0..dims[1] {
                for i2 in 0..dims[2] {
                    let ba = i0 * sa[0] + i1 * sa[1] + i2 * sa[2];
                    let bb = i0 * sb[0] + i1 * sb[1] + i2 * sb[2];
                    data.extend((0..dims[3]).map(|i3| f(x[ba + i3 * sa[3]], y[bb + i3 * sb[3]])));
                }
            }
        }
    }
}

/// Appends `src[i0 s0 + i1 s1 + i2 s2 + i3 s3]` for every index below `dims`, in
/// row-major order: a broadcast (some strides 0) or a permutation (strides reordered).
pub(crate) fn gather_strided<T: Element>(
    src: &[T],
    dims: [usize; MAX_RANK],
    strides: [usize; MAX_RANK],
    out: &mut Vec<T>,
) {
    for i0 in 0..dims[0] {
        for i1 in 0..dims[1] {
            for i2 in 0..dims[2] {
                let base = i0 * strides[0] + i1 * strides[1] + i2 * strides[2];
                if strides[3] == 1 {
                    out.extend_from_slice(&src[base..base + dims[3]]);
                } else {
                    out.extend((0..dims[3]).map(|i3| src[base + i3 * strides[3]]));
                }
            }
        }
    }
}

/// `x` stretched to `to` (NumPy broadcasting).
pub(crate) fn broadcast_to<T: Element>(x: View<'_, T>, to: Shape) -> Tensor<T> {
    assert!(
        x.shape.broadcasts_to(to),
        "broadcast_to: shape {:?} does not broadcast to {to:?}",
        x.shape
    );
    if x.shape == to {
        return x.to_tensor();
    }
    let (dims, s) = strides_over(x.shape, to);
    let mut data = buffers::take(to.numel());
    if x.data.len() == 1 {
        data.resize(to.numel(), x.data[0]);
    } else if is_trailing_block(x.shape, to) {
        for _ in 0..to.numel() / x.data.len() {
            data.extend_from_slice(x.data);
        }
    } else {
        gather_strided(x.data, dims, s, &mut data);
    }
    Tensor::from_parts(data, to)
}

/// When the axes `small` keeps form one run in the middle of `big` (the rest being 1s):
/// `big` seen as `[outer, mid, inner]` and `small` as `[mid]`; returns `(mid, inner)`. This covers a whole sum
/// (`mid = 1`), column and row sums, and a per-channel sum of `[N, C, H, W]`.
fn middle_block(small: Shape, big: Shape) -> Option<(usize, usize)> {
    let rank = big.rank();
    if small.rank() > rank {
        return None;
    }
    let kept = small.aligned_dims(rank);
    let dims = big.dims();
    let first = (0..rank).find(|&a| kept[a] != 1).unwrap_or(rank);
    let last = (0..rank)
        .rev()
        .find(|&a| kept[a] != 1)
        .map_or(first, |a| a + 1);
    if kept[first..last] != dims[first..last] {
        return None;
    }
    let mid = dims[first..last].iter().product();
    let inner = dims[last..].iter().product();
    Some((mid, inner))
}

/// `acc + Σ run`. Short runs add in order; long ones (64 and up, as a channel of an
/// image) in eight interleaved partial sums that vectorise, combined in a fixed order.
fn sum_run<T: Element>(acc: T, run: &[T]) -> T {
    if run.len() < 64 {
        return run.iter().fold(acc, |a, &v| a + v);
    }
    let mut lanes = [T::ZERO; 8];
    let mut chunks = run.chunks_exact(8);
    for chunk in chunks.by_ref() {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    let tail = chunks.remainder().iter().fold(T::ZERO, |a, &v| a + v);
    let pairs = [
        lanes[0] + lanes[4],
        lanes[1] + lanes[5],
        lanes[2] + lanes[6],
        lanes[3] + lanes[7],
    ];
    acc + (((pairs[0] + pairs[2]) + (pairs[1] + pairs[3])) + tail)
}

/// `x` summed down to `to`, the adjoint of [`broadcast_to`]: every axis along which `to`
/// would be stretched is summed, in a fixed order (see [`sum_run`]).
pub(crate) fn sum_to<T: Element>(x: View<'_, T>, to: Shape) -> Tensor<T> {
    assert!(
        to.broadcasts_to(x.shape),
        "sum_to: shape {:?} does not reduce to {to:?}",
        x.shape
    );
    if x.shape == to {
        return x.to_tensor();
    }
    let mut out = buffers::zeros(to.numel());
    if x.data.is_empty() {
        return Tensor::from_parts(out, to);
    }
    if let Some((mid, inner)) = middle_block(to, x.shape) {
        // Each output sums one contiguous run of `inner` inputs per block of `mid` runs;
        // across outputs the adds are independent, so they vectorise in order.
        vectorized(
            #[inline(always)]
            || {
                for block in x.data.chunks_exact(mid * inner) {
                    if inner == 1 {
                        for (o, &v) in out.iter_mut().zip(block) {
                            *o += v;
                        }
                    } else {
                        for (o, run) in out.iter_mut().zip(block.chunks_exact(inner)) {
                            *o = sum_run(*o, run);
                        }
                    }
                }
            },
        );
    } else {
        let (dims, s) = strides_over(to, x.shape);
        let mut values = x.data.iter();
        for i0 in 0..dims[0] {
            for i1 in 0..dims[1] {
                for i2 in 0..dims[2] {
                    let base = i0 * s[0] + i1 * s[1] + i2 * s[2];
                    if s[3] == 0 {
                        let acc = &mut out[base];
                        for &v in values.by_ref().take(dims[3]) {
                            *acc += v;
                        }
                    } else {
                        let row = &mut out[base..base + dims[3]];
                        for (o, &v) in row.iter_mut().zip(values.by_ref().take(dims[3])) {
                            *o += v;
                        }
                    }
                }
            }
        }
    }
    Tensor::from_parts(out, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(data: &[f64], dims: &[usize]) -> Tensor<f64> {
        Tensor::new(data.to_vec(), dims).unwrap()
    }

    #[test]
    fn threaded_maps_overwrite_recycled_buffers_full_of_nan() {
        use crate::buffers::check_overwrites_recycled;
        let x: Vec<f32> = (0..300 * 130)
            .map(|i| ((i * 7) % 23) as f32 - 11.0)
            .collect();
        let x = Tensor::new(x, &[300, 130]).unwrap();
        let bias = Tensor::new((0..130).map(|i| i as f32 * 0.5).collect(), &[130]).unwrap();
        assert!(x.data().len() >= 4 * MAP_CHUNK, "big enough to be threaded");
        unstuck_test_support::threads::with_threads(2, || {
            check_overwrites_recycled("map", || map(x.view(), |v| v * 2.0).into_data());
            check_overwrites_recycled("bias_map", || {
                bias_map(x.view(), bias.view(), |v| v.max(0.0)).into_data()
            });
        });
    }

    #[test]
    fn zip_broadcasts_rows_columns_and_middle_axes() {
        let m = t(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
        let row = t(&[10., 20., 30.], &[3]);
        let col = t(&[100., 200.], &[2, 1]);
        let add = |a: &Tensor<f64>, b: &Tensor<f64>| zip("add", a.view(), b.view(), |p, q| p + q);
        assert_eq!(add(&m, &row).data(), &[11., 22., 33., 14., 25., 36.]);
        assert_eq!(add(&col, &m).data(), &[101., 102., 103., 204., 205., 206.]);
        assert_eq!(add(&col, &row).dims(), &[2, 3]);
        assert_eq!(
            add(&col, &row).data(),
            &[110., 120., 130., 210., 220., 230.]
        );
        // [2, 1, 2] + [3, 1] -> [2, 3, 2]
        let a = t(&[1., 2., 3., 4.], &[2, 1, 2]);
        let b = t(&[0., 10., 20.], &[3, 1]);
        let r = add(&a, &b);
        assert_eq!(r.dims(), &[2, 3, 2]);
        assert_eq!(
            r.data(),
            &[1., 2., 11., 12., 21., 22., 3., 4., 13., 14., 23., 24.]
        );
    }

    #[test]
    fn sum_to_is_the_adjoint_of_broadcast_to() {
        // <broadcast(x), y> = <x, sum_to(y)> for every pair of broadcastable shapes tried.
        let shapes: [(&[usize], &[usize]); 6] = [
            (&[], &[2, 3]),
            (&[3], &[2, 3]),
            (&[2, 1], &[2, 3]),
            (&[1, 3, 1], &[2, 3, 4]),
            (&[2, 1, 4], &[2, 3, 4]),
            (&[3, 1, 1], &[2, 3, 2, 2]),
        ];
        for (small, big) in shapes {
            let (small, big) = (Shape::new(small).unwrap(), Shape::new(big).unwrap());
            let x: Vec<f64> = (0..small.numel())
                .map(|i| (i * 7 % 5) as f64 - 1.5)
                .collect();
            let y: Vec<f64> = (0..big.numel()).map(|i| (i * 3 % 7) as f64 * 0.5).collect();
            let bx = broadcast_to(View::new(&x, small), big);
            let sy = sum_to(View::new(&y, big), small);
            let lhs: f64 = bx.data().iter().zip(&y).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(sy.data()).map(|(a, b)| a * b).sum();
            assert_eq!(lhs, rhs, "{small:?} -> {big:?}");
        }
    }
}

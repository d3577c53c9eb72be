//! 2-D max and average pooling over `[N, C, H, W]` (no padding, PyTorch's floor rule),
//! and their adjoints.
//!
//! Max pooling is a selection: each window passes on the entry at the position of its
//! largest *key*. The forward pass selects from `x` by `x` itself; the backward pass
//! scatters to the positions selected by `x`. Both are linear in the selected values, so
//! each is the other's adjoint and neither depends on the keys differentiably.

use crate::Element;
use crate::shape::Shape;
use crate::tensor::{Tensor, View};
use rayon::prelude::*;

/// Input elements per task of a threaded pooling, in whole planes. Planes are pooled
/// independently, so the values never depend on the cut; it is fixed anyway.
const POOL_TASK: usize = 1 << 14;

/// `f(chunk, first plane, planes)` over `out` cut into chunks of whole planes (`per_plane`
/// elements of `out` each, `in_plane` elements of input), on rayon's threads when there is
/// more than one task and more than one thread; else one call for all of it (the same
/// values: every plane is computed on its own).
fn by_planes<T: Element>(
    out: &mut [T],
    per_plane: usize,
    in_plane: usize,
    planes: usize,
    f: impl Fn(&mut [T], usize, usize) + Sync,
) {
    let per_task = (POOL_TASK / in_plane.max(1)).max(1);
    if per_plane == 0 {
        return;
    }
    if planes > per_task && rayon::current_num_threads() > 1 {
        out.par_chunks_mut(per_task * per_plane)
            .enumerate()
            .for_each(|(t, chunk)| {
                let count = chunk.len() / per_plane;
                f(chunk, t * per_task, count)
            });
    } else {
        f(out, 0, planes)
    }
}

/// Kernel, stride and input size (height, width) of a pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PoolGeom {
    pub(crate) kernel: [usize; 2],
    pub(crate) stride: [usize; 2],
    pub(crate) input: [usize; 2],
}

impl PoolGeom {
    /// The output height and width, or a panic when the window does not fit.
    pub(crate) fn output(&self) -> [usize; 2] {
        let size = |axis: usize| {
            assert!(
                self.stride[axis] > 0
                    && self.kernel[axis] > 0
                    && self.input[axis] >= self.kernel[axis],
                "pool2d: kernel {:?} with stride {:?} does not fit input {:?}",
                self.kernel,
                self.stride,
                self.input
            );
            (self.input[axis] - self.kernel[axis]) / self.stride[axis] + 1
        };
        [size(0), size(1)]
    }

    fn output_shape(&self, op: &str, input: Shape) -> Shape {
        let [n, c, h, w] = match *input.dims() {
            [n, c, h, w] => [n, c, h, w],
            _ => panic!("{op}: needs [N, C, H, W], got shape {input:?}"),
        };
        assert!(
            [h, w] == self.input,
            "{op}: input of shape {input:?} is not {:?} spatially",
            self.input
        );
        let [oh, ow] = self.output();
        Shape::of(op, &[n, c, oh, ow])
    }

    /// Calls `f(output index, window)` for every window, plane by plane, where `window`
    /// lists the window's input indices row by row (`kh · kw` of them).
    fn for_each_window(&self, planes: usize, mut f: impl FnMut(usize, &[usize])) {
        let [oh_n, ow_n] = self.output();
        let [h, w] = self.input;
        let [kh, kw] = self.kernel;
        // The window's offsets from its top-left corner, computed once.
        let offsets: Vec<usize> = (0..kh)
            .flat_map(|i| (0..kw).map(move |j| i * w + j))
            .collect();
        let mut window = offsets.clone();
        for p in 0..planes {
            for oh in 0..oh_n {
                for ow in 0..ow_n {
                    let corner = p * h * w + oh * self.stride[0] * w + ow * self.stride[1];
                    for (at, &offset) in window.iter_mut().zip(&offsets) {
                        *at = corner + offset;
                    }
                    f((p * oh_n + oh) * ow_n + ow, &window);
                }
            }
        }
    }

    /// The input index of each window's largest key (the first on ties; NaN wins, as in PyTorch).
    ///
    /// One output row at a time, tap by tap across the row's windows: the updates of
    /// neighbouring windows are independent, so they compile to selects, not branches
    /// (a branch per tap mispredicts half the time on real activations).
    fn argmax<T: Element>(&self, keys: &[T], planes: usize, mut f: impl FnMut(usize, usize)) {
        let [oh_n, ow_n] = self.output();
        let [h, w] = self.input;
        let [kh, kw] = self.kernel;
        let [sh, sw] = self.stride;
        if [kh, kw, sh, sw] == [2, 2, 2, 2] {
            return argmax_2x2(keys, planes, [h, w], [oh_n, ow_n], f);
        }
        let mut best = vec![T::ZERO; ow_n];
        let mut best_at = vec![0usize; ow_n];
        for p in 0..planes {
            let base = p * h * w;
            for oh in 0..oh_n {
                let top = base + oh * sh * w;
                for (ow, (b, at)) in best.iter_mut().zip(best_at.iter_mut()).enumerate() {
                    *at = top + ow * sw;
                    *b = keys[*at];
                }
                for i in 0..kh {
                    for j in 0..kw {
                        let first = top + i * w + j;
                        for (ow, (b, at)) in best.iter_mut().zip(best_at.iter_mut()).enumerate() {
                            let here = first + ow * sw;
                            let v = keys[here];
                            #[allow(clippy::eq_op)]
                            let better = v > *b || v != v;
                            *b = if better { v } else { *b };
                            *at = if better { here } else { *at };
                        }
                    }
                }
                for (ow, &at) in best_at.iter().enumerate() {
                    f((p * oh_n + oh) * ow_n + ow, at);
                }
            }
        }
    }
}

/// `a` or `b`, whichever wins a max-pool comparison (`b` on a tie loses; NaN wins).
#[inline(always)]
fn pick<T: Element>(a: (T, usize), b: (T, usize)) -> (T, usize) {
    #[allow(clippy::eq_op)]
    let better = b.0 > a.0 || b.0 != b.0;
    (
        if better { b.0 } else { a.0 },
        if better { b.1 } else { a.1 },
    )
}

/// [`PoolGeom::argmax`] for the common 2x2 windows with stride 2: a fixed tournament of
/// the four taps in row order, which gives the same winner as scanning them.
fn argmax_2x2<T: Element>(
    keys: &[T],
    planes: usize,
    [h, w]: [usize; 2],
    [oh_n, ow_n]: [usize; 2],
    mut f: impl FnMut(usize, usize),
) {
    for p in 0..planes {
        for oh in 0..oh_n {
            let top = p * h * w + 2 * oh * w;
            let (r0, r1) = (&keys[top..top + w], &keys[top + w..top + 2 * w]);
            for ow in 0..ow_n {
                let (x, tap) = (2 * ow, winning_tap(r0, r1, 2 * ow));
                f(
                    (p * oh_n + oh) * ow_n + ow,
                    top + (tap / 2) * w + x + tap % 2,
                );
            }
        }
    }
}

/// The winning tap (0 to 3, in row order) of the 2x2 window at column `x` of rows `r0`
/// and `r1`: the tournament that both the selection and the scatter use.
#[inline(always)]
fn winning_tap<T: Element>(r0: &[T], r1: &[T], x: usize) -> usize {
    let mut best = (r0[x], 0);
    best = pick(best, (r0[x + 1], 1));
    best = pick(best, (r1[x], 2));
    best = pick(best, (r1[x + 1], 3));
    best.1
}

fn planes(s: Shape) -> usize {
    s.dims()[0] * s.dims()[1]
}

/// Each window's entry of `values` at the position of its largest `keys` entry.
pub(crate) fn max_pool_select<T: Element>(
    values: View<'_, T>,
    keys: View<'_, T>,
    g: &PoolGeom,
) -> Tensor<T> {
    let out = g.output_shape("max_pool2d", keys.shape);
    assert!(
        values.shape == keys.shape,
        "max_pool2d: values of shape {:?} and keys of shape {:?} differ",
        values.shape,
        keys.shape
    );
    let data = per_window(g, out, |dst, inputs, count| {
        let values = &values.data[inputs.clone()];
        g.argmax(&keys.data[inputs], count, |o, at| dst[o] = values[at]);
    });
    Tensor::from_parts(data, out)
}

/// A pooling's output (of shape `out`), one value per window: `f(chunk, input range,
/// planes)` fills a chunk of whole planes from its planes' part of the input.
fn per_window<T: Element>(
    g: &PoolGeom,
    out: Shape,
    f: impl Fn(&mut [T], std::ops::Range<usize>, usize) + Sync,
) -> Vec<T> {
    let mut data = crate::buffers::overwritten(out.numel());
    let in_plane = g.input[0] * g.input[1];
    let out_plane = out.numel() / planes(out).max(1);
    by_planes(
        &mut data,
        out_plane,
        in_plane,
        planes(out),
        |dst, first, count| f(dst, first * in_plane..(first + count) * in_plane, count),
    );
    data
}

/// The adjoint of [`max_pool_select`]: `grad [N, C, Ho, Wo]` added at each window's
/// selected position in zeros shaped like `keys`.
pub(crate) fn max_pool_scatter<T: Element>(
    grad: View<'_, T>,
    keys: View<'_, T>,
    g: &PoolGeom,
) -> Tensor<T> {
    let out = g.output_shape("max_pool2d_backward", keys.shape);
    assert!(
        grad.shape == out,
        "max_pool2d_backward: gradient of shape {:?} is not the output shape {out:?}",
        grad.shape
    );
    let in_plane = g.input[0] * g.input[1];
    let out_plane = out.numel() / planes(out).max(1);
    let disjoint = g.kernel == [2, 2] && g.stride == [2, 2];
    // 2x2 windows with stride 2 do not overlap: each window writes its four entries (and
    // the rows and columns no window covers are written as zeros), so nothing is zeroed
    // first. Other windows may share entries and add into zeros.
    let mut data = match disjoint {
        true => crate::buffers::overwritten(keys.shape.numel()),
        false => crate::buffers::zeros(keys.shape.numel()),
    };
    by_planes(
        &mut data,
        in_plane,
        in_plane,
        planes(out),
        |dst, first, count| {
            let keys = &keys.data[first * in_plane..(first + count) * in_plane];
            let grad = &grad.data[first * out_plane..(first + count) * out_plane];
            if disjoint {
                scatter_2x2(grad, keys, count, g.input, g.output(), dst);
            } else {
                g.argmax(keys, count, |o, at| dst[at] += grad[o]);
            }
        },
    );
    Tensor::from_parts(data, keys.shape)
}

/// [`max_pool_scatter`] for 2x2 windows with stride 2, writing every entry of `out`: the
/// gradient at the window's [`winning_tap`], zero elsewhere.
///
/// The picked entry is `0 + grad`, as adding into zeros gives (a gradient of -0 lands
/// as +0).
fn scatter_2x2<T: Element>(
    grad: &[T],
    keys: &[T],
    planes: usize,
    [h, w]: [usize; 2],
    [oh_n, ow_n]: [usize; 2],
    out: &mut [T],
) {
    let zero = T::ZERO;
    for p in 0..planes {
        let plane = &mut out[p * h * w..(p + 1) * h * w];
        let (covered, below) = plane.split_at_mut(2 * oh_n * w);
        below.fill(zero);
        for (oh, rows) in covered.chunks_exact_mut(2 * w).enumerate() {
            let top = p * h * w + 2 * oh * w;
            let (k0, k1) = (&keys[top..top + w], &keys[top + w..top + 2 * w]);
            let (o0, o1) = rows.split_at_mut(w);
            let g = &grad[(p * oh_n + oh) * ow_n..(p * oh_n + oh + 1) * ow_n];
            for (ow, &grad) in g.iter().enumerate() {
                let (x, winner) = (2 * ow, winning_tap(k0, k1, 2 * ow));
                let at = |tap: usize| if winner == tap { zero + grad } else { zero };
                o0[x] = at(0);
                o0[x + 1] = at(1);
                o1[x] = at(2);
                o1[x + 1] = at(3);
            }
            o0[2 * ow_n..].fill(zero);
            o1[2 * ow_n..].fill(zero);
        }
    }
}

/// The number of entries in a window, as an element.
fn count_t<T: Element>(g: &PoolGeom) -> T {
    T::from_f64((g.kernel[0] * g.kernel[1]) as f64)
}

/// The mean of each window.
pub(crate) fn avg_pool<T: Element>(x: View<'_, T>, g: &PoolGeom) -> Tensor<T> {
    let out = g.output_shape("avg_pool2d", x.shape);
    let data = per_window(g, out, |dst, inputs, count| {
        let x = &x.data[inputs];
        g.for_each_window(count, |o, window| {
            dst[o] = window.iter().fold(T::ZERO, |acc, &at| acc + x[at]) / count_t(g);
        });
    });
    Tensor::from_parts(data, out)
}

/// The adjoint of [`avg_pool`]: each output gradient spread evenly over its window.
pub(crate) fn avg_pool_transpose<T: Element>(grad: View<'_, T>, g: &PoolGeom) -> Tensor<T> {
    let [n, c, oh, ow] = match *grad.dims() {
        [n, c, oh, ow] => [n, c, oh, ow],
        _ => panic!(
            "avg_pool2d_backward: needs [N, C, Ho, Wo], got shape {:?}",
            grad.shape
        ),
    };
    assert!(
        [oh, ow] == g.output(),
        "avg_pool2d_backward: gradient of shape {:?} does not fit {g:?}",
        grad.shape
    );
    let [h, w] = g.input;
    let mut data = crate::buffers::zeros(n * c * h * w);
    by_planes(&mut data, h * w, h * w, n * c, |dst, first, planes| {
        let grad = &grad.data[first * oh * ow..(first + planes) * oh * ow];
        g.for_each_window(planes, |o, window| {
            let share = grad[o] / count_t(g);
            for &at in window {
                dst[at] += share;
            }
        });
    });
    Tensor::from_parts(data, Shape::of("avg_pool2d_backward", &[n, c, h, w]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom() -> PoolGeom {
        PoolGeom {
            kernel: [2, 2],
            stride: [2, 2],
            input: [4, 5],
        }
    }

    #[test]
    fn max_pool_picks_the_largest_and_scatters_back_there() {
        let x: Vec<f64> = (0..20).map(|i| ((i * 7) % 20) as f64).collect();
        let x = Tensor::new(x, &[1, 1, 4, 5]).unwrap();
        let y = max_pool_select(x.view(), x.view(), &geom());
        assert_eq!(y.dims(), &[1, 1, 2, 2]);
        // Window (0, 0) holds x[0], x[1], x[5], x[6] = 0, 7, 15, 2.
        assert_eq!(y.data()[0], 15.0);
        let back = max_pool_scatter(y.view(), x.view(), &geom());
        assert_eq!(back.data()[5], 15.0);
        assert_eq!(back.data().iter().filter(|&&v| v != 0.0).count(), 4);
    }

    #[test]
    fn recycled_buffers_full_of_nan_are_overwritten() {
        use crate::buffers::check_overwrites_recycled;
        let x: Vec<f32> = (0..8 * 6 * 24 * 24)
            .map(|i| ((i * 7) % 19) as f32 - 9.0)
            .collect();
        let x = Tensor::new(x, &[8, 6, 24, 24]).unwrap();
        for g in [
            PoolGeom {
                kernel: [2, 2],
                stride: [2, 2],
                input: [24, 24],
            },
            PoolGeom {
                kernel: [3, 2],
                stride: [2, 1],
                input: [24, 24],
            },
        ] {
            check_overwrites_recycled("max_pool_select", || {
                max_pool_select(x.view(), x.view(), &g).into_data()
            });
            check_overwrites_recycled("avg_pool", || avg_pool(x.view(), &g).into_data());
        }
    }

    /// Keys with ties, a NaN and odd sizes; gradients with -0.
    fn awkward(planes: usize, [h, w]: [usize; 2]) -> (Tensor<f64>, Tensor<f64>, PoolGeom) {
        let g = PoolGeom {
            kernel: [2, 2],
            stride: [2, 2],
            input: [h, w],
        };
        let mut keys: Vec<f64> = (0..planes * h * w).map(|i| ((i * 7) % 5) as f64).collect();
        keys[3] = f64::NAN;
        let [oh, ow] = g.output();
        let grad: Vec<f64> = (0..planes * oh * ow)
            .map(|i| if i % 4 == 1 { -0.0 } else { i as f64 - 7.5 })
            .collect();
        (
            Tensor::new(keys, &[planes, 1, h, w]).unwrap(),
            Tensor::new(grad, &[planes, 1, oh, ow]).unwrap(),
            g,
        )
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn the_2x2_scatter_writes_what_adding_into_zeros_gives() {
        for size in [[4, 6], [5, 7], [2, 3]] {
            let (keys, grad, g) = awkward(3, size);
            let mut expected = vec![0.0; keys.data().len()];
            g.argmax(keys.data(), 3, |o, at| expected[at] += grad.data()[o]);
            crate::buffers::check_overwrites_recycled("max_pool_scatter", || {
                let got = max_pool_scatter(grad.view(), keys.view(), &g).into_data();
                assert_eq!(bits(&got), bits(&expected), "{size:?}");
                got
            });
        }
    }

    #[test]
    fn pooling_in_chunks_of_planes_gives_the_same_bits_on_one_and_two_threads() {
        use unstuck_test_support::threads::with_threads;
        // 64 planes of 24 x 25: several tasks of whole planes, and a short last one.
        let (keys, grad, g2) = awkward(64, [24, 25]);
        let g3 = PoolGeom {
            kernel: [3, 2],
            stride: [2, 1],
            input: [24, 25],
        };
        let grad3 = Tensor::new(vec![0.25; 64 * 11 * 24], &[64, 1, 11, 24]).unwrap();
        let run = || {
            [
                max_pool_select(keys.view(), keys.view(), &g2).into_data(),
                max_pool_scatter(grad.view(), keys.view(), &g2).into_data(),
                max_pool_select(keys.view(), keys.view(), &g3).into_data(),
                max_pool_scatter(grad3.view(), keys.view(), &g3).into_data(),
                avg_pool(keys.view(), &g3).into_data(),
                avg_pool_transpose(grad3.view(), &g3).into_data(),
            ]
            .map(|v| bits(&v))
        };
        assert_eq!(with_threads(1, run), with_threads(2, run));
    }

    #[test]
    fn avg_pool_transpose_is_its_adjoint() {
        let x: Vec<f64> = (0..20).map(|i| i as f64 * 0.5).collect();
        let x = Tensor::new(x, &[1, 1, 4, 5]).unwrap();
        let gr = Tensor::new(vec![1.0, -2.0, 0.5, 4.0], &[1, 1, 2, 2]).unwrap();
        let y = avg_pool(x.view(), &geom());
        let gx = avg_pool_transpose(gr.view(), &geom());
        let dot = |a: &[f64], b: &[f64]| -> f64 { a.iter().zip(b).map(|(p, q)| p * q).sum() };
        assert_eq!(dot(y.data(), gr.data()), dot(x.data(), gx.data()));
    }
}

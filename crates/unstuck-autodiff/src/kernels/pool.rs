//! 2-D max and average pooling over `[N, C, H, W]` (no padding, PyTorch's floor rule),
//! and their adjoints.
//!
//! Max pooling is a selection: each window passes on the entry at the position of its
//! largest *key*. The forward pass selects from `x` by `x` itself; the backward pass
//! scatters to the positions selected by `x`. Both are linear in the selected values, so
//! each is the other's adjoint and neither depends on the keys differentiably.

use super::pool_2x2;
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

    /// 2x2 windows with stride 2: they do not overlap, and [`pool_2x2`] pools them.
    fn is_2x2(&self) -> bool {
        self.kernel == [2, 2] && self.stride == [2, 2]
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
        let (values, keys) = (&values.data[inputs.clone()], &keys.data[inputs]);
        if g.is_2x2() {
            pool_2x2::select_2x2(values, keys, count, g.input, dst);
        } else {
            g.argmax(keys, count, |o, at| dst[o] = values[at]);
        }
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
    let disjoint = g.is_2x2();
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
                pool_2x2::scatter_2x2(grad, keys, count, g.input, dst);
            } else {
                g.argmax(keys, count, |o, at| dst[at] += grad[o]);
            }
        },
    );
    Tensor::from_parts(data, keys.shape)
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
    fn the_2x2_selection_picks_what_a_scan_in_row_order_picks() {
        // The tournament against the scan: ties (first wins), NaN keys (the last wins,
        // a whole window of them too), odd sizes, and values that are not the keys.
        for size in [[4, 6], [5, 7], [2, 3], [6, 2]] {
            let (mut keys, _, g) = awkward(3, size);
            let plane = size[0] * size[1];
            keys.data_mut()[plane..plane + 2].fill(f64::NAN);
            keys.data_mut()[plane + size[1]..plane + size[1] + 2].fill(f64::NAN);
            let values: Vec<f64> = (0..keys.data().len()).map(|i| i as f64 + 0.5).collect();
            let values = Tensor::new(values, keys.dims()).unwrap();
            for v in [&values, &keys] {
                let mut expected = vec![0.0; g.output()[0] * g.output()[1] * 3];
                g.argmax(keys.data(), 3, |o, at| expected[o] = v.data()[at]);
                let got = max_pool_select(v.view(), keys.view(), &g).into_data();
                assert_eq!(bits(&got), bits(&expected), "{size:?}");
            }
            // The values have no NaN, so a NaN here would come from a recycled buffer.
            crate::buffers::check_overwrites_recycled("max_pool_select", || {
                max_pool_select(values.view(), keys.view(), &g).into_data()
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

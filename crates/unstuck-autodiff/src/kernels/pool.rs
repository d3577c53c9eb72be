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
                let x = 2 * ow;
                let mut best = (r0[x], top + x);
                best = pick(best, (r0[x + 1], top + x + 1));
                best = pick(best, (r1[x], top + w + x));
                best = pick(best, (r1[x + 1], top + w + x + 1));
                f((p * oh_n + oh) * ow_n + ow, best.1);
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
    let mut data = crate::buffers::overwritten(out.numel());
    g.argmax(keys.data, planes(keys.shape), |o, at| {
        data[o] = values.data[at]
    });
    Tensor::from_parts(data, out)
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
    let mut data = crate::buffers::zeros(keys.shape.numel());
    g.argmax(keys.data, planes(keys.shape), |o, at| {
        data[at] += grad.data[o]
    });
    Tensor::from_parts(data, keys.shape)
}

/// The mean of each window.
pub(crate) fn avg_pool<T: Element>(x: View<'_, T>, g: &PoolGeom) -> Tensor<T> {
    let out = g.output_shape("avg_pool2d", x.shape);
    let count = T::from_f64((g.kernel[0] * g.kernel[1]) as f64);
    let mut data = crate::buffers::overwritten(out.numel());
    g.for_each_window(planes(x.shape), |o, window| {
        data[o] = window.iter().fold(T::ZERO, |acc, &at| acc + x.data[at]) / count;
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
    let count = T::from_f64((g.kernel[0] * g.kernel[1]) as f64);
    let mut data = crate::buffers::zeros(n * c * h * w);
    g.for_each_window(n * c, |o, window| {
        let share = grad.data[o] / count;
        for &at in window {
            data[at] += share;
        }
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

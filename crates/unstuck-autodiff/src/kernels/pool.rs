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

    /// Calls `f(output index, input index)` for every window position, plane by plane.
    fn for_each_window(
        &self,
        planes: usize,
        mut f: impl FnMut(usize, &mut dyn Iterator<Item = usize>),
    ) {
        let [oh_n, ow_n] = self.output();
        let [h, w] = self.input;
        let [kh, kw] = self.kernel;
        for p in 0..planes {
            for oh in 0..oh_n {
                for ow in 0..ow_n {
                    let (y0, x0) = (oh * self.stride[0], ow * self.stride[1]);
                    let base = p * h * w;
                    let mut taps =
                        (0..kh).flat_map(|i| (0..kw).map(move |j| base + (y0 + i) * w + x0 + j));
                    f((p * oh_n + oh) * ow_n + ow, &mut taps);
                }
            }
        }
    }

    /// The input index of each window's largest key (the first on ties; NaN wins, as in PyTorch).
    fn argmax<T: Element>(&self, keys: &[T], planes: usize) -> Vec<usize> {
        let [oh, ow] = self.output();
        let mut out = vec![0; planes * oh * ow];
        self.for_each_window(planes, |o, taps| {
            let mut best = T::from_f64(f64::NEG_INFINITY);
            let mut best_at = None;
            for at in taps {
                let v = keys[at];
                #[allow(clippy::eq_op)]
                let is_nan = v != v;
                if best_at.is_none() || v > best || is_nan {
                    best = v;
                    best_at = Some(at);
                }
            }
            out[o] = best_at.expect("a window has at least one tap");
        });
        out
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
    let data = g
        .argmax(keys.data, planes(keys.shape))
        .into_iter()
        .map(|at| values.data[at])
        .collect();
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
    let mut data = vec![T::ZERO; keys.shape.numel()];
    for (at, &v) in g
        .argmax(keys.data, planes(keys.shape))
        .into_iter()
        .zip(grad.data)
    {
        data[at] += v;
    }
    Tensor::from_parts(data, keys.shape)
}

/// The mean of each window.
pub(crate) fn avg_pool<T: Element>(x: View<'_, T>, g: &PoolGeom) -> Tensor<T> {
    let out = g.output_shape("avg_pool2d", x.shape);
    let count = T::from_f64((g.kernel[0] * g.kernel[1]) as f64);
    let mut data = vec![T::ZERO; out.numel()];
    g.for_each_window(planes(x.shape), |o, taps| {
        data[o] = taps.fold(T::ZERO, |acc, at| acc + x.data[at]) / count;
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
    let mut data = vec![T::ZERO; n * c * h * w];
    g.for_each_window(n * c, |o, taps| {
        let share = grad.data[o] / count;
        for at in taps {
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

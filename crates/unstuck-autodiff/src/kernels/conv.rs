//! 2-D convolution (cross-correlation, as PyTorch's `conv2d`) as matrix products over an
//! unfolded input, and the two products that make its derivatives.
//!
//! With `cols = unfold(x)` (`[C·KH·KW, Ho·Wo]` per image) and the weight seen as
//! `W [O, C·KH·KW]`: the output is `W · cols`, the input gradient folds `Wᵀ · g` back,
//! and the weight gradient is `Σₙ g[n] · cols[n]ᵀ`.

use super::matmul::{Operand, gemm};
use crate::Element;
use crate::shape::Shape;
use crate::tensor::{Tensor, View};

/// Everything that fixes a convolution's shapes: stride, zero padding, kernel and input
/// size (height, width).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ConvGeom {
    pub(crate) stride: [usize; 2],
    pub(crate) padding: [usize; 2],
    pub(crate) kernel: [usize; 2],
    pub(crate) input: [usize; 2],
}

impl ConvGeom {
    /// The output height and width, or a panic when the kernel does not fit.
    pub(crate) fn output(&self) -> [usize; 2] {
        let size = |axis: usize| {
            let padded = self.input[axis] + 2 * self.padding[axis];
            assert!(
                self.stride[axis] > 0 && padded >= self.kernel[axis],
                "conv2d: kernel {:?} with stride {:?} does not fit input {:?} padded by {:?}",
                self.kernel,
                self.stride,
                self.input,
                self.padding
            );
            (padded - self.kernel[axis]) / self.stride[axis] + 1
        };
        [size(0), size(1)]
    }

    fn unfold_rows(&self, channels: usize) -> usize {
        channels * self.kernel[0] * self.kernel[1]
    }

    fn out_len(&self) -> usize {
        let [h, w] = self.output();
        h * w
    }

    /// The input position read by kernel tap `(i, j)` at output `(oh, ow)`, if inside.
    #[inline]
    fn source(&self, oh: usize, ow: usize, i: usize, j: usize) -> Option<usize> {
        let y = (oh * self.stride[0] + i).checked_sub(self.padding[0])?;
        let x = (ow * self.stride[1] + j).checked_sub(self.padding[1])?;
        (y < self.input[0] && x < self.input[1]).then_some(y * self.input[1] + x)
    }
}

fn dims4(op: &str, s: Shape) -> [usize; 4] {
    match *s.dims() {
        [a, b, c, d] => [a, b, c, d],
        _ => panic!("{op}: needs a rank-4 tensor, got shape {s:?}"),
    }
}

/// Unfolds one image `[C, H, W]` into `cols [C·KH·KW, Ho·Wo]` (zeros where padded).
fn unfold<T: Element>(image: &[T], channels: usize, g: &ConvGeom, cols: &mut [T]) {
    let [oh_n, ow_n] = g.output();
    let [kh, kw] = g.kernel;
    let plane = g.input[0] * g.input[1];
    let mut rows = cols.chunks_exact_mut(oh_n * ow_n);
    for c in 0..channels {
        let src = &image[c * plane..(c + 1) * plane];
        for i in 0..kh {
            for j in 0..kw {
                let row = rows.next().expect("one row per channel and tap");
                for oh in 0..oh_n {
                    for ow in 0..ow_n {
                        row[oh * ow_n + ow] = match g.source(oh, ow, i, j) {
                            Some(at) => src[at],
                            None => T::ZERO,
                        };
                    }
                }
            }
        }
    }
}

/// Adds `cols [C·KH·KW, Ho·Wo]` back into one image `[C, H, W]` (the adjoint of [`unfold`]).
fn fold<T: Element>(cols: &[T], channels: usize, g: &ConvGeom, image: &mut [T]) {
    let [oh_n, ow_n] = g.output();
    let [kh, kw] = g.kernel;
    let plane = g.input[0] * g.input[1];
    let mut rows = cols.chunks_exact(oh_n * ow_n);
    for c in 0..channels {
        let dst = &mut image[c * plane..(c + 1) * plane];
        for i in 0..kh {
            for j in 0..kw {
                let row = rows.next().expect("one row per channel and tap");
                for oh in 0..oh_n {
                    for ow in 0..ow_n {
                        if let Some(at) = g.source(oh, ow, i, j) {
                            dst[at] += row[oh * ow_n + ow];
                        }
                    }
                }
            }
        }
    }
}

fn check_weight(op: &str, w: Shape, channels: usize, g: &ConvGeom) -> usize {
    let [o, c, kh, kw] = dims4(op, w);
    assert!(
        c == channels && [kh, kw] == g.kernel,
        "{op}: weight of shape {w:?} does not fit {channels} input channels and kernel {:?}",
        g.kernel
    );
    o
}

/// `x [N, C, H, W]` convolved with `w [O, C, KH, KW]`: `[N, O, Ho, Wo]`.
pub(crate) fn conv2d<T: Element>(x: View<'_, T>, w: View<'_, T>, g: &ConvGeom) -> Tensor<T> {
    let [n, c, h, wd] = dims4("conv2d", x.shape);
    assert!(
        [h, wd] == g.input,
        "conv2d: input of shape {:?} is not {:?} spatially",
        x.shape,
        g.input
    );
    let o = check_weight("conv2d", w.shape, c, g);
    let [oh, ow] = g.output();
    let (k, l) = (g.unfold_rows(c), g.out_len());
    let mut out = vec![T::ZERO; n * o * l];
    let mut cols = vec![T::ZERO; k * l];
    let weight = Operand {
        rows: o,
        cols: k,
        transposed: false,
    };
    let unfolded = Operand {
        rows: k,
        cols: l,
        transposed: false,
    };
    for (image, dst) in x
        .data
        .chunks_exact(c * h * wd)
        .zip(out.chunks_exact_mut(o * l))
    {
        unfold(image, c, g, &mut cols);
        gemm(w.data, weight, &cols, unfolded, dst, false);
    }
    Tensor::from_parts(out, Shape::of("conv2d", &[n, o, oh, ow]))
}

/// The gradient of a convolution with respect to its input, given the output's gradient
/// `grad [N, O, Ho, Wo]` and the weight: `[N, C, H, W]` (a transposed convolution).
pub(crate) fn conv2d_input_grad<T: Element>(
    grad: View<'_, T>,
    w: View<'_, T>,
    g: &ConvGeom,
) -> Tensor<T> {
    let [n, o, oh, ow] = dims4("conv2d_input_grad", grad.shape);
    let [wo, c, _, _] = dims4("conv2d_input_grad", w.shape);
    check_weight("conv2d_input_grad", w.shape, c, g);
    assert!(
        wo == o && [oh, ow] == g.output(),
        "conv2d_input_grad: gradient of shape {:?} does not fit weight {:?} and output {:?}",
        grad.shape,
        w.shape,
        g.output()
    );
    let (k, l) = (g.unfold_rows(c), g.out_len());
    let [h, wd] = g.input;
    let mut out = vec![T::ZERO; n * c * h * wd];
    let mut cols = vec![T::ZERO; k * l];
    let weight_t = Operand {
        rows: o,
        cols: k,
        transposed: true,
    };
    let grad_op = Operand {
        rows: o,
        cols: l,
        transposed: false,
    };
    for (gn, dst) in grad
        .data
        .chunks_exact(o * l)
        .zip(out.chunks_exact_mut(c * h * wd))
    {
        gemm(w.data, weight_t, gn, grad_op, &mut cols, false);
        fold(&cols, c, g, dst);
    }
    Tensor::from_parts(out, Shape::of("conv2d_input_grad", &[n, c, h, wd]))
}

/// The gradient of a convolution with respect to its weight, given the input `x` and the
/// output's gradient `grad`: `[O, C, KH, KW]`, summed over the batch in order.
pub(crate) fn conv2d_weight_grad<T: Element>(
    x: View<'_, T>,
    grad: View<'_, T>,
    g: &ConvGeom,
) -> Tensor<T> {
    let [n, c, h, wd] = dims4("conv2d_weight_grad", x.shape);
    let [gn, o, oh, ow] = dims4("conv2d_weight_grad", grad.shape);
    assert!(
        gn == n && [h, wd] == g.input && [oh, ow] == g.output(),
        "conv2d_weight_grad: input of shape {:?} and gradient of shape {:?} do not fit {g:?}",
        x.shape,
        grad.shape
    );
    let (k, l) = (g.unfold_rows(c), g.out_len());
    let mut out = vec![T::ZERO; o * k];
    let mut cols = vec![T::ZERO; k * l];
    let grad_op = Operand {
        rows: o,
        cols: l,
        transposed: false,
    };
    let cols_t = Operand {
        rows: k,
        cols: l,
        transposed: true,
    };
    for (i, (image, gi)) in x
        .data
        .chunks_exact(c * h * wd)
        .zip(grad.data.chunks_exact(o * l))
        .enumerate()
    {
        unfold(image, c, g, &mut cols);
        gemm(gi, grad_op, &cols, cols_t, &mut out, i > 0);
    }
    let [kh, kw] = g.kernel;
    Tensor::from_parts(out, Shape::of("conv2d_weight_grad", &[o, c, kh, kw]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom(input: usize, kernel: usize, stride: usize, padding: usize) -> ConvGeom {
        ConvGeom {
            stride: [stride; 2],
            padding: [padding; 2],
            kernel: [kernel; 2],
            input: [input; 2],
        }
    }

    #[test]
    fn a_delta_kernel_copies_the_input() {
        // A 3x3 kernel with a single 1 at its centre and padding 1 is the identity.
        let x: Vec<f64> = (0..2 * 5 * 5).map(f64::from).collect();
        let x = Tensor::new(x, &[2, 1, 5, 5]).unwrap();
        let mut w = vec![0.0; 9];
        w[4] = 1.0;
        let w = Tensor::new(w, &[1, 1, 3, 3]).unwrap();
        let y = conv2d(x.view(), w.view(), &geom(5, 3, 1, 1));
        assert_eq!(y, x);
    }

    #[test]
    fn stride_two_output_size_matches_pytorch() {
        // PyTorch: floor((7 + 2 - 3) / 2) + 1 = 4.
        assert_eq!(geom(7, 3, 2, 1).output(), [4, 4]);
        assert_eq!(geom(8, 3, 1, 0).output(), [6, 6]);
    }

    #[test]
    fn the_three_products_are_adjoint() {
        // <conv(x, w), g> = <x, input_grad(g, w)> = <w, weight_grad(x, g)>.
        let g = geom(5, 3, 2, 1);
        let [oh, ow] = g.output();
        let fill = |n: usize, k: usize| -> Vec<f64> {
            (0..n).map(|i| ((i * k) % 11) as f64 * 0.25 - 1.0).collect()
        };
        let x = Tensor::new(fill(2 * 3 * 25, 7), &[2, 3, 5, 5]).unwrap();
        let w = Tensor::new(fill(4 * 3 * 9, 5), &[4, 3, 3, 3]).unwrap();
        let gr = Tensor::new(fill(2 * 4 * oh * ow, 3), &[2, 4, oh, ow]).unwrap();
        let dot = |a: &Tensor<f64>, b: &Tensor<f64>| -> f64 {
            a.data().iter().zip(b.data()).map(|(p, q)| p * q).sum()
        };
        let y = conv2d(x.view(), w.view(), &g);
        let gx = conv2d_input_grad(gr.view(), w.view(), &g);
        let gw = conv2d_weight_grad(x.view(), gr.view(), &g);
        assert_eq!((gx.dims(), gw.dims()), (x.dims(), w.dims()));
        let (a, b, c) = (dot(&y, &gr), dot(&x, &gx), dot(&w, &gw));
        // Quarter-integer data: every product and sum is exact in f64.
        assert_eq!(a, b);
        assert_eq!(a, c);
    }
}

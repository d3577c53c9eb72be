//! 2-D convolution (cross-correlation, as PyTorch's `conv2d`) as matrix products over an
//! unfolded input, and the two products that make its derivatives.
//!
//! With `cols = unfold(x)` (`[C·KH·KW, Ho·Wo]` per image) and the weight seen as
//! `W [O, C·KH·KW]`: the output is `W · cols`, the input gradient folds `Wᵀ · g` back,
//! and the weight gradient is `Σₙ g[n] · cols[n]ᵀ`.

use super::matmul::{Operand, gemm_seq};
use crate::Element;
use crate::buffers;
use crate::shape::Shape;
use crate::tensor::{Tensor, View};
use rayon::prelude::*;

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

    pub(super) fn unfold_rows(&self, channels: usize) -> usize {
        channels * self.kernel[0] * self.kernel[1]
    }

    pub(super) fn out_len(&self) -> usize {
        let [h, w] = self.output();
        h * w
    }
}

fn dims4(op: &str, s: Shape) -> [usize; 4] {
    match *s.dims() {
        [a, b, c, d] => [a, b, c, d],
        _ => panic!("{op}: needs a rank-4 tensor, got shape {s:?}"),
    }
}

/// The output columns `ow` whose tap `j` reads inside the image along the width, as a
/// range, and the input column read by the first of them.
#[inline]
fn valid_columns(g: &ConvGeom, ow_n: usize, j: usize) -> (std::ops::Range<usize>, usize) {
    let (s, p, w) = (g.stride[1], g.padding[1], g.input[1]);
    // x = ow s + j - p must lie in [0, w).
    let lo = if p > j { (p - j).div_ceil(s) } else { 0 };
    let hi = if w + p > j {
        (w + p - j).div_ceil(s).min(ow_n)
    } else {
        0
    };
    let lo = lo.min(hi);
    (lo..hi, (lo * s + j).saturating_sub(p))
}

/// The input row read by tap `i` at output row `oh`, if inside the image.
#[inline]
fn source_row(g: &ConvGeom, oh: usize, i: usize) -> Option<usize> {
    let y = (oh * g.stride[0] + i).checked_sub(g.padding[0])?;
    (y < g.input[0]).then_some(y)
}

/// Unfolds one image `[C, H, W]` into columns `col0..col0 + Ho·Wo` of `cols`, a
/// `[C·KH·KW, ld]` matrix (zeros where the window hangs over the padding).
pub(super) fn unfold_into<T: Element>(
    image: &[T],
    channels: usize,
    g: &ConvGeom,
    cols: &mut [T],
    ld: usize,
    col0: usize,
) {
    let [oh_n, ow_n] = g.output();
    let [kh, kw] = g.kernel;
    let (w, plane, sw) = (g.input[1], g.input[0] * g.input[1], g.stride[1]);
    let mut row_index = 0;
    for c in 0..channels {
        let src = &image[c * plane..(c + 1) * plane];
        for i in 0..kh {
            for j in 0..kw {
                let row = &mut cols[row_index * ld + col0..row_index * ld + col0 + oh_n * ow_n];
                row_index += 1;
                let (valid, x0) = valid_columns(g, ow_n, j);
                for (oh, out) in row.chunks_exact_mut(ow_n).enumerate() {
                    let Some(y) = source_row(g, oh, i) else {
                        out.fill(T::ZERO);
                        continue;
                    };
                    out[..valid.start].fill(T::ZERO);
                    out[valid.end..].fill(T::ZERO);
                    let line = &src[y * w + x0..];
                    if sw == 1 {
                        out[valid.clone()].copy_from_slice(&line[..valid.len()]);
                    } else {
                        for (o, k) in out[valid.clone()].iter_mut().zip(0..) {
                            *o = line[k * sw];
                        }
                    }
                }
            }
        }
    }
}

/// Adds columns `col0..col0 + Ho·Wo` of `cols` back into one image (the adjoint of
/// [`unfold_into`]).
fn fold_from<T: Element>(
    cols: &[T],
    ld: usize,
    col0: usize,
    channels: usize,
    g: &ConvGeom,
    image: &mut [T],
) {
    let [oh_n, ow_n] = g.output();
    let [kh, kw] = g.kernel;
    let (w, plane, sw) = (g.input[1], g.input[0] * g.input[1], g.stride[1]);
    let mut row_index = 0;
    for c in 0..channels {
        let dst = &mut image[c * plane..(c + 1) * plane];
        for i in 0..kh {
            for j in 0..kw {
                let row = &cols[row_index * ld + col0..row_index * ld + col0 + oh_n * ow_n];
                row_index += 1;
                let (valid, x0) = valid_columns(g, ow_n, j);
                for (oh, part) in row.chunks_exact(ow_n).enumerate() {
                    let Some(y) = source_row(g, oh, i) else {
                        continue;
                    };
                    let (line, part) = (&mut dst[y * w + x0..], &part[valid.clone()]);
                    if sw == 1 {
                        // Without the stride the loop vectorises (each entry once, as below).
                        for (d, &v) in line[..part.len()].iter_mut().zip(part) {
                            *d += v;
                        }
                    } else {
                        for (k, &v) in part.iter().enumerate() {
                            line[k * sw] += v;
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

/// Images unfolded side by side into one product: about this many columns per group.
const GROUP_COLUMNS: usize = 2048;

/// How many images go into one product: fixed by the shapes alone, so the work (and
/// the rounding) is split the same way whatever the number of threads.
pub(super) fn group_size(n: usize, out_len: usize) -> usize {
    (GROUP_COLUMNS / out_len.max(1)).clamp(1, n.max(1))
}

/// A group's gradient `[G, O, L]` rearranged as `[O, G·L]`, to meet its unfolded columns.
fn group_columns<T: Element>(grad: &[T], o: usize, l: usize) -> Vec<T> {
    let images = grad.len() / (o * l).max(1);
    let ld = images * l;
    let mut out = buffers::overwritten(o * ld);
    for (s, image) in grad.chunks_exact(o * l).enumerate() {
        for (oc, part) in image.chunks_exact(l).enumerate() {
            out[oc * ld + s * l..oc * ld + (s + 1) * l].copy_from_slice(part);
        }
    }
    out
}

/// A group's images unfolded side by side: `[C·KH·KW, G·L]`.
fn unfold_group<T: Element>(images: &[T], c: usize, g: &ConvGeom) -> (Vec<T>, usize) {
    let chw = c * g.input[0] * g.input[1];
    let l = g.out_len();
    let count = images.len() / chw.max(1);
    let ld = count * l;
    let mut cols = buffers::overwritten(g.unfold_rows(c) * ld);
    for (s, image) in images.chunks_exact(chw).enumerate() {
        unfold_into(image, c, g, &mut cols, ld, s * l);
    }
    (cols, ld)
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
    let group = group_size(n, l);
    let mut out = buffers::overwritten(n * o * l);
    let weight = Operand {
        rows: o,
        cols: k,
        transposed: false,
    };
    out.par_chunks_mut((group * o * l).max(1))
        .zip(x.data.par_chunks((group * c * h * wd).max(1)))
        .for_each(|(dst, images)| {
            let (cols, ld) = unfold_group(images, c, g);
            let mut product = buffers::overwritten(o * ld);
            let unfolded = Operand {
                rows: k,
                cols: ld,
                transposed: false,
            };
            gemm_seq(w.data, weight, &cols, unfolded, &mut product, false);
            // [O, G·L] -> [G, O, L]
            for (s, image) in dst.chunks_exact_mut(o * l).enumerate() {
                for (oc, part) in image.chunks_exact_mut(l).enumerate() {
                    part.copy_from_slice(&product[oc * ld + s * l..oc * ld + (s + 1) * l]);
                }
            }
            buffers::give(cols);
            buffers::give(product);
        });
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
    let group = group_size(n, l);
    let mut out = buffers::zeros(n * c * h * wd);
    let weight_t = Operand {
        rows: o,
        cols: k,
        transposed: true,
    };
    out.par_chunks_mut((group * c * h * wd).max(1))
        .zip(grad.data.par_chunks((group * o * l).max(1)))
        .for_each(|(dst, grads)| {
            let gathered = group_columns(grads, o, l);
            let ld = gathered.len() / o.max(1);
            let mut cols = buffers::overwritten(k * ld);
            let grad_op = Operand {
                rows: o,
                cols: ld,
                transposed: false,
            };
            gemm_seq(w.data, weight_t, &gathered, grad_op, &mut cols, false);
            for (s, image) in dst.chunks_exact_mut(c * h * wd).enumerate() {
                fold_from(&cols, ld, s * l, c, g, image);
            }
            buffers::give(gathered);
            buffers::give(cols);
        });
    Tensor::from_parts(out, Shape::of("conv2d_input_grad", &[n, c, h, wd]))
}

/// The gradient of a convolution with respect to its weight, given the input `x` and the
/// output's gradient `grad`: `[O, C, KH, KW]`. Each fixed group of images gives a
/// partial sum; the partials are added in group order.
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
    let group = group_size(n, l);
    let partials: Vec<Vec<T>> = x
        .data
        .par_chunks((group * c * h * wd).max(1))
        .zip(grad.data.par_chunks((group * o * l).max(1)))
        .map(|(images, grads)| {
            let (cols, ld) = unfold_group(images, c, g);
            let gathered = group_columns(grads, o, l);
            let mut partial = buffers::overwritten(o * k);
            let grad_op = Operand {
                rows: o,
                cols: ld,
                transposed: false,
            };
            let cols_t = Operand {
                rows: k,
                cols: ld,
                transposed: true,
            };
            gemm_seq(&gathered, grad_op, &cols, cols_t, &mut partial, false);
            buffers::give(cols);
            buffers::give(gathered);
            partial
        })
        .collect();
    let mut parts = partials.into_iter();
    let mut out = parts.next().unwrap_or_else(|| buffers::zeros(o * k));
    for part in parts {
        for (a, b) in out.iter_mut().zip(&part) {
            *a += *b;
        }
        buffers::give(part);
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
    fn recycled_buffers_full_of_nan_are_overwritten() {
        use crate::buffers::check_overwrites_recycled;
        let fill = |n: usize, k: usize| -> Vec<f32> {
            (0..n)
                .map(|i| ((i * k) % 13) as f32 * 0.125 - 0.75)
                .collect()
        };
        // LeNet's two convolutions at batch 8, and a strided, padded one.
        for (n, c, o, input, kernel, stride, padding) in [
            (8, 1, 6, 28, 5, 1, 0),
            (8, 6, 16, 12, 5, 1, 0),
            (5, 3, 7, 11, 3, 2, 1),
        ] {
            let g = geom(input, kernel, stride, padding);
            let [oh, ow] = g.output();
            let x = Tensor::new(fill(n * c * input * input, 7), &[n, c, input, input]).unwrap();
            let w = Tensor::new(fill(o * c * kernel * kernel, 5), &[o, c, kernel, kernel]).unwrap();
            let gr = Tensor::new(fill(n * o * oh * ow, 3), &[n, o, oh, ow]).unwrap();
            unstuck_test_support::threads::with_threads(1, || {
                check_overwrites_recycled("conv2d", || conv2d(x.view(), w.view(), &g).into_data());
                check_overwrites_recycled("conv2d_input_grad", || {
                    conv2d_input_grad(gr.view(), w.view(), &g).into_data()
                });
                check_overwrites_recycled("conv2d_weight_grad", || {
                    conv2d_weight_grad(x.view(), gr.view(), &g).into_data()
                });
                check_overwrites_recycled("conv2d_weight_grad_squares", || {
                    super::super::conv_per_example::conv2d_weight_grad_squares(
                        x.view(),
                        gr.view(),
                        &g,
                        0.5,
                    )
                });
            });
        }
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

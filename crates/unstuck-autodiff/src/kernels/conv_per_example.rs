//! Per-example weight gradients of a convolution, squared and summed over the batch
//! (BackPACK's `SumGradSquared` for `Conv2d`).
//!
//! Example `n`'s share of the weight gradient is `grad[n] · unfold(x[n])ᵀ`
//! (`[O, L] · [L, C·KH·KW]`, `L = Ho·Wo`), the term [`super::conv::conv2d_weight_grad`]
//! adds up over the batch; here each term is squared entry by entry before the sum.

use super::conv::{ConvGeom, group_size, unfold_into};
use super::matmul::{Operand, gemm_seq};
use crate::Element;
use crate::buffers;
use crate::tensor::View;
use rayon::prelude::*;

/// `Σₙ (scale · grad[n] · unfold(x[n])ᵀ)²` entry by entry, `[O, C·KH·KW]` row-major, for
/// `x [N, C, H, W]` and `grad [N, O, Ho, Wo]` (shapes checked by the caller).
///
/// Images go in groups fixed by the shapes alone; each group's partial sum is made on
/// one thread and the partials are added in group order, so the bits do not depend on
/// the thread count.
pub(crate) fn conv2d_weight_grad_squares<T: Element>(
    x: View<'_, T>,
    grad: View<'_, T>,
    g: &ConvGeom,
    scale: T,
) -> Vec<T> {
    let dims = x.shape.dims();
    let (n, c) = (dims[0], dims[1]);
    let o = grad.shape.dims()[1];
    let (k, l) = (g.unfold_rows(c), g.out_len());
    let chw = c * g.input[0] * g.input[1];
    let group = group_size(n, l);
    let partials: Vec<Vec<T>> = x
        .data
        .par_chunks((group * chw).max(1))
        .zip(grad.data.par_chunks((group * o * l).max(1)))
        .map(|(images, grads)| {
            let mut cols = buffers::overwritten(k * l);
            let mut example = buffers::overwritten(o * k);
            let mut partial = buffers::zeros(o * k);
            for (image, image_grad) in images.chunks_exact(chw).zip(grads.chunks_exact(o * l)) {
                unfold_into(image, c, g, &mut cols, l, 0);
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
                gemm_seq(image_grad, grad_op, &cols, cols_t, &mut example, false);
                for (sum, &v) in partial.iter_mut().zip(&example) {
                    let v = scale * v;
                    *sum += v * v;
                }
            }
            buffers::give(cols);
            buffers::give(example);
            partial
        })
        .collect();
    add_in_order(partials, o * k)
}

/// The sum of `partials` (each of length `len`), added in their order.
fn add_in_order<T: Element>(partials: Vec<Vec<T>>, len: usize) -> Vec<T> {
    let mut parts = partials.into_iter();
    let mut out = parts.next().unwrap_or_else(|| buffers::zeros(len));
    parts.for_each(|part| {
        out.iter_mut().zip(&part).for_each(|(a, b)| *a += *b);
        buffers::give(part);
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conv::conv2d_weight_grad;
    use crate::tensor::Tensor;

    #[test]
    fn each_example_alone_gives_the_batch_weight_gradient_squared() {
        // Padding 1 and stride 2: windows hang over the border and skip columns.
        let g = ConvGeom {
            stride: [2, 1],
            padding: [1, 1],
            kernel: [3, 2],
            input: [5, 4],
        };
        let [oh, ow] = g.output();
        let fill = |n: usize, k: usize| -> Vec<f64> {
            (0..n).map(|i| ((i * k) % 13) as f64 * 0.25 - 1.5).collect()
        };
        let (n, c, o) = (3, 2, 4);
        let x = Tensor::new(fill(n * c * 20, 7), &[n, c, 5, 4]).unwrap();
        let grad = Tensor::new(fill(n * o * oh * ow, 5), &[n, o, oh, ow]).unwrap();
        let got = conv2d_weight_grad_squares(x.view(), grad.view(), &g, 2.0);
        let mut want = vec![0.0; o * c * 6];
        for i in 0..n {
            let xi = Tensor::new(
                x.data()[i * c * 20..(i + 1) * c * 20].to_vec(),
                &[1, c, 5, 4],
            );
            let gi = &grad.data()[i * o * oh * ow..(i + 1) * o * oh * ow];
            let gi = Tensor::new(gi.to_vec(), &[1, o, oh, ow]).unwrap();
            let wi = conv2d_weight_grad(xi.unwrap().view(), gi.view(), &g);
            for (w, v) in want.iter_mut().zip(wi.data()) {
                *w += (2.0 * v) * (2.0 * v);
            }
        }
        // Quarter-integer data: every product and sum is exact in f64.
        assert_eq!(got, want);
    }
}

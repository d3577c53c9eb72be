//! Softmax and log-softmax along one axis, shifted by the maximum so no `exp` overflows.

use crate::Element;
use crate::buffers;
use crate::fast_exp::exp;
use crate::kernels::elementwise::sum_to;
use crate::kernels::index::pick;
use crate::shape::Shape;
use crate::tensor::{Tensor, View};
use unstuck_core::vectorized;

/// Applies `f` to every lane of `x` along `axis` (a row when `axis` is the last one).
fn along_axis<T: Element>(x: View<'_, T>, axis: usize, f: impl Fn(&mut [T])) -> Tensor<T> {
    assert!(
        axis < x.shape.rank().max(1),
        "softmax: axis {axis} out of range for shape {:?}",
        x.shape
    );
    let mut out = buffers::copy(x.data);
    if x.shape.rank() == 0 {
        f(&mut out);
        return Tensor::from_parts(out, x.shape);
    }
    let (outer, n, inner) = x.shape.split_at_axis(axis);
    if n == 0 {
        return Tensor::from_parts(out, x.shape);
    }
    if inner == 1 {
        // Compiled for the running CPU, with `f` inside the loop (callers pass it
        // `#[inline(always)]`): `exp` vectorises along a lane.
        vectorized(
            #[inline(always)]
            || out.chunks_exact_mut(n).for_each(&f),
        );
    } else {
        let mut lane = buffers::zeros(n);
        for o in 0..outer {
            for i in 0..inner {
                let at = |j: usize| o * n * inner + j * inner + i;
                for (j, v) in lane.iter_mut().enumerate() {
                    *v = out[at(j)];
                }
                f(&mut lane);
                for (j, &v) in lane.iter().enumerate() {
                    out[at(j)] = v;
                }
            }
        }
    }
    Tensor::from_parts(out, x.shape)
}

/// `x - logsumexp(x)` along `axis`.
pub(crate) fn log_softmax<T: Element>(x: View<'_, T>, axis: usize) -> Tensor<T> {
    if x.shape.rank() > 0 && axis + 1 == x.shape.rank() && x.shape.dims()[axis] > 0 {
        return log_softmax_rows(x);
    }
    along_axis(
        x,
        axis,
        #[inline(always)]
        |lane| {
            let max = lane.iter().copied().fold(lane[0], T::max);
            let lse = max + lane.iter().map(|&v| exp(v - max)).sum::<T>().ln();
            for v in lane.iter_mut() {
                *v -= lse;
            }
        },
    )
}

/// [`log_softmax`] along the last axis, the same operations in the same order: the exps
/// of a row are written to the output first, in a loop that vectorises, and only then
/// summed in order (a sum fused into that loop kept every `exp` scalar), and the output
/// is then `x - lse` from the input.
fn log_softmax_rows<T: Element>(x: View<'_, T>) -> Tensor<T> {
    let n = x.shape.dims()[x.shape.rank() - 1];
    let mut out = buffers::overwritten(x.data.len());
    let input = x.data;
    vectorized(
        #[inline(always)]
        || {
            for (row, src) in out.chunks_exact_mut(n).zip(input.chunks_exact(n)) {
                let max = src.iter().copied().fold(src[0], T::max);
                for (o, &v) in row.iter_mut().zip(src) {
                    *o = exp(v - max);
                }
                let lse = max + row.iter().copied().sum::<T>().ln();
                for (o, &v) in row.iter_mut().zip(src) {
                    *o = v - lse;
                }
            }
        },
    );
    Tensor::from_parts(out, x.shape)
}

/// `-mean_i log_softmax(x)[i, labels[i]]` of `[m, n]` logits: the same operations, in
/// the same order, as `log_softmax`, `pick`, `sum_to` and the scaled negation that
/// composed it, so the value keeps its bits.
pub(crate) fn softmax_cross_entropy<T: Element>(x: View<'_, T>, labels: &[usize]) -> Tensor<T> {
    assert!(
        x.shape.rank() == 2,
        "softmax_cross_entropy: needs [batch, classes] logits, got shape {:?}",
        x.shape
    );
    let log_probs = log_softmax(x, 1);
    let picked = pick(log_probs.view(), labels);
    buffers::give(log_probs.into_data());
    let total = sum_to(picked.view(), Shape::SCALAR).data()[0];
    buffers::give(picked.into_data());
    let c = T::ONE / T::from_f64(labels.len() as f64);
    Tensor::scalar(-(c * total))
}

/// `exp(x) / sum(exp(x))` along `axis`.
pub(crate) fn softmax<T: Element>(x: View<'_, T>, axis: usize) -> Tensor<T> {
    along_axis(
        x,
        axis,
        #[inline(always)]
        |lane| {
            let max = lane.iter().copied().fold(lane[0], T::max);
            // Two loops, not one: a sum fused with the exps keeps every `exp` scalar.
            for v in lane.iter_mut() {
                *v = exp(*v - max);
            }
            let mut total = T::ZERO;
            for &v in lane.iter() {
                total += v;
            }
            for v in lane.iter_mut() {
                *v /= total;
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Shape;

    /// The row kernels split the exps from their sum so the exps vectorise; the result
    /// must keep the bits of one scalar pass per row, element by element in order.
    #[test]
    fn rows_keep_the_bits_of_one_scalar_pass_per_row() {
        let (rows, n) = (9, 7);
        let x: Vec<f64> = (0..rows * n)
            .map(|i| (i as f64 * 0.71).sin() * 30.0)
            .collect();
        let shape = Shape::new(&[rows, n]).unwrap();
        let (log, soft) = (
            log_softmax(View::new(&x, shape), 1),
            softmax(View::new(&x, shape), 1),
        );
        for (r, row) in x.chunks(n).enumerate() {
            let max = row.iter().copied().fold(row[0], f64::max);
            let (mut sum, mut total) = (0.0f64, 0.0f64);
            for &v in row {
                sum += std::hint::black_box(exp(v - max));
                total += exp(v - max);
            }
            let lse = max + sum.ln();
            for (j, &v) in row.iter().enumerate() {
                assert_eq!(log.data()[r * n + j].to_bits(), (v - lse).to_bits());
                assert_eq!(
                    soft.data()[r * n + j].to_bits(),
                    (exp(v - max) / total).to_bits()
                );
            }
        }
    }

    #[test]
    fn softmax_along_a_middle_axis_sums_to_one_there() {
        let x: Vec<f64> = (0..24).map(|i| (i as f64 * 0.37).sin() * 3.0).collect();
        let shape = Shape::new(&[2, 3, 4]).unwrap();
        let y = softmax(View::new(&x, shape), 1);
        for o in 0..2 {
            for i in 0..4 {
                let total: f64 = (0..3).map(|j| y.data()[o * 12 + j * 4 + i]).sum();
                assert!((total - 1.0).abs() < 1e-15);
            }
        }
        let log = log_softmax(View::new(&x, shape), 1);
        for (l, p) in log.data().iter().zip(y.data()) {
            assert!((l.exp() - p).abs() < 1e-15);
        }
    }
}

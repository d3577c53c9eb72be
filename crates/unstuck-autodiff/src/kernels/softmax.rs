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
            let mut total = T::ZERO;
            for v in lane.iter_mut() {
                *v = exp(*v - max);
                total += *v;
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

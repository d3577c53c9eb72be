//! PyTorch's elementwise CPU kernels, one element at a time, with PyTorch's rounding.
//!
//! PyTorch's x86 CPU kernels are compiled with FMA enabled and GCC contracts `a + b * c`
//! into one fused multiply-add, so `add(alpha=)`, `addcmul` and `lerp` round once where
//! the formula has a product next to a sum, while `addcdiv` computes
//! `self + (value * t1) / t2` (the division breaks the contraction). Using the same
//! roundings, our f64 optimizers reproduce the golden PyTorch trajectories bit for bit in
//! 13 of 14 runs (the other differs by a few ulps; see `tests/golden_trajectory_tests.rs`).
//!
//! These are the shared pieces of the update rules (optax-style transforms at element
//! level): a named optimizer is a loop that combines them. They are `#[inline(always)]`
//! so they vectorise inside [`crate::for_each_element`].

use crate::Element;

/// `x.add(y, alpha=alpha)`: `x + alpha * y`, fused.
#[inline(always)]
pub fn add_scaled<T: Element>(x: T, alpha: T, y: T) -> T {
    alpha.mul_add(y, x)
}

/// `s.addcmul(t1, t2, value=value)`: `s + (value * t1) * t2`, the last product fused.
#[inline(always)]
pub fn addcmul<T: Element>(s: T, value: T, t1: T, t2: T) -> T {
    (value * t1).mul_add(t2, s)
}

/// `s.addcdiv(t1, t2, value=value)`: `s + (value * t1) / t2`, not fused.
#[inline(always)]
pub fn addcdiv<T: Element>(s: T, value: T, t1: T, t2: T) -> T {
    s + (value * t1) / t2
}

/// `start.lerp(end, weight)` for a scalar weight, with PyTorch's two-sided formula.
///
/// PyTorch computes `start + w (end - start)` for `|w| < 0.5` and
/// `end - (end - start)(1 - w)` otherwise; both are one fused multiply-add
/// `coeff * (end - start) + base`. The choice depends only on the weight, so it is made
/// once here and the element loop has no branch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lerp<T> {
    coeff: T,
    from_start: bool,
}

impl<T: Element> Lerp<T> {
    /// Prepares a lerp with weight `weight` (rounded to `T` first, as PyTorch does).
    pub fn new(weight: f64) -> Self {
        let w = T::from_f64(weight);
        let from_start = w.abs() < T::from_f64(0.5);
        let coeff = if from_start { w } else { w - T::ONE };
        Self { coeff, from_start }
    }

    /// `start.lerp(end, weight)`.
    #[inline(always)]
    pub fn apply(self, start: T, end: T) -> T {
        let base = if self.from_start { start } else { end };
        self.coeff.mul_add(end - start, base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lerp_hits_both_ends_exactly() {
        // PyTorch's two-sided formula is exact at w = 0 and w = 1.
        let (a, b) = (0.3f64, -7.25f64);
        assert_eq!(Lerp::<f64>::new(0.0).apply(a, b), a);
        assert_eq!(Lerp::<f64>::new(1.0).apply(a, b), b);
    }

    #[test]
    fn lerp_midway_is_the_mean() {
        // w = 0.5 takes the `end - (end - start)(1 - w)` side; dyadic values make it exact.
        assert_eq!(Lerp::<f32>::new(0.5).apply(1.0, 2.0), 1.5);
    }

    #[test]
    fn addcdiv_multiplies_before_dividing() {
        // (3 * 0.1) / 3 differs from 3 * (0.1 / 3) in the last bit; PyTorch does the former.
        let ours = addcdiv(0.0f64, 3.0, 0.1, 3.0);
        assert_eq!(ours, (3.0 * 0.1) / 3.0);
        assert_ne!(ours, 3.0 * (0.1 / 3.0));
    }
}

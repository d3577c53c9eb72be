//! The element type of parameters and gradients: `f32` or `f64`, one code path.

use std::fmt::{Debug, Display};
use std::ops::{Add, Div, Mul, Neg, Sub};

/// A floating-point element type an optimizer can update.
///
/// Hyperparameters are `f64`; an update rule converts the scalars it needs with
/// [`Scalar::from_f64`] once per step and then computes elementwise in `Self`, exactly as
/// PyTorch casts a Python float to the tensor's dtype inside its kernels. Every method is
/// correctly rounded (IEEE 754), so results do not depend on the instruction set.
pub trait Scalar:
    Copy
    + Default
    + Debug
    + Display
    + PartialOrd
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// Name stored in saved state, `"f32"` or `"f64"`.
    const DTYPE: &'static str;
    /// Rounds an `f64` to this type (exact for `f64`).
    fn from_f64(value: f64) -> Self;
    /// Widens to `f64` (always exact).
    fn to_f64(self) -> f64;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Larger of the two (as `f32::max`).
    fn max(self, other: Self) -> Self;
    /// `self * a + b` with a single rounding (a fused multiply-add).
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// Neither NaN nor infinite.
    fn is_finite(self) -> bool;
    /// `-1`, `0` or `1` (0 for ±0, like `torch.sign`).
    fn sign(self) -> Self;
}

macro_rules! impl_scalar {
    ($t:ty, $name:literal) => {
        impl Scalar for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const DTYPE: &'static str = $name;
            #[inline(always)]
            fn from_f64(value: f64) -> Self {
                value as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                f64::from(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                <$t>::mul_add(self, a, b)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline(always)]
            fn sign(self) -> Self {
                if self > 0.0 {
                    1.0
                } else if self < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
        }
    };
}

impl_scalar!(f32, "f32");
impl_scalar!(f64, "f64");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul_add_rounds_once() {
        // 1 + 2^-30 squared is 1 + 2^-29 + 2^-60; the 2^-60 term survives only when fused.
        let x = 1.0f64 + 2f64.powi(-30);
        let fused = Scalar::mul_add(x, x, -(1.0 + 2f64.powi(-29)));
        let plain = x * x - (1.0 + 2f64.powi(-29));
        assert_eq!(fused, 2f64.powi(-60), "fused multiply-add is exact here");
        assert_eq!(plain, 0.0, "the unfused form loses the low term");
    }

    #[test]
    fn sign_matches_torch() {
        assert_eq!(Scalar::sign(-3.0f32), -1.0);
        assert_eq!(Scalar::sign(0.0f32), 0.0);
        assert_eq!(Scalar::sign(-0.0f64), 0.0);
        assert_eq!(Scalar::sign(2.5f64), 1.0);
    }

    #[test]
    fn f32_round_trips_through_f64() {
        let x = 0.1f32;
        assert_eq!(<f32 as Scalar>::from_f64(x.to_f64()).to_bits(), x.to_bits());
    }
}

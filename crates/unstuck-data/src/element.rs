//! The element type of features and real targets: `f32` or `f64`, one code path.

use std::fmt::{Debug, Display};

/// A floating-point element stored in a [`Dataset`](crate::Dataset).
///
/// Implemented for `f32` and `f64`. Generators and loaders compute in `f64` and convert
/// once with [`Element::from_f64`], so an `f32` dataset holds the `f64` values rounded to
/// nearest.
///
/// ```
/// use unstuck_data::Element;
/// assert_eq!(<f32 as Element>::from_f64(0.5), 0.5_f32);
/// assert_eq!(2.0_f32.to_f64(), 2.0_f64);
/// ```
pub trait Element: Copy + Debug + Display + Default + PartialOrd + Send + Sync + 'static {
    /// The type's name, for messages ("f32" or "f64").
    const NAME: &'static str;

    /// Converts from `f64`, rounding to nearest (may overflow to infinity for `f32`).
    fn from_f64(value: f64) -> Self;

    /// Converts to `f64` exactly.
    fn to_f64(self) -> f64;

    /// True unless the value is NaN or infinite.
    fn is_finite(self) -> bool;
}

impl Element for f32 {
    const NAME: &'static str = "f32";

    #[inline]
    fn from_f64(value: f64) -> Self {
        // Rounding to the nearest f32 is the point of this conversion.
        #[allow(clippy::cast_possible_truncation)]
        let value = value as f32;
        value
    }

    #[inline]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }

    #[inline]
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
}

impl Element for f64 {
    const NAME: &'static str = "f64";

    #[inline]
    fn from_f64(value: f64) -> Self {
        value
    }

    #[inline]
    fn to_f64(self) -> f64 {
        self
    }

    #[inline]
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
}

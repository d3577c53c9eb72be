//! The element type: `f32` or `f64`, one generic code path, sealed.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The two element types, as a value (for files, messages and run-time dispatch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// IEEE 754 single precision.
    F32,
    /// IEEE 754 double precision.
    F64,
}

impl DType {
    /// `"f32"` or `"f64"`, as written in saved state and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 => 8,
        }
    }

    /// The dtype named `"f32"` or `"f64"`.
    pub fn parse(name: &str) -> Option<DType> {
        match name {
            "f32" => Some(DType::F32),
            "f64" => Some(DType::F64),
            _ => None,
        }
    }
}

impl Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A slice of elements in its concrete type: how code that needs `f32` or `f64` itself
/// (a matrix kernel, a file format) gets there without `Any` or `unsafe`.
#[derive(Debug)]
pub enum ElementSlice<'a> {
    /// `f32` elements.
    F32(&'a [f32]),
    /// `f64` elements.
    F64(&'a [f64]),
}

/// A mutable slice of elements in its concrete type.
#[derive(Debug)]
pub enum ElementSliceMut<'a> {
    /// `f32` elements.
    F32(&'a mut [f32]),
    /// `f64` elements.
    F64(&'a mut [f64]),
}

/// An owned vector of elements in its concrete type.
#[derive(Clone, Debug, PartialEq)]
pub enum ElementVec {
    /// `f32` elements.
    F32(Vec<f32>),
    /// `f64` elements.
    F64(Vec<f64>),
}

impl ElementVec {
    /// The dtype of the elements.
    pub fn dtype(&self) -> DType {
        match self {
            ElementVec::F32(_) => DType::F32,
            ElementVec::F64(_) => DType::F64,
        }
    }
}

/// A real floating-point element type: `f32` or `f64` and nothing else (the trait is
/// sealed, so code may rely on that, for example to pick a file's dtype).
///
/// Hyperparameters and generated data are `f64`; code converts once with
/// [`Element::from_f64`] and then computes in `Self`, as PyTorch casts a Python float to
/// a tensor's dtype. Every method is correctly rounded (IEEE 754) unless it says
/// otherwise, so results do not depend on the instruction set.
///
/// ```
/// use unstuck_core::{DType, Element, ElementSlice};
/// fn describe<T: Element>(xs: &[T]) -> String {
///     match T::as_typed(xs) {
///         ElementSlice::F32(v) => format!("{} f32 values", v.len()),
///         ElementSlice::F64(v) => format!("{} f64 values", v.len()),
///     }
/// }
/// assert_eq!(describe(&[1.0f32, 2.0]), "2 f32 values");
/// assert_eq!(<f64 as Element>::DTYPE, DType::F64);
/// assert_eq!(<f32 as Element>::from_f64(0.5), 0.5f32);
/// ```
pub trait Element:
    sealed::Sealed
    + Copy
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
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
{
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// Which of the two types this is.
    const DTYPE: DType;

    /// Rounds an `f64` to this type (exact for `f64`; may overflow to infinity for `f32`).
    fn from_f64(value: f64) -> Self;
    /// Widens to `f64` (always exact).
    fn to_f64(self) -> f64;
    /// `e^self`.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// `self^p`.
    fn powf(self, p: Self) -> Self;
    /// Hyperbolic tangent (the standard library's).
    fn tanh(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// The larger of two values (NaN-ignoring, as `f64::max`).
    fn max(self, other: Self) -> Self;
    /// The smaller of two values (NaN-ignoring, as `f64::min`).
    fn min(self, other: Self) -> Self;
    /// `self * a + b` with a single rounding (a fused multiply-add).
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// Neither NaN nor infinite.
    fn is_finite(self) -> bool;
    /// `-1`, `0` or `1` (0 for ±0, like `torch.sign`).
    fn sign(self) -> Self;

    /// The slice in its concrete type.
    fn as_typed(slice: &[Self]) -> ElementSlice<'_>;
    /// The mutable slice in its concrete type.
    fn as_typed_mut(slice: &mut [Self]) -> ElementSliceMut<'_>;
    /// Moves a vector into its concrete type.
    fn into_typed(values: Vec<Self>) -> ElementVec;
    /// Takes the vector back if it holds this type; otherwise returns it unchanged.
    fn from_typed(values: ElementVec) -> Result<Vec<Self>, ElementVec>;
}

macro_rules! impl_element {
    ($t:ty, $dtype:expr, $variant:ident) => {
        impl Element for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const DTYPE: DType = $dtype;

            #[inline(always)]
            fn from_f64(value: f64) -> Self {
                // Rounding to nearest is the point of this conversion.
                value as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                f64::from(self)
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn powf(self, p: Self) -> Self {
                <$t>::powf(self, p)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
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
            fn min(self, other: Self) -> Self {
                <$t>::min(self, other)
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
            #[inline(always)]
            fn as_typed(slice: &[Self]) -> ElementSlice<'_> {
                ElementSlice::$variant(slice)
            }
            #[inline(always)]
            fn as_typed_mut(slice: &mut [Self]) -> ElementSliceMut<'_> {
                ElementSliceMut::$variant(slice)
            }
            #[inline(always)]
            fn into_typed(values: Vec<Self>) -> ElementVec {
                ElementVec::$variant(values)
            }
            #[inline(always)]
            fn from_typed(values: ElementVec) -> Result<Vec<Self>, ElementVec> {
                match values {
                    ElementVec::$variant(v) => Ok(v),
                    other => Err(other),
                }
            }
        }
    };
}

impl_element!(f32, DType::F32, F32);
impl_element!(f64, DType::F64, F64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul_add_rounds_once() {
        // (1 + 2^-30)^2 = 1 + 2^-29 + 2^-60; the 2^-60 term survives only when fused.
        let x = 1.0f64 + 2f64.powi(-30);
        let fused = Element::mul_add(x, x, -(1.0 + 2f64.powi(-29)));
        let plain = x * x - (1.0 + 2f64.powi(-29));
        assert_eq!(fused, 2f64.powi(-60));
        assert_eq!(plain, 0.0);
    }

    #[test]
    fn sign_matches_torch() {
        assert_eq!(Element::sign(-3.0f32), -1.0);
        assert_eq!(Element::sign(-0.0f64), 0.0);
        assert_eq!(Element::sign(2.5f64), 1.0);
    }

    #[test]
    fn typed_round_trip_keeps_every_bit() {
        let nan_payload = f32::from_bits(0x7fc0_0123);
        let values = vec![nan_payload, -0.0, 1.5];
        let typed = <f32 as Element>::into_typed(values.clone());
        assert_eq!(typed.dtype(), DType::F32);
        let back = <f32 as Element>::from_typed(typed.clone()).unwrap();
        assert!(
            back.iter()
                .zip(&values)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        assert!(<f64 as Element>::from_typed(typed).is_err());
    }

    #[test]
    fn dtype_names_parse_back() {
        for dtype in [DType::F32, DType::F64] {
            assert_eq!(DType::parse(dtype.as_str()), Some(dtype));
        }
        assert_eq!(DType::parse("f16"), None);
    }
}

/// Index of the first NaN or infinite element of `xs`, if any.
///
/// ```
/// assert_eq!(unstuck_core::first_non_finite(&[1.0, f64::NAN, f64::INFINITY]), Some(1));
/// assert_eq!(unstuck_core::first_non_finite::<f32>(&[0.5, 2.0]), None);
/// ```
pub fn first_non_finite<T: Element>(xs: &[T]) -> Option<usize> {
    // A branch-free test per chunk vectorizes (a `position` loop exits per element and
    // does not): on a 269k-parameter step the scan was 6% of the time.
    const CHUNK: usize = 256;
    let bad_chunk = xs
        .chunks(CHUNK)
        .position(|chunk| chunk.iter().fold(false, |bad, x| bad | !x.is_finite()))?;
    let at = bad_chunk * CHUNK;
    xs[at..].iter().position(|x| !x.is_finite()).map(|i| at + i)
}

#[cfg(test)]
mod first_non_finite_tests {
    use super::first_non_finite;

    #[test]
    fn the_first_non_finite_element_is_found_in_any_chunk() {
        let mut xs = vec![0.5f32; 1000];
        assert_eq!(first_non_finite(&xs), None);
        xs[700] = f32::NEG_INFINITY;
        xs[900] = f32::NAN;
        assert_eq!(first_non_finite(&xs), Some(700));
        xs[3] = f32::NAN;
        assert_eq!(first_non_finite(&xs), Some(3));
        assert_eq!(first_non_finite(&[1.0, f64::INFINITY]), Some(1));
        assert_eq!(first_non_finite::<f64>(&[]), None);
    }
}

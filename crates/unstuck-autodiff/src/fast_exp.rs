//! `exp` without libm, for the ops that call it per element (softmax, log-softmax, the
//! `exp` op, sigmoid, tanh): libm's `exp` is a call the compiler cannot vectorise, and it
//! was a tenth of a Hessian-vector product's time.
//!
//! Cephes' algorithm (`exp.c`, `expf.c`, S. L. Moshier): `z = n ln 2 + r` with
//! `|r| <= ln 2 / 2`, a rational (f64) or polynomial (f32) approximation of `e^r`, then a
//! scaling by `2^n` built in the exponent bits, in two halves so that results in the
//! subnormal range are rounded once, as `ldexp` rounds them. There is no call and no
//! branch (the clamps are selects), and only correctly rounded operations are used, so a
//! vectorised loop gives the scalar bits. Within 2 ulps of the standard library's `exp`
//! (`tests` below).

/// `e^x` for `f32` or `f64` (see the module docs).
#[inline(always)]
pub(crate) fn exp<T: unstuck_core::Element>(x: T) -> T {
    per_type(x, exp_f32, exp_f64)
}

/// `f32_fn(x)` or `f64_fn(x)`, whichever matches `T`: the match on the (sealed) element
/// type is resolved at compile time, and the round trip through `f64` is exact because
/// the value already has type `T`.
#[inline(always)]
pub(crate) fn per_type<T: unstuck_core::Element>(
    x: T,
    f32_fn: impl Fn(f32) -> f32,
    f64_fn: impl Fn(f64) -> f64,
) -> T {
    use unstuck_core::ElementSlice;
    match T::as_typed(std::slice::from_ref(&x)) {
        ElementSlice::F32(v) => T::from_f64(f64::from(f32_fn(v[0]))),
        ElementSlice::F64(v) => T::from_f64(f64_fn(v[0])),
    }
}

/// `2^n` for an integer-valued `n` in `[-1022, 1023]`, from the bits of `n + ROUNDER_F64`.
#[inline(always)]
pub(crate) fn pow2_f64(n: f64) -> f64 {
    // The low mantissa bits of `n + 1.5 * 2^52` hold n + 2^51; shifted into the exponent
    // field the 2^51 falls off the top, and adding the bias gives the bits of 2^n.
    f64::from_bits(((n + ROUNDER_F64).to_bits() << 52).wrapping_add(1023 << 52))
}

/// `2^n` for an integer-valued `n` in `[-126, 127]`, as [`pow2_f64`].
#[inline(always)]
fn pow2_f32(n: f32) -> f32 {
    f32::from_bits(((n + ROUNDER_F32).to_bits() << 23).wrapping_add(127 << 23))
}

/// `floor(n / 2)` of an integer-valued `n` below 2^50 in magnitude: `n/2 - 1/4` is exact
/// and rounds to it. `f64::floor` is a libm call wherever SSE4.1 is not enabled, which is
/// every scalar use outside `vectorized`.
#[inline(always)]
fn half_down_f64(n: f64) -> f64 {
    (n * 0.5 - 0.25 + ROUNDER_F64) - ROUNDER_F64
}

/// `floor(n / 2)` of an integer-valued `n` below 2^21 in magnitude, as [`half_down_f64`].
#[inline(always)]
fn half_down_f32(n: f32) -> f32 {
    (n * 0.5 - 0.25 + ROUNDER_F32) - ROUNDER_F32
}

/// Adding it rounds an f64 of magnitude below 2^51 to an integer (ties to even).
const ROUNDER_F64: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52
/// Adding it rounds an f32 of magnitude below 2^22 to an integer (ties to even).
const ROUNDER_F32: f32 = 12_582_912.0; // 1.5 * 2^23

#[inline(always)]
pub(crate) fn exp_f64(x: f64) -> f64 {
    // Past these, e^x is 0 or infinity in f64 (the comparisons let NaN through).
    let x = if x > 710.0 { 710.0 } else { x };
    let x = if x < -746.0 { -746.0 } else { x };
    let ExpParts { n, p, q } = exp_parts_f64(x);
    let er = 1.0 + 2.0 * (p / (q - p));
    // Two halves, each a normal power of two: the first product is exact, the second
    // rounds once (into the subnormals, or to 0 or infinity, where it must).
    let half = half_down_f64(n);
    er * pow2_f64(half) * pow2_f64(n - half)
}

/// `e^x = 2^n (q + p) / (q - p)`, before the division: for callers that fold that
/// division into one of their own (`fast_tanh`).
pub(crate) struct ExpParts {
    /// The integer `n` (held in an f64).
    pub(crate) n: f64,
    pub(crate) p: f64,
    pub(crate) q: f64,
}

/// [`ExpParts`] of `x` in `[-746, 710]`.
#[inline(always)]
pub(crate) fn exp_parts_f64(x: f64) -> ExpParts {
    // ln 2 split so that n * LN2_HI is exact for every |n| <= 1077 used here.
    const LN2_HI: f64 = 6.931_457_519_531_25e-1;
    const LN2_LO: f64 = 1.428_606_820_309_417_3e-6;
    // Cephes' coefficients, as the f64 values they round to.
    const P: [f64; 3] = [1.261_771_930_748_105_8e-4, 3.029_944_077_074_419_5e-2, 1.0];
    const Q: [f64; 4] = [
        3.001_985_051_386_644_6e-6,
        2.524_483_403_496_841e-3,
        2.272_655_482_081_550_3e-1,
        2.0,
    ];
    let n = (x * std::f64::consts::LOG2_E + ROUNDER_F64) - ROUNDER_F64;
    let r = x - n * LN2_HI - n * LN2_LO;
    let rr = r * r;
    let p = r * ((P[0] * rr + P[1]) * rr + P[2]);
    let q = ((Q[0] * rr + Q[1]) * rr + Q[2]) * rr + Q[3];
    ExpParts { n, p, q }
}

#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    let x = if x > 89.0 { 89.0 } else { x };
    let x = if x < -104.0 { -104.0 } else { x };
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let n = (x * std::f32::consts::LOG2_E + ROUNDER_F32) - ROUNDER_F32;
    let r = x - n * LN2_HI - n * LN2_LO;
    let er = (((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 0.5)
        * (r * r)
        + r
        + 1.0;
    let half = half_down_f32(n);
    er * pow2_f32(half) * pow2_f32(n - half)
}

/// Asserts that `f` over `xs` in a loop run by [`unstuck_core::vectorized`] gives the bits
/// of one scalar call per element (the promise of this module and of `fast_tanh`).
#[cfg(test)]
pub(crate) fn assert_vectorised_gives_scalar_bits<T: unstuck_core::Element>(
    xs: &[T],
    f: impl Fn(T) -> T,
) {
    let scalar: Vec<T> = xs.iter().map(|&x| std::hint::black_box(f(x))).collect();
    let lanes: Vec<T> = unstuck_core::vectorized(
        #[inline(always)]
        || xs.iter().map(|&x| f(x)).collect(),
    );
    // The widening to f64 is exact, so equal bits there are equal bits in `T`.
    let bits = |v: &[T]| v.iter().map(|x| x.to_f64().to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&scalar),
        bits(&lanes),
        "the vectorised loop changed bits"
    );
}

#[cfg(test)]
mod tests {
    use super::{
        assert_vectorised_gives_scalar_bits, exp_f32, exp_f64, half_down_f32, half_down_f64,
    };

    /// Largest difference from std in units of the last place of std's value (the
    /// subnormal spacing below the normal range).
    fn worst_ulps_f64(xs: impl Iterator<Item = f64>) -> f64 {
        xs.map(|x| {
            let want = x.exp();
            let ulp = (want.abs() * f64::EPSILON).max(f64::from_bits(1));
            (exp_f64(x) - want).abs() / ulp
        })
        .fold(0.0, f64::max)
    }

    fn worst_ulps_f32(xs: impl Iterator<Item = f32>) -> f32 {
        xs.map(|x| {
            let want = x.exp();
            let ulp = (want.abs() * f32::EPSILON).max(f32::from_bits(1));
            (exp_f32(x) - want).abs() / ulp
        })
        .fold(0.0, f32::max)
    }

    #[test]
    fn half_down_is_floor_of_half_for_every_exponent_used() {
        for n in -1100..=1100 {
            let (n64, n32) = (n as f64, n as f32);
            assert_eq!(half_down_f64(n64), (n64 * 0.5).floor(), "{n}");
            assert_eq!(half_down_f32(n32), (n32 * 0.5).floor(), "{n}");
        }
    }

    #[test]
    fn f64_agrees_with_std_within_2_ulps_over_its_whole_range() {
        // The normal range, the subnormal range, and reductions near n ln 2 +- ln 2 / 2.
        let grid = (-7_460_000..=7_100_000).map(|i| i as f64 * 1e-4);
        let near_halves = (-1100..=1030).flat_map(|n| {
            let m = (n as f64 + 0.5) * std::f64::consts::LN_2;
            [m.next_down(), m, m.next_up()]
        });
        let worst = worst_ulps_f64(grid.chain(near_halves));
        // A coefficient, a split of ln 2 or an exponent bit wrong fails by far more.
        assert!(worst <= 2.0, "worst error {worst} ulps");
        assert_eq!(exp_f64(0.0), 1.0);
        assert_eq!(exp_f64(710.0), f64::INFINITY);
        assert_eq!(exp_f64(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp_f64(-746.0), 0.0);
        assert_eq!(exp_f64(f64::NEG_INFINITY), 0.0);
        assert!(exp_f64(f64::NAN).is_nan());
    }

    #[test]
    fn f32_agrees_with_std_within_2_ulps_over_its_whole_range() {
        let grid = (-1_040_000..=890_000).map(|i| i as f32 * 1e-4);
        let worst = worst_ulps_f32(grid);
        assert!(worst <= 2.0, "worst error {worst} ulps");
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(89.0), f32::INFINITY);
        assert_eq!(exp_f32(-104.0), 0.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
    }

    #[test]
    fn vectorised_loops_give_the_scalar_bits() {
        let xs: Vec<f64> = (-30_000..=30_000)
            .map(|i| i as f64 * 2.49e-2)
            .chain([-745.5, 709.9, f64::NAN, f64::INFINITY, -0.0])
            .collect();
        assert_vectorised_gives_scalar_bits(&xs, exp_f64);
        let xs: Vec<f32> = xs.iter().map(|&x| (x * 0.12) as f32).collect();
        assert_vectorised_gives_scalar_bits(&xs, exp_f32);
    }
}

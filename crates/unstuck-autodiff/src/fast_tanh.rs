//! `tanh` without libm: the hidden layers of every tanh network call it once per
//! activation, and libm's `expm1` was a third of a training step's time.
//!
//! The rational approximations near zero are Cephes' (`tanh.c`, `tanhf.c`, S. L. Moshier),
//! accurate to about 2.5e-16 (f64) and 1.2e-7 (f32) relative; away from zero
//! `1 - 2 / (e^{2|x|} + 1)` loses nothing because the result is at least 0.55 there, and
//! `e^{2|x|}` is Cephes' `exp` / `expf` written here too.
//!
//! Both branches are computed and one is selected, with no call and no branch, so a loop
//! of `tanh` vectorises (4 f64 or 8 f32 lanes under AVX2, inside
//! [`unstuck_core::vectorized`]). Only correctly rounded operations are used (`+ - * /`,
//! comparisons, bit shifts), so a vectorised loop and a scalar call give the same bits.
//! `tests` below compare both types against the standard library over a dense grid.

/// `tanh` for `f32` or `f64`, through the private per-type implementations.
///
/// The dispatch on the (sealed) element type is resolved at compile time, and the
/// round trip through `f64` is exact because the value already has type `T`.
#[inline(always)]
pub(crate) fn tanh<T: unstuck_core::Element>(x: T) -> T {
    use unstuck_core::ElementSlice;
    match T::as_typed(std::slice::from_ref(&x)) {
        ElementSlice::F32(v) => T::from_f64(f64::from(tanh_f32(v[0]))),
        ElementSlice::F64(v) => T::from_f64(tanh_f64(v[0])),
    }
}

/// `e^z` for `z` in `[0, 44]` (or NaN), Cephes' `exp.c`: `z = n ln 2 + r` with
/// `|r| <= ln 2 / 2`, a (2, 3) rational approximation of `e^r`, then `2^n` built in the
/// exponent bits (no `ldexp` call). Within about an ulp of the true value.
#[inline(always)]
fn exp_f64(z: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // Adding 1.5 * 2^52 rounds to an integer n and leaves n in the low mantissa bits.
    const ROUNDER: f64 = 6_755_399_441_055_744.0;
    // ln 2 split so that n * LN2_HI is exact for the n used here.
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
    let t = z * LOG2E + ROUNDER;
    let n = t - ROUNDER;
    let r = z - n * LN2_HI - n * LN2_LO;
    let rr = r * r;
    let p = r * ((P[0] * rr + P[1]) * rr + P[2]);
    let q = ((Q[0] * rr + Q[1]) * rr + Q[2]) * rr + Q[3];
    let er = 1.0 + 2.0 * (p / (q - p));
    // The low bits of `t` hold n + 2^51; shifted into the exponent field the 2^51 falls
    // off the top, and adding the bias makes the bits of 2^n.
    er * f64::from_bits((t.to_bits() << 52).wrapping_add(1023 << 52))
}

/// `e^z` for `z` in `[0, 20]` (or NaN), Cephes' `expf.c`, the same way as [`exp_f64`].
#[inline(always)]
fn exp_f32(z: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const ROUNDER: f32 = 12_582_912.0; // 1.5 * 2^23
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let t = z * LOG2E + ROUNDER;
    let n = t - ROUNDER;
    let r = z - n * LN2_HI - n * LN2_LO;
    let er = (((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 0.5)
        * (r * r)
        + r
        + 1.0;
    er * f32::from_bits((t.to_bits() << 23).wrapping_add(127 << 23))
}

#[inline(always)]
fn tanh_f64(x: f64) -> f64 {
    const P: [f64; 3] = [
        -9.643_991_794_250_523e-1,
        -9.928_772_310_019_185e1,
        -1.614_687_684_417_084_5e3,
    ];
    const Q: [f64; 3] = [
        1.128_116_784_916_329_3e2,
        2.235_488_390_601_004_6e3,
        4.844_063_053_251_255e3,
    ];
    let z = x.abs();
    // tanh(22) rounds to 1 in f64; the comparison lets NaN through.
    let zc = if z > 22.0 { 22.0 } else { z };
    let far = (1.0 - 2.0 / (exp_f64(2.0 * zc) + 1.0)).copysign(x);
    let z2 = x * x;
    let p = (P[0] * z2 + P[1]) * z2 + P[2];
    let q = ((z2 + Q[0]) * z2 + Q[1]) * z2 + Q[2];
    let near = x + x * (z2 * p / q);
    // `near` would turn -0 into +0.
    let near = if z == 0.0 { x } else { near };
    if z > 0.625 { far } else { near }
}

#[inline(always)]
fn tanh_f32(x: f32) -> f32 {
    let z = x.abs();
    // tanh(10) rounds to 1 in f32; the comparison lets NaN through.
    let zc = if z > 10.0 { 10.0 } else { z };
    let far = (1.0 - 2.0 / (exp_f32(2.0 * zc) + 1.0)).copysign(x);
    let z2 = x * x;
    let p = ((((-5.704_988_7e-3 * z2 + 2.063_909e-2) * z2 - 5.373_971_6e-2) * z2 + 1.333_144_2e-1)
        * z2
        - 3.333_328e-1)
        * z2;
    let near = x + x * p;
    if z > 0.625 { far } else { near }
}

#[cfg(test)]
mod tests {
    use super::tanh;

    fn grid() -> impl Iterator<Item = f64> {
        (-300_000..=300_000).map(|i| i as f64 * 1e-4)
    }

    #[test]
    fn f64_agrees_with_std_to_a_few_ulps() {
        let mut worst = 0.0f64;
        for x in grid().chain([1e-300, -1e-300, 0.0, -0.0, 700.0, -700.0, 0.625, -0.625]) {
            let want = x.tanh();
            let err = (tanh(x) - want).abs() / want.abs().max(f64::MIN_POSITIVE);
            worst = worst.max(err);
        }
        // std's tanh is itself within an ulp; 4 ulps (8.9e-16) bounds both errors together.
        assert!(worst <= 8.9e-16, "worst relative error {worst:e}");
        assert!(tanh(f64::NAN).is_nan());
        assert_eq!(tanh(f64::INFINITY), 1.0);
        assert_eq!(tanh(-0.0f64).to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn exp_agrees_with_std_to_an_ulp_or_two() {
        let (mut w64, mut w32) = (0.0f64, 0.0f32);
        for i in 0..=440_000 {
            let z = i as f64 * 1e-4;
            w64 = w64.max((super::exp_f64(z) - z.exp()).abs() / z.exp());
            if z <= 20.0 {
                let z = z as f32;
                w32 = w32.max((super::exp_f32(z) - z.exp()).abs() / z.exp());
            }
        }
        // 2 ulps of each type (4.4e-16, 2.4e-7): an exponent or constant off by one bit
        // in the reduction fails this by orders of magnitude.
        assert!(w64 <= 4.5e-16, "f64 worst relative error {w64:e}");
        assert!(w32 <= 2.4e-7, "f32 worst relative error {w32:e}");
    }

    #[test]
    fn vectorised_loops_give_the_scalar_bits() {
        // Both branches, their boundary, the clamps, zeros and non-finite values.
        let xs: Vec<f64> = (-4000..=4000)
            .map(|i| i as f64 * 7.3e-3)
            .chain([
                0.625,
                -0.625,
                22.0,
                23.0,
                -0.0,
                f64::INFINITY,
                f64::NAN,
                1e-310,
            ])
            .collect();
        let scalar: Vec<f64> = xs.iter().map(|&x| std::hint::black_box(tanh(x))).collect();
        let lanes: Vec<f64> = unstuck_core::vectorized(|| xs.iter().map(|&x| tanh(x)).collect());
        assert!(
            scalar
                .iter()
                .zip(&lanes)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        let xs: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
        let scalar: Vec<f32> = xs.iter().map(|&x| std::hint::black_box(tanh(x))).collect();
        let lanes: Vec<f32> = unstuck_core::vectorized(|| xs.iter().map(|&x| tanh(x)).collect());
        assert!(
            scalar
                .iter()
                .zip(&lanes)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }

    #[test]
    fn f32_agrees_with_std_to_a_few_ulps() {
        let mut worst = 0.0f32;
        for x in grid().map(|x| x as f32) {
            let want = x.tanh();
            let err = (tanh(x) - want).abs() / want.abs().max(f32::MIN_POSITIVE);
            worst = worst.max(err);
        }
        // 4 ulps of f32 (4.8e-7).
        assert!(worst <= 4.8e-7, "worst relative error {worst:e}");
        assert!(tanh(f32::NAN).is_nan());
    }
}

//! `tanh` without libm: the hidden layers of every tanh network call it once per
//! activation, and libm's `expm1` was a third of a training step's time.
//!
//! The rational approximations near zero are Cephes' (`tanh.c`, `tanhf.c`, S. L. Moshier),
//! accurate to about 2.5e-16 (f64) and 1.2e-7 (f32) relative; away from zero
//! `1 - 2 / (e^{2|x|} + 1)` loses nothing because the result is at least 0.55 there, and
//! `e^{2|x|}` is [`crate::fast_exp`]'s (in f64, its rational form, whose division is
//! folded into tanh's own).
//!
//! Both branches are computed and one is selected, with no call and no branch, so a loop
//! of `tanh` vectorises (4 f64 or 8 f32 lanes under AVX2, inside
//! [`unstuck_core::vectorized`]). Only correctly rounded operations are used (`+ - * /`,
//! comparisons, bit shifts), so a vectorised loop and a scalar call give the same bits.
//! `tests` below compare both types against the standard library over a dense grid.

use crate::fast_exp::{exp_f32, exp_parts_f64, per_type, pow2_f64};

/// `tanh` for `f32` or `f64`.
#[inline(always)]
pub(crate) fn tanh<T: unstuck_core::Element>(x: T) -> T {
    per_type(x, tanh_f32, tanh_f64)
}

/// Both branches end in one division, `base + num / den`, and the lanes pick their
/// branch's three terms before it: a vector division is the slowest instruction here, and
/// three of them (one in `exp`) made this loop 1.3-1.4x slower (18,432 values, AVX2).
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
    // Far from zero, with e^{2z} = 2^n (eq + ep) / (eq - ep) (n <= 64, a normal scale):
    // 1 - 2 / (e^{2z} + 1) = 1 - 2 (eq - ep) / (2^n (eq + ep) + (eq - ep)).
    let e = exp_parts_f64(2.0 * zc);
    let below = e.q - e.p;
    let far_num = -2.0 * below;
    let far_den = pow2_f64(e.n) * (e.q + e.p) + below;
    // Near zero: x + x z² p(z²) / q(z²).
    let z2 = x * x;
    let p = (P[0] * z2 + P[1]) * z2 + P[2];
    let q = ((z2 + Q[0]) * z2 + Q[1]) * z2 + Q[2];
    let far = z > 0.625;
    let base = if far { 1.0 } else { x };
    let num = if far { far_num } else { x * z2 * p };
    let den = if far { far_den } else { q };
    let t = base + num / den;
    let t = if far { t.copysign(x) } else { t };
    // `t` would turn -0 into +0.
    if z == 0.0 { x } else { t }
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
    use crate::fast_exp::assert_vectorised_gives_scalar_bits;

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
        assert_vectorised_gives_scalar_bits(&xs, tanh::<f64>);
        let xs: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
        assert_vectorised_gives_scalar_bits(&xs, tanh::<f32>);
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

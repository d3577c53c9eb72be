//! Runs element loops compiled for the best instruction set of the running CPU (shared by
//! the optimizers' updates, the autodiff engine's elementwise maps and the instruments).
//!
//! The workspace builds for baseline x86-64 (SSE2, no FMA). There, `mul_add` is a libm
//! call per element and loops vectorise only 4 lanes wide. [`vectorized`] hands a closure
//! to `pulp`, which detects AVX2+FMA once and runs the closure inside a function compiled
//! with those features, so LLVM vectorises the loop 8 lanes wide and `mul_add` becomes one
//! instruction. This needs no `unsafe` in this crate.
//!
//! Results are the same bits on every path: the loops use only correctly rounded
//! operations (`+ - * /`, `sqrt`, `mul_add`), and Rust never contracts `a * b + c` on its
//! own, so the instruction set changes speed, never values.

/// Runs `f`, compiled for AVX2+FMA when the CPU has them (see the module docs).
///
/// Mark the element loop that `f` calls `#[inline(always)]`, so it is compiled inside the
/// dispatched function. Values never depend on which path ran.
///
/// ```
/// let mut x = vec![1.0f32; 1000];
/// unstuck_core::vectorized(|| {
///     for v in x.iter_mut() {
///         *v = v.mul_add(2.0, 1.0);
///     }
/// });
/// assert_eq!(x[999], 3.0);
/// ```
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatched_and_plain_loops_agree_bitwise() {
        // Same fused expression on both paths; the bits must not depend on the path.
        let xs: Vec<f32> = (0..4099).map(|i| (i as f32 * 0.37).sin() * 1e3).collect();
        let run = |x: &[f32]| -> Vec<f32> {
            x.iter()
                .map(|&v| (v * 1.000_001).mul_add(v, -v) / (v.abs().sqrt() + 1e-8))
                .collect()
        };
        let plain = run(&xs);
        let fast = vectorized(|| run(&xs));
        let same = plain
            .iter()
            .zip(&fast)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "instruction set changed the results");
    }
}

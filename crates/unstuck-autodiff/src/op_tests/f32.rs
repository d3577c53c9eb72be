//! Every op in f32 against the same op in f64: one generic code path, so f32 may differ
//! only by its own rounding.

use super::cases::{Sizes, all};
use super::harness::{objective, point};
use crate::{Curvature, gradient};

fn to_f32(xs: &[f64]) -> Vec<f32> {
    xs.iter().map(|&x| x as f32).collect()
}

/// Largest entry error relative to the largest entry of the f64 result.
fn scaled_error(f32s: &[f32], f64s: &[f64]) -> f64 {
    let scale = f64s.iter().fold(1e-3f64, |m, x| m.max(x.abs()));
    f32s.iter()
        .zip(f64s)
        .map(|(&a, &b)| (f64::from(a) - b).abs() / scale)
        .fold(0.0, f64::max)
}

#[test]
fn every_op_in_f32_tracks_f64() {
    let mut worst = (0.0, String::new());
    for s in [
        Sizes {
            m: 2,
            n: 3,
            k: 2,
            flags: 1,
        },
        Sizes {
            m: 3,
            n: 2,
            k: 3,
            flags: 6,
        },
    ] {
        let cases64 = all::<f64>(s);
        for (case64, case32) in cases64.iter().zip(all::<f32>(s)) {
            // The f64 point, rounded to f32, is the point both evaluate.
            let (theta, v) = point(case64, 3);
            let (theta32, v32) = (to_f32(&theta), to_f32(&v));
            let theta: Vec<f64> = theta32.iter().map(|&x| f64::from(x)).collect();
            let v: Vec<f64> = v32.iter().map(|&x| f64::from(x)).collect();
            let (_, g64) = gradient(objective(case64), &theta).unwrap();
            let (_, g32) = gradient(objective(&case32), &theta32).unwrap();
            let h64 = Curvature::new(objective(case64), &theta)
                .unwrap()
                .hvp(&v)
                .unwrap();
            let h32 = Curvature::new(objective(&case32), &theta32)
                .unwrap()
                .hvp(&v32)
                .unwrap();
            for (what, err) in [
                ("gradient", scaled_error(&g32, &g64)),
                ("hvp", scaled_error(&h32, &h64)),
            ] {
                if err > worst.0 {
                    worst = (err, format!("{} {what}", case64.name));
                }
            }
        }
    }
    // f32 rounds at 6e-8; a case chains up to a few dozen roundings, each amplified by
    // at most the conditioning of a small op (measured worst: see the message).
    assert!(
        worst.0 <= 2e-5,
        "worst f32 error {:e} in {}",
        worst.0,
        worst.1
    );
    println!("worst f32 error {:e} in {}", worst.0, worst.1);
}

//! How many HVPs Lanczos and PyHessian-style power iteration need to reach the top
//! eigenvalue of the P = 2960 tanh-MLP Hessian (32-48-24-8, batch 256) to a given relative
//! error, measured against the dense eigenvalues.
//!
//! `cargo run --release -p unstuck-hessian --example lanczos_hvp_count`

#[path = "../benches/common/mod.rs"]
mod common;

use std::time::Instant;

use unstuck_autodiff::Curvature;
use unstuck_hessian::{
    LanczosConfig, PowerConfig, SpectrumEnd, full_hessian, lanczos, power_iteration,
};

fn main() -> Result<(), unstuck_hessian::HessianError> {
    let problem = common::RandomMlp::new(&[32, 48, 24, 8], 256, 1);
    let curvature = Curvature::new(problem.loss(), &problem.theta)?;
    let start = Instant::now();
    let hessian = full_hessian(&curvature)?;
    let assembled = start.elapsed();
    let values = hessian.eigenvalues()?;
    println!(
        "P = {}: dense Hessian in {:.0} ms, eigenvalues in {:.0} ms; lambda_max = {:.12e}, lambda_min = {:.12e}, asymmetry {:.1e}",
        values.len(),
        assembled.as_secs_f64() * 1e3,
        (start.elapsed() - assembled).as_secs_f64() * 1e3,
        values[values.len() - 1],
        values[0],
        hessian.relative_asymmetry()
    );
    let top = values[values.len() - 1];
    let bottom = values[0];

    for target in [1e-4, 1e-8, 1e-10] {
        // Lanczos after m steps, for growing m (the tolerance is unreachable on purpose so
        // exactly m HVPs are spent).
        let lanczos_count = (1..=200).find(|&m| {
            let config = LanczosConfig {
                k: 1,
                end: SpectrumEnd::Largest,
                max_iter: m,
                tol: 1e-300,
                seed: 0,
            };
            let res = lanczos(&curvature, config).unwrap();
            (res.largest[0].value - top).abs() <= target * top.abs()
        });
        let smallest_count = (1..=400).find(|&m| {
            let config = LanczosConfig {
                k: 1,
                end: SpectrumEnd::Smallest,
                max_iter: m,
                tol: 1e-300,
                seed: 0,
            };
            let res = lanczos(&curvature, config).unwrap();
            (res.smallest[0].value - bottom).abs() <= target * bottom.abs()
        });
        // Power iteration's Rayleigh quotients, one per HVP, with no early stop.
        let power = power_iteration(
            &curvature,
            PowerConfig {
                k: 1,
                max_iter: 2000,
                tol: 0.0,
                seed: 0,
            },
        )?;
        let power_count = power.pairs[0]
            .history
            .iter()
            .position(|v| (v - top).abs() <= target * top.abs())
            .map(|i| i + 1);
        println!(
            "relative error {target:.0e}: Lanczos top {lanczos_count:?} HVPs, Lanczos bottom {smallest_count:?} HVPs, power iteration top {power_count:?} HVPs"
        );
    }

    let default = lanczos(
        &curvature,
        LanczosConfig {
            k: 1,
            end: SpectrumEnd::Largest,
            ..Default::default()
        },
    )?;
    println!(
        "Lanczos with its own stopping rule (residual <= 1e-10 ||T||): {} HVPs, relative error {:.1e}",
        default.n_hvp,
        (default.largest[0].value - top).abs() / top.abs()
    );
    let pyhessian = power_iteration(&curvature, PowerConfig::default())?;
    println!(
        "Power iteration with PyHessian's defaults (tol 1e-3, max 100): {} HVPs, relative error {:.1e}",
        pyhessian.n_hvp,
        (pyhessian.pairs[0].value - top).abs() / top.abs()
    );
    Ok(())
}

//! The matrix products of a 784-256-256-10 training step at batch 128, f32, against the
//! machine's f32 peak (issue 13: "at least 60% of the machine's f32 peak in the matrix
//! products"; "2 threads faster than 1").
//!
//! The peak (`kernels/f32-fma-peak`) is a register-resident loop of fused multiply-adds:
//! 12 independent accumulators of 8 lanes (12 AVX registers, enough to cover the FMA
//! latency on two FMA pipes), no memory traffic, compiled for AVX2+FMA through
//! `unstuck::optim::vectorized`. On `t` threads it runs once on each thread of the pool
//! at the same time, so its figure is the peak of `t` cores.
//!
//! Each product row (`kernels/mnist-matmul-*`) records the product on a tape with
//! `Tape::matmul_t`, the call a `linear` layer and its vector-Jacobian rule make, so it
//! runs through the kernel of `unstuck-autodiff/src/kernels/matmul.rs` with the step's
//! shapes and transposes: per layer the forward `x Wᵀ`, the input gradient `g W` (not for
//! the first layer, whose input is data) and the weight gradient `gᵀ x`. A row's time is
//! the time of clearing the tape, copying both operands onto it and the product, less the
//! same without the product (timed just before), so it is the product alone. Both run
//! under `unstuck_core::with_hot_workers`, as the products of a training step do (the
//! step runs under `with_hot_step`): the other worker is polling when a product is cut
//! across threads, not asleep. Without it, each 2-thread product also paid for waking a
//! sleeping worker, and the step's products ran at 52-58% of the 2-core peak instead of
//! 68-75% (`--only kernels/`, interleaved).
//! `kernels/mnist-matmul-step` does the step's eight products in a row.
//!
//! After the table, `cargo xtask bench` prints each row's GFLOP/s (2 flops per
//! multiply-add) and its fraction of the peak of as many cores: the best per-core figure
//! of the peak row over the thread counts run, times the threads.

use super::Bench;
use super::timing::{Budget, Summary, measure};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use unstuck::autodiff::Tape;

/// The peak row's name.
const PEAK_NAME: &str = "kernels/f32-fma-peak";
/// The name every product row starts with.
const PRODUCT_PREFIX: &str = "kernels/mnist-matmul-";
/// Independent accumulators of the peak loop, each one AVX register of 8 f32.
const CHAINS: usize = 12;
const LANES: usize = 8;
/// Trips of the peak loop per call.
const PEAK_TRIPS: usize = 1 << 16;

/// One product of the step: name, `(m, k, n)` as used, and the transposes of `a` and `b`.
type Product = (&'static str, (usize, usize, usize), bool, bool);

/// The products of a 784-256-256-10 step at batch 128, in the order the step makes them.
const PRODUCTS: [Product; 8] = [
    ("fwd1-128x784x256", (128, 784, 256), false, true),
    ("fwd2-128x256x256", (128, 256, 256), false, true),
    ("fwd3-128x256x10", (128, 256, 10), false, true),
    ("wgrad3-10x128x256", (10, 128, 256), true, false),
    ("igrad3-128x10x256", (128, 10, 256), false, false),
    ("wgrad2-256x128x256", (256, 128, 256), true, false),
    ("igrad2-128x256x256", (128, 256, 256), false, false),
    ("wgrad1-256x128x784", (256, 128, 784), true, false),
];

pub fn benches() -> Vec<Bench> {
    let mut out = vec![Bench {
        name: PEAK_NAME.into(),
        what: "12 x 8 x 65536 FMA per thread",
        run: Box::new(|budget| Ok(measure(budget, peak_call))),
    }];
    for product in PRODUCTS {
        out.push(Bench {
            name: format!("{PRODUCT_PREFIX}{}", product.0),
            what: "product",
            run: Box::new(move |budget| Ok(products(&[product], budget))),
        });
    }
    out.push(Bench {
        name: format!("{PRODUCT_PREFIX}step"),
        what: "8 products",
        run: Box::new(|budget| Ok(products(&PRODUCTS, budget))),
    });
    out
}

/// The peak loop on every thread of the current pool at once.
fn peak_call() {
    rayon::broadcast(|context| {
        let seed = black_box(1.0 + context.index() as f32);
        black_box(unstuck::optim::vectorized(
            #[inline(always)]
            || fma_loop(seed),
        ));
    });
}

/// `CHAINS x LANES` independent chains of `x = x * m + c`, `PEAK_TRIPS` times.
#[inline(always)]
fn fma_loop(seed: f32) -> f32 {
    let mut acc = [[seed; LANES]; CHAINS];
    // Opaque constants: the compiler cannot fold the chain; `x` stays finite and normal.
    let (m, c) = (black_box(0.999_999f32), black_box(1e-6f32));
    for _ in 0..PEAK_TRIPS {
        for chain in &mut acc {
            for x in chain.iter_mut() {
                *x = x.mul_add(m, c);
            }
        }
    }
    acc.iter().flatten().sum()
}

/// Multiply-adds of `products`.
fn fmas(products: &[Product]) -> usize {
    products.iter().map(|(_, (m, k, n), _, _)| m * k * n).sum()
}

/// A fixed operand: a pattern in [-1, 1] (values do not change the speed).
fn operand(len: usize, salt: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * salt) % 97) as f32 / 48.0 - 1.0)
        .collect()
}

/// The time of `products` alone: (operands copied onto a cleared tape + products) less
/// (operands copied onto a cleared tape).
fn products(products: &[Product], budget: Budget) -> Summary {
    let operands: Vec<_> = products
        .iter()
        .map(|&(_, (m, k, n), ta, tb)| {
            let a_dims = if ta { [k, m] } else { [m, k] };
            let b_dims = if tb { [n, k] } else { [k, n] };
            (
                operand(m * k, 37),
                a_dims,
                operand(k * n, 53),
                b_dims,
                ta,
                tb,
            )
        })
        .collect();
    let tape = Tape::<f32>::new();
    let run = |multiply: bool| {
        tape.clear();
        for (a, a_dims, b, b_dims, ta, tb) in &operands {
            let a = tape.constant_from(a, a_dims);
            let b = tape.constant_from(b, b_dims);
            if multiply {
                black_box(tape.matmul_t(a, b, *ta, *tb));
            }
        }
    };
    let copies = measure(budget, || unstuck_core::with_hot_workers(|| run(false)));
    let whole = measure(budget, || unstuck_core::with_hot_workers(|| run(true)));
    tape.clear();
    Summary {
        median: (whole.median - copies.median).max(0.0),
        iqr: whole.iqr,
    }
}

/// GFLOP/s of each product row and its fraction of the peak row at the same thread
/// count (`None` when no product row ran).
pub fn flops_table(medians: &BTreeMap<(String, usize), f64>, threads: &[usize]) -> Option<String> {
    let measured_peak = |t: usize| {
        let seconds = medians.get(&(PEAK_NAME.to_string(), t))?;
        Some((t * CHAINS * LANES * PEAK_TRIPS * 2) as f64 / seconds)
    };
    // The peak of one core, best over the thread counts (another process on a core
    // lowers the figure of a run on every core), times the threads.
    let per_core = (threads.iter())
        .filter_map(|&t| measured_peak(t).map(|p| p / t as f64))
        .reduce(f64::max);
    let peak_flops = |t: usize| per_core.map(|p| p * t as f64);
    let mut rows = String::new();
    for (name, flops) in PRODUCTS
        .iter()
        .map(|p| (p.0, fmas(&[*p]) * 2))
        .chain([("step", fmas(&PRODUCTS) * 2)])
    {
        for &t in threads {
            let Some(seconds) = medians.get(&(format!("{PRODUCT_PREFIX}{name}"), t)) else {
                continue;
            };
            let rate = flops as f64 / seconds;
            let share = peak_flops(t).map_or("-".into(), |p| format!("{:.0}%", 100.0 * rate / p));
            let _ = writeln!(rows, "| {name} | {t} | {:.1} | {share} |", rate / 1e9);
        }
    }
    if rows.is_empty() {
        return None;
    }
    let measured: Vec<String> = (threads.iter())
        .filter_map(|&t| measured_peak(t).map(|p| format!("{:.1} on {t} thread(s)", p / 1e9)))
        .collect();
    let peak = match per_core {
        Some(p) => format!(
            "{:.1} GFLOP/s per core (FMA loop, GFLOP/s: {}); \"of peak\" is against threads x that",
            p / 1e9,
            measured.join(", ")
        ),
        None => "not measured".into(),
    };
    Some(format!(
        "f32 peak: {peak}\n\n| product | threads | GFLOP/s | of peak |\n|---|---|---|---|\n{rows}"
    ))
}

//! The table `cargo xtask bench` prints.

use super::Bench;
use super::timing::Summary;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Per benchmark and thread count, one median per round.
type Results<S> = BTreeMap<(String, usize), Vec<S>>;

/// Median over rounds of the per-round medians, with the smallest and largest.
fn over_rounds(mut medians: Vec<f64>) -> (f64, f64, f64) {
    medians.sort_by(f64::total_cmp);
    (
        medians[medians.len() / 2],
        medians[0],
        medians[medians.len() - 1],
    )
}

/// One row per benchmark and thread count: unstuck's time (median over rounds of each
/// round's median, the rounds' range, and the typical interquartile range of the
/// repetitions within a round), the anchor's, and their ratio (anchor / unstuck, with the
/// spread from both sides' round extremes).
pub fn table(
    benches: &[Bench],
    threads: &[usize],
    ours: &Results<Summary>,
    theirs: &Results<f64>,
) -> String {
    let mut out = String::from(
        "| benchmark | per | threads | unstuck ms | rounds' range | IQR | anchor ms | anchor / unstuck | spread |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for bench in benches {
        for &t in threads {
            let key = (bench.name.clone(), t);
            let Some(runs) = ours.get(&key) else { continue };
            let (median, lo, hi) = over_rounds(runs.iter().map(|s| s.median).collect());
            let (iqr, _, _) = over_rounds(runs.iter().map(|s| s.iqr).collect());
            let _ = write!(
                out,
                "| {} | {} | {t} | {:.4} | {:.4}-{:.4} | {:.4} |",
                bench.name,
                bench.what,
                median * 1e3,
                lo * 1e3,
                hi * 1e3,
                iqr * 1e3
            );
            match theirs.get(&key) {
                Some(anchor) => {
                    let (a, a_lo, a_hi) = over_rounds(anchor.clone());
                    let _ = writeln!(
                        out,
                        " {:.4} | {:.2}x | {:.2}-{:.2} |",
                        a * 1e3,
                        a / median,
                        a_lo / hi,
                        a_hi / lo
                    );
                }
                None => out.push_str(" - | - | - |\n"),
            }
        }
    }
    out
}

//! Max pooling over 2x2 windows with stride 2 (LeNet's and most CNNs'), and its adjoint,
//! without a branch per comparison.
//!
//! A window's four taps are compared as a tournament: the two taps of each row first
//! (one pass over whole rows, every pair of columns), then the two row winners (a second
//! pass). With "the later tap wins only when larger, or NaN" at every comparison, this
//! picks the tap that a scan in row order picks (the first of the largest; the last NaN,
//! as PyTorch). Every comparison is a select, and each pass runs over whole runs of rows
//! (one loop for all the planes of a chunk when the sizes are even). With a branch per
//! tap, half of them mispredicted on real activations and pooling took 28% of a LeNet
//! training step's samples on one thread (`perf`); with selects, about 8.5%.

use crate::Element;
use crate::buffers;

/// `a` when `take_a`, else `b`, as a conditional move: a branch on which tap won
/// mispredicts half the time, and in the short loops (rows of 4 windows) that do not
/// vectorise the compiler would otherwise branch.
#[inline(always)]
fn select<T: Copy>(take_a: bool, a: T, b: T) -> T {
    std::hint::select_unpredictable(take_a, a, b)
}

/// Whether `later` beats `earlier` in a max-pool comparison. `|` rather than `||`, so
/// that it compiles to a select.
#[inline(always)]
fn later_wins<T: Element>(earlier: T, later: T) -> bool {
    #[allow(clippy::eq_op)]
    let nan = later != later;
    (later > earlier) | nan
}

/// The rows of `planes` planes of `[h, w]` that some window covers (the first
/// `2 · oh` of each plane, their first `2 · ow` columns), as runs of column pairs laid
/// out one after another: `f(input offset, pair offset, pairs)` for each run. Rows whose
/// covered columns are contiguous (an even width) run together, so most runs are long.
fn covered_runs(
    planes: usize,
    [h, w]: [usize; 2],
    [oh, ow]: [usize; 2],
    mut f: impl FnMut(usize, usize, usize),
) {
    if w == 2 * ow && h == 2 * oh {
        f(0, 0, planes * oh * 2 * ow);
    } else if w == 2 * ow {
        for p in 0..planes {
            f(p * h * w, p * 2 * oh * ow, 2 * oh * ow);
        }
    } else {
        for p in 0..planes {
            for y in 0..2 * oh {
                f(p * h * w + y * w, (p * 2 * oh + y) * ow, ow);
            }
        }
    }
}

/// For every covered row and every pair of columns: the winning key, and when `values`
/// are given the value at the winning position (`best_values`).
fn across_columns<T: Element>(
    keys: &[T],
    values: Option<&[T]>,
    geometry: ([usize; 2], [usize; 2], usize),
    best_keys: &mut [T],
    best_values: &mut [T],
) {
    let (input, output, planes) = geometry;
    covered_runs(planes, input, output, |at, pair, pairs| {
        let keys = keys[at..at + 2 * pairs].chunks_exact(2);
        let best = &mut best_keys[pair..pair + pairs];
        match values {
            None => unstuck_core::vectorized(
                #[inline(always)]
                move || {
                    for (b, k) in best.iter_mut().zip(keys) {
                        *b = select(later_wins(k[0], k[1]), k[1], k[0]);
                    }
                },
            ),
            Some(values) => {
                let values = values[at..at + 2 * pairs].chunks_exact(2);
                let best_values = &mut best_values[pair..pair + pairs];
                unstuck_core::vectorized(
                    #[inline(always)]
                    move || {
                        for ((b, bv), (k, v)) in
                            best.iter_mut().zip(best_values).zip(keys.zip(values))
                        {
                            let right = later_wins(k[0], k[1]);
                            *b = select(right, k[1], k[0]);
                            *bv = select(right, v[1], v[0]);
                        }
                    },
                )
            }
        }
    });
}

/// Each window's entry of `values` at the position of its largest key, for `planes`
/// planes of `[h, w]` (`values` may be `keys` itself), into `out` (`[planes, oh, ow]`).
pub(super) fn select_2x2<T: Element>(
    values: &[T],
    keys: &[T],
    planes: usize,
    input: [usize; 2],
    out: &mut [T],
) {
    let output = [input[0] / 2, input[1] / 2];
    let ow = output[1];
    let pairs = planes * output[0] * 2 * ow;
    let same = std::ptr::eq(values, keys);
    let mut best_keys = buffers::overwritten(pairs);
    let mut best_values = buffers::overwritten(if same { 0 } else { pairs });
    let given = (!same).then_some(values);
    across_columns(
        keys,
        given,
        (input, output, planes),
        &mut best_keys,
        &mut best_values,
    );
    let rows = best_keys
        .chunks_exact(2 * ow)
        .zip(out.chunks_exact_mut(ow.max(1)));
    if same {
        // The value at the winner is the winning key. A loop of its own: with the general
        // loop below reading the winning keys as the values, `select_2x2` took 15.5M
        // instructions in three LeNet steps instead of 6.9M (callgrind).
        unstuck_core::vectorized(
            #[inline(always)]
            move || {
                for (pair, out) in rows {
                    let (upper, lower) = pair.split_at(ow);
                    for ((o, &a), &b) in out.iter_mut().zip(upper).zip(lower) {
                        *o = select(later_wins(a, b), b, a);
                    }
                }
            },
        );
    } else {
        let value_rows = best_values.chunks_exact(2 * ow);
        unstuck_core::vectorized(
            #[inline(always)]
            move || {
                for ((pair, out), value_pair) in rows.zip(value_rows) {
                    let (upper, lower) = pair.split_at(ow);
                    let (upper_v, lower_v) = value_pair.split_at(ow);
                    for ((o, (&a, &b)), (&va, &vb)) in out
                        .iter_mut()
                        .zip(upper.iter().zip(lower))
                        .zip(upper_v.iter().zip(lower_v))
                    {
                        *o = select(later_wins(a, b), vb, va);
                    }
                }
            },
        );
    }
    buffers::give(best_keys);
    buffers::give(best_values);
}

/// The adjoint of [`select_2x2`]: every entry of `out` (`[planes, h, w]`) written, the
/// gradient at each window's winning position and zero elsewhere.
///
/// The winning entry is `0 + grad`, as adding into zeros gives (a gradient of -0 lands as
/// +0).
pub(super) fn scatter_2x2<T: Element>(
    grad: &[T],
    keys: &[T],
    planes: usize,
    input: [usize; 2],
    out: &mut [T],
) {
    let zero = T::ZERO;
    let [h, w] = input;
    let output = [h / 2, w / 2];
    let [oh, ow] = output;
    let mut best = buffers::overwritten(planes * oh * 2 * ow);
    across_columns(keys, None, (input, output, planes), &mut best, &mut []);
    // Each window's gradient moves to the row that won, in place of the row winners' keys.
    let rows = best
        .chunks_exact_mut(2 * ow)
        .zip(grad.chunks_exact(ow.max(1)));
    unstuck_core::vectorized(
        #[inline(always)]
        move || {
            for (pair, grad) in rows {
                let (upper, lower) = pair.split_at_mut(ow);
                for ((a, b), &g) in upper.iter_mut().zip(lower).zip(grad) {
                    let down = later_wins(*a, *b);
                    *a = select(down, zero, zero + g);
                    *b = select(down, zero + g, zero);
                }
            }
        },
    );
    // Then to the column that won in that row.
    covered_runs(planes, input, output, |at, pair, pairs| {
        let keys = keys[at..at + 2 * pairs].chunks_exact(2);
        let row_grad = &best[pair..pair + pairs];
        let out = out[at..at + 2 * pairs].chunks_exact_mut(2);
        unstuck_core::vectorized(
            #[inline(always)]
            move || {
                for ((o, k), &g) in out.zip(keys).zip(row_grad) {
                    let right = later_wins(k[0], k[1]);
                    o[0] = select(right, zero, g);
                    o[1] = select(right, g, zero);
                }
            },
        );
    });
    buffers::give(best);
    // What no window covers: the last column of an odd width, the last row of an odd height.
    for plane in out.chunks_exact_mut(h * w) {
        let (covered, below) = plane.split_at_mut(2 * oh * w);
        below.fill(zero);
        if w > 2 * ow {
            for row in covered.chunks_exact_mut(w) {
                row[2 * ow..].fill(zero);
            }
        }
    }
}

//! A loss recorded as a sum of parts (`Curvature::sum_of`, `hvp_of_sum`): the same
//! function as one recording, the same bits on any thread count, and the same bits
//! whichever way the products are asked for.

mod common;

use unstuck_autodiff::{AutodiffError, Curvature, Tape, Tensor, Var, hvp_of_sum};
use unstuck_test_support::threads::with_threads;

const WIDTHS: [usize; 4] = [3, 5, 4, 2];
const BATCH: usize = 12;
/// Examples per part: parts of 5, 4 and 3 rows, so unequal shares are weighted right.
const CUTS: [usize; 4] = [0, 5, 9, 12];

fn fill(n: usize, k: usize, scale: f64) -> Vec<f64> {
    (0..n)
        .map(|i| (((i * k) % 23) as f64 / 11.0 - 1.0) * scale)
        .collect()
}

/// Mean cross-entropy of rows `start..end` of the batch, times their share of it.
fn rows_loss(tape: &Tape<f64>, theta: Var, start: usize, end: usize) -> Var {
    let width = WIDTHS[0];
    let x = fill(BATCH * width, 7, 1.0)[start * width..end * width].to_vec();
    let x = tape.constant(Tensor::matrix(x, end - start, width).unwrap());
    let labels: Vec<usize> = (start..end).map(|i| i % WIDTHS[3]).collect();
    let mean = tape.softmax_cross_entropy(common::mlp_logits(tape, theta, &WIDTHS, x), &labels);
    tape.scale(mean, (end - start) as f64 / BATCH as f64)
}

fn whole(tape: &Tape<f64>, theta: Var) -> Var {
    rows_loss(tape, theta, 0, BATCH)
}

fn part(tape: &Tape<f64>, theta: Var, part: usize) -> Var {
    rows_loss(tape, theta, CUTS[part], CUTS[part + 1])
}

fn bits(xs: &[f64]) -> Vec<u64> {
    xs.iter().map(|x| x.to_bits()).collect()
}

fn setup() -> (Vec<f64>, Vec<f64>) {
    let p = common::n_params(&WIDTHS);
    (fill(p, 5, 0.7), fill(p, 13, 1.0))
}

/// The parts' sums add the examples in another order than one recording: they agree to
/// a few hundred roundings of the largest term (12 examples, a handful of additions
/// each), far below the 1e-4 relative of a wrong weight or a missing part.
#[test]
fn the_sum_of_parts_is_the_whole_function() {
    let (theta, v) = setup();
    let parts = Curvature::sum_of(3, part, &theta).unwrap();
    let one = Curvature::new(whole, &theta).unwrap();
    assert_eq!(parts.parts(), 3);
    let close = |a: &[f64], b: &[f64], what: &str| {
        let d = common::max_rel_diff(a, b, common::norm_inf(b));
        assert!(d < 1e-13, "{what}: relative difference {d:e}");
    };
    close(&[parts.value()], &[one.value()], "value");
    close(parts.gradient(), one.gradient(), "gradient");
    close(&parts.hvp(&v).unwrap(), &one.hvp(&v).unwrap(), "H v");
    // A dropped part is caught.
    let two_parts = Curvature::sum_of(2, part, &theta).unwrap();
    let (short, full) = (two_parts.hvp(&v).unwrap(), one.hvp(&v).unwrap());
    assert!(common::max_rel_diff(&short, &full, common::norm_inf(&full)) > 1e-4);
}

#[test]
fn one_part_is_exactly_one_recording() {
    let (theta, v) = setup();
    let parts = Curvature::sum_of(1, |tape, theta, _| whole(tape, theta), &theta).unwrap();
    let one = Curvature::new(whole, &theta).unwrap();
    assert_eq!(parts.value().to_bits(), one.value().to_bits());
    assert_eq!(bits(parts.gradient()), bits(one.gradient()));
    assert_eq!(bits(&parts.hvp(&v).unwrap()), bits(&one.hvp(&v).unwrap()));
}

#[test]
fn products_of_a_sum_are_the_same_bits_on_one_and_two_threads_and_by_every_route() {
    let (theta, v) = setup();
    let p = theta.len();
    let k = 9;
    let block = fill(p * k, 11, 1.0);
    let run = || {
        let curvature = Curvature::sum_of(3, part, &theta).unwrap();
        let fused = hvp_of_sum(3, part, &theta, &v).unwrap();
        (
            curvature.value().to_bits(),
            bits(curvature.gradient()),
            bits(&curvature.hvp(&v).unwrap()),
            bits(&fused),
            bits(&curvature.hvp_block(&block, k).unwrap()),
            bits(&curvature.hvp_block(&block[..2 * p], 2).unwrap()),
        )
    };
    let one = with_threads(1, run);
    assert_eq!(one, with_threads(2, run));
    let (_, _, hv, fused, wide, narrow) = one;
    assert_eq!(hv, fused, "hvp_of_sum against sum_of + hvp");
    // Every column of a block, wide or narrow, is the single product.
    let curvature = Curvature::sum_of(3, part, &theta).unwrap();
    for j in [0, 4, 8] {
        let single = bits(&curvature.hvp(&block[j * p..(j + 1) * p]).unwrap());
        assert_eq!(wide[j * p..(j + 1) * p], single[..], "column {j}");
    }
    let second = bits(&curvature.hvp(&block[p..2 * p]).unwrap());
    assert_eq!(narrow[p..], second[..]);
}

/// With no parameters every gradient is empty; the value is still the parts' sum.
#[test]
fn a_sum_of_constants_has_their_sum_as_value() {
    let constant =
        |tape: &Tape<f64>, _: Var, part: usize| tape.constant(Tensor::scalar(1.0 + part as f64));
    let curvature = Curvature::sum_of(3, constant, &[]).unwrap();
    assert_eq!(curvature.value(), 6.0);
    assert!(curvature.gradient().is_empty());
}

#[test]
fn no_parts_and_bad_parts_are_errors() {
    let (theta, v) = setup();
    assert!(matches!(
        Curvature::sum_of(0, part, &theta),
        Err(AutodiffError::NoParts)
    ));
    assert!(matches!(
        hvp_of_sum(0, part, &theta, &v),
        Err(AutodiffError::NoParts)
    ));
    // A part that does not return a scalar is reported as one recording reports it.
    let not_scalar = |_: &Tape<f64>, theta: Var, _: usize| theta;
    assert!(matches!(
        Curvature::sum_of(2, not_scalar, &theta),
        Err(AutodiffError::NotScalar { .. })
    ));
    assert!(matches!(
        hvp_of_sum(2, not_scalar, &theta, &v),
        Err(AutodiffError::NotScalar { .. })
    ));
    let curvature = Curvature::sum_of(3, part, &theta).unwrap();
    assert!(matches!(
        curvature.hvp(&v[1..]),
        Err(AutodiffError::LengthMismatch { .. })
    ));
}

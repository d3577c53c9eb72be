//! `H · V` for a block of vectors (the interleaved k-wide sweep) on a tanh MLP with
//! cross-entropy, against single products and against central differences of the
//! gradient.

mod common;

use unstuck_autodiff::{Curvature, Tape, Tensor, Var, gradient};

const WIDTHS: [usize; 4] = [3, 5, 4, 2];
const BATCH: usize = 6;

fn fill(n: usize, k: usize, scale: f64) -> Vec<f64> {
    (0..n)
        .map(|i| (((i * k) % 23) as f64 / 11.0 - 1.0) * scale)
        .collect()
}

fn loss(tape: &Tape<f64>, theta: Var) -> Var {
    let x =
        tape.constant(Tensor::matrix(fill(BATCH * WIDTHS[0], 7, 1.0), BATCH, WIDTHS[0]).unwrap());
    let labels: Vec<usize> = (0..BATCH).map(|i| i % WIDTHS[3]).collect();
    tape.softmax_cross_entropy(common::mlp_logits(tape, theta, &WIDTHS, x), &labels)
}

struct Block {
    theta: Vec<f64>,
    curvature: Curvature<f64>,
    vectors: Vec<f64>,
    k: usize,
    p: usize,
    wide: Vec<f64>,
}

/// Nine vectors (two full sweeps and a short one) and their block product.
fn setup() -> Block {
    let p = common::n_params(&WIDTHS);
    let (theta, vectors, k) = (fill(p, 5, 0.7), fill(9 * p, 13, 1.0), 9);
    let curvature = Curvature::new(loss, &theta).unwrap();
    let wide = curvature.hvp_block(&vectors, k).unwrap();
    Block {
        theta,
        curvature,
        vectors,
        k,
        p,
        wide,
    }
}

#[test]
fn block_products_are_the_single_products_bit_for_bit() {
    let Block {
        curvature,
        vectors: block,
        k,
        p,
        wide,
        ..
    } = setup();
    for j in 0..k {
        let single = curvature.hvp(&block[j * p..(j + 1) * p]).unwrap();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&wide[j * p..(j + 1) * p]), bits(&single), "vector {j}");
    }
}

/// Central differences of the gradient along each vector: truncation is O(eps²) and
/// rounding about 1e-16 / eps of the gradient, both far below 1e-7 of the product, while a
/// rule wrong by 1e-4 relative moves the product by about 1e-4 of its size.
#[test]
fn block_products_match_central_differences_of_the_gradient() {
    let Block {
        theta,
        vectors: block,
        k,
        p,
        wide,
        ..
    } = setup();
    let eps = 1e-5;
    for j in 0..k {
        let v = &block[j * p..(j + 1) * p];
        let at = |s: f64| -> Vec<f64> {
            let shifted: Vec<f64> = theta.iter().zip(v).map(|(t, d)| t + s * d).collect();
            gradient(loss, &shifted).unwrap().1
        };
        let (plus, minus) = (at(eps), at(-eps));
        let hv = &wide[j * p..(j + 1) * p];
        let scale = hv.iter().fold(1e-3f64, |m, x| m.max(x.abs()));
        for (i, (&h, (a, b))) in hv.iter().zip(plus.iter().zip(&minus)).enumerate() {
            let fd = (a - b) / (2.0 * eps);
            assert!(
                (h - fd).abs() <= 1e-7 * scale,
                "vector {j}, entry {i}: {h} vs finite differences {fd}"
            );
        }
    }
}

#[test]
fn a_block_written_into_a_buffer_is_the_returned_block() {
    let Block {
        curvature,
        vectors,
        k,
        p,
        ..
    } = setup();
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    // NaN where nothing was written would survive into the comparison.
    for k in [k, 3] {
        let mut out = vec![f64::NAN; k * p];
        curvature
            .hvp_block_into(&vectors[..k * p], k, &mut out)
            .unwrap();
        let returned = curvature.hvp_block(&vectors[..k * p], k).unwrap();
        assert_eq!(bits(&out), bits(&returned), "{k} vectors");
    }
    let mut short = vec![0.0; k * p - 1];
    let err = curvature
        .hvp_block_into(&vectors, k, &mut short)
        .unwrap_err();
    assert!(err.to_string().contains("output"), "{err}");
}

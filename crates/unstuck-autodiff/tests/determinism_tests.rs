//! Results are bit-identical whatever the number of rayon threads.

mod common;

use common::MlpProblem;
use unstuck_autodiff::{Curvature, Tape, Tensor};

fn with_threads<R: Send>(n: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .unwrap()
        .install(f)
}

fn bits(xs: &[f64]) -> Vec<u64> {
    xs.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn large_matmul_gradient_is_identical_on_one_and_two_threads() {
    // 200 x 300 x 250 is above the size where the product goes parallel.
    let run = || {
        let tape = Tape::<f64>::new();
        let a: Vec<f64> = (0..200 * 300)
            .map(|i| ((i * 37) % 101) as f64 / 50.0 - 1.0)
            .collect();
        let b: Vec<f64> = (0..300 * 250)
            .map(|i| ((i * 53) % 97) as f64 / 48.0 - 1.0)
            .collect();
        let a = tape.leaf(Tensor::matrix(a, 200, 300).unwrap());
        let b = tape.leaf(Tensor::matrix(b, 300, 250).unwrap());
        let y = tape.sum(tape.tanh(tape.matmul(a, b)));
        let grads = tape.grad(y, &[a, b]);
        [grads[0].data().to_vec(), grads[1].data().to_vec()].concat()
    };
    assert_eq!(bits(&with_threads(1, run)), bits(&with_threads(2, run)));
}

#[test]
fn hvp_block_is_identical_on_one_and_two_threads() {
    let problem = MlpProblem::load("hessian_p100.safetensors", &[3, 8, 6, 2]);
    let curvature = Curvature::new(problem.loss(), &problem.theta).unwrap();
    let p = curvature.dim();
    let k = 7;
    let block: Vec<f64> = (0..p * k)
        .map(|i| ((i * 31) % 17) as f64 / 8.0 - 1.0)
        .collect();
    let one = with_threads(1, || curvature.hvp_block(&block, k).unwrap());
    let two = with_threads(2, || curvature.hvp_block(&block, k).unwrap());
    assert_eq!(bits(&one), bits(&two));
    // And each column is exactly the single product.
    let third = curvature.hvp(&block[2 * p..3 * p]).unwrap();
    assert_eq!(bits(&one[2 * p..3 * p]), bits(&third));
}

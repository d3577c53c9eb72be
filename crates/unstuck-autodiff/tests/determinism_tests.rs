//! Results are bit-identical whatever the number of rayon threads.

mod common;

use common::MlpProblem;
use unstuck_autodiff::{
    BiasActivation, Conv2dOptions, Curvature, Mask, Tape, Tensor, Var, gradient,
};
use unstuck_test_support::threads::with_threads;

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

/// A small LeNet and an attention head on one tape: every kind of op, at sizes where the
/// parallel paths run.
fn conv_and_attention(tape: &Tape<f64>, theta: Var) -> Var {
    let fill = |n: usize, k: usize| -> Vec<f64> {
        (0..n).map(|i| ((i * k) % 23) as f64 / 11.0 - 1.0).collect()
    };
    let mut offset = 0;
    let mut next = |dims: &[usize]| {
        let len: usize = dims.iter().product();
        let v = tape.reshape(tape.slice(theta, offset, len), dims);
        offset += len;
        v
    };
    let x = tape.constant(Tensor::new(fill(16 * 28 * 28, 7), &[16, 1, 28, 28]).unwrap());
    let (w1, b1) = (next(&[6, 1, 5, 5]), next(&[6]));
    let h = tape.max_pool2d(
        tape.relu(tape.conv2d(x, w1, Some(b1), Conv2dOptions::default())),
        2,
        2,
    );
    let (w2, b2) = (next(&[16, 6, 5, 5]), next(&[16]));
    let h = tape.avg_pool2d(
        tape.tanh(tape.conv2d(h, w2, Some(b2), Conv2dOptions::new(1, 1))),
        2,
        2,
    );
    // [16, 16, 5, 5] -> tokens [16, 25, 16] -> causal attention with shared projections.
    let tokens = tape.permute(tape.reshape(h, &[16, 16, 25]), &[0, 2, 1]);
    let (wq, wk) = (next(&[16, 16]), next(&[16, 16]));
    let q = tape.matmul(tokens, wq);
    let k = tape.matmul(tokens, wk);
    let scores = tape.masked_fill(tape.matmul_t(q, k, false, true), &Mask::causal(25), -1e9);
    let mixed = tape.matmul(tape.softmax(scores, 2), tokens);
    let logits = tape.matmul(tape.mean_axis(mixed, 1), next(&[16, 10]));
    let labels: Vec<usize> = (0..16).map(|i| i % 10).collect();
    tape.softmax_cross_entropy(logits, &labels)
}

#[test]
fn every_op_is_identical_on_one_and_two_threads() {
    let n_params = 6 * 25 + 6 + 16 * 6 * 25 + 16 + 2 * 16 * 16 + 16 * 10;
    let theta: Vec<f64> = (0..n_params)
        .map(|i| ((i * 13) % 29) as f64 / 60.0 - 0.25)
        .collect();
    let run = || {
        let (loss, grad) = gradient(conv_and_attention, &theta).unwrap();
        let curvature = Curvature::new(conv_and_attention, &theta).unwrap();
        let block: Vec<f64> = (0..3 * n_params)
            .map(|i| ((i * 31) % 17) as f64 / 8.0 - 1.0)
            .collect();
        let hv = curvature.hvp_block(&block, 3).unwrap();
        [vec![loss], grad, hv].concat()
    };
    assert_eq!(bits(&with_threads(1, run)), bits(&with_threads(2, run)));
}

/// A 784-256-10 layer pair at batch 128 in f32: the fused bias + activation and loss, at
/// sizes where the elementwise maps run on several threads.
fn fused_layers(tape: &Tape<f32>, theta: Var, act: BiasActivation) -> Var {
    let x: Vec<f32> = (0..128 * 784)
        .map(|i| ((i * 29) % 31) as f32 / 15.0 - 1.0)
        .collect();
    let x = tape.constant(Tensor::matrix(x, 128, 784).unwrap());
    let w1 = tape.reshape(tape.slice(theta, 0, 256 * 784), &[256, 784]);
    let b1 = tape.slice(theta, 256 * 784, 256);
    let w2 = tape.reshape(tape.slice(theta, 256 * 784 + 256, 2560), &[10, 256]);
    let h = tape.bias_activation(tape.matmul_t(x, w1, false, true), b1, act);
    let h = tape.tanh(h);
    let labels: Vec<usize> = (0..128).map(|i| i * 7 % 10).collect();
    tape.softmax_cross_entropy(tape.matmul_t(h, w2, false, true), &labels)
}

#[test]
fn fused_elementwise_work_is_identical_on_one_and_two_threads() {
    let n = 256 * 784 + 256 + 2560;
    let theta: Vec<f32> = (0..n)
        .map(|i| ((i * 13) % 41) as f32 / 400.0 - 0.05)
        .collect();
    for act in [
        BiasActivation::Relu,
        BiasActivation::Tanh,
        BiasActivation::Sigmoid,
    ] {
        let run = || gradient(|tape, theta| fused_layers(tape, theta, act), &theta).unwrap();
        let (one, two) = (with_threads(1, run), with_threads(2, run));
        assert_eq!(one.0.to_bits(), two.0.to_bits(), "{act:?}");
        let same = one
            .1
            .iter()
            .zip(&two.1)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{act:?}: gradients differ between 1 and 2 threads");
    }
}

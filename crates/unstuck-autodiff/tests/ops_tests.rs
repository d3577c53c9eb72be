//! Behaviour of the tape beyond the rules (which `src/op_tests/` checks against finite
//! differences): stability, what is recorded, and the panics that name the op.

use unstuck_autodiff::{Mask, Tape, Tensor};

#[test]
fn cross_entropy_is_stable_for_huge_logits() {
    let tape = Tape::<f64>::new();
    let logits = tape.leaf(Tensor::matrix(vec![1000.0, -1000.0, 0.0, 800.0], 2, 2).unwrap());
    let loss = tape.softmax_cross_entropy(logits, &[0, 0]);
    // Row 0 is certain of class 0 (loss 0); row 1 puts class 0 at e^-800 (loss 800).
    assert!((tape.scalar_value(loss) - 400.0).abs() < 1e-12);
    let g = tape.grad(loss, &[logits]);
    assert!(g[0].data().iter().all(|x| x.is_finite()));
    assert!((g[0].data()[2] + 0.5).abs() < 1e-12, "{:?}", g[0].data());
}

#[test]
fn f32_and_f64_share_one_code_path() {
    let f32_grad = {
        let tape = Tape::<f32>::new();
        let x = tape.leaf(Tensor::vector(vec![0.5f32, -1.0, 2.0]));
        let y = tape.sum(tape.gelu(tape.mul(x, x)));
        tape.grad(y, &[x]).pop().unwrap()
    };
    let f64_grad = {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(Tensor::vector(vec![0.5f64, -1.0, 2.0]));
        let y = tape.sum(tape.gelu(tape.mul(x, x)));
        tape.grad(y, &[x]).pop().unwrap()
    };
    for (a, b) in f32_grad.data().iter().zip(f64_grad.data()) {
        // f32 carries ~7 digits; a few roundings through tanh and powf stay under 1e-5.
        assert!(
            (*a as f64 - b).abs() <= 1e-5 * b.abs().max(1.0),
            "{a} vs {b}"
        );
    }
}

#[test]
fn grad_records_nothing_and_grad_graph_records() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::vector(vec![1.0, 2.0]));
    let y = tape.sum(tape.tanh(tape.mul(x, x)));
    let before = tape.len();
    let _ = tape.grad(y, &[x]);
    assert_eq!(
        tape.len(),
        before,
        "first-order backward must not grow the tape"
    );
    let _ = tape.grad_graph(y, &[x]);
    assert!(tape.len() > before);
}

#[test]
fn unrelated_input_gets_a_zero_gradient() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::vector(vec![1.0, 2.0]));
    let z = tape.leaf(Tensor::scalar(5.0));
    let y = tape.sum(tape.exp(x));
    let g = tape.grad(y, &[x, z]);
    assert_eq!(g[1].data(), &[0.0]);
    let gg = tape.grad_graph(y, &[z]);
    assert_eq!(tape.value(gg[0]).data(), &[0.0]);
}

#[test]
#[should_panic(expected = "matmul: inner dimensions differ: [2, 3] x [2, 3]")]
fn shape_mismatch_names_the_op_and_both_shapes() {
    let tape = Tape::<f64>::new();
    let a = tape.leaf(Tensor::zeros(unstuck_autodiff::Shape::matrix(2, 3)));
    tape.matmul(a, a);
}

#[test]
#[should_panic(expected = "add: shapes [2, 3] and [2] do not broadcast")]
fn broadcast_mismatch_names_the_op() {
    let tape = Tape::<f64>::new();
    let a = tape.leaf(Tensor::zeros(unstuck_autodiff::Shape::matrix(2, 3)));
    let b = tape.leaf(Tensor::vector(vec![1.0, 2.0]));
    tape.add(a, b);
}

#[test]
#[should_panic(expected = "belongs to tape")]
fn a_var_from_another_tape_is_refused() {
    let first = Tape::<f64>::new();
    let second = Tape::<f64>::new();
    let x = first.leaf(Tensor::scalar(1.0));
    second.exp(x);
}

#[test]
fn causal_attention_with_an_infinite_fill_has_finite_derivatives() {
    let tape = Tape::<f64>::new();
    let scores =
        tape.leaf(Tensor::new((0..18).map(|i| i as f64 * 0.1).collect(), &[2, 3, 3]).unwrap());
    let masked = tape.masked_fill(scores, &Mask::causal(3), f64::NEG_INFINITY);
    let probs = tape.softmax(masked, 2);
    // Row 0 sees only key 0.
    assert_eq!(tape.value(probs).data()[..3], [1.0, 0.0, 0.0]);
    let y = tape.sum(tape.square(probs));
    let g = tape.grad_graph(y, &[scores])[0];
    let h = tape.grad(tape.sum(g), &[scores]);
    assert!(
        tape.value(g)
            .data()
            .iter()
            .chain(h[0].data())
            .all(|x| x.is_finite())
    );
    // Masked scores get nothing.
    assert_eq!(tape.value(g).data()[1], 0.0);
}

#[test]
fn dropout_is_seeded_and_scaled() {
    let tape = Tape::<f32>::new();
    let x = tape.constant(Tensor::vector(vec![1.0; 10_000]));
    let a = tape.value(tape.dropout(x, 0.25, 7));
    let b = tape.value(tape.dropout(x, 0.25, 7));
    let c = tape.value(tape.dropout(x, 0.25, 8));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let kept = a.data().iter().filter(|&&v| v != 0.0).count();
    // Binomial(10000, 0.75): standard deviation 43, so 7500 +- 200 is over four of them.
    assert!((7300..=7700).contains(&kept), "{kept} kept");
    assert!(a.data().iter().all(|&v| v == 0.0 || v == 1.0 / 0.75));
    assert_eq!(
        tape.value(tape.dropout(x, 0.0, 1)).data(),
        &[1.0; 10_000][..]
    );
    assert!(
        tape.value(tape.dropout(x, 1.0, 1))
            .data()
            .iter()
            .all(|&v| v == 0.0)
    );
}

#[test]
#[should_panic(expected = "conv2d: weight of shape [4, 2, 3, 3] does not fit 3 input channels")]
fn a_conv_with_the_wrong_channels_names_both_shapes() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::zeros(
        unstuck_autodiff::Shape::new(&[1, 3, 5, 5]).unwrap(),
    ));
    let w = tape.leaf(Tensor::zeros(
        unstuck_autodiff::Shape::new(&[4, 2, 3, 3]).unwrap(),
    ));
    tape.conv2d(x, w, None, unstuck_autodiff::Conv2dOptions::default());
}

#[test]
#[should_panic(expected = "pool2d: kernel [3, 3] with stride [1, 1] does not fit input [2, 2]")]
fn a_pooling_window_larger_than_the_image_is_refused() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::zeros(
        unstuck_autodiff::Shape::new(&[1, 1, 2, 2]).unwrap(),
    ));
    tape.max_pool2d(x, 3, 1);
}

#[test]
#[should_panic(expected = "matmul: batch dimensions of [2, 3, 4] and [3, 4, 5] differ")]
fn batched_matmul_needs_matching_batches() {
    let tape = Tape::<f64>::new();
    let a = tape.leaf(Tensor::zeros(
        unstuck_autodiff::Shape::new(&[2, 3, 4]).unwrap(),
    ));
    let b = tape.leaf(Tensor::zeros(
        unstuck_autodiff::Shape::new(&[3, 4, 5]).unwrap(),
    ));
    tape.matmul(a, b);
}

#[test]
#[should_panic(expected = "masked_fill: mask of shape [3, 3] does not broadcast to [2, 2]")]
fn a_mask_that_does_not_broadcast_is_refused() {
    let tape = Tape::<f64>::new();
    let a = tape.leaf(Tensor::zeros(unstuck_autodiff::Shape::matrix(2, 2)));
    tape.masked_fill(a, &Mask::causal(3), 0.0);
}

/// The fused ops are the compositions they replace, bit for bit: values, gradients and
/// Hessian-vector products (the report's numbers depend on it).
#[test]
fn fused_ops_keep_the_bits_of_their_compositions() {
    use unstuck_autodiff::{BiasActivation, Curvature};
    let labels = [2usize, 0, 1, 2, 1];
    let layer = |fused: bool, act: BiasActivation| {
        move |tape: &Tape<f64>, theta: unstuck_autodiff::Var| {
            let x = tape.reshape(tape.slice(theta, 0, 15), &[5, 3]);
            let b = tape.slice(theta, 15, 3);
            let h = if fused {
                tape.bias_activation(x, b, act)
            } else {
                let z = tape.add(x, b);
                match act {
                    BiasActivation::Relu => tape.relu(z),
                    BiasActivation::Tanh => tape.tanh(z),
                    BiasActivation::Sigmoid => tape.sigmoid(z),
                }
            };
            let h = tape.mul(h, h);
            if fused {
                tape.softmax_cross_entropy(h, &labels)
            } else {
                tape.neg(tape.mean(tape.pick(tape.log_softmax(h), &labels)))
            }
        }
    };
    let theta: Vec<f64> = (0..18).map(|i| ((i * 7) % 11) as f64 / 4.0 - 1.3).collect();
    let v: Vec<f64> = (0..18).map(|i| ((i * 5) % 13) as f64 / 6.0 - 1.0).collect();
    let bits = |xs: &[f64]| xs.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for act in [
        BiasActivation::Relu,
        BiasActivation::Tanh,
        BiasActivation::Sigmoid,
    ] {
        let [fused, composed] =
            [true, false].map(|f| Curvature::new(layer(f, act), &theta).unwrap());
        assert_eq!(
            fused.value().to_bits(),
            composed.value().to_bits(),
            "{act:?}"
        );
        assert_eq!(bits(fused.gradient()), bits(composed.gradient()), "{act:?}");
        let (hf, hc) = (fused.hvp(&v).unwrap(), composed.hvp(&v).unwrap());
        assert_eq!(bits(&hf), bits(&hc), "{act:?}");
    }
}

#[test]
fn a_bias_that_does_not_fit_names_both_shapes() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::matrix(vec![0.0; 6], 2, 3).unwrap());
    let b = tape.leaf(Tensor::vector(vec![0.0; 2]));
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        tape.bias_activation(x, b, unstuck_autodiff::BiasActivation::Relu)
    }))
    .unwrap_err();
    let message = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("bias_activation")
            && message.contains("[2]")
            && message.contains("[2, 3]"),
        "{message}"
    );
}

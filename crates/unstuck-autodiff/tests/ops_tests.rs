//! Every op's gradient and Hessian-vector product against central finite differences
//! (f64), on random shapes and values.
//!
//! Each case builds `f(theta) = sum(c ⊙ tanh(op(inputs carved from theta)))` with
//! position-dependent weights `c`, so that a rule that permutes, transposes or broadcasts
//! wrongly changes the answer, and the outer `tanh` makes second derivatives non-trivial
//! even for linear ops. Tolerances are PyTorch's gradcheck defaults (see `CheckOptions`).

use proptest::prelude::*;
use unstuck_autodiff::{CheckOptions, Tape, Tensor, Var, check_grad, check_hvp};

/// Wraps an op's output into the weighted scalar described above.
fn weighted_tanh_sum(tape: &Tape<f64>, y: Var) -> Var {
    let dims = tape.dims(y);
    let numel: usize = dims.iter().product();
    let weights = (0..numel)
        .map(|i| 0.5 + ((i * 7) % 5) as f64 * 0.3)
        .collect();
    let c = tape.constant(Tensor::new(weights, &dims).unwrap());
    tape.sum(tape.mul(c, tape.tanh(y)))
}

/// Carves `theta` into matrices / vectors of the given dims, in order.
fn carve(tape: &Tape<f64>, theta: Var, shapes: &[Vec<usize>]) -> Vec<Var> {
    let mut offset = 0;
    shapes
        .iter()
        .map(|dims| {
            let len: usize = dims.iter().product();
            let flat = tape.slice(theta, offset, len);
            offset += len;
            tape.reshape(flat, dims)
        })
        .collect()
}

fn check_op(
    shapes: &[Vec<usize>],
    values: &[f64],
    direction: &[f64],
    op: impl Fn(&Tape<f64>, &[Var]) -> Var,
) -> Result<(), TestCaseError> {
    let len: usize = shapes.iter().map(|d| d.iter().product::<usize>()).sum();
    let theta = &values[..len];
    let v = &direction[..len];
    let f = |tape: &Tape<f64>, theta: Var| {
        let inputs = carve(tape, theta, shapes);
        weighted_tanh_sum(tape, op(tape, &inputs))
    };
    let options = CheckOptions::default();
    let grad = check_grad(f, theta, &options).unwrap();
    prop_assert!(grad.passed(), "gradient {shapes:?}: {grad}");
    let hvp = check_hvp(f, theta, v, &options).unwrap();
    prop_assert!(hvp.passed(), "hvp {shapes:?}: {hvp}");
    Ok(())
}

/// Up to 3 x 4 matrices: big enough to tell rows from columns, small enough to be quick.
fn dims() -> impl Strategy<Value = (usize, usize)> {
    (1usize..=3, 1usize..=4)
}

fn values() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-1.5f64..1.5, 64)
}

/// The shapes an operand may take to broadcast against `[m, n]`.
fn partner(m: usize, n: usize, kind: u8) -> Vec<usize> {
    match kind % 5 {
        0 => vec![m, n],
        1 => vec![],
        2 => vec![n],
        3 => vec![1, n],
        _ => vec![m, 1],
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn add_sub_mul_div_broadcast((m, n) in dims(), kind in 0u8..5, swap: bool, x in values(), v in values()) {
        let (a, b) = (vec![m, n], partner(m, n, kind));
        let shapes = if swap { vec![b, a] } else { vec![a, b] };
        check_op(&shapes, &x, &v, |t, i| t.add(i[0], i[1]))?;
        check_op(&shapes, &x, &v, |t, i| t.sub(i[0], i[1]))?;
        check_op(&shapes, &x, &v, |t, i| t.mul(i[0], i[1]))?;
        // Keep the divisor away from zero: b -> b^2 + 0.5.
        check_op(&shapes, &x, &v, |t, i| t.div(i[0], t.shift(t.square(i[1]), 0.5)))?;
    }

    #[test]
    fn elementwise_unary((m, n) in dims(), x in values(), v in values(), p in -2.0f64..3.0) {
        let shapes = [vec![m, n]];
        check_op(&shapes, &x, &v, |t, i| t.neg(i[0]))?;
        check_op(&shapes, &x, &v, |t, i| t.scale(i[0], -1.7))?;
        check_op(&shapes, &x, &v, |t, i| t.shift(i[0], 0.3))?;
        check_op(&shapes, &x, &v, |t, i| t.exp(i[0]))?;
        check_op(&shapes, &x, &v, |t, i| t.log(t.shift(t.square(i[0]), 0.5)))?;
        check_op(&shapes, &x, &v, |t, i| t.sqrt(t.shift(t.square(i[0]), 0.5)))?;
        check_op(&shapes, &x, &v, |t, i| t.powf(t.shift(t.square(i[0]), 0.5), p))?;
        check_op(&shapes, &x, &v, |t, i| t.square(i[0]))?;
        check_op(&shapes, &x, &v, |t, i| t.tanh(i[0]))?;
        check_op(&shapes, &x, &v, |t, i| t.sigmoid(i[0]))?;
        check_op(&shapes, &x, &v, |t, i| t.gelu(i[0]))?;
    }

    #[test]
    fn piecewise_linear((m, n) in dims(), x in values(), v in values()) {
        // Random values land on a kink with probability ~0; a step of 1e-6 never crosses one
        // unless a value is within 1e-6 of zero, which we push away.
        let x: Vec<f64> = x.iter().map(|&a| if a.abs() < 1e-3 { a + 0.01 } else { a }).collect();
        let shapes = [vec![m, n]];
        check_op(&shapes, &x, &v, |t, i| t.relu(i[0]))?;
        check_op(&shapes, &x, &v, |t, i| t.leaky_relu(i[0], 0.1))?;
    }

    #[test]
    fn matmul_and_transpose((m, k) in dims(), n in 1usize..=3, ta: bool, tb: bool, x in values(), v in values()) {
        let a = if ta { vec![k, m] } else { vec![m, k] };
        let b = if tb { vec![n, k] } else { vec![k, n] };
        check_op(&[a, b], &x, &v, |t, i| t.matmul_t(i[0], i[1], ta, tb))?;
        check_op(&[vec![m, k], vec![k, n]], &x, &v, |t, i| t.matmul(i[0], i[1]))?;
        check_op(&[vec![m, k]], &x, &v, |t, i| t.transpose(i[0]))?;
        // The same matrix on both sides: the product rule must add both contributions.
        check_op(&[vec![m, m]], &x, &v, |t, i| t.matmul(i[0], i[0]))?;
    }

    #[test]
    fn reductions_and_shapes((m, n) in dims(), x in values(), v in values()) {
        let shapes = [vec![m, n]];
        check_op(&shapes, &x, &v, |t, i| t.sum(i[0]))?;
        check_op(&shapes, &x, &v, |t, i| t.mean(i[0]))?;
        for axis in 0..2 {
            check_op(&shapes, &x, &v, |t, i| t.sum_axis(i[0], axis))?;
            check_op(&shapes, &x, &v, |t, i| t.mean_axis(i[0], axis))?;
        }
        check_op(&shapes, &x, &v, |t, i| t.reshape(i[0], &[n, m]))?;
        check_op(&[vec![n]], &x, &v, |t, i| t.expand(i[0], &[m, n]))?;
        check_op(&[vec![m, 1]], &x, &v, |t, i| t.expand(i[0], &[m, n]))?;
        check_op(&[vec![]], &x, &v, |t, i| t.expand(i[0], &[m, n]))?;
        check_op(&[vec![m * n + 2]], &x, &v, |t, i| t.slice(i[0], 1, m * n))?;
        check_op(&[vec![m * n]], &x, &v, |t, i| t.pad(i[0], 2, m * n + 3))?;
    }

    #[test]
    fn softmax_family((m, n) in dims(), seed in 0usize..1000, x in values(), v in values()) {
        let classes = n + 1;
        let labels: Vec<usize> = (0..m).map(|i| (seed + 3 * i) % classes).collect();
        let shapes = [vec![m, classes]];
        check_op(&shapes, &x, &v, |t, i| t.log_softmax(i[0]))?;
        check_op(&[vec![classes]], &x, &v, |t, i| t.log_softmax(i[0]))?;
        check_op(&shapes, &x, &v, |t, i| t.softmax_cross_entropy(i[0], &labels))?;
        check_op(&shapes, &x, &v, |t, i| t.pick(i[0], &labels))?;
        check_op(&[vec![m]], &x, &v, |t, i| t.scatter(i[0], &labels, classes))?;
        check_op(&[vec![m, n], vec![m, n]], &x, &v, |t, i| t.mse(i[0], i[1]))?;
    }
}

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

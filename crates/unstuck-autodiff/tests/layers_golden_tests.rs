//! Convolutional, normalised and attention networks built from the tape's ops, against
//! PyTorch's f64 answers (`unstuck-test-support/fixtures/layers/`, copied from the golden set): loss,
//! gradient, one Hessian-vector product and the Hessian's trace.
//!
//! Tolerance: 1e-12 relative to the largest entry, as the MLP goldens: PyTorch and we sum
//! in different orders, which moves results by a few ulps, while a wrong rule or a wrong
//! layout errs at order 1.

mod common;

use common::{fixture, max_rel_diff, norm_inf};
use safetensors::SafeTensors;
use unstuck_autodiff::{Conv2dOptions, Curvature, Mask, Tape, Tensor, Var};
use unstuck_test_support::golden::{tensor_f64s as f64s, tensor_labels as labels};

const TOL: f64 = 1e-12;

/// Carves consecutive parameter tensors out of theta, in `state_dict` order.
struct Params<'t> {
    tape: &'t Tape<f64>,
    theta: Var,
    offset: usize,
}

impl Params<'_> {
    fn next(&mut self, dims: &[usize]) -> Var {
        let len: usize = dims.iter().product();
        let flat = self.tape.slice(self.theta, self.offset, len);
        self.offset += len;
        self.tape.reshape(flat, dims)
    }

    /// PyTorch's `nn.Linear(fan_in, fan_out)` applied to `x [..., fan_in]`.
    fn linear(&mut self, x: Var, fan_in: usize, fan_out: usize) -> Var {
        let w = self.next(&[fan_out, fan_in]);
        let b = self.next(&[fan_out]);
        self.tape.add(self.tape.matmul_t(x, w, false, true), b)
    }

    /// Normalises over `axes` (biased variance, eps 1e-5), then scales and shifts by the
    /// next two parameters, shaped `affine`.
    fn norm(&mut self, x: Var, axes: &[usize], affine: &[usize]) -> Var {
        let t = self.tape;
        let centred = t.sub(x, t.mean_axes(x, axes, true));
        let std = t.sqrt(t.shift(t.var_axes(x, axes, true), 1e-5));
        let (w, b) = (self.next(affine), self.next(affine));
        t.add(t.mul(t.div(centred, std), w), b)
    }
}

struct Golden {
    theta: Vec<f64>,
    v: Vec<f64>,
    y: Vec<usize>,
    loss: f64,
    gradient: Vec<f64>,
    hvp: Vec<f64>,
    eigenvalues: Vec<f64>,
    bytes: Vec<u8>,
}

fn golden(name: &str) -> Golden {
    let bytes = fixture(&format!("layers/{name}.safetensors"));
    let st = SafeTensors::deserialize(&bytes).unwrap();
    Golden {
        theta: f64s(&st, "theta"),
        v: f64s(&st, "v"),
        y: labels(&st, "y"),
        loss: f64s(&st, "loss")[0],
        gradient: f64s(&st, "gradient"),
        hvp: f64s(&st, "hvp"),
        eigenvalues: f64s(&st, "eigenvalues"),
        bytes: bytes.clone(),
    }
}

fn input(g: &Golden, dims: &[usize]) -> Tensor<f64> {
    let st = SafeTensors::deserialize(&g.bytes).unwrap();
    Tensor::new(f64s(&st, "x"), dims).unwrap()
}

fn check(name: &str, g: &Golden, f: impl Fn(&Tape<f64>, Var) -> Var) {
    let curvature = Curvature::new(&f, &g.theta).unwrap();
    assert!(
        (curvature.value() - g.loss).abs() <= TOL * g.loss,
        "{name}: loss {} vs {}",
        curvature.value(),
        g.loss
    );
    let err = max_rel_diff(curvature.gradient(), &g.gradient, norm_inf(&g.gradient));
    assert!(err <= TOL, "{name}: gradient error {err:e}");
    let hv = curvature.hvp(&g.v).unwrap();
    let err = max_rel_diff(&hv, &g.hvp, norm_inf(&g.hvp));
    assert!(err <= TOL, "{name}: hvp error {err:e}");
    // The trace of the Hessian (every diagonal entry, through P products) is the sum of
    // PyTorch's eigenvalues.
    let p = g.theta.len();
    let mut identity = vec![0.0; p * p];
    for i in 0..p {
        identity[i * p + i] = 1.0;
    }
    let hessian = curvature.hvp_block(&identity, p).unwrap();
    let trace: f64 = (0..p).map(|i| hessian[i * p + i]).sum();
    let want: f64 = g.eigenvalues.iter().sum();
    let scale = norm_inf(&g.eigenvalues);
    assert!(
        (trace - want).abs() <= 1e-11 * scale,
        "{name}: trace {trace} vs {want}"
    );
}

#[test]
fn cnn_digits_matches_pytorch() {
    // conv(1->4, k3, pad 1) tanh maxpool(2) conv(4->6, k3) tanh avgpool(2) flatten linear(6->10)
    let g = golden("cnn_digits");
    let x = input(&g, &[16, 1, 8, 8]);
    check("cnn_digits", &g, |t, theta| {
        let mut p = Params {
            tape: t,
            theta,
            offset: 0,
        };
        let x = t.constant(x.clone());
        let (w1, b1) = (p.next(&[4, 1, 3, 3]), p.next(&[4]));
        let h = t.max_pool2d(
            t.tanh(t.conv2d(x, w1, Some(b1), Conv2dOptions::new(1, 1))),
            2,
            2,
        );
        let (w2, b2) = (p.next(&[6, 4, 3, 3]), p.next(&[6]));
        let h = t.avg_pool2d(
            t.tanh(t.conv2d(h, w2, Some(b2), Conv2dOptions::default())),
            2,
            2,
        );
        let logits = p.linear(t.reshape(h, &[16, 6]), 6, 10);
        t.softmax_cross_entropy(logits, &g.y)
    });
}

#[test]
fn cnn_stride_matches_pytorch() {
    // conv(2->3, k3, stride 2, pad 1) sigmoid conv(3->2, k3, no bias) flatten linear(8->3)
    let g = golden("cnn_stride");
    let x = input(&g, &[6, 2, 7, 7]);
    check("cnn_stride", &g, |t, theta| {
        let mut p = Params {
            tape: t,
            theta,
            offset: 0,
        };
        let x = t.constant(x.clone());
        let (w1, b1) = (p.next(&[3, 2, 3, 3]), p.next(&[3]));
        let h = t.sigmoid(t.conv2d(x, w1, Some(b1), Conv2dOptions::new(2, 1)));
        let w2 = p.next(&[2, 3, 3, 3]);
        let h = t.conv2d(h, w2, None, Conv2dOptions::default());
        let logits = p.linear(t.reshape(h, &[6, 8]), 8, 3);
        t.softmax_cross_entropy(logits, &g.y)
    });
}

#[test]
fn norm_net_matches_pytorch() {
    // linear(16->12) batchnorm1d(12, training) tanh linear(12->8) layernorm(8) gelu(tanh) linear(8->4)
    let g = golden("norm_net");
    let x = input(&g, &[32, 16]);
    check("norm_net", &g, |t, theta| {
        let mut p = Params {
            tape: t,
            theta,
            offset: 0,
        };
        let x = t.constant(x.clone());
        let h = p.linear(x, 16, 12);
        let h = t.tanh(p.norm(h, &[0], &[12]));
        let h = p.linear(h, 12, 8);
        let h = t.gelu(p.norm(h, &[1], &[8]));
        let logits = p.linear(h, 8, 4);
        t.softmax_cross_entropy(logits, &g.y)
    });
}

#[test]
fn tiny_attention_matches_pytorch() {
    // token + position embeddings, causal single-head attention, residual, layer norm,
    // mean over positions, linear head.
    let g = golden("tiny_attention");
    let st = SafeTensors::deserialize(&g.bytes).unwrap();
    let ids = labels(&st, "x");
    let (batch, len, width) = (8, 5, 8);
    check("tiny_attention", &g, |t, theta| {
        let mut p = Params {
            tape: t,
            theta,
            offset: 0,
        };
        let tokens = p.next(&[11, width]);
        let positions = p.next(&[len, width]);
        let h = t.add(t.embedding(tokens, &ids, &[batch, len]), positions);
        let q = p.linear(h, width, width);
        let k = p.linear(h, width, width);
        let v = p.linear(h, width, width);
        let scores = t.scale(t.matmul_t(q, k, false, true), 1.0 / (width as f64).sqrt());
        let scores = t.masked_fill(scores, &Mask::causal(len), f64::NEG_INFINITY);
        let attended = t.matmul(t.softmax(scores, 2), v);
        let out = p.linear(attended, width, width);
        let h = p.norm(t.add(h, out), &[2], &[width]);
        let logits = p.linear(t.mean_axis(h, 1), width, 3);
        t.softmax_cross_entropy(logits, &g.y)
    });
}

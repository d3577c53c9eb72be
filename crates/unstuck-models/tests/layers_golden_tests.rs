//! The four golden networks of `unstuck-test-support/fixtures/layers/` built from the
//! crate's layers, loaded by `state_dict` name, against PyTorch's f64 answers: loss,
//! gradient, one Hessian-vector product, every Hessian eigenvalue, and for `norm_net` the
//! running statistics and the eval-mode logits.
//!
//! The eigenvalues of `norm_net` and `tiny_attention` are checked against
//! `tests/fixtures/reverse_eigenvalues.safetensors` (PyTorch's reverse-over-reverse
//! Hessian; the script beside it says how and why): the golden files' eigenvalues of those
//! two come from `torch.func.hessian`, whose forward-over-reverse Hessian is not symmetric
//! there and misses central differences of the gradient by 0.06, while ours and PyTorch's
//! reverse-over-reverse one agree with the differences to 2e-9.
//!
//! Tolerance: 1e-10 relative (to the largest entry of each answer; eigenvalues to the
//! largest in magnitude), as the issue asks. PyTorch and we sum in different orders, which
//! moves results by a few ulps (the engine's test of the same networks from raw ops holds
//! at 1e-12); a wrong layer, layout or name errs at order 1 and fails.

use safetensors::SafeTensors;
use safetensors::tensor::TensorView;
use unstuck_autodiff::{Tape, Tensor};
use unstuck_models::{
    Activation, Architecture, AvgPool2d, BatchNorm, CausalSelfAttention, Conv2d, Embedding,
    Flatten, LayerNorm, Linear, Loss, MaxPool2d, Model, Objective, Pass, PositionEmbedding,
    Residual, Sequential, Targets, TokenMean, weights_from_bytes,
};
use unstuck_test_support::golden::{
    fixture, max_rel_diff, norm_inf, tensor_f64s as f64s, tensor_labels as labels,
};

const TOL: f64 = 1e-10;

struct Golden {
    bytes: Vec<u8>,
}

impl Golden {
    fn load(name: &str) -> Self {
        Golden {
            bytes: fixture(&format!("layers/{name}.safetensors")),
        }
    }

    fn st(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).unwrap()
    }

    fn f64s(&self, name: &str) -> Vec<f64> {
        f64s(&self.st(), name)
    }

    fn labels(&self, name: &str) -> Vec<usize> {
        labels(&self.st(), name)
    }

    fn input(&self, dims: &[usize]) -> Tensor<f64> {
        Tensor::new(self.f64s("x"), dims).unwrap()
    }

    /// Theta read through the weights loader from the `param.<state_dict name>` tensors,
    /// renamed to their `state_dict` names: the layout must name and shape every one as
    /// PyTorch does.
    fn theta(&self, model: &dyn Model<f64>) -> Vec<f64> {
        let st = self.st();
        let views: Vec<(String, TensorView<'_>)> = st
            .names()
            .into_iter()
            .filter_map(|name| {
                let stripped = name.strip_prefix("param.")?;
                Some((stripped.to_string(), st.tensor(name).unwrap()))
            })
            .collect();
        let bytes = safetensors::serialize(views, None).unwrap();
        let theta: Vec<f64> = weights_from_bytes(model, &bytes).unwrap();
        assert_eq!(theta, self.f64s("theta"), "theta in state_dict order");
        theta
    }
}

fn check_close(name: &str, what: &str, got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "{name}: {what} length");
    let err = max_rel_diff(got, want, norm_inf(want));
    assert!(err <= TOL, "{name}: {what} error {err:e}");
    err
}

/// PyTorch's reverse-over-reverse eigenvalues of `name` (see the module docs).
fn reverse_eigenvalues(name: &str) -> Vec<f64> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/reverse_eigenvalues.safetensors"
    );
    let bytes = std::fs::read(path).unwrap();
    f64s(&SafeTensors::deserialize(&bytes).unwrap(), name)
}

/// Loss, gradient, H v and the spectrum of `model` on the golden batch.
fn check(name: &str, g: &Golden, model: &dyn Model<f64>, x: Tensor<f64>) {
    check_with_spectrum(name, g, model, x, g.f64s("eigenvalues"));
}

fn check_with_spectrum(
    name: &str,
    g: &Golden,
    model: &dyn Model<f64>,
    x: Tensor<f64>,
    mut want: Vec<f64>,
) {
    let theta = g.theta(model);
    let targets = Targets::Classes {
        labels: g.labels("y"),
        n_classes: model.output_width(),
    };
    let objective = Objective::new(model, x, targets, Loss::CrossEntropy).unwrap();
    let curvature = objective.curvature(&theta).unwrap();
    let loss = g.f64s("loss")[0];
    let loss_err = check_close(name, "loss", &[curvature.value()], &[loss]);
    let gradient_err = check_close(name, "gradient", curvature.gradient(), &g.f64s("gradient"));
    let hv = curvature.hvp(&g.f64s("v")).unwrap();
    let hvp_err = check_close(name, "hvp", &hv, &g.f64s("hvp"));
    let p = theta.len();
    let mut identity = vec![0.0; p * p];
    for i in 0..p {
        identity[i * p + i] = 1.0;
    }
    let hessian = curvature.hvp_block(&identity, p).unwrap();
    // Symmetrised: the products are exact to rounding, so this moves entries by ulps.
    let matrix = faer::Mat::from_fn(p, p, |i, j| 0.5 * (hessian[i * p + j] + hessian[j * p + i]));
    let mut eigenvalues = matrix.self_adjoint_eigenvalues(faer::Side::Lower).unwrap();
    eigenvalues.sort_by(f64::total_cmp);
    want.sort_by(f64::total_cmp);
    let err = check_close(name, "eigenvalues", &eigenvalues, &want);
    eprintln!(
        "{name}: relative errors: loss {loss_err:.1e}, gradient {gradient_err:.1e}, \
         hvp {hvp_err:.1e}, eigenvalues {err:.1e} (of the largest)"
    );
}

fn cnn_digits() -> Sequential {
    Sequential::builder(&[1, 8, 8])
        .push_named("conv1", Conv2d::new(1, 4, 3).unwrap().padding(1))
        .push(Activation::Tanh)
        .push(MaxPool2d::new(2).unwrap())
        .push_named("conv2", Conv2d::new(4, 6, 3).unwrap())
        .push(Activation::Tanh)
        .push(AvgPool2d::new(2).unwrap())
        .push(Flatten)
        .push_named("fc", Linear::new(6, 10))
        .build()
        .unwrap()
}

#[test]
fn cnn_digits_matches_pytorch() {
    let g = Golden::load("cnn_digits");
    check("cnn_digits", &g, &cnn_digits(), g.input(&[16, 1, 8, 8]));
}

#[test]
fn cnn_digits_takes_flattened_images() {
    let g = Golden::load("cnn_digits");
    check("cnn_digits (flat)", &g, &cnn_digits(), g.input(&[16, 64]));
}

#[test]
fn cnn_stride_matches_pytorch() {
    let g = Golden::load("cnn_stride");
    let net = Sequential::builder(&[2, 7, 7])
        .push_named("conv1", Conv2d::new(2, 3, 3).unwrap().stride(2).padding(1))
        .push(Activation::Sigmoid)
        .push_named("conv2", Conv2d::new(3, 2, 3).unwrap().bias(false))
        .push(Flatten)
        .push_named("fc", Linear::new(8, 3))
        .build()
        .unwrap();
    check("cnn_stride", &g, &net, g.input(&[6, 2, 7, 7]));
}

fn norm_net() -> Sequential {
    Sequential::builder(&[16])
        .push_named("fc1", Linear::new(16, 12))
        .push_named("bn", BatchNorm::new_1d(12).unwrap())
        .push(Activation::Tanh)
        .push_named("fc2", Linear::new(12, 8))
        .push_named("ln", LayerNorm::new(8).unwrap())
        .push(Activation::Gelu)
        .push_named("fc3", Linear::new(8, 4))
        .build()
        .unwrap()
}

#[test]
fn norm_net_matches_pytorch() {
    let g = Golden::load("norm_net");
    let spectrum = reverse_eigenvalues("norm_net");
    check_with_spectrum("norm_net", &g, &norm_net(), g.input(&[32, 16]), spectrum);
}

#[test]
fn norm_net_running_statistics_and_eval_logits_match_pytorch() {
    let g = Golden::load("norm_net");
    let net = norm_net();
    let names: Vec<&str> = net
        .buffer_layout()
        .iter()
        .map(|b| b.name.as_str())
        .collect();
    assert_eq!(names, ["bn.running_mean", "bn.running_var"]);
    let theta = g.theta(&net);
    let tape = Tape::<f64>::new();
    let theta_var = tape.constant(Tensor::vector(theta.clone()));
    let x = tape.constant(g.input(&[32, 16]));
    let initial = net.initial_buffers();
    let mut pass = Pass::train_tracking(0, &initial);
    net.forward_pass(&tape, theta_var, x, &mut pass);
    let buffers = pass.updated_buffers(&tape);
    check_close(
        "norm_net",
        "running_mean",
        &buffers[..12],
        &g.f64s("bn.running_mean"),
    );
    check_close(
        "norm_net",
        "running_var",
        &buffers[12..],
        &g.f64s("bn.running_var"),
    );
    let tape = Tape::<f64>::new();
    let theta_var = tape.constant(Tensor::vector(theta));
    let x = tape.constant(g.input(&[32, 16]));
    let logits = net.forward_pass(&tape, theta_var, x, &mut Pass::eval(&buffers));
    let logits = tape.value(logits);
    check_close(
        "norm_net",
        "eval logits",
        logits.data(),
        &g.f64s("eval_logits"),
    );
}

#[test]
fn tiny_attention_matches_pytorch() {
    let g = Golden::load("tiny_attention");
    let net = Sequential::builder(&[5])
        .push_named("tok", Embedding::new(11, 8).unwrap())
        .push_named("pos", PositionEmbedding::new(5, 8).unwrap())
        .push_named(
            "",
            Residual::new().push_named("", CausalSelfAttention::new(8, 1).unwrap()),
        )
        .push_named("ln", LayerNorm::new(8).unwrap())
        .push(TokenMean)
        .push_named("head", Linear::new(8, 3))
        .build()
        .unwrap();
    let ids: Vec<f64> = g.labels("x").into_iter().map(|id| id as f64).collect();
    let x = Tensor::new(ids, &[8, 5]).unwrap();
    check_with_spectrum(
        "tiny_attention",
        &g,
        &net,
        x,
        reverse_eigenvalues("tiny_attention"),
    );
}

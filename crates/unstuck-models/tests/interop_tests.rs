//! Weights, logits, loss and gradient against PyTorch, and files PyTorch can read.
//!
//! Fixtures (copied from the project's golden folder): PyTorch's 8-16-16-3 tanh MLP in
//! f64 and f32, a batch of 32, and PyTorch's logits, mean cross-entropy and gradient.

mod common;

use common::{expected, fixture, fixture_path, golden_batch, golden_mlp, max_diff, norm_inf};
use safetensors::SafeTensors;
use unstuck_autodiff::Tensor;
use unstuck_models::{
    Architecture, Loss, Objective, Targets, load_weights, logits, save_weights, weights_from_bytes,
    weights_to_bytes,
};

/// f64: PyTorch and we sum in different orders (BLAS blocking, reductions), so results
/// agree to a few ulps of the largest entry. 1e-12 relative (to the inf-norm) leaves
/// three orders of margin over the ~4e-16 observed and still catches any wrong formula,
/// layout or transpose, which errs at order 1.
const TOL_F64: f64 = 1e-12;

/// f32: the f32 file holds exactly the f64 weights rounded to f32 (checked below), and we
/// compute in f32. Each weight and input then carries a relative error up to
/// u = 2^-24 ~ 6e-8, and every multiply-add another u. Along the longest path (three
/// layers, dot products of at most 16 terms, |x| <= 2.9, |w| <= 0.35, tanh and
/// log-softmax with derivatives bounded by 1) a first-order bound is a few hundred u
/// relative to the inf-norm, about 2e-5; the observed error is ~1.3e-7 (about 2u). The test uses
/// 2e-5, which still fails for a wrong formula (order 1) or for f64 weights misread.
const TOL_F32: f64 = 2e-5;

/// The golden labels, one class per output of the model.
fn labels<T>(mlp: &unstuck_models::Mlp, labels: Vec<usize>) -> Targets<T> {
    Targets::Classes {
        labels,
        n_classes: mlp.output_width(),
    }
}

#[test]
fn layout_matches_pytorch_state_dict_order() {
    let names: Vec<String> = golden_mlp()
        .layout()
        .iter()
        .map(|s| s.name.clone())
        .collect();
    assert_eq!(names, expected().parameter_order);
}

#[test]
fn f64_weights_reproduce_pytorch_logits_loss_and_gradient() {
    let mlp = golden_mlp();
    let want = expected();
    let theta: Vec<f64> = load_weights(&mlp, fixture_path("mlp_interop.safetensors")).unwrap();
    let (x, y) = golden_batch();

    let z = logits(&mlp, &theta, &x).unwrap();
    let first_row = &z.data()[..3];
    let err = max_diff(
        first_row,
        &want.logits_first_row,
        norm_inf(&want.logits_first_row),
    );
    assert!(err <= TOL_F64, "logits: relative error {err:e}");

    let objective = Objective::new(&mlp, x, labels(&mlp, y), Loss::CrossEntropy).unwrap();
    let (loss, gradient) = objective.gradient(&theta).unwrap();
    assert!(
        (loss - want.loss).abs() <= TOL_F64 * want.loss,
        "loss {loss} vs {}",
        want.loss
    );
    let err = max_diff(&gradient, &want.gradient, norm_inf(&want.gradient));
    assert!(err <= TOL_F64, "gradient: relative error {err:e}");
}

#[test]
fn f32_weights_reproduce_pytorch_within_f32_round_off() {
    let mlp = golden_mlp();
    let want = expected();
    let theta64: Vec<f64> = load_weights(&mlp, fixture_path("mlp_interop.safetensors")).unwrap();
    let theta: Vec<f32> = load_weights(&mlp, fixture_path("mlp_interop_f32.safetensors")).unwrap();
    // The premise of the tolerance: the f32 file is the f64 model rounded to nearest.
    for (i, (&w32, &w64)) in theta.iter().zip(&theta64).enumerate() {
        assert_eq!(w32.to_bits(), (w64 as f32).to_bits(), "parameter {i}");
    }

    let (x, y) = golden_batch();
    let x: Vec<f32> = x.data().iter().map(|&v| v as f32).collect();
    let x = Tensor::matrix(x, 32, 8).unwrap();
    let z = logits(&mlp, &theta, &x).unwrap();
    let first_row: Vec<f64> = z.data()[..3].iter().map(|&v| f64::from(v)).collect();
    let err = max_diff(
        &first_row,
        &want.logits_first_row,
        norm_inf(&want.logits_first_row),
    );
    assert!(err <= TOL_F32, "logits: relative error {err:e}");

    let objective = Objective::new(&mlp, x, labels(&mlp, y), Loss::CrossEntropy).unwrap();
    let (loss, gradient) = objective.gradient(&theta).unwrap();
    let loss_err = (f64::from(loss) - want.loss).abs() / want.loss;
    assert!(loss_err <= TOL_F32, "loss: relative error {loss_err:e}");
    let gradient: Vec<f64> = gradient.into_iter().map(f64::from).collect();
    let err = max_diff(&gradient, &want.gradient, norm_inf(&want.gradient));
    assert!(err <= TOL_F32, "gradient: relative error {err:e}");
}

#[test]
fn save_then_load_returns_identical_bits_in_f64_and_f32() {
    let mlp = golden_mlp();
    let dir = tempfile::tempdir().unwrap();
    let theta: Vec<f64> = load_weights(&mlp, fixture_path("mlp_interop.safetensors")).unwrap();
    let path = dir.path().join("golden64.safetensors");
    save_weights(&mlp, &theta, &path).unwrap();
    let back: Vec<f64> = load_weights(&mlp, &path).unwrap();
    assert!(
        theta
            .iter()
            .zip(&back)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );

    // Values that a lossy path would change: signed zero, subnormals, extremes, NaN.
    let mut special: Vec<f32> = (0..mlp.n_params())
        .map(|i| i as f32 * 0.37 - 80.0)
        .collect();
    let edge = [
        -0.0,
        f32::MIN_POSITIVE / 3.0,
        f32::MAX,
        f32::MIN,
        f32::INFINITY,
        f32::NAN,
        f32::EPSILON,
    ];
    special[..edge.len()].copy_from_slice(&edge);
    let path = dir.path().join("special32.safetensors");
    save_weights(&mlp, &special, &path).unwrap();
    let back: Vec<f32> = load_weights(&mlp, &path).unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&back), bits(&special));
}

#[test]
fn a_file_we_write_has_pytorchs_names_shapes_dtype_order_and_bytes() {
    let mlp = golden_mlp();
    let golden_bytes = fixture("mlp_interop.safetensors");
    let theta: Vec<f64> = weights_from_bytes(&mlp, &golden_bytes).unwrap();
    let ours_bytes = weights_to_bytes(&mlp, &theta).unwrap();

    let golden = SafeTensors::deserialize(&golden_bytes).unwrap();
    let ours = SafeTensors::deserialize(&ours_bytes).unwrap();
    // Order on disk: the order of the data offsets.
    let (_, golden_meta) = SafeTensors::read_metadata(&golden_bytes).unwrap();
    let (_, ours_meta) = SafeTensors::read_metadata(&ours_bytes).unwrap();
    assert_eq!(ours_meta.offset_keys(), golden_meta.offset_keys());
    let mut names = ours.names();
    names.sort_unstable();
    let mut golden_names = golden.names();
    golden_names.sort_unstable();
    assert_eq!(names, golden_names);
    for name in golden_names {
        let (a, b) = (ours.tensor(name).unwrap(), golden.tensor(name).unwrap());
        assert_eq!(a.dtype(), b.dtype(), "{name}");
        assert_eq!(a.shape(), b.shape(), "{name}");
        assert_eq!(a.data(), b.data(), "{name}");
    }
    assert_eq!(
        ours_meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("format"))
            .map(String::as_str),
        Some("pt")
    );
    // Saving is deterministic: the same theta gives the same bytes.
    assert_eq!(weights_to_bytes(&mlp, &theta).unwrap(), ours_bytes);
}

#[test]
fn the_pytorch_f32_file_has_the_layout_we_write_in_f32() {
    let mlp = golden_mlp();
    let golden_bytes = fixture("mlp_interop_f32.safetensors");
    let theta: Vec<f32> = weights_from_bytes(&mlp, &golden_bytes).unwrap();
    let ours = weights_to_bytes(&mlp, &theta).unwrap();
    let (header_len, golden_meta) = SafeTensors::read_metadata(&golden_bytes).unwrap();
    let (ours_len, ours_meta) = SafeTensors::read_metadata(&ours).unwrap();
    assert_eq!(ours_meta.offset_keys(), golden_meta.offset_keys());
    // The data sections (after the 8-byte length and the header) are byte-identical.
    assert_eq!(&ours[8 + ours_len..], &golden_bytes[8 + header_len..]);
}

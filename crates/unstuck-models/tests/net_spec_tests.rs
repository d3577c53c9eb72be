//! Network specs: the golden networks in one line each (same names, shapes and numbers as
//! the hand-built ones), shape errors that name the layer, its position and both shapes,
//! and spec errors with the byte position.

use unstuck_autodiff::Tensor;
use unstuck_models::{
    AnyModel, Loss, Model, ModelError, ModelRegistry, Objective, ParamSpec, Targets,
};
use unstuck_test_support::golden::{fixture, tensor_f64s, tensor_labels};

const CNN_DIGITS: &str = "1x8x8/conv1=conv(4,k=3,pad=1)-tanh-maxpool(2)-conv2=conv(6,k=3)-tanh-avgpool(2)-flatten-fc=linear(10)";
const CNN_STRIDE: &str = "2x7x7/conv1=conv(3,k=3,stride=2,pad=1)-sigmoid-conv2=conv(2,k=3,bias=false)-flatten-fc=linear(3)";
const NORM_NET: &str =
    "16/fc1=linear(12)-bn=batchnorm-tanh-fc2=linear(8)-ln=layernorm-gelu-fc3=linear(4)";
const TINY_ATTENTION: &str = "5/tok=embedding(11,8)-pos=posembed-_=residual(_=attention(1))-ln=layernorm-tokenmean-head=linear(3)";

fn build(text: &str) -> Box<dyn AnyModel> {
    ModelRegistry::builtin()
        .build(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn layout_of(model: &dyn AnyModel) -> Vec<(String, Vec<usize>)> {
    model
        .layout()
        .iter()
        .map(|ParamSpec { name, shape, .. }| (name.clone(), shape.clone()))
        .collect()
}

/// The layout and the loss at PyTorch's theta: a spec that builds the wrong network fails
/// one or the other at order 1 (the full golden comparison is `layers_golden_tests.rs`).
fn check_golden(name: &str, text: &str, input_dims: &[usize]) {
    let bytes = fixture(&format!("layers/{name}.safetensors"));
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let model = build(text);
    let mut want: Vec<(String, Vec<usize>)> = Vec::new();
    for spec in model.layout() {
        let view = st.tensor(&format!("param.{}", spec.name)).unwrap();
        want.push((spec.name.clone(), view.shape().to_vec()));
    }
    assert_eq!(layout_of(model.as_ref()), want, "{name}");
    let theta = tensor_f64s(&st, "theta");
    assert_eq!(model.n_params(), theta.len(), "{name}");
    let x = match st.tensor("x").unwrap().dtype() {
        safetensors::Dtype::I64 => tensor_labels(&st, "x")
            .into_iter()
            .map(|id| id as f64)
            .collect(),
        _ => tensor_f64s(&st, "x"),
    };
    let x = Tensor::new(x, input_dims).unwrap();
    let targets = Targets::Classes {
        labels: tensor_labels(&st, "y"),
        n_classes: model.output_width(),
    };
    let model: &dyn Model<f64> = model.as_ref();
    let objective = Objective::new(model, x, targets, Loss::CrossEntropy).unwrap();
    let loss = objective.evaluate(&theta).unwrap().loss;
    let want = tensor_f64s(&st, "loss")[0];
    assert!(
        (loss - want).abs() <= 1e-10 * want,
        "{name}: {loss} vs {want}"
    );
}

#[test]
fn the_golden_networks_in_one_line_each() {
    check_golden("cnn_digits", CNN_DIGITS, &[16, 1, 8, 8]);
    check_golden("cnn_stride", CNN_STRIDE, &[6, 2, 7, 7]);
    check_golden("norm_net", NORM_NET, &[32, 16]);
    check_golden("tiny_attention", TINY_ATTENTION, &[8, 5]);
}

#[test]
fn unnamed_layers_are_named_by_position_as_in_nn_sequential() {
    let model = build("1x8x8/conv(4,k=3,pad=1)-tanh-maxpool(2)-flatten-linear(10)");
    let names: Vec<&str> = model.layout().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["0.weight", "0.bias", "4.weight", "4.bias"]);
    assert_eq!(model.input_dims(), vec![1, 8, 8]);
    assert_eq!(model.input_width(), 64);
}

fn check_shape_error(text: &str, position: usize, layer: &str, got: &[usize], expected: &str) {
    match ModelRegistry::builtin().build(text) {
        Err(ModelError::LayerShape {
            position: p,
            layer: l,
            got: g,
            expected: e,
        }) => {
            assert_eq!(
                (p, l.as_str(), g.as_slice()),
                (position, layer, got),
                "{text}"
            );
            assert!(e.contains(expected), "{text}: {e}");
        }
        Err(other) => panic!("{text}: {other}"),
        Ok(_) => panic!("{text}: built"),
    }
}

#[test]
fn shapes_that_do_not_fit_name_the_layer_its_position_and_both_shapes() {
    // A convolution that shrinks the image below its kernel.
    check_shape_error(
        "1x8x8/conv(4,k=5)-conv(4,k=5)",
        1,
        "conv",
        &[4, 4, 4],
        "H, W + 2 * 0 >= 5",
    );
    // A linear layer whose input width does not match the flattened size.
    check_shape_error(
        "1x8x8/conv(4,k=3)-flatten-linear(10,in=64)",
        2,
        "linear",
        &[144],
        "[..., 64]",
    );
    // A convolution on vectors.
    check_shape_error("16/conv(4)", 0, "conv", &[16], "[C, H, W]");
    // Pooling a 1x1 map.
    check_shape_error(
        "1x2x2/maxpool(2)-maxpool(2)",
        1,
        "maxpool",
        &[1, 1, 1],
        ">= 2",
    );
    let err = ModelRegistry::builtin()
        .build("1x8x8/conv(4,k=3)")
        .unwrap_err();
    assert!(matches!(err, ModelError::OutputDims { .. }), "{err}");
}

fn check_spec_error(text: &str, position: usize, message: &str) {
    match ModelRegistry::builtin().build(text) {
        Err(ModelError::Spec(error)) => {
            assert_eq!(error.position(), Some(position), "{text}: {error}");
            let shown = error.to_string();
            assert!(shown.contains(message), "{text}: {shown}");
            assert!(shown.contains(&format!("{text:?}")), "{text}: {shown}");
        }
        Err(other) => panic!("{text}: {other}"),
        Ok(_) => panic!("{text}: built"),
    }
}

#[test]
fn spec_errors_point_at_the_byte() {
    check_spec_error("1x8x8/conv(4,k=3)-tahn", 18, "unknown layer `tahn`");
    check_spec_error("1x8x8/conv(4,q=3)", 13, "has no key `q`");
    check_spec_error("1x8x8/conv(4,k=x3)-flatten", 15, "needs a whole number");
    check_spec_error("1x0x8/flatten", 2, "a positive size");
    check_spec_error("1x8x8/conv(4-flatten", 20, "`)`");
    check_spec_error("8/fc=linear(2))", 14, "a layer");
    check_spec_error("8/f c=linear(2)", 2, "a layer name");
    check_spec_error("8/linear(0)", 9, "a positive whole number");
    check_spec_error(
        "8/dropout(1.5)-linear(2)",
        2,
        "probability must be in [0, 1)",
    );
}

#[test]
fn arbitrary_specs_never_panic() {
    let registry = ModelRegistry::builtin();
    let pieces = [
        "1x8x8/",
        "4/",
        "conv(",
        "k=3",
        ")",
        "-",
        "linear(2)",
        "residual(",
        "=",
        "é",
        "(",
        "tanh",
        ",",
        "x",
    ];
    // Every string of up to four pieces: a deterministic, exhaustive fuzz of the splitter.
    let mut stack: Vec<(String, usize)> = vec![(String::new(), 0)];
    while let Some((text, n_pieces)) = stack.pop() {
        let _ = registry.build(&text);
        if n_pieces < 4 {
            stack.extend(
                pieces
                    .iter()
                    .map(|piece| (format!("{text}{piece}"), n_pieces + 1)),
            );
        }
    }
}

fn check_training_batch_error(
    text: &str,
    batch: usize,
    position: usize,
    layer: &str,
    input: &[usize],
) {
    match build(text).check_training_batch(batch) {
        Err(ModelError::TrainingBatch {
            position: p,
            layer: l,
            input: i,
            batch: b,
            needed,
        }) => {
            assert_eq!(
                (p, l.as_str(), i.as_slice(), b, needed),
                (position, layer, input, batch, 2),
                "{text}"
            );
        }
        other => panic!("{text}: {other:?}"),
    }
}

#[test]
fn batch_norm_refuses_a_training_batch_with_one_value_per_channel() {
    // PyTorch: "Expected more than 1 value per channel when training".
    let vectors = "2/linear(8)-bn=batchnorm-tanh-linear(3)";
    check_training_batch_error(vectors, 1, 1, "bn (batchnorm1d)", &[8]);
    assert!(build(vectors).check_training_batch(2).is_ok());
    // A 1x1 feature map is one value per channel too; a 2x2 one is four.
    let one_pixel = "1x2x2/conv(3,k=2)-batchnorm-flatten-linear(2)";
    check_training_batch_error(one_pixel, 1, 1, "batchnorm2d", &[3, 1, 1]);
    assert!(
        build("1x2x2/conv(3,k=1)-batchnorm-flatten-linear(2)")
            .check_training_batch(1)
            .is_ok()
    );
    // Inside a residual block, the block is named.
    let nested = "4/residual(linear(4)-batchnorm)-linear(2)";
    check_training_batch_error(nested, 1, 0, "residual", &[4]);
    // Without batch norm any batch trains, and the message says what to do.
    assert!(
        build("2/linear(8)-tanh-linear(3)")
            .check_training_batch(1)
            .is_ok()
    );
    let message = build(vectors)
        .check_training_batch(1)
        .unwrap_err()
        .to_string();
    assert!(message.contains("use a larger batch"), "{message}");
}

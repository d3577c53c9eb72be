//! Per-example gradients of the parameters outside a product: layer norm's scale and
//! shift, embeddings and position embeddings, and weights used by more than one op
//! (tied weights), each against single-example backward passes, and the wrong rules
//! that would come within reach of the right one caught.

mod per_sample_check;

use per_sample_check::{check_close, check_model, check_per_sample, labels, objective};
use unstuck::autodiff::{Tape, Var};
use unstuck::instruments::{PerSampleGradients, per_sample_gradients};
use unstuck::models::{Architecture, Model, ParamSpec};

/// Checked by breaking the rule by hand: squaring each token's share of the scale's
/// gradient apart (Σ_i Σ_t (ĝ_it x̂_it)² for Σ_i (Σ_t ĝ_it x̂_it)²) fails on the
/// sequence's `1.weight` (0.00289 against 0.00258).
#[test]
fn layer_norms_scale_and_shift_match_single_example_backward_passes() {
    check_per_sample("4/linear(6)-layernorm-tanh-linear(3)", 5);
    // On a sequence: the scale and shift are shared by every token of every example.
    check_per_sample("4x3/linear(6)-layernorm-tanh-tokenmean-linear(3)", 5);
}

/// Token ids in `0..vocabulary`, with repeats inside each example: an example's rows
/// for the same id must be added before they are squared. Checked by breaking the rule
/// by hand: squaring each lookup apart fails on `0.weight` (0.0059 against 0.0105).
fn token_ids(rows: usize, len: usize, vocabulary: usize) -> Vec<f64> {
    (0..rows * len)
        .map(|k| ((k * 5 + k / len) % vocabulary) as f64)
        .collect()
}

#[test]
fn embeddings_and_position_embeddings_match_single_example_backward_passes() {
    let registry = unstuck::models::ModelRegistry::builtin();
    for spec in [
        "6/embedding(4,5)-tokenmean-linear(3)",
        // A position table longer than the sequence: its last rows get no gradient.
        "4/embedding(7,6)-posembed(max_len=6)-residual(attention(2)-gelu)-layernorm-tokenmean-linear(3)",
    ] {
        let model = registry.build(spec).unwrap();
        let model: &dyn Model<f64> = model.as_ref();
        let vocabulary = model.token_vocabulary().unwrap();
        let x = token_ids(5, model.input_width(), vocabulary);
        check_model(model, &model.init(3), &x, spec);
    }
}

/// `logits = tanh(x Wᵀ + b) W + c` with one `W` (tied: the decoder is the encoder's
/// transpose) or two copies of it (`W1`, `W2`), theta = `[W, b, c]` or `[W1, b, c, W2]`.
#[derive(Debug)]
struct TiedNet {
    tied: bool,
    layout: Vec<ParamSpec>,
}

impl TiedNet {
    fn new(tied: bool) -> Self {
        let spec = |name: &str, shape: &[usize], offset| ParamSpec {
            name: name.into(),
            shape: shape.to_vec(),
            offset,
        };
        let mut layout = vec![
            spec("w", &[4, 3], 0),
            spec("b", &[4], 12),
            spec("c", &[3], 16),
        ];
        if !tied {
            layout.push(spec("w2", &[4, 3], 19));
        }
        TiedNet { tied, layout }
    }
}

impl Architecture for TiedNet {
    fn layout(&self) -> &[ParamSpec] {
        &self.layout
    }
    fn input_width(&self) -> usize {
        3
    }
    fn output_width(&self) -> usize {
        3
    }
}

impl Model<f64> for TiedNet {
    fn init(&self, _seed: u64) -> Vec<f64> {
        let mut theta: Vec<f64> = (0..19).map(|k| ((k * 7 % 11) as f64 - 5.0) / 6.0).collect();
        if !self.tied {
            theta.extend_from_within(0..12);
        }
        theta
    }
    fn forward(&self, tape: &Tape<f64>, theta: Var, x: Var) -> Var {
        let w = tape.reshape(tape.slice(theta, 0, 12), &[4, 3]);
        let h = tape.matmul_t(x, w, false, true);
        let h = tape.tanh(tape.add(h, tape.slice(theta, 12, 4)));
        let decoder = if self.tied {
            w
        } else {
            tape.reshape(tape.slice(theta, 19, 12), &[4, 3])
        };
        tape.add(tape.matmul(h, decoder), tape.slice(theta, 16, 3))
    }
}

fn moments_of(model: &dyn Model<f64>, x: &[f64]) -> PerSampleGradients {
    let rows = x.len() / model.input_width();
    let labels = labels(rows, model.output_width());
    per_sample_gradients(&objective(model, x, rows, &labels), &model.init(0)).unwrap()
}

#[test]
fn a_tied_weights_per_example_gradient_adds_its_uses_before_squaring() {
    let x: Vec<f64> = (0..18).map(|k| ((k * 5 % 7) as f64 - 3.0) / 3.0).collect();
    let tied = TiedNet::new(true);
    check_model(&tied, &tied.init(0), &x, "tied");
    // The wrong rule squares each use's share apart, Σ_i a_i² + Σ_i b_i²: the untied
    // copy at the same values has exactly those shares as its two weights' gradients.
    let right = &moments_of(&tied, &x).blocks[0];
    let untied = moments_of(&TiedNet::new(false), &x);
    let (a, b) = (&untied.blocks[0], &untied.blocks[3]);
    assert_eq!((right.name.as_str(), b.name.as_str()), ("w", "w2"));
    let wrong: f64 = a.sum_example_sq + b.sum_example_sq;
    let gap = (wrong - right.sum_example_sq).abs() / right.sum_example_sq;
    // The cross terms 2 Σ_i a_i·b_i are O(1) of the total, far beyond check_close's 1e-12.
    assert!(
        gap > 1e-2,
        "the wrong rule is within {gap} of the right one"
    );
    // The shares do add up to the tied weight's mean gradient.
    for (j, mean) in right.mean.iter().enumerate() {
        check_close(*mean, a.mean[j] + b.mean[j], "tied mean");
    }
}

/// `logits = x · (w1 w2)`: each parameter enters through a product with the other,
/// which is neither a site nor a view of theta.
#[derive(Debug)]
struct ProductNet(Vec<ParamSpec>);

impl Architecture for ProductNet {
    fn layout(&self) -> &[ParamSpec] {
        &self.0
    }
    fn input_width(&self) -> usize {
        2
    }
    fn output_width(&self) -> usize {
        2
    }
}

impl Model<f64> for ProductNet {
    fn init(&self, _seed: u64) -> Vec<f64> {
        vec![0.5, -0.25, 1.0, 0.75, 2.0]
    }
    fn forward(&self, tape: &Tape<f64>, theta: Var, x: Var) -> Var {
        let w = tape.reshape(tape.slice(theta, 0, 4), &[2, 2]);
        let scaled = tape.mul(w, tape.slice(theta, 4, 1));
        tape.matmul(x, scaled)
    }
}

#[test]
fn a_parameter_used_outside_every_site_is_listed_not_measured() {
    let spec = |name: &str, shape: &[usize], offset| ParamSpec {
        name: name.into(),
        shape: shape.to_vec(),
        offset,
    };
    let model = ProductNet(vec![spec("w", &[2, 2], 0), spec("s", &[1], 4)]);
    let moments = moments_of(&model, &[1.0, 2.0, -1.0, 0.5]);
    assert_eq!(moments.excluded, vec!["w", "s"]);
    assert!(moments.blocks.is_empty());
}

#[test]
fn the_moments_of_a_transformer_and_a_tied_weight_are_the_same_bits_on_one_and_two_threads() {
    let registry = unstuck::models::ModelRegistry::builtin();
    let spec = "4/embedding(7,6)-posembed(max_len=6)-residual(attention(2)-gelu)-layernorm-tokenmean-linear(3)";
    let transformer = registry.build(spec).unwrap();
    let transformer: &dyn Model<f64> = transformer.as_ref();
    let tokens = token_ids(9, 4, 7);
    let tied = TiedNet::new(true);
    let x: Vec<f64> = (0..27).map(|k| ((k * 5 % 7) as f64 - 3.0) / 3.0).collect();
    let run = |threads| {
        unstuck_test_support::threads::with_threads(threads, || {
            (moments_of(transformer, &tokens), moments_of(&tied, &x))
        })
    };
    let (one, two) = (run(1), run(2));
    assert!(one.0.excluded.is_empty() && one.1.excluded.is_empty());
    assert_eq!(one, two);
}

//! MLPs against a plain-loop reference, derivatives against finite differences, the
//! checks that run before a graph is built, initialisation per layer, and determinism.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use unstuck_autodiff::{CheckOptions, Curvature, Tape, Tensor, check_grad, check_hvp, gradient};
use unstuck_models::{
    Activation, Architecture, Init, Loss, Mlp, Model, ModelError, Objective, Targets, layer_blocks,
    logits, loss_fn,
};

const ACTIVATIONS: [Activation; 6] = [
    Activation::Relu,
    Activation::LeakyRelu(0.2),
    Activation::Tanh,
    Activation::Sigmoid,
    Activation::Gelu,
    Activation::Identity,
];

fn normals(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()
}

fn batch(rows: usize, cols: usize, seed: u64) -> Tensor<f64> {
    Tensor::matrix(normals(rows * cols, seed), rows, cols).unwrap()
}

fn mlp(widths: &[usize], activation: Activation, residual: bool) -> Mlp {
    Mlp::builder(widths)
        .activation(activation)
        .residual(residual)
        .build()
        .unwrap()
}

fn activate(activation: Activation, x: f64) -> f64 {
    match activation {
        Activation::Relu => x.max(0.0),
        Activation::LeakyRelu(slope) => {
            if x > 0.0 {
                x
            } else {
                slope * x
            }
        }
        Activation::Tanh => x.tanh(),
        Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Activation::Gelu => {
            let c = (2.0 / std::f64::consts::PI).sqrt();
            0.5 * x * (1.0 + (c * (x + 0.044715 * x.powi(3))).tanh())
        }
        Activation::Identity => x,
    }
}

/// The MLP written with loops over plain slices: theta = [W0 (out x in), b0, W1, ...];
/// a skip connection on hidden layers after the first whose input and output widths agree.
fn reference_logits(mlp: &Mlp, theta: &[f64], x: &[f64], rows: usize) -> Vec<f64> {
    let widths = mlp.widths();
    let n_layers = widths.len() - 1;
    let mut h = x.to_vec();
    let mut offset = 0;
    for k in 0..n_layers {
        let (fan_in, fan_out) = (widths[k], widths[k + 1]);
        let w = &theta[offset..offset + fan_in * fan_out];
        let b = &theta[offset + fan_in * fan_out..offset + fan_in * fan_out + fan_out];
        offset += fan_in * fan_out + fan_out;
        let mut next = vec![0.0; rows * fan_out];
        for i in 0..rows {
            for o in 0..fan_out {
                let dot: f64 = (0..fan_in)
                    .map(|j| h[i * fan_in + j] * w[o * fan_in + j])
                    .sum();
                let z = dot + b[o];
                next[i * fan_out + o] = if k + 1 == n_layers {
                    z
                } else if mlp.residual() && k > 0 && fan_in == fan_out {
                    h[i * fan_in + o] + activate(mlp.activation(), z)
                } else {
                    activate(mlp.activation(), z)
                };
            }
        }
        h = next;
    }
    h
}

#[test]
fn logits_match_the_plain_loop_reference_for_every_activation() {
    let x = batch(5, 3, 1);
    for activation in ACTIVATIONS {
        for residual in [false, true] {
            let mlp = mlp(&[3, 4, 4, 4, 2], activation, residual);
            let theta: Vec<f64> = mlp.init(7);
            let got = logits(&mlp, &theta, &x).unwrap();
            assert_eq!(got.dims(), &[5, 2]);
            let want = reference_logits(&mlp, &theta, x.data(), 5);
            for (g, w) in got.data().iter().zip(&want) {
                // Dot products of 4 terms summed in another order: a few ulps of O(1) values.
                assert!((g - w).abs() <= 1e-14, "{mlp}: {g} vs {w}");
            }
        }
    }
}

#[test]
fn residual_connections_change_the_function_only_where_widths_agree() {
    let x = batch(4, 3, 2);
    let plain = mlp(&[3, 4, 4, 4, 2], Activation::Tanh, false);
    let skip = mlp(&[3, 4, 4, 4, 2], Activation::Tanh, true);
    assert_eq!(skip.residual_layers(), vec![1, 2]);
    let theta: Vec<f64> = plain.init(3);
    let (a, b) = (
        logits(&plain, &theta, &x).unwrap(),
        logits(&skip, &theta, &x).unwrap(),
    );
    assert!(
        a.data()
            .iter()
            .zip(b.data())
            .any(|(p, q)| (p - q).abs() > 1e-3)
    );

    // No hidden-to-hidden layer of equal widths: residual is a no-op, bit for bit.
    let plain = mlp(&[3, 3, 5, 2], Activation::Tanh, false);
    let skip = mlp(&[3, 3, 5, 2], Activation::Tanh, true);
    assert!(skip.residual_layers().is_empty());
    let theta: Vec<f64> = plain.init(3);
    assert_eq!(
        logits(&plain, &theta, &x).unwrap(),
        logits(&skip, &theta, &x).unwrap()
    );
}

fn objective_for(mlp: &Mlp, loss: Loss, rows: usize, seed: u64) -> Objective<'_, f64> {
    let x = batch(rows, mlp.input_width(), seed);
    let outputs = mlp.output_width();
    let targets = match loss {
        Loss::CrossEntropy => Targets::Classes {
            labels: (0..rows).map(|i| i % outputs).collect(),
            n_classes: outputs,
        },
        Loss::BinaryCrossEntropyWithLogits => Targets::Classes {
            labels: (0..rows).map(|i| i % 2).collect(),
            n_classes: 2,
        },
        Loss::Mse => Targets::Real {
            values: batch(rows, outputs, seed + 1).into_data(),
            n_outputs: outputs,
        },
    };
    Objective::new(mlp, x, targets, loss).unwrap()
}

#[test]
fn gradients_match_finite_differences_for_every_activation_and_loss() {
    let cases = [
        (Loss::CrossEntropy, 3),
        (Loss::BinaryCrossEntropyWithLogits, 1),
        (Loss::Mse, 2),
    ];
    for activation in ACTIVATIONS {
        for (loss, outputs) in cases {
            let mlp = mlp(&[3, 4, 4, outputs], activation, true);
            let objective = objective_for(&mlp, loss, 6, 11);
            let theta: Vec<f64> = mlp.init(5);
            // PyTorch's gradcheck tolerances (see CheckOptions); the random pre-activations
            // stay far from ReLU's kink relative to the 1e-6 step.
            let report = check_grad(objective.as_fn(), &theta, &CheckOptions::default()).unwrap();
            assert!(report.passed(), "{mlp} {loss}: {report}");
        }
    }
}

#[test]
fn hessian_vector_products_match_finite_differences_of_the_gradient() {
    // Smooth activations only: a finite difference of the gradient across a ReLU kink
    // measures a jump the Hessian (0 almost everywhere) rightly ignores.
    for activation in [Activation::Tanh, Activation::Sigmoid, Activation::Gelu] {
        let mlp = mlp(&[3, 4, 4, 3], activation, true);
        let objective = objective_for(&mlp, Loss::CrossEntropy, 6, 12);
        let theta: Vec<f64> = mlp.init(6);
        let v = normals(theta.len(), 13);
        let report = check_hvp(objective.as_fn(), &theta, &v, &CheckOptions::default()).unwrap();
        assert!(report.passed(), "{mlp}: {report}");
    }
}

#[test]
fn loss_fn_plugs_into_gradient_hvp_and_curvature() {
    let mlp = mlp(&[4, 6, 6, 3], Activation::Tanh, false);
    let theta: Vec<f64> = mlp.init(9);
    let x = batch(8, 4, 14);
    let labels: Vec<usize> = (0..8).map(|i| (i * 5) % 3).collect();
    let f = loss_fn(
        &mlp,
        x.clone(),
        Targets::Classes {
            labels: labels.clone(),
            n_classes: 3,
        },
        Loss::CrossEntropy,
    )
    .unwrap();
    let targets = Targets::Classes {
        labels,
        n_classes: 3,
    };
    let objective = Objective::new(&mlp, x, targets, Loss::CrossEntropy).unwrap();

    // The same graph either way, so bit-identical results.
    let (value, grad) = gradient(&f, &theta).unwrap();
    assert_eq!((value, grad.clone()), objective.gradient(&theta).unwrap());
    let curvature = Curvature::new(&f, &theta).unwrap();
    assert_eq!(curvature.gradient(), grad.as_slice());
    let v = normals(theta.len(), 15);
    assert_eq!(
        curvature.hvp(&v).unwrap(),
        objective.hvp(&theta, &v).unwrap()
    );

    // Evaluation runs the same forward kernels without tracking: the same loss bits.
    let evaluation = objective.evaluate(&theta).unwrap();
    assert_eq!(evaluation.loss.to_bits(), value.to_bits());
    let accuracy = evaluation.accuracy.unwrap();
    assert!((0.0..=1.0).contains(&accuracy));
    let regression = objective_for(&mlp, Loss::Mse, 8, 16);
    assert_eq!(regression.evaluate(&theta).unwrap().accuracy, None);
}

#[test]
fn layer_blocks_split_theta_by_layer() {
    let mlp = Mlp::from_spec("8-16-16-3:tanh").unwrap();
    let blocks = layer_blocks(mlp.layout());
    let summary: Vec<(&str, std::ops::Range<usize>)> = blocks
        .iter()
        .map(|b| (b.name.as_str(), b.range.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("layers.0", 0..144),
            ("layers.1", 144..416),
            ("layers.2", 416..467)
        ]
    );
    assert_eq!(mlp.n_params(), 467);
}

#[test]
fn a_wrong_input_width_is_an_error_before_anything_is_recorded() {
    let mlp = Mlp::from_spec("8-16-3:relu").unwrap();
    let theta: Vec<f64> = mlp.init(0);
    let tape = Tape::new();
    let theta_var = tape.leaf(Tensor::vector(theta.clone()));
    let x = tape.constant(batch(2, 5, 0));
    let recorded = tape.len();
    match mlp.forward_checked(&tape, theta_var, x) {
        Err(ModelError::InputWidth { expected, got }) => assert_eq!((expected, got), (8, 5)),
        other => panic!("expected InputWidth, got {other:?}"),
    }
    assert_eq!(
        tape.len(),
        recorded,
        "nothing recorded after a failed check"
    );

    assert!(matches!(
        logits(&mlp, &theta, &batch(2, 5, 0)),
        Err(ModelError::InputWidth {
            expected: 8,
            got: 5
        })
    ));
    let x_vector = Tensor::vector(vec![0.0; 8]);
    assert!(matches!(
        logits(&mlp, &theta, &x_vector),
        Err(ModelError::InputRank { .. })
    ));
    assert!(matches!(
        Objective::new(
            &mlp,
            batch(2, 7, 0),
            Targets::Classes {
                labels: vec![0, 1],
                n_classes: 2,
            },
            Loss::CrossEntropy
        ),
        Err(ModelError::InputWidth {
            expected: 8,
            got: 7
        })
    ));
    assert!(matches!(
        Objective::new(
            &mlp,
            batch(0, 8, 0),
            Targets::Classes {
                labels: vec![],
                n_classes: 2,
            },
            Loss::CrossEntropy
        ),
        Err(ModelError::EmptyBatch)
    ));
}

#[test]
fn a_theta_of_the_wrong_length_or_shape_is_an_error() {
    let mlp = Mlp::from_spec("2-3-2:relu").unwrap();
    let objective = objective_for(&mlp, Loss::CrossEntropy, 4, 0);
    assert!(matches!(
        objective.gradient(&[0.0; 5]),
        Err(ModelError::ParamCount {
            expected: 17,
            got: 5
        })
    ));
    assert!(matches!(
        objective.curvature(&[0.0; 18]),
        Err(ModelError::ParamCount { .. })
    ));
    assert!(matches!(
        objective.evaluate(&[0.0; 1]),
        Err(ModelError::ParamCount { .. })
    ));
    let tape = Tape::new();
    let theta = tape.leaf(Tensor::matrix(vec![0.0; 17], 17, 1).unwrap());
    let x = tape.constant(batch(1, 2, 0));
    assert!(matches!(
        mlp.forward_checked(&tape, theta, x),
        Err(ModelError::ThetaShape { .. })
    ));
    // A non-finite theta is refused by the autodiff crate, named as such.
    let mut theta: Vec<f64> = mlp.init(0);
    theta[3] = f64::NAN;
    assert!(matches!(
        objective.gradient(&theta),
        Err(ModelError::Autodiff(_))
    ));
}

#[test]
fn bad_architectures_are_typed_errors() {
    assert!(matches!(
        Mlp::builder(&[4]).build(),
        Err(ModelError::TooFewWidths { got: 1 })
    ));
    assert!(matches!(
        Mlp::builder(&[4, 0, 2]).build(),
        Err(ModelError::ZeroWidth { index: 1 })
    ));
    assert!(matches!(
        Mlp::builder(&[4, 2])
            .activation(Activation::LeakyRelu(f64::INFINITY))
            .build(),
        Err(ModelError::BadSlope { .. })
    ));
    assert!(matches!(
        Mlp::from_spec("10000000000-10000000000-2"),
        Err(ModelError::TooManyParams)
    ));
}

#[test]
fn init_draws_each_layer_with_its_own_fan_in() {
    let mlp = Mlp::from_spec("400-100-10:relu").unwrap();
    let theta: Vec<f64> = mlp.init(21);
    for spec in mlp.layout() {
        let fan_in = if spec.name.starts_with("layers.0") {
            400.0
        } else {
            100.0
        };
        let bound = 1.0 / f64::sqrt(fan_in);
        let values = &theta[spec.range()];
        let max = values.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        // All inside the bound; the largest of n uniform draws is within bound * 20/n of
        // it except with probability e^-10.
        assert!(max <= bound, "{}: {max} > {bound}", spec.name);
        let n = values.len() as f64;
        assert!(
            max >= bound * (1.0 - 20.0 / n),
            "{}: {max} << {bound}",
            spec.name
        );
    }
}

#[test]
fn init_is_seeded_and_f32_is_the_rounded_f64() {
    let mlp = Mlp::from_spec("5-7-3:tanh,init=xavier_normal").unwrap();
    let a: Vec<f64> = mlp.init(1);
    assert_eq!(a, Model::<f64>::init(&mlp, 1));
    assert_ne!(a, Model::<f64>::init(&mlp, 2));
    let b: Vec<f32> = mlp.init(1);
    assert!(
        a.iter()
            .zip(&b)
            .all(|(&x, &y)| (x as f32).to_bits() == y.to_bits())
    );
    // Xavier biases are zero, weights are not.
    let blocks = mlp.layout();
    assert!(theta_all(&a, &blocks[1].range(), |x| x == 0.0));
    assert!(theta_all(&a, &blocks[0].range(), |x| x != 0.0));
    assert_eq!(mlp.initializer(), Init::XavierNormal);
}

fn theta_all(theta: &[f64], range: &std::ops::Range<usize>, f: impl Fn(f64) -> bool) -> bool {
    theta[range.clone()].iter().all(|&x| f(x))
}

#[test]
fn results_are_bit_identical_with_one_or_two_threads() {
    // Big enough (64 x 256 x 256 multiply-adds) that matrix products go parallel.
    let mlp = Mlp::from_spec("128-256-256-10:relu").unwrap();
    let theta: Vec<f64> = mlp.init(3);
    let objective = objective_for(&mlp, Loss::CrossEntropy, 64, 4);
    let v = normals(theta.len(), 5);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let (loss, grad) = objective.gradient(&theta).unwrap();
            let hv = objective.hvp(&theta, &v).unwrap();
            (loss.to_bits(), grad, hv)
        })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn models_work_behind_a_trait_object() {
    let models: Vec<Box<dyn Model<f64>>> = vec![
        Box::new(Mlp::from_spec("3-2:identity").unwrap()),
        Box::new(Mlp::from_spec("3-8-8-2:gelu,residual").unwrap()),
    ];
    for model in &models {
        let theta = model.init(0);
        let out = logits(model.as_ref(), &theta, &batch(4, 3, 0)).unwrap();
        assert_eq!(out.dims(), &[4, 2]);
    }
}

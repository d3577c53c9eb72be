//! Every torch.optim optimizer against PyTorch's own trajectories
//! (`optim_trajectories.json` of unstuck-test-support: 60 steps on a 4-D Rosenbrock function, f64).

mod common;

use common::{f64s, fixture, max_relative_error, rosenbrock, rosenbrock_grad};
use serde_json::Value;
use unstuck_optim::Registry;

/// PyTorch options that change nothing on CPU for these runs; the test insists they are
/// at their neutral values rather than silently ignoring them.
const NEUTRAL: &[&str] = &[
    "maximize",
    "foreach",
    "differentiable",
    "fused",
    "capturable",
];

fn registry_name(torch_class: &str) -> &'static str {
    match torch_class {
        "SGD" => "sgd",
        "Adagrad" => "adagrad",
        "RMSprop" => "rmsprop",
        "Adam" => "adam",
        "AdamW" => "adamw",
        "NAdam" => "nadam",
        other => panic!("no optimizer for torch class {other}"),
    }
}

fn spec_value(value: &Value) -> String {
    match value {
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("{:?}", n.as_f64().expect("a number")),
        other => panic!("unexpected hyperparameter value {other}"),
    }
}

/// The spec for `hyperparameters` (a JSON object of PyTorch keyword arguments).
fn spec_for(name: &str, hyperparameters: &Value) -> String {
    let mut parts = Vec::new();
    for (key, value) in hyperparameters.as_object().expect("an object") {
        if NEUTRAL.contains(&key.as_str()) {
            assert!(
                matches!(value, Value::Null | Value::Bool(false)),
                "{name}: {key} = {value}"
            );
            continue;
        }
        // AdamW is decoupled by definition; its spec has no such switch.
        if name == "adamw" && key == "decoupled_weight_decay" {
            assert_eq!(value, &Value::Bool(true));
            continue;
        }
        parts.push(format!("{key}={}", spec_value(value)));
    }
    format!("{name}:{}", parts.join(","))
}

/// Runs the golden protocol: gradient at the current point, then one step, 60 times.
fn run(spec: &str, theta0: &[f64], steps: usize) -> Vec<Vec<f64>> {
    let mut opt = Registry::<f64>::builtin()
        .build(spec)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut theta = theta0.to_vec();
    let mut trajectory = vec![theta.clone()];
    for _ in 0..steps {
        let grads = rosenbrock_grad(&theta);
        opt.step(&mut theta, &grads).unwrap();
        trajectory.push(theta.clone());
    }
    trajectory
}

struct Outcome {
    name: String,
    worst_relative_error: f64,
    bit_identical: bool,
}

fn check_all_runs() -> Vec<Outcome> {
    let golden = fixture("optim_trajectories.json");
    let theta0 = f64s(&golden["theta0"]);
    let steps = golden["steps"].as_u64().expect("steps") as usize;
    let runs = golden["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 14, "every optimizer variant of the golden file");
    runs.iter()
        .map(|golden_run| {
            let name = golden_run["name"].as_str().expect("name").to_owned();
            let optimizer = registry_name(golden_run["torch_class"].as_str().expect("class"));
            let spec = spec_for(optimizer, &golden_run["all_hyperparameters"]);
            let ours = run(&spec, &theta0, steps);
            let want: Vec<Vec<f64>> = golden_run["trajectory"]
                .as_array()
                .expect("trajectory")
                .iter()
                .map(f64s)
                .collect();
            assert_eq!(ours.len(), want.len(), "{name}");
            let worst_relative_error = ours
                .iter()
                .zip(&want)
                .map(|(o, w)| max_relative_error(o, w))
                .fold(0.0, f64::max);
            let bit_identical = ours
                .iter()
                .flatten()
                .zip(want.iter().flatten())
                .all(|(o, w)| o.to_bits() == w.to_bits());
            Outcome {
                name,
                worst_relative_error,
                bit_identical,
            }
        })
        .collect()
}

#[test]
fn trajectories_match_pytorch_to_1e_12() {
    for outcome in check_all_runs() {
        eprintln!(
            "{:>28}: worst relative error {:e}, bit identical {}",
            outcome.name, outcome.worst_relative_error, outcome.bit_identical
        );
        // 1e-12 as the issue asks. Identical formulas leave only round-off, which the
        // rounding model of `ops` removes almost entirely (worst case seen: 3e-15).
        assert!(
            outcome.worst_relative_error <= 1e-12,
            "{}: relative error {:e}",
            outcome.name,
            outcome.worst_relative_error
        );
    }
}

#[test]
fn trajectories_are_bit_identical_where_the_rounding_model_is_complete() {
    // Bit identity is the point here: it shows our per-element roundings are PyTorch's
    // (fused `add(alpha)`, `addcmul` and `lerp`; unfused `addcdiv`). In the centered
    // RMSprop run PyTorch's `sq - ga^2` at step 14 is one ulp below the correctly
    // rounded value we compute; the trajectories then differ by at most a few ulps.
    let not_bitwise: Vec<String> = check_all_runs()
        .into_iter()
        .filter(|o| !o.bit_identical)
        .map(|o| o.name)
        .collect();
    assert_eq!(not_bitwise, vec!["rmsprop_centered_momentum".to_owned()]);
}

#[test]
fn our_defaults_are_pytorchs() {
    let golden = fixture("optim_trajectories.json");
    let registry = Registry::<f64>::builtin();
    for golden_run in golden["runs"].as_array().expect("runs") {
        let name = registry_name(golden_run["torch_class"].as_str().expect("class"));
        let entry = registry.get(name).expect("registered");
        let keys = entry.keys();
        let args = golden_run["args"].as_object().expect("args");
        for (key, value) in golden_run["all_hyperparameters"]
            .as_object()
            .expect("hyperparameters")
        {
            if args.contains_key(key)
                || NEUTRAL.contains(&key.as_str())
                || key == "decoupled_weight_decay" && name == "adamw"
            {
                continue;
            }
            let ours = keys
                .iter()
                .find(|k| k.key == key)
                .unwrap_or_else(|| panic!("{name} has no key {key}"))
                .default
                .clone()
                .unwrap_or_else(|| panic!("{name}.{key} has no default"));
            let matches = match value {
                Value::Bool(b) => ours == b.to_string(),
                Value::Number(n) => ours.parse::<f64>().ok() == n.as_f64(),
                other => panic!("{other}"),
            };
            assert!(matches, "{name}.{key}: ours {ours}, PyTorch {value}");
        }
    }
}

#[test]
fn the_test_function_is_the_golden_one() {
    let golden = fixture("optim_trajectories.json");
    let run = &golden["runs"][0];
    let losses = f64s(&run["losses"]);
    for (k, theta) in run["trajectory"]
        .as_array()
        .expect("trajectory")
        .iter()
        .take(losses.len())
        .enumerate()
    {
        let ours = rosenbrock(&f64s(theta));
        // Summation order may differ from PyTorch's by an ulp or two.
        assert!(
            (ours - losses[k]).abs() <= 1e-13 * losses[k].abs(),
            "step {k}: {ours} vs {}",
            losses[k]
        );
    }
}

#[test]
fn f32_adam_follows_the_f64_trajectory() {
    let golden = fixture("optim_trajectories.json");
    let run = golden["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .find(|r| r["name"] == "adam")
        .expect("adam run");
    let want: Vec<Vec<f64>> = run["trajectory"]
        .as_array()
        .expect("trajectory")
        .iter()
        .map(f64s)
        .collect();
    let mut opt = Registry::<f32>::builtin().build("adam:lr=0.01").unwrap();
    let mut theta: Vec<f32> = want[0].iter().map(|&v| v as f32).collect();
    for row in &want[1..] {
        let wide: Vec<f64> = theta.iter().map(|&v| f64::from(v)).collect();
        let grads: Vec<f32> = rosenbrock_grad(&wide).iter().map(|&g| g as f32).collect();
        opt.step(&mut theta, &grads).unwrap();
        for (ours, want) in theta.iter().zip(row) {
            // f32 round-off (6e-8 per operation) accumulated over 60 steps of size ~lr
            // stays below 1e-5 in absolute terms on this well-conditioned path.
            assert!((f64::from(*ours) - want).abs() < 1e-5, "{ours} vs {want}");
        }
    }
}

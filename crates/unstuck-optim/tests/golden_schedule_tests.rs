//! Every schedule against PyTorch's learning rates (`lr_schedules.json` of unstuck-test-support:
//! 120 steps, base lr 0.1; `lrs[k]` is the rate used by optimizer step k).

mod common;

use common::{f64s, fixture};
use unstuck_optim::{PlateauConfig, ReduceLrOnPlateau, Registry, parse_schedule};

/// Our spec for each golden PyTorch scheduler (the fixture's `torch` field says which).
fn spec_for(name: &str) -> &'static str {
    match name {
        "step" => "step:step_size=10,gamma=0.5",
        "multistep" => "multistep:milestones=[20,50,90],gamma=0.1",
        "exponential" => "exponential:gamma=0.95",
        "cosine" => "cosine:t_max=100,eta_min=0.001",
        "linear_warmup" => "linear:start_factor=0.1,end_factor=1.0,total_iters=10",
        "warmup_then_cosine" => {
            "warmup:steps=10,start_factor=0.01,then=(cosine:t_max=110,eta_min=0)"
        }
        "polynomial" => "polynomial:total_iters=100,power=2.0",
        "onecycle" => "onecycle:max_lr=1.0,total_steps=120",
        "cosine_warm_restarts" => "cosine_restarts:t_0=20,t_mult=2,eta_min=0",
        other => panic!("no spec for {other}"),
    }
}

/// PyTorch updates most rates recursively (`lr *= factor`) where we use closed forms;
/// the two differ by accumulated round-off only, at most 5e-15 relative over these 120
/// steps. 1e-12 is far above that and far below any real schedule difference.
const TOLERANCE: f64 = 1e-12;

fn check_close(name: &str, ours: &[f64], want: &[f64]) {
    assert_eq!(ours.len(), want.len(), "{name}");
    for (k, (o, w)) in ours.iter().zip(want).enumerate() {
        let ok = if *w == 0.0 {
            *o == 0.0
        } else {
            ((o - w) / w).abs() <= TOLERANCE
        };
        assert!(ok, "{name} step {k}: ours {o:e}, PyTorch {w:e}");
    }
}

#[test]
fn schedules_match_pytorch() {
    let golden = fixture("lr_schedules.json");
    let base_lr = golden["base_lr"].as_f64().expect("base_lr");
    let steps = golden["steps"].as_u64().expect("steps");
    let mut checked = 0;
    for schedule in golden["schedules"].as_array().expect("schedules") {
        let name = schedule["name"].as_str().expect("name");
        if name == "reduce_on_plateau" {
            continue;
        }
        let ours = parse_schedule(spec_for(name), base_lr).unwrap_or_else(|e| panic!("{e}"));
        let lrs: Vec<f64> = (0..steps).map(|k| ours.lr(k)).collect();
        check_close(name, &lrs, &f64s(&schedule["lrs"]));
        checked += 1;
    }
    assert_eq!(checked, 9);
}

#[test]
fn explicit_sequence_matches_pytorch_sequential_lr() {
    // The golden `warmup_then_cosine` is PyTorch's SequentialLR; written as our general
    // `sequence` (not the `warmup` shorthand) it must give the same rates.
    let golden = fixture("lr_schedules.json");
    let schedule = golden["schedules"]
        .as_array()
        .expect("schedules")
        .iter()
        .find(|s| s["name"] == "warmup_then_cosine")
        .expect("present");
    let spec = "sequence:parts=[(linear:start_factor=0.01,total_iters=10),(cosine:t_max=110,eta_min=0.0)],milestones=[10]";
    let ours = parse_schedule(spec, 0.1).unwrap();
    let lrs: Vec<f64> = (0..120).map(|k| ours.lr(k)).collect();
    check_close("sequence", &lrs, &f64s(&schedule["lrs"]));
}

#[test]
fn optimizer_reports_the_scheduled_rate_at_every_step() {
    // The same values through an optimizer: `lr()` before step k is `lrs[k]`.
    let golden = fixture("lr_schedules.json");
    let schedule = golden["schedules"]
        .as_array()
        .expect("schedules")
        .iter()
        .find(|s| s["name"] == "warmup_then_cosine")
        .expect("present");
    let want = f64s(&schedule["lrs"]);
    let spec = format!("sgd:lr=0.1,schedule=({})", spec_for("warmup_then_cosine"));
    let mut opt = Registry::<f64>::builtin().build(&spec).unwrap();
    let mut params = vec![1.0];
    let mut ours = Vec::new();
    for _ in 0..want.len() {
        ours.push(opt.lr());
        opt.step(&mut params, &[0.0]).unwrap();
    }
    check_close("sgd with warm-up then cosine", &ours, &want);
}

#[test]
fn reduce_on_plateau_matches_pytorch() {
    let golden = fixture("lr_schedules.json");
    let schedule = golden["schedules"]
        .as_array()
        .expect("schedules")
        .iter()
        .find(|s| s["name"] == "reduce_on_plateau")
        .expect("present");
    let metrics = f64s(&schedule["metrics"]);
    let want = f64s(&schedule["lrs"]);
    // ReduceLROnPlateau(mode='min', factor=0.5, patience=5, threshold=1e-4).
    let config = PlateauConfig {
        factor: 0.5,
        patience: 5,
        ..PlateauConfig::default()
    };
    let mut plateau =
        ReduceLrOnPlateau::new(config, golden["base_lr"].as_f64().expect("base_lr")).unwrap();
    let mut ours = Vec::new();
    for metric in metrics {
        ours.push(plateau.lr());
        plateau.observe(metric).unwrap();
    }
    // Halving is exact, so these agree to the last bit; the shared tolerance still holds.
    check_close("reduce_on_plateau", &ours, &want);
    assert!(want.last() < want.first(), "the golden run does reduce");
}

#[test]
fn plateau_drives_an_optimizer() {
    let mut opt = Registry::<f64>::builtin().build("sgd:lr=0.1").unwrap();
    let mut plateau =
        ReduceLrOnPlateau::from_spec("plateau:factor=0.5,patience=0", opt.lr()).unwrap();
    for metric in [1.0, 1.0, 1.0] {
        opt.set_lr(plateau.observe(metric).unwrap()).unwrap();
    }
    assert_eq!(opt.lr(), 0.025);
}

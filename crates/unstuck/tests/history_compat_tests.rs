//! Histories written before the norms record kept its series in a shared name table
//! (`BlockValues`, was `BTreeMap<String, f64>`) still load, and today's trainer writes
//! the same text for the same run: the fixtures are a 2-step `norms` run of a 3-4-2
//! ReLU network written by the code before the change (`history.jsonl` lines and the
//! pretty JSON of `History::to_json`). The run's numbers are compared to the last few
//! ulps, its keys and layout exactly.

use unstuck::data::{Batch, BatchTargets};
use unstuck::instruments::InstrumentConfig;
use unstuck::models::{Model, ModelRegistry};
use unstuck::optim::Registry;
use unstuck::{History, HistoryMark, TrainConfig, Trainer};

const LINES_BEFORE: &str = include_str!("fixtures/norms_history_before.jsonl");
const JSON_BEFORE: &str = include_str!("fixtures/norms_history_before.json");

/// The run the fixtures recorded.
fn run_today() -> History {
    let model = ModelRegistry::builtin().build("3-4-2:relu").unwrap();
    let model: &dyn Model<f64> = &*model;
    let x: Vec<f64> = (0..12).map(|i| (i as f64 * 0.7).sin()).collect();
    let labels = [0, 1, 1, 0];
    let targets = BatchTargets::Classes {
        labels: &labels,
        n_classes: 2,
    };
    let batch = Batch::new(&x, 3, targets).unwrap();
    let optimizer = Registry::<f64>::builtin().build("sgd:lr=0.1").unwrap();
    let config = TrainConfig {
        batch_size: 4,
        stuck: None,
        progress: false,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(model, optimizer, config, model.init(3))
        .unwrap()
        .with_instruments(InstrumentConfig::from_spec("norms").unwrap())
        .unwrap();
    for _ in 0..2 {
        trainer.train_on(&batch).unwrap();
    }
    trainer.history().clone()
}

#[test]
fn an_old_history_loads_and_writes_back_the_same_text() {
    let from_lines = History::from_json_lines(LINES_BEFORE).unwrap();
    let from_json: History = serde_json::from_str(JSON_BEFORE).unwrap();
    assert_eq!(from_lines, from_json);
    assert_eq!(from_lines.norms.len(), 2);
    let blocks = &from_lines.norms[1].blocks;
    assert_eq!(blocks.len(), 12);
    assert_eq!(
        blocks.get("update_ratio/layers.1.weight"),
        Some(0.05153791660794042)
    );
    assert_eq!(
        from_lines.json_lines_since(HistoryMark::default()),
        LINES_BEFORE
    );
    assert_eq!(from_json.to_json(), JSON_BEFORE);
}

/// `text` with every number replaced by `#`, and the numbers.
fn skeleton(text: &str) -> (String, Vec<f64>) {
    let (mut shape, mut numbers, mut literal) = (String::new(), Vec::new(), String::new());
    let mut flush = |literal: &mut String, shape: &mut String| {
        if !literal.is_empty() {
            numbers.push(literal.parse::<f64>().unwrap());
            shape.push('#');
            literal.clear();
        }
    };
    for c in text.chars() {
        let in_number = c.is_ascii_digit() || (!literal.is_empty() && "+-.eE".contains(c));
        if in_number || (literal.is_empty() && c == '-') {
            literal.push(c);
        } else {
            flush(&mut literal, &mut shape);
            shape.push(c);
        }
    }
    flush(&mut literal, &mut shape);
    (shape, numbers)
}

/// The same text up to the last bits of its numbers: the run's arithmetic may change in
/// the last place (as when `exp` stopped calling libm), its format must not.
fn assert_same_text(today: &str, before: &str) {
    let (today_shape, today_numbers) = skeleton(today);
    let (before_shape, before_numbers) = skeleton(before);
    assert_eq!(today_shape, before_shape, "keys, order or layout changed");
    assert_eq!(today_numbers.len(), before_numbers.len());
    for (a, b) in today_numbers.iter().zip(&before_numbers) {
        // Two SGD steps of a 3-4-2 network move a last-bit change by a few ulps; a value
        // written under the wrong name or from the wrong step differs in its first digits.
        assert!(
            (a - b).abs() <= 1e-12 * b.abs().max(1e-300),
            "{a} written where the old code wrote {b}"
        );
    }
}

#[test]
fn the_trainer_writes_the_text_the_old_code_wrote() {
    let history = run_today();
    assert_same_text(
        &history.json_lines_since(HistoryMark::default()),
        LINES_BEFORE,
    );
    assert_same_text(&history.to_json(), JSON_BEFORE);
}

#[test]
fn the_text_comparison_catches_a_changed_value_or_key() {
    let line = r#"{"norms":{"step":1,"logit_scale":0.3017999499267396,"grad_norm/a":1e-3}}"#;
    assert_same_text(line, line);
    for changed in [
        line.replace("0.3017999499267396", "0.3017999499567396"),
        line.replace("grad_norm/a", "grad_norm/b"),
        line.replace("1e-3", "1e-4"),
    ] {
        assert!(std::panic::catch_unwind(|| assert_same_text(&changed, line)).is_err());
    }
}

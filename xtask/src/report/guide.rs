//! Experiment `guide`: the lecture's general guide (its Fig. 1) on seeded runs, each
//! built to fail in one known way (or not at all), five synthetic and eight from the
//! bundled real data, diagnosed by `unstuck::diagnose` over several seeds.
//!
//! It is a measurement, not a gate: it reports how often the diagnosis names the cause
//! each run was built with, per cause with a Wilson interval, and the smallest margins by
//! which the deciding rules held; every sentence is chosen from those numbers.

use super::artifacts::Artifacts;
use super::claims::Finding;
use super::markdown::table;
use super::parts::{Measured, Results, Unit};
use super::{Experiment, Plan, Section};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use unstuck::diagnose::{Interval, diagnose, wilson};
use unstuck_test_support::scenarios::{names, scenario};

/// Seeds per scenario: 5 in the full report, 1 in `--quick`.
fn n_seeds(plan: &Plan) -> u64 {
    if plan.quick { 1 } else { 5 }
}

fn key(name: &str, seed_index: u64) -> String {
    format!("{}@{seed_index}", name.replace(' ', "_"))
}

pub fn experiment(seed: u64) -> Experiment {
    Experiment {
        name: "guide",
        seed,
        units: |plan| {
            names()
                .iter()
                .flat_map(|name| (0..n_seeds(plan)).map(|k| Unit::new(key(name, k), 1.0)))
                .collect()
        },
        run,
        assemble,
    }
}

/// One diagnosed scenario at one seed.
#[derive(Debug, Serialize, Deserialize)]
struct Diagnosed {
    name: String,
    cause: String,
    setup: String,
    true_cause: String,
    verdict: String,
    agrees: bool,
    margin: f64,
    reason: String,
    /// The whole diagnosis, for the first seed only.
    json: Option<String>,
}

fn run(plan: &Plan, key_wanted: &str) -> Result<Measured> {
    let (name_key, index) = key_wanted
        .split_once('@')
        .ok_or_else(|| anyhow::anyhow!("no seed in unit `{key_wanted}`"))?;
    let index: u64 = index.parse()?;
    let name = names()
        .into_iter()
        .find(|n| n.replace(' ', "_") == name_key)
        .ok_or_else(|| anyhow::anyhow!("no scenario `{name_key}`"))?;
    let scenario = scenario(name, plan.quick, plan.seed + index)?
        .ok_or_else(|| anyhow::anyhow!("no scenario `{name}`"))?;
    let started = Instant::now();
    let diagnosis = diagnose(&scenario.data(), &scenario.config)?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(Measured::of(&Diagnosed {
        name: scenario.name.to_string(),
        cause: scenario.cause.to_string(),
        setup: scenario.setup.clone(),
        true_cause: scenario.true_cause.name().to_string(),
        verdict: diagnosis.verdict.name().to_string(),
        agrees: scenario.agrees(&diagnosis),
        margin: diagnosis.margin,
        reason: diagnosis.reason.clone(),
        json: (index == 0).then(|| diagnosis.to_json()),
    })?
    .timing("diagnosis", seconds))
}

fn percent(interval: &Interval) -> String {
    format!(
        "{:.0}% [{:.0}%, {:.0}%]",
        100.0 * interval.estimate,
        100.0 * interval.low,
        100.0 * interval.high
    )
}

/// "most", "a minority of" or "an undetermined share of", from a Wilson interval.
fn share_words(interval: &Interval) -> &'static str {
    if interval.low > 0.5 {
        "most"
    } else if interval.high < 0.5 {
        "a minority of"
    } else {
        "an undetermined share of"
    }
}

fn share_holds(words: &str, interval: &Interval) -> bool {
    match words {
        "most" => interval.low > 0.5,
        "a minority of" => interval.high < 0.5,
        _ => interval.low <= 0.5 && interval.high >= 0.5,
    }
}

fn assemble(plan: &Plan, results: &Results<'_>, artifacts: &mut Artifacts) -> Result<Section> {
    let seeds = n_seeds(plan);
    let mut by_scenario: Vec<Vec<Diagnosed>> = Vec::new();
    for name in names() {
        let runs = (0..seeds)
            .map(|k| results.get::<Diagnosed>(&key(name, k)))
            .collect::<Result<Vec<_>>>()?;
        by_scenario.push(runs);
    }
    let (scenario_rows, reasons) = scenario_table(plan, &by_scenario, artifacts)?;
    let mut finding = Finding::default();
    let cause_rows = cause_claims(&by_scenario, &mut finding);
    overall_claims(&by_scenario, &mut finding);
    finding.setup = format!(
        "{} scenarios ({} synthetic, the others from the bundled digits and breast-cancer data), each built to show one cause, are diagnosed by the lecture's general guide with {seeds} seed{} each; a run agrees when the verdict (and, for a leak, unscaled inputs or shuffled labels, the data check) names the built cause.",
        by_scenario.len(),
        5,
        if seeds == 1 { "" } else { "s" }
    );
    let thresholds = unstuck::diagnose::Thresholds::default();
    let body = format!(
        "Agreement per cause (95% Wilson intervals) and the smallest margin of an agreeing verdict (the deciding rule's distance from its threshold, in units of the chance loss for losses):\n\n{}\n\
         Each scenario, its verdicts over the seeds and its smallest margin:\n\n{}\n\
         Why, in the guide's words (first seed):\n\n{reasons}\n\
         The rules compare per-example losses row by row with 95% bootstrap intervals, in units of the chance loss: the training loss is large above {} of it, or when a reference is better by more than {} with its interval above zero (and an accuracy that does not contradict it); a better model inside the user's family, another optimizer, an escape step at a saddle or a loss still descending fast enough to reach what a bigger family reaches means optimization, a better bigger model model bias. With a small training loss, a held-out gap above {} with its interval above zero is large; a two-sample classifier on de-duplicated rows (accuracy at least {} with binomial p < {}) or a significant test-minus-validation gap means mismatch, otherwise overfitting. No model beating the majority class on held-out rows means check the labels. Each JSON file holds the whole first-seed diagnosis; `unstuck diagnose` prints the same.\n",
        table(
            &[
                "cause",
                "agreeing runs",
                "rate [95% interval]",
                "smallest margin"
            ],
            &cause_rows
        ),
        table(
            &[
                "run",
                "built to show",
                "verdicts",
                "agree",
                "smallest margin",
                "details"
            ],
            &scenario_rows
        ),
        thresholds.train_large_ratio,
        thresholds.reference_margin,
        thresholds.gap_ratio,
        thresholds.two_sample_min_accuracy,
        thresholds.two_sample_alpha,
    );
    Ok(Section {
        title: "The general guide: how often it names the cause".to_string(),
        finding,
        body,
    })
}

/// One row per scenario (writing the first seed's JSON), and the first seed's reasons.
fn scenario_table(
    plan: &Plan,
    by_scenario: &[Vec<Diagnosed>],
    artifacts: &mut Artifacts,
) -> Result<(Vec<Vec<String>>, String)> {
    let mut rows = Vec::new();
    let mut reasons = String::new();
    for runs in by_scenario {
        let first = &runs[0];
        let file = format!("guide/{}.json", first.name.replace(' ', "_"));
        if let Some(json) = &first.json {
            artifacts.write(&file, json.as_bytes())?;
        }
        let agreeing = runs.iter().filter(|r| r.agrees).count();
        let verdicts: Vec<String> = runs.iter().map(|r| r.verdict.clone()).collect();
        let worst = runs.iter().map(|r| r.margin).fold(f64::INFINITY, f64::min);
        rows.push(vec![
            first.setup.clone(),
            first.cause.clone(),
            verdicts.join(", "),
            format!("{agreeing}/{}", runs.len()),
            format!("{worst:.3}"),
            format!("[json]({file})"),
        ]);
        reasons.push_str(&format!(
            "- **{}** (seed {}): {}.\n",
            first.name, plan.seed, first.reason
        ));
    }
    Ok((rows, reasons))
}

/// One claim and one table row per cause: its agreement rate with a Wilson interval and
/// its smallest agreeing margin.
fn cause_claims(by_scenario: &[Vec<Diagnosed>], finding: &mut Finding) -> Vec<Vec<String>> {
    let mut causes: Vec<&str> = Vec::new();
    for runs in by_scenario {
        if !causes.contains(&runs[0].cause.as_str()) {
            causes.push(&runs[0].cause);
        }
    }
    let mut rows = Vec::new();
    for cause in &causes {
        let runs: Vec<&Diagnosed> = by_scenario
            .iter()
            .flatten()
            .filter(|r| r.cause == *cause)
            .collect();
        let agreeing = runs.iter().filter(|r| r.agrees).count();
        let rate = wilson(agreeing, runs.len());
        let worst = runs
            .iter()
            .filter(|r| r.agrees)
            .min_by(|a, b| a.margin.total_cmp(&b.margin));
        rows.push(vec![
            cause.to_string(),
            format!("{agreeing}/{}", runs.len()),
            percent(&rate),
            worst.map_or("-".into(), |w| format!("{:.3} ({})", w.margin, w.name)),
        ]);
        let words = share_words(&rate);
        finding.claim(
            format!("the-guide-names-{}", cause.replace(' ', "-")),
            format!(
                "Runs built to show {cause} are diagnosed so in {words} runs: {agreeing} of {} (95% Wilson interval {}).",
                runs.len(),
                percent(&rate)
            ),
            share_holds(words, &rate),
            format!("{agreeing}/{} with interval {}", runs.len(), percent(&rate)),
        );
    }
    rows
}

/// The overall agreement and the smallest margin of an agreeing verdict.
fn overall_claims(by_scenario: &[Vec<Diagnosed>], finding: &mut Finding) {
    let all: Vec<&Diagnosed> = by_scenario.iter().flatten().collect();
    let agreeing = all.iter().filter(|r| r.agrees).count();
    let overall = wilson(agreeing, all.len());
    let words = share_words(&overall);
    finding.claim(
        "the-guide-agrees-overall",
        format!(
            "Over all {} runs the diagnosis names the built cause in {words} runs: {agreeing} (95% Wilson interval {}).",
            all.len(),
            percent(&overall)
        ),
        share_holds(words, &overall),
        format!("{agreeing}/{} with interval {}", all.len(), percent(&overall)),
    );
    let agreeing_runs = || all.iter().filter(|r| r.agrees);
    if let Some(worst) = agreeing_runs().min_by(|a, b| a.margin.total_cmp(&b.margin)) {
        let fragile = worst.margin < FRAGILE_MARGIN;
        finding.claim(
            "the-guide-worst-margin",
            format!(
                "The smallest margin of an agreeing verdict is {:.3} ({}, {}){}.",
                worst.margin,
                worst.name,
                worst.verdict,
                if fragile {
                    ": that verdict is fragile"
                } else {
                    ""
                }
            ),
            agreeing_runs().all(|r| r.margin >= worst.margin)
                && fragile == (worst.margin < FRAGILE_MARGIN),
            format!("min margin {:.3}", worst.margin),
        );
    }
}

/// A deciding rule closer than this to its threshold (a twentieth of the chance loss, a
/// few times the seed-to-seed noise of a converged run) makes a fragile verdict.
const FRAGILE_MARGIN: f64 = 0.05;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_words_follow_the_interval() {
        for (k, n) in [(5, 5), (0, 5), (3, 5), (40, 50), (2, 50)] {
            let interval = wilson(k, n);
            assert!(share_holds(share_words(&interval), &interval), "{k}/{n}");
        }
        assert_eq!(share_words(&wilson(50, 50)), "most");
        assert_eq!(share_words(&wilson(0, 50)), "a minority of");
        assert_eq!(share_words(&wilson(3, 5)), "an undetermined share of");
    }
}

//! The sweep file of `unstuck sweep`: a user's grid over models, optimizers, learning
//! rates, batch sizes and seeds, on their data.
//!
//! One `key = value` per line, `#` starts a comment, lists are separated by spaces
//! (optimizer specs contain commas):
//!
//! ```text
//! data = digits                    # DATA, as `unstuck train` reads it
//! validation = 0.2                 # held out, stratified, split with split-seed
//! models = 64-32-10:relu 64-64-10:relu
//! optimizers = adam sgd:momentum=0.9
//! learning-rates = 1e-3 1e-2       # each optimizer at each rate (lr= must not be in the spec)
//! batch-sizes = 32 128
//! seeds = 0 1 2
//! epochs = 10
//! ```
//!
//! Every grid point is one unit of work: model × optimizer × learning rate × batch × seed,
//! in that order.

use crate::cli::DataOptions;
use crate::error::{CliError, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A parsed sweep file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SweepSpec {
    pub(crate) data: String,
    pub(crate) data_options: DataOptions,
    /// Seeds the train/validation split, the same for every grid point.
    pub(crate) split_seed: u64,
    pub(crate) models: Vec<String>,
    pub(crate) optimizers: Vec<String>,
    /// Empty: each optimizer spec keeps its own learning rate.
    pub(crate) learning_rates: Vec<f64>,
    pub(crate) batch_sizes: Vec<usize>,
    pub(crate) seeds: Vec<u64>,
    pub(crate) epochs: u64,
}

/// One point of the grid.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GridPoint {
    pub(crate) model: String,
    /// The optimizer as given in the file.
    pub(crate) optimizer: String,
    /// The spec that is built: the optimizer with its learning rate.
    pub(crate) optimizer_spec: String,
    pub(crate) lr: Option<f64>,
    pub(crate) batch: usize,
    pub(crate) seed: u64,
}

const KEYS: &str = "data, label, regression, validation, test, standardize, split-seed, \
                    models, optimizers, learning-rates, batch-sizes, seeds, epochs";

/// Grids larger than this are refused: a typo (`seeds = 0..100000`) should not start a
/// week of work.
const MAX_POINTS: usize = 100_000;

fn parse_number<T: std::str::FromStr>(
    file: &Path,
    line: usize,
    key: &str,
    word: &str,
) -> Result<T> {
    word.parse().map_err(|_| {
        CliError::file(
            file,
            format!("line {line}: {key}: `{word}` is not a valid number"),
        )
    })
}

fn parse_bool(file: &Path, line: usize, key: &str, word: &str) -> Result<bool> {
    match word {
        "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        _ => Err(CliError::file(
            file,
            format!("line {line}: {key}: `{word}` is not true or false"),
        )),
    }
}

impl SweepSpec {
    /// Reads and checks a sweep file.
    pub(crate) fn read(path: &Path) -> Result<SweepSpec> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| CliError::file(path, format!("cannot read: {error}")))?;
        SweepSpec::parse(&text, path)
    }

    /// Parses the text of a sweep file; `file` names it in errors.
    pub(crate) fn parse(text: &str, file: &Path) -> Result<SweepSpec> {
        let mut spec = SweepSpec {
            data: String::new(),
            data_options: DataOptions {
                label: None,
                regression: false,
                delimiter: ',',
                labels: None,
                test_data: None,
                test_labels: None,
                validation: 0.2,
                test: 0.0,
                no_standardize: false,
            },
            split_seed: 0,
            models: Vec::new(),
            optimizers: Vec::new(),
            learning_rates: Vec::new(),
            batch_sizes: vec![32],
            seeds: vec![0],
            epochs: 10,
        };
        let mut seen: Vec<String> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.split('#').next().unwrap_or_default().trim();
            if content.is_empty() {
                continue;
            }
            let (key, value) = content.split_once('=').ok_or_else(|| {
                CliError::file(
                    file,
                    format!("line {line}: expected `key = value`, got `{content}`"),
                )
            })?;
            let (key, value) = (key.trim(), value.trim());
            if seen.iter().any(|k| k == key) {
                return Err(CliError::file(
                    file,
                    format!("line {line}: `{key}` is given twice"),
                ));
            }
            seen.push(key.to_string());
            let words: Vec<&str> = value.split_whitespace().collect();
            if words.is_empty() {
                return Err(CliError::file(
                    file,
                    format!("line {line}: `{key}` has no value"),
                ));
            }
            spec.set(key, &words, file, line)?;
        }
        spec.check(file)?;
        Ok(spec)
    }

    /// Sets `key` from the words of its line.
    fn set(&mut self, key: &str, words: &[&str], file: &Path, line: usize) -> Result<()> {
        let spec = self;
        let single = || -> Result<&str> {
            match words {
                [word] => Ok(word),
                _ => Err(CliError::file(
                    file,
                    format!("line {line}: `{key}` takes one value, got {}", words.len()),
                )),
            }
        };
        // Every list of numbers, whatever its element type.
        fn numbers<T: std::str::FromStr>(
            words: &[&str],
            file: &Path,
            line: usize,
            key: &str,
        ) -> Result<Vec<T>> {
            words
                .iter()
                .map(|w| parse_number(file, line, key, w))
                .collect()
        }
        match key {
            "data" => spec.data = single()?.to_string(),
            "label" => spec.data_options.label = Some(single()?.to_string()),
            "regression" => spec.data_options.regression = parse_bool(file, line, key, single()?)?,
            "validation" => {
                spec.data_options.validation = parse_number(file, line, key, single()?)?
            }
            "test" => spec.data_options.test = parse_number(file, line, key, single()?)?,
            "standardize" => {
                spec.data_options.no_standardize = !parse_bool(file, line, key, single()?)?
            }
            "split-seed" => spec.split_seed = parse_number(file, line, key, single()?)?,
            "models" => spec.models = words.iter().map(|w| w.to_string()).collect(),
            "optimizers" => spec.optimizers = words.iter().map(|w| w.to_string()).collect(),
            "learning-rates" => spec.learning_rates = numbers(words, file, line, key)?,
            "batch-sizes" => spec.batch_sizes = numbers(words, file, line, key)?,
            "seeds" => spec.seeds = numbers(words, file, line, key)?,
            "epochs" => spec.epochs = parse_number(file, line, key, single()?)?,
            other => {
                return Err(CliError::file(
                    file,
                    format!("line {line}: unknown key `{other}` (the keys are {KEYS})"),
                ));
            }
        }
        Ok(())
    }

    fn check(&self, file: &Path) -> Result<()> {
        let fail = |message: String| Err(CliError::file(file, message));
        for (key, missing) in [
            ("data", self.data.is_empty()),
            ("models", self.models.is_empty()),
            ("optimizers", self.optimizers.is_empty()),
        ] {
            if missing {
                return fail(format!("`{key}` is missing"));
            }
        }
        if let Some(lr) = self
            .learning_rates
            .iter()
            .find(|lr| !(lr.is_finite() && **lr > 0.0))
        {
            return fail(format!("learning-rates: {lr} is not a positive number"));
        }
        if self.batch_sizes.contains(&0) {
            return fail("batch-sizes: 0 is not a batch size".into());
        }
        if self.epochs == 0 {
            return fail("epochs: must be at least 1".into());
        }
        if !self.learning_rates.is_empty()
            && let Some(optimizer) = self.optimizers.iter().find(|o| has_lr(o))
        {
            return fail(format!(
                "optimizers: `{optimizer}` sets lr= itself and learning-rates sets it again"
            ));
        }
        let points = [
            self.models.len(),
            self.optimizers.len(),
            self.learning_rates.len().max(1),
            self.batch_sizes.len(),
            self.seeds.len(),
        ]
        .iter()
        .try_fold(1usize, |acc, n| acc.checked_mul(*n));
        match points {
            Some(n) if n <= MAX_POINTS => Ok(()),
            _ => fail(format!("the grid has more than {MAX_POINTS} points")),
        }
    }

    /// Every grid point, model × optimizer × learning rate × batch × seed.
    pub(crate) fn points(&self) -> Vec<GridPoint> {
        let rates: Vec<Option<f64>> = if self.learning_rates.is_empty() {
            vec![None]
        } else {
            self.learning_rates.iter().map(|&lr| Some(lr)).collect()
        };
        let mut points = Vec::new();
        for model in &self.models {
            for optimizer in &self.optimizers {
                for &lr in &rates {
                    for &batch in &self.batch_sizes {
                        for &seed in &self.seeds {
                            points.push(GridPoint {
                                model: model.clone(),
                                optimizer: optimizer.clone(),
                                optimizer_spec: with_lr(optimizer, lr),
                                lr,
                                batch,
                                seed,
                            });
                        }
                    }
                }
            }
        }
        points
    }
}

fn has_lr(spec: &str) -> bool {
    spec.split_once(':')
        .is_some_and(|(_, options)| options.split(',').any(|o| o.trim().starts_with("lr=")))
}

/// `adam` + 0.01 -> `adam:lr=0.01`; `sgd:momentum=0.9` + 0.1 -> `sgd:momentum=0.9,lr=0.1`.
fn with_lr(spec: &str, lr: Option<f64>) -> String {
    match lr {
        None => spec.to_string(),
        Some(lr) if spec.contains(':') => format!("{spec},lr={lr:e}"),
        Some(lr) => format!("{spec}:lr={lr:e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SweepSpec> {
        SweepSpec::parse(text, Path::new("grid.sweep"))
    }

    #[test]
    fn a_full_file_expands_to_its_grid_in_order() {
        let spec = parse(
            "# a sweep\ndata = digits\nmodels = 64-10:identity 64-32-10:relu\n\
             optimizers = adam sgd:momentum=0.9\nlearning-rates = 1e-3 0.01\n\
             batch-sizes = 32 128\nseeds = 0 1\nepochs = 3 # short\n",
        )
        .unwrap();
        let points = spec.points();
        assert_eq!(points.len(), 2 * 2 * 2 * 2 * 2);
        assert_eq!(points[0].optimizer_spec, "adam:lr=1e-3");
        assert_eq!(points[1].seed, 1);
        assert_eq!(points[4].optimizer_spec, "adam:lr=1e-2");
        assert_eq!(points[8].optimizer_spec, "sgd:momentum=0.9,lr=1e-3");
        assert_eq!(points[16].model, "64-32-10:relu");
        assert_eq!(spec.epochs, 3);
    }

    #[test]
    fn bad_files_name_the_line_and_the_key() {
        let cases = [
            (
                "data = digits\nmodles = 64-10:relu\n",
                "line 2: unknown key `modles`",
            ),
            (
                "data = digits\nmodels 64-10:relu\n",
                "line 2: expected `key = value`",
            ),
            (
                "data = digits\nepochs = ten\n",
                "line 2: epochs: `ten` is not a valid number",
            ),
            (
                "data = digits\ndata = breast-cancer\n",
                "line 2: `data` is given twice",
            ),
            ("data = digits\noptimizers = adam\n", "`models` is missing"),
            (
                "data = digits\nmodels = 64-10:relu\noptimizers = adam:lr=1\nlearning-rates = 0.1\n",
                "`adam:lr=1` sets lr= itself",
            ),
            (
                "data = digits\nmodels = 64-10:relu\noptimizers = adam\nlearning-rates = -1\n",
                "-1 is not a positive number",
            ),
            (
                "data = digits\nmodels = 64-10:relu\noptimizers = adam\nbatch-sizes = 0\n",
                "0 is not a batch size",
            ),
        ];
        for (text, want) in cases {
            let message = parse(text).unwrap_err().to_string();
            assert!(message.starts_with("grid.sweep: "), "{message}");
            assert!(message.contains(want), "{text:?}: {message}");
        }
    }
}

//! Turning a DATA argument into training, validation and test sets.
//!
//! DATA is, in this order: an existing file (IDX images when `--labels` names the label
//! file, a safetensors file with tensors `x` and `y` when its name ends in `.safetensors`,
//! CSV otherwise), a bundled set (`digits`, `breast-cancer`), or a synthetic spec whose
//! name is one of the data crate's generators (`spirals:n=1000,noise=0.2`). Anything
//! else is reported as a file that cannot be read.

use crate::cli::DataOptions;
use crate::error::{CliError, Result};
use std::path::Path;
use unstuck::data::{
    self, Column, CsvOptions, CsvTask, DataError, Dataset, IdxOptions, Split, SplitConfig,
    TensorFileOptions, parse_csv, parse_idx, parse_tensor_file,
};
use unstuck::{TrainError, task};

/// The parts a command works on, standardised with the training part's statistics
/// unless `--no-standardize`.
pub(crate) type Parts = Split<f64>;

/// Reads DATA (and the test set, if any), splits and standardises.
pub(crate) fn load(data: &str, options: &DataOptions, seed: u64) -> Result<Parts> {
    check_fraction("--validation", options.validation)?;
    check_fraction("--test", options.test)?;
    if options.validation + options.test >= 1.0 {
        return Err(CliError::argument(
            "--validation",
            &options.validation.to_string(),
            format!("with --test {} nothing is left for training", options.test),
        ));
    }
    let (dataset, generated_test) = read(data, options.labels.as_deref(), options)?;
    let separate_test = match &options.test_data {
        Some(test_data) => Some(read(test_data, options.test_labels.as_deref(), options)?.0),
        None => generated_test,
    };
    if separate_test.is_some() && options.test > 0.0 {
        return Err(CliError::argument(
            "--test",
            &options.test.to_string(),
            "a separate test set is already given (--test-data or a `shift` spec)",
        ));
    }
    if let Some(test) = &separate_test
        && (test.n_features() != dataset.n_features()
            || test.n_classes().is_some() != dataset.n_classes().is_some())
    {
        return Err(CliError::argument(
            "--test-data",
            options.test_data.as_deref().unwrap_or(data),
            format!(
                "the test set has {} features, the training data {}",
                test.n_features(),
                dataset.n_features()
            ),
        ));
    }
    let config = SplitConfig {
        validation: options.validation,
        test: options.test,
        stratified: dataset.n_classes().is_some(),
        seed,
    };
    task::prepare(&dataset, &config, separate_test, !options.no_standardize).map_err(|error| {
        match error {
            TrainError::Split(error) => {
                CliError::argument("--validation", &options.validation.to_string(), error)
            }
            other => CliError::argument("DATA", data, other),
        }
    })
}

fn check_fraction(arg: &'static str, value: f64) -> Result<()> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(CliError::argument(
            arg,
            &value.to_string(),
            "must be a fraction in [0, 1)",
        ))
    }
}

/// One data source: the dataset, and the shifted test part of a `shift` spec.
fn read(
    source: &str,
    labels: Option<&Path>,
    options: &DataOptions,
) -> Result<(Dataset<f64>, Option<Dataset<f64>>)> {
    let path = Path::new(source);
    if let Some(labels) = labels {
        return Ok((read_idx(path, labels)?, None));
    }
    if path.is_file() {
        let tensors = path
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("safetensors"));
        let dataset = if tensors {
            let bytes = read_file(path)?;
            parse_tensor_file(&bytes, &TensorFileOptions::default())
                .map_err(|error| CliError::file(path, error))?
        } else {
            read_csv(path, options)?
        };
        return Ok((dataset, None));
    }
    match source {
        "digits" => return Ok((data::digits(), None)),
        "breast-cancer" | "breast_cancer" => return Ok((data::breast_cancer(), None)),
        _ => {}
    }
    let name = source.split(':').next().unwrap_or_default().trim();
    if data::GENERATOR_NAMES.split(", ").any(|known| known == name) {
        let generated = data::generate::<f64>(source)
            .map_err(|error| CliError::argument("DATA", source, error))?;
        return Ok((generated.train, generated.shifted_test));
    }
    // Not a file, not a known name: let the OS say why the file cannot be read.
    let message = match std::fs::metadata(path) {
        Err(error) => format!(
            "cannot read: {error} (nor is it a bundled set, digits or breast-cancer, or a generator: {})",
            data::GENERATOR_NAMES
        ),
        Ok(_) => "is not a regular file".to_string(),
    };
    Err(CliError::file(path, message))
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|error| CliError::file(path, format!("cannot read: {error}")))
}

fn read_csv(path: &Path, options: &DataOptions) -> Result<Dataset<f64>> {
    let bytes = read_file(path)?;
    let label = match options.label.as_deref() {
        None => Column::Last,
        Some(text) => match text.trim().parse::<usize>() {
            Ok(index) => Column::Index(index),
            Err(_) => Column::Name(text.to_string()),
        },
    };
    let has_header =
        matches!(label, Column::Name(_)) || first_line_is_header(&bytes, options.delimiter);
    let task = if options.regression {
        CsvTask::Regression
    } else {
        CsvTask::Classification { n_classes: None }
    };
    let csv = CsvOptions {
        has_header,
        delimiter: options.delimiter,
        label,
        task,
    };
    parse_csv(&bytes, &csv).map_err(|error| CliError::file(path, error))
}

/// A first line with a field that is not a number is a header.
fn first_line_is_header(bytes: &[u8], delimiter: char) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let Some(line) = text.lines().find(|line| !line.trim().is_empty()) else {
        return false;
    };
    line.split(delimiter).any(|field| {
        let field = field.trim().trim_matches('"').trim();
        !field.is_empty() && field.parse::<f64>().is_err()
    })
}

fn read_idx(images: &Path, labels: &Path) -> Result<Dataset<f64>> {
    let image_bytes = read_file(images)?;
    let label_bytes = read_file(labels)?;
    parse_idx(&image_bytes, &label_bytes, &IdxOptions::default()).map_err(|error| {
        // Name the file the error is in.
        let path = match &error {
            DataError::Idx { file: "labels", .. } => labels,
            _ => images,
        };
        CliError::file(path, error)
    })
}

//! The task a dataset poses to a model, in one place: split and standardise the data,
//! check that a model fits it, choose the loss, measure the loss of knowing nothing (the
//! unit every threshold of the guide is measured in), and turn the data into the model's
//! objective. The trainer, `diagnose`, the CLI and the report all go through here.

use crate::TrainError;
use std::fmt::Display;
use unstuck_data::{Dataset, Split, SplitConfig, Standardizer, Targets};
use unstuck_models::{Architecture, Loss, Model, Objective};

/// Splits `data` as `config` says, takes `test` as the test part when the split makes
/// none (a separate test set), and, with `standardize`, standardises every part with the
/// training part's mean and standard deviation.
///
/// ```
/// use unstuck::data::{generate, SplitConfig};
/// let data = generate::<f64>("blobs:n=100,classes=2")?.train;
/// let config = SplitConfig { validation: 0.2, test: 0.0, stratified: true, seed: 1 };
/// let parts = unstuck::task::prepare(&data, &config, None, true)?;
/// assert_eq!(parts.train.n_rows() + parts.validation.unwrap().n_rows(), 100);
/// # Ok::<(), unstuck::TrainError>(())
/// ```
pub fn prepare(
    data: &Dataset<f64>,
    config: &SplitConfig,
    test: Option<Dataset<f64>>,
    standardize: bool,
) -> Result<Split<f64>, TrainError> {
    let mut parts = unstuck_data::split(data, config).map_err(TrainError::Split)?;
    parts.test = parts.test.or(test);
    if standardize {
        Standardizer::fit_split(&mut parts).map_err(TrainError::Standardize)?;
    }
    Ok(parts)
}

/// Checks that the model's input width is the data's feature count and its output width
/// the class count (or 1 for two classes), or the number of real targets.
///
/// ```
/// use unstuck::task::check_model_fits;
/// use unstuck::models::ModelRegistry;
/// let data = unstuck::data::generate::<f64>("xor:n=8").unwrap().train;
/// let registry = ModelRegistry::builtin();
/// assert!(check_model_fits(registry.build("2-8-2")?.as_ref(), &data).is_ok());
/// let error = check_model_fits(registry.build("3-8-2")?.as_ref(), &data).unwrap_err();
/// assert!(error.to_string().contains("takes 3 inputs but the data has 2 features"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_model_fits<M: Architecture + Display + ?Sized>(
    model: &M,
    data: &Dataset<f64>,
) -> Result<(), TrainError> {
    let (inputs, outputs) = (model.input_width(), model.output_width());
    if inputs != data.n_features() {
        return Err(TrainError::ModelInputs {
            model: model.to_string(),
            inputs,
            features: data.n_features(),
        });
    }
    // Both sides shaped (an image model on image data): the shapes must agree, not only
    // their sizes. A model of vectors reads any data's rows flat.
    let (model_dims, data_dims) = (model.input_dims(), data.example_dims());
    if model_dims.len() > 1 && data_dims.len() > 1 && model_dims != data_dims {
        return Err(TrainError::ModelInputShape {
            model: model.to_string(),
            model_dims,
            data_dims,
        });
    }
    let fits = match data.targets() {
        Targets::Classes { n_classes, .. } => {
            outputs == *n_classes || (outputs == 1 && *n_classes == 2)
        }
        Targets::Real { n_outputs, .. } => outputs == *n_outputs,
    };
    if !fits {
        let wanted = match data.targets() {
            Targets::Classes { n_classes: 2, .. } => "2 outputs (or 1) for 2 classes".to_string(),
            Targets::Classes { n_classes, .. } => format!("{n_classes} outputs, one per class"),
            Targets::Real { n_outputs, .. } => format!("{n_outputs} outputs, one per target"),
        };
        return Err(TrainError::ModelOutputs {
            model: model.to_string(),
            outputs,
            needed: wanted,
        });
    }
    Ok(())
}

/// The loss for these targets and this output width: cross-entropy for class labels
/// (binary cross-entropy on one logit when there are 2 classes and 1 output), mean
/// squared error for real targets.
///
/// ```
/// use unstuck::task::loss_for;
/// use unstuck::models::Loss;
/// let data = unstuck::data::generate::<f64>("xor:n=8").unwrap().train;
/// assert_eq!(loss_for(&data, 2), Loss::CrossEntropy);
/// assert_eq!(loss_for(&data, 1), Loss::BinaryCrossEntropyWithLogits);
/// ```
pub fn loss_for(data: &Dataset<f64>, output_width: usize) -> Loss {
    match data.targets() {
        Targets::Classes { n_classes: 2, .. } if output_width == 1 => {
            Loss::BinaryCrossEntropyWithLogits
        }
        Targets::Classes { .. } => Loss::CrossEntropy,
        Targets::Real { .. } => Loss::Mse,
    }
}

/// The loss of the best constant prediction on `data`: the entropy (in nats) of the
/// class frequencies for cross-entropy, the mean per-output variance of the targets for
/// mean squared error. A model that learned nothing from the features scores this.
///
/// ```
/// use unstuck::task::chance_loss;
/// use unstuck::models::Loss;
/// let data = unstuck::data::generate::<f64>("xor:n=100").unwrap().train;
/// // Two balanced classes: ln 2.
/// assert!((chance_loss(&data, Loss::CrossEntropy) - 2f64.ln()).abs() < 1e-2);
/// ```
pub fn chance_loss(data: &Dataset<f64>, loss: Loss) -> f64 {
    match data.targets() {
        Targets::Classes { labels, n_classes } => {
            let mut counts = vec![0usize; *n_classes];
            for &label in labels {
                counts[label] += 1;
            }
            let n = labels.len() as f64;
            counts
                .iter()
                .filter(|&&count| count > 0)
                .map(|&count| {
                    let p = count as f64 / n;
                    -p * p.ln()
                })
                .sum()
        }
        Targets::Real { values, n_outputs } => {
            debug_assert_eq!(loss, Loss::Mse);
            let n = (values.len() / n_outputs) as f64;
            let mut total = 0.0;
            for output in 0..*n_outputs {
                let column = values.iter().skip(output).step_by(*n_outputs);
                let mean = column.clone().sum::<f64>() / n;
                total += column.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            }
            total / *n_outputs as f64
        }
    }
}

/// The loss of `model` on the whole of `data` as one objective of theta: loss,
/// gradient, Hessian-vector products (what `unstuck hessian` analyses, and where the
/// trainer evaluates each epoch).
pub fn full_objective<'m>(
    model: &'m dyn Model<f64>,
    data: &Dataset<f64>,
    loss: Loss,
) -> Result<Objective<'m, f64>, TrainError> {
    Ok(Objective::from_batch(model, &data.as_batch(), loss)?)
}

/// Checks every batch size a training run of `n_rows` rows will use (`batch_size`, and
/// the last, partial batch unless `drop_last`) against the model, before any step: a
/// batch norm that would see one value per channel is
/// [`unstuck_models::ModelError::TrainingBatch`], naming the layer.
///
/// ```
/// use unstuck::models::ModelRegistry;
/// use unstuck::task::check_training_batches;
/// let model = ModelRegistry::builtin().build("2/linear(4)-bn=batchnorm-linear(2)")?;
/// assert!(check_training_batches(model.as_ref(), 10, 5, false).is_ok());
/// // 10 rows in batches of 3 leave a last batch of 1.
/// let error = check_training_batches(model.as_ref(), 10, 3, false).unwrap_err();
/// assert!(error.to_string().contains("layer 1 (bn (batchnorm1d))"), "{error}");
/// assert!(check_training_batches(model.as_ref(), 10, 3, true).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_training_batches<M: Architecture + ?Sized>(
    model: &M,
    n_rows: usize,
    batch_size: usize,
    drop_last: bool,
) -> Result<(), TrainError> {
    let last = if drop_last || batch_size == 0 {
        0
    } else {
        n_rows % batch_size
    };
    for batch in [batch_size.min(n_rows), last] {
        if batch > 0 {
            model.check_training_batch(batch)?;
        }
    }
    Ok(())
}

//! Seeded runs, each built to fail in one known way (or not at all): the guide's test
//! bench, used by `unstuck`'s tests and by the report's `guide` experiment. Five are
//! synthetic (spirals, XOR, blobs); the others (`real`) are built from the bundled
//! digits and breast-cancer sets, which the guide was not tuned on.

mod real;

use unstuck::TrainError;
use unstuck::data::{Dataset, SplitConfig, generate};
use unstuck::diagnose::{DataIssue, DiagnoseConfig, DiagnoseData, Diagnosis, Verdict};

/// One scenario: data, the user's settings, and the cause it was built to have.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// A short name.
    pub name: &'static str,
    /// The cause it stands for in the report's agreement table (`leak`, `shuffled
    /// labels`, or a verdict's name).
    pub cause: &'static str,
    /// What was done to make it fail.
    pub setup: String,
    /// The verdict it was built to have.
    pub true_cause: Verdict,
    /// A data problem the checks must also find.
    pub expected_issue: Option<DataIssue>,
    /// Training part (standardised).
    pub train: Dataset<f64>,
    /// Validation part, from the training distribution.
    pub validation: Dataset<f64>,
    /// Test part, when the scenario has one.
    pub test: Option<Dataset<f64>>,
    /// The user's model, optimizer and budget.
    pub config: DiagnoseConfig,
}

impl Scenario {
    /// Whether `diagnosis` names the cause the scenario was built with: the verdict, and
    /// the data problem when there is one.
    pub fn agrees(&self, diagnosis: &Diagnosis) -> bool {
        diagnosis.verdict == self.true_cause
            && self
                .expected_issue
                .is_none_or(|issue| diagnosis.data.has(issue))
    }

    /// The data as [`unstuck::diagnose()`] takes it.
    pub fn data(&self) -> DiagnoseData<'_> {
        DiagnoseData {
            train: &self.train,
            validation: &self.validation,
            test: self.test.as_ref(),
        }
    }
}

/// Training, validation and (maybe) test parts.
type Prepared = (Dataset<f64>, Dataset<f64>, Option<Dataset<f64>>);

/// Splits a generated set into train and validation (stratified, seeded) and
/// standardises every part, the test part included, with the training statistics.
fn prepare(
    data: &Dataset<f64>,
    test: Option<Dataset<f64>>,
    validation: f64,
    seed: u64,
) -> Result<Prepared, TrainError> {
    prepare_scaled(data, test, validation, seed, true)
}

/// [`prepare`], with or without standardisation.
fn prepare_scaled(
    data: &Dataset<f64>,
    test: Option<Dataset<f64>>,
    validation: f64,
    seed: u64,
    standardize: bool,
) -> Result<Prepared, TrainError> {
    let config = SplitConfig {
        validation,
        test: 0.0,
        stratified: true,
        seed,
    };
    let parts = unstuck::task::prepare(data, &config, test, standardize)?;
    let validation = parts
        .validation
        .expect("a positive validation fraction gives a validation part");
    Ok((parts.train, validation, parts.test))
}

/// Where the mismatch scenario cuts the spirals (their radius runs from 0 to 1).
const MISMATCH_RADIUS: f64 = 0.6;

/// The rows within `radius` of the origin, and the others: the same labelling rule
/// (the spirals), different input distributions.
fn split_by_radius(
    data: &Dataset<f64>,
    radius: f64,
) -> Result<(Dataset<f64>, Dataset<f64>), TrainError> {
    let (inner, outer): (Vec<usize>, Vec<usize>) = (0..data.n_rows()).partition(|&row| {
        let x = data.row(row).expect("row index below n_rows");
        x.iter().map(|v| v * v).sum::<f64>().sqrt() < radius
    });
    Ok((data.select(&inner)?, data.select(&outer)?))
}

fn config(
    model: &str,
    optimizer: &str,
    batch_size: usize,
    epochs: u64,
    seed: u64,
) -> DiagnoseConfig {
    DiagnoseConfig {
        batch_size,
        epochs,
        seed,
        ..DiagnoseConfig::new(model, optimizer)
    }
}

/// The synthetic scenarios, in the guide's order, then the real-data ones, from one
/// seed. `quick` shrinks them for CI and tests.
///
/// 1. **Model bias**: a linear model on two interleaved spirals.
/// 2. **Optimization**: a deep plain tanh net (8 hidden layers, PyTorch's default init,
///    plain SGD) on XOR, where the shallow tanh reference fits easily.
/// 3. **Overfitting**: a small, label-noised training set and a wide ReLU net.
/// 4. **Mismatch**: covariate shift: trained on the inner turns of the spirals, tested
///    on the outer ones; the labelling rule is the same, the inputs are not.
/// 5. **Healthy**: well-separated blobs and a small net.
///
/// The real-data scenarios are listed in [`real`]'s documentation.
pub fn scenarios(quick: bool, seed: u64) -> Result<Vec<Scenario>, TrainError> {
    BUILDERS
        .iter()
        .map(|(_, build)| build(Size { quick }, seed))
        .collect()
}

/// Builds one scenario of [`scenarios`] by name (`None` for a name it does not know),
/// without building the others.
pub fn scenario(name: &str, quick: bool, seed: u64) -> Result<Option<Scenario>, TrainError> {
    BUILDERS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, build)| build(Size { quick }, seed))
        .transpose()
}

/// The names of [`scenarios`], in order.
pub fn names() -> Vec<&'static str> {
    BUILDERS.iter().map(|(name, _)| *name).collect()
}

type Build = fn(Size, u64) -> Result<Scenario, TrainError>;

/// Every scenario by name: the synthetic ones in the guide's order, then the real ones.
const BUILDERS: [(&str, Build); 13] = [
    ("model bias", model_bias),
    ("optimization", optimization),
    ("overfitting", overfitting),
    ("mismatch", mismatch),
    ("healthy", healthy),
    ("digits bottleneck", real::digits_bottleneck),
    ("cancer unscaled", real::cancer_unscaled),
    ("digits overfitting", real::digits_overfitting),
    ("digits shifted", real::digits_shifted),
    ("cancer concept drift", real::cancer_concept_drift),
    ("digits healthy", real::digits_healthy),
    ("digits leak", real::digits_leak),
    ("cancer shuffled labels", real::cancer_shuffled_labels),
];

/// The full size of a scenario, or the small one for CI and tests.
#[derive(Debug, Clone, Copy)]
struct Size {
    quick: bool,
}

impl Size {
    fn pick(self, full: usize, small: usize) -> usize {
        if self.quick { small } else { full }
    }
}

fn model_bias(size: Size, seed: u64) -> Result<Scenario, TrainError> {
    let n = size.pick(600, 300);
    let spirals = generate::<f64>(&format!("spirals:n={n},noise=0.05,seed={seed}"))?.train;
    let (train, validation, test) = prepare(&spirals, None, 0.25, seed)?;
    Ok(Scenario {
        name: "model bias",
        cause: "model bias",
        expected_issue: None,
        setup: format!("linear model 2-2:identity on {n} spiral points"),
        true_cause: Verdict::ModelBias,
        train,
        validation,
        test,
        config: config("2-2:identity", "adam:lr=0.05", 32, 40, seed),
    })
}

fn optimization(size: Size, seed: u64) -> Result<Scenario, TrainError> {
    let n = size.pick(400, 200);
    let xor = generate::<f64>(&format!("xor:n={n},noise=0.05,seed={seed}"))?.train;
    let (train, validation, test) = prepare(&xor, None, 0.25, seed)?;
    let deep = "2-16-16-16-16-16-16-16-16-2:tanh";
    Ok(Scenario {
        name: "optimization",
        cause: "optimization",
        expected_issue: None,
        setup: format!("deep plain tanh net {deep} with SGD (lr 0.05) on {n} XOR points"),
        true_cause: Verdict::Optimization,
        train,
        validation,
        test,
        config: config(deep, "sgd:lr=0.05", 32, 15, seed),
    })
}

fn overfitting(size: Size, seed: u64) -> Result<Scenario, TrainError> {
    let n = size.pick(120, 80);
    let noisy = generate::<f64>(&format!(
        "spirals:n={n},noise=0.05,seed={seed},label_noise=0.3"
    ))?
    .train;
    let (train, validation, test) = prepare(&noisy, None, 0.5, seed)?;
    Ok(Scenario {
        name: "overfitting",
        cause: "overfitting",
        expected_issue: None,
        setup: format!(
            "wide net 2-256-256-2:relu on {} training points, 30% of labels flipped",
            train.n_rows()
        ),
        true_cause: Verdict::Overfitting,
        train,
        validation,
        test,
        config: config(
            "2-256-256-2:relu",
            "adam:lr=0.01",
            16,
            size.pick(300, 200) as u64,
            seed,
        ),
    })
}

fn mismatch(size: Size, seed: u64) -> Result<Scenario, TrainError> {
    let n = size.pick(800, 500);
    let spirals = generate::<f64>(&format!("spirals:n={n},noise=0.05,seed={seed}"))?.train;
    let (inner, outer) = split_by_radius(&spirals, MISMATCH_RADIUS)?;
    let (train, validation, test) = prepare(&inner, Some(outer), 0.25, seed)?;
    Ok(Scenario {
        name: "mismatch",
        cause: "mismatch",
        expected_issue: None,
        setup: format!(
            "covariate shift: trained on the {} spiral points within radius {MISMATCH_RADIUS}, tested on the {} outside it",
            inner.n_rows(),
            test.as_ref().map_or(0, Dataset::n_rows)
        ),
        true_cause: Verdict::Mismatch,
        train,
        validation,
        test,
        config: config("2-64-2:tanh", "adam:lr=0.02", 32, 80, seed),
    })
}

fn healthy(size: Size, seed: u64) -> Result<Scenario, TrainError> {
    let n = size.pick(600, 300);
    let blobs = generate::<f64>(&format!("blobs:n={n},classes=3,std=1.0,seed={seed}"))?.train;
    let (train, validation, test) = prepare(&blobs, None, 0.25, seed)?;
    Ok(Scenario {
        name: "healthy",
        cause: "healthy",
        expected_issue: None,
        setup: format!("small net 2-32-3:relu on {n} well-separated blob points"),
        true_cause: Verdict::Healthy,
        train,
        validation,
        test,
        config: config("2-32-3:relu", "adam:lr=0.01", 32, 20, seed),
    })
}

//! The bundled UCI digits, split and standardised the same way for every experiment.

use anyhow::{Context as _, Result};
use unstuck::data::{self, Dataset, SplitConfig};

/// Train and test parts of the digits (80/20, stratified), standardised on the training part.
#[derive(Debug)]
pub struct Digits {
    pub train: Dataset<f64>,
    pub test: Dataset<f64>,
}

pub fn digits(seed: u64) -> Result<Digits> {
    let all = data::digits::<f64>();
    let config = SplitConfig {
        validation: 0.0,
        test: 0.2,
        stratified: true,
        seed,
    };
    let split = unstuck::task::prepare(&all, &config, None, true)?;
    Ok(Digits {
        train: split.train,
        test: split.test.context("a 20% test part")?,
    })
}

//! **unstuck**: *my network fails to train, what now?*
//!
//! One dependency for the whole workspace: exact derivatives ([`autodiff`]), datasets
//! ([`data`]), models ([`models`]), optimizers and schedules ([`optim`]), Hessian analysis
//! ([`hessian`]), and the training loop of this crate, [`Trainer`], which records a
//! [`History`], stops with a typed error when the loss diverges, notices when training is
//! stuck at a small gradient, tells a saddle from a minimum there, and can escape a saddle
//! along its negative eigenvector, as the lecture describes.
//!
//! ```
//! use unstuck::{data, models::ModelRegistry, optim::Registry, Trainer, TrainConfig};
//! use unstuck::models::Model;
//! let train = data::generate::<f64>("blobs:n=64,classes=2,seed=1").unwrap().train;
//! // Any model spec: an MLP (`2-8-2:tanh`) or a network (`2/linear(8)-tanh-linear(2)`).
//! let model = ModelRegistry::builtin().build("2-8-2:tanh").unwrap();
//! let model: &dyn Model<f64> = model.as_ref();
//! let optimizer = Registry::builtin().build("sgd:lr=0.5").unwrap();
//! let config = TrainConfig { batch_size: 16, epochs: 3, ..TrainConfig::default() };
//! let mut trainer = Trainer::new(model, optimizer, config, model.init(0)).unwrap();
//! let history = trainer.fit(&train, None).unwrap();
//! assert_eq!(history.epochs.len(), 3);
//! ```

#![warn(missing_docs)]

mod checkpoint;
pub mod diagnose;
mod error;
mod history;
pub mod instruments;
#[cfg(feature = "cli")]
pub mod plot;
pub mod shard;
mod stuck;
pub mod task;
mod trainer;

pub use unstuck_autodiff as autodiff;
pub use unstuck_data as data;
pub use unstuck_hessian as hessian;
pub use unstuck_models as models;
pub use unstuck_optim as optim;

pub use checkpoint::Checkpoint;
pub use diagnose::{Diagnosis, Verdict, diagnose};
pub use error::TrainError;
pub use history::{
    AlphaRecord, BlockValues, CurvatureRecord, EpochRecord, Event, History, HistoryLine,
    HistoryLineError, HistoryMark, NoiseRecord, NormsRecord, StepRecord,
};
pub use stuck::StuckConfig;
pub use trainer::{TrainConfig, Trainer};
/// The one way every file of unstuck is written: temporary file, fsync, rename, fsync of
/// the folder, mode from the umask.
pub use unstuck_core::write_atomic;

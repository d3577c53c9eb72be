//! The training loop.

use crate::TrainError;
use crate::checkpoint::Checkpoint;
use crate::history::{EpochRecord, History, StepRecord};
use crate::instruments::{InstrumentConfig, Instruments, StepView, UpdateView};
use crate::stuck::{StuckConfig, StuckCounter, diagnose_and_escape};
use crate::task::{check_training_batches, full_objective};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;
use unstuck_autodiff::{Tape, Tensor, Var};
use unstuck_data::{Batch, BatchConfig, Batches, Dataset};
use unstuck_models::{Loss, Model, Objective, Pass, mix_seeds};
use unstuck_optim::Optimizer;

/// What the recorded part of a step found (see `Trainer::differentiate`).
struct Differentiated {
    loss: f64,
    grad: Vec<f64>,
    grad_norm: f64,
    /// The model's buffers (running statistics) after this step's forward pass.
    new_buffers: Vec<f64>,
}

/// How to train.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Examples per mini-batch (at most the training set's size).
    pub batch_size: usize,
    /// Epochs to run in total (a resumed run counts the epochs already done).
    pub epochs: u64,
    /// Seeds the shuffling; epoch `e` uses the stream `(seed, e)`.
    pub seed: u64,
    /// The loss (a mean over the batch).
    pub loss: Loss,
    /// Drop the last, smaller batch of each epoch.
    pub drop_last: bool,
    /// Stuck detection; `None` turns it off.
    pub stuck: Option<StuckConfig>,
    /// Show a progress bar when stderr is a terminal.
    pub progress: bool,
    /// Write a checkpoint here (atomically) after every epoch.
    pub checkpoint_path: Option<PathBuf>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            batch_size: 32,
            epochs: 10,
            seed: 0,
            loss: Loss::CrossEntropy,
            drop_last: false,
            stuck: Some(StuckConfig::default()),
            progress: true,
            checkpoint_path: None,
        }
    }
}

/// A model, an optimizer and the parameters being trained, with what has happened so far.
///
/// Everything is `f64`, the reference type for the Hessian work the stuck detector does.
#[derive(Debug)]
pub struct Trainer<'m> {
    model: &'m dyn Model<f64>,
    optimizer: Box<dyn Optimizer<f64>>,
    config: TrainConfig,
    theta: Vec<f64>,
    last_good: Vec<f64>,
    /// The model's buffers (batch norm's running statistics), updated by every step.
    buffers: Vec<f64>,
    step: u64,
    next_epoch: u64,
    history: History,
    stuck: StuckCounter,
    instruments: Option<Instruments>,
    /// A resumed checkpoint's curvature warm start, handed to the instruments when they
    /// are turned on.
    curvature_start: Option<Vec<f64>>,
}

impl<'m> Trainer<'m> {
    /// A trainer at `theta` (for example `model.init(seed)`).
    pub fn new(
        model: &'m dyn Model<f64>,
        optimizer: Box<dyn Optimizer<f64>>,
        config: TrainConfig,
        theta: Vec<f64>,
    ) -> Result<Self, TrainError> {
        if theta.len() != model.n_params() {
            return Err(TrainError::ThetaLength {
                expected: model.n_params(),
                got: theta.len(),
            });
        }
        if let Some(index) = theta.iter().position(|t| !t.is_finite()) {
            return Err(TrainError::NonFiniteTheta { index });
        }
        if config.batch_size == 0 {
            return Err(TrainError::InvalidSetting {
                setting: "batch size",
                problem: "must be at least 1".into(),
            });
        }
        if let Some(stuck) = &config.stuck {
            stuck.validate()?;
        }
        Ok(Trainer {
            model,
            optimizer,
            config,
            last_good: theta.clone(),
            theta,
            buffers: model.initial_buffers(),
            step: 0,
            next_epoch: 0,
            history: History::default(),
            stuck: StuckCounter::default(),
            instruments: None,
            curvature_start: None,
        })
    }

    /// Continues a run from a checkpoint, bit-identically. `optimizer` must be built from
    /// the same spec as the original; its state is restored from the checkpoint.
    pub fn resume(
        model: &'m dyn Model<f64>,
        mut optimizer: Box<dyn Optimizer<f64>>,
        config: TrainConfig,
        checkpoint: Checkpoint,
    ) -> Result<Self, TrainError> {
        if checkpoint.seed != config.seed {
            return Err(TrainError::SeedMismatch {
                checkpoint: checkpoint.seed,
                config: config.seed,
            });
        }
        optimizer.load_state(&checkpoint.optimizer)?;
        let mut trainer = Trainer::new(model, optimizer, config, checkpoint.theta)?;
        if checkpoint.buffers.len() != trainer.buffers.len() {
            return Err(TrainError::BufferLength {
                expected: trainer.buffers.len(),
                got: checkpoint.buffers.len(),
            });
        }
        trainer.buffers = checkpoint.buffers;
        trainer.step = checkpoint.step;
        trainer.next_epoch = checkpoint.next_epoch;
        trainer.history = checkpoint.history;
        trainer.curvature_start = checkpoint.curvature_start;
        trainer.stuck = StuckCounter {
            run: checkpoint.stuck_run,
            events: checkpoint.stuck_events,
        };
        Ok(trainer)
    }

    /// Turns on the instruments of `config` (see [`crate::instruments`]): their records
    /// go into the history, step by step. An empty config turns them off. A resumed run
    /// warm-starts the curvature tracker from the checkpoint's last eigenvector (format
    /// 3), so its records are the same bits as an uninterrupted run's.
    pub fn with_instruments(mut self, config: InstrumentConfig) -> Result<Self, TrainError> {
        config.validate(self.model)?;
        self.instruments = (!config.is_empty()).then(|| {
            let mut instruments = Instruments::new(config);
            instruments.set_curvature_start(self.curvature_start.clone());
            instruments
        });
        Ok(self)
    }

    /// The current parameters.
    pub fn theta(&self) -> &[f64] {
        &self.theta
    }

    /// The model's buffers (running statistics) after the steps so far, in the order of
    /// its `buffer_layout`; empty for a model without any. The checkpoint holds them, so a
    /// resumed run continues with the same statistics.
    pub fn buffers(&self) -> &[f64] {
        &self.buffers
    }

    /// What has been recorded so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The epoch to run next (the epochs done so far).
    pub fn next_epoch(&self) -> u64 {
        self.next_epoch
    }

    /// Steps taken so far.
    pub fn steps_taken(&self) -> u64 {
        self.step
    }

    /// The optimizer (its learning rate, its state).
    pub fn optimizer(&self) -> &dyn Optimizer<f64> {
        self.optimizer.as_ref()
    }

    /// Everything needed to continue this run later, bit-identically.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            format: Checkpoint::FORMAT,
            seed: self.config.seed,
            theta: self.theta.clone(),
            buffers: self.buffers.clone(),
            optimizer: self.optimizer.state(),
            step: self.step,
            next_epoch: self.next_epoch,
            history: self.history.clone(),
            stuck_run: self.stuck.run,
            stuck_events: self.stuck.events,
            curvature_start: (self.instruments.as_ref())
                .and_then(Instruments::curvature_start)
                .or_else(|| self.curvature_start.clone()),
        }
    }

    /// Trains until `config.epochs` epochs are done, evaluating on the whole training set
    /// (and `validation`) after each.
    pub fn fit(
        &mut self,
        train: &Dataset<f64>,
        validation: Option<&Dataset<f64>>,
    ) -> Result<&History, TrainError> {
        self.fit_until(train, validation, |_| false)
    }

    /// Like [`Trainer::fit`], but stops early after the first epoch for which `stop`
    /// returns true (early stopping, or "train until the loss reaches a target").
    pub fn fit_until(
        &mut self,
        train: &Dataset<f64>,
        validation: Option<&Dataset<f64>>,
        mut stop: impl FnMut(&EpochRecord) -> bool,
    ) -> Result<&History, TrainError> {
        let batch_config = BatchConfig {
            batch_size: self.config.batch_size,
            drop_last: self.config.drop_last,
            shuffle: true,
            seed: self.config.seed,
        };
        let mut batches = Batches::new(train, batch_config)?;
        let (batch_size, drop_last) = (self.config.batch_size, self.config.drop_last);
        check_training_batches(self.model, train.n_rows(), batch_size, drop_last)?;
        let train_eval = full_objective(self.model, train, self.config.loss)?;
        let validation_eval = validation
            .map(|v| full_objective(self.model, v, self.config.loss))
            .transpose()?;
        let remaining = self.config.epochs.saturating_sub(self.next_epoch);
        let bar = self.progress_bar(remaining * batches.n_batches() as u64);
        while self.next_epoch < self.config.epochs {
            let started = Instant::now();
            let epoch = self.next_epoch;
            batches.start_epoch(epoch);
            while let Some(batch) = batches.next_batch() {
                let objective = Objective::from_batch(self.model, &batch, self.config.loss)?;
                self.train_step(&objective, epoch, Some(&train_eval))?;
                bar.inc(1);
            }
            let record = self.evaluate(epoch, &train_eval, validation_eval.as_ref(), started)?;
            bar.set_message(format!(
                "epoch {epoch}: train loss {:.4}",
                record.train_loss
            ));
            self.history.epochs.push(record);
            self.next_epoch += 1;
            if let Some(path) = &self.config.checkpoint_path {
                self.checkpoint().save(path)?;
            }
            if self.history.epochs.last().is_some_and(&mut stop) {
                break;
            }
        }
        bar.finish_and_clear();
        Ok(&self.history)
    }

    /// One optimizer step on `batch`, recorded in the history with the instruments'
    /// records, for a loop of the caller's own (and for timing a step as the trainer takes
    /// it). The stuck detector needs the whole training set, so it runs only in
    /// [`Trainer::fit`]; the step counts towards the current epoch.
    pub fn train_on(&mut self, batch: &Batch<'_, f64>) -> Result<(), TrainError> {
        let objective = Objective::from_batch(self.model, batch, self.config.loss)?;
        self.train_step(&objective, self.next_epoch, None)
    }

    /// One optimizer step on one mini-batch, with rayon's workers kept awake for it
    /// ([`unstuck_core::with_hot_step`]).
    fn train_step(
        &mut self,
        objective: &Objective<'_, f64>,
        epoch: u64,
        train_eval: Option<&Objective<'_, f64>>,
    ) -> Result<(), TrainError> {
        unstuck_core::with_hot_step(self.theta.len(), || {
            self.hot_train_step(objective, epoch, train_eval)
        })
    }

    /// [`Trainer::train_step`]'s body.
    fn hot_train_step(
        &mut self,
        objective: &Objective<'_, f64>,
        epoch: u64,
        train_eval: Option<&Objective<'_, f64>>,
    ) -> Result<(), TrainError> {
        // Each step its own dropout masks, drawn from the run's seed and the step.
        let pass_seed = mix_seeds(self.config.seed, self.step);
        // theta moves onto the tape and back instead of being copied there (a 10-epoch
        // digits run, 64-32-10 at batch 32, took 3% fewer instructions); it is back before
        // anything else reads it and before any return.
        let tape = Tape::<f64>::new();
        let theta_var = tape.leaf(Tensor::vector(std::mem::take(&mut self.theta)));
        let differentiated = self.differentiate(&tape, theta_var, objective, pass_seed, epoch);
        self.theta = tape.take_leaf(theta_var);
        drop(tape);
        let Differentiated {
            loss,
            grad,
            grad_norm,
            new_buffers,
        } = match differentiated {
            Ok(step) => step,
            Err((what, loss)) => return Err(self.diverged(what, loss)),
        };
        self.last_good.copy_from_slice(&self.theta);
        let lr = self.optimizer.lr();
        self.optimizer.step(&mut self.theta, &grad)?;
        if let Some(instruments) = &mut self.instruments {
            let view = UpdateView {
                step: self.step,
                objective,
                pass_seed,
                buffers: &self.buffers,
                before: &self.last_good,
                after: &self.theta,
                loss,
                grad: &grad,
                lr,
            };
            instruments.after_update(view, &mut self.history)?;
        }
        self.buffers = new_buffers;
        self.step += 1;
        if self.theta.iter().any(|t| !t.is_finite()) {
            return Err(self.diverged("parameters after the update", loss));
        }
        if let Some(config) = &self.config.stuck
            && let Some(train_eval) = train_eval
            && self.stuck.observe(config, loss, grad_norm)
        {
            let (events, escaped) =
                diagnose_and_escape(config, train_eval, &self.theta, self.step)?;
            self.history.events.extend(events);
            if let Some(theta) = escaped {
                self.theta = theta;
            }
        }
        Ok(())
    }

    /// The recorded part of a step, on `tape` with theta as `theta_var`: the loss, theta's
    /// gradient and its norm and the model's updated buffers, with the step's record and
    /// the instruments' records before the update; or what diverged, with the loss.
    fn differentiate(
        &mut self,
        tape: &Tape<f64>,
        theta_var: Var,
        objective: &Objective<'_, f64>,
        pass_seed: u64,
        epoch: u64,
    ) -> Result<Differentiated, (&'static str, f64)> {
        let mut pass = Pass::train_tracking(pass_seed, &self.buffers);
        let (logits, loss_var) = objective.record_pass_with_logits(tape, theta_var, &mut pass);
        let new_buffers = pass.updated_buffers(tape);
        let loss = tape.scalar_value(loss_var);
        if !loss.is_finite() {
            return Err(("loss", loss));
        }
        // One reverse sweep: theta's gradient, and the layer outputs' for the instruments.
        let sites = (self.instruments.as_ref())
            .map(|instruments| instruments.sites(tape, theta_var, self.step))
            .unwrap_or_default();
        let mut grads = tape.grad(loss_var, &sites.wrt(theta_var));
        let output_grads = grads.split_off(1);
        let grad = grads.pop().expect("theta's gradient").into_data();
        if grad.iter().any(|g| !g.is_finite()) {
            return Err(("gradient", loss));
        }
        let grad_norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
        self.history.steps.push(StepRecord {
            step: self.step,
            epoch,
            loss,
            grad_norm,
            lr: self.optimizer.lr(),
        });
        if let Some(instruments) = &mut self.instruments {
            let view = StepView {
                step: self.step,
                tape,
                logits,
                sites: &sites,
                output_grads: &output_grads,
                grad: &grad,
                batch_size: objective.batch_size(),
            };
            instruments.before_update(view, self.model, &mut self.history);
        }
        Ok(Differentiated {
            loss,
            grad,
            grad_norm,
            new_buffers,
        })
    }

    /// Stops the run: `last_good` is the point before the last update, whose loss and
    /// gradient were finite (at step 0, the starting point). The trainer keeps it.
    fn diverged(&mut self, what: &'static str, loss: f64) -> TrainError {
        self.theta.clone_from(&self.last_good);
        TrainError::Diverged {
            step: self.step,
            what,
            loss,
            last_good: self.last_good.clone(),
        }
    }

    fn evaluate(
        &self,
        epoch: u64,
        train: &Objective<'_, f64>,
        validation: Option<&Objective<'_, f64>>,
        started: Instant,
    ) -> Result<EpochRecord, TrainError> {
        // Evaluation mode, as PyTorch's model.eval(): running statistics, no dropout.
        let eval = |objective: &Objective<'_, f64>| {
            objective.evaluate_in(&self.theta, &mut Pass::eval(&self.buffers))
        };
        let train_eval = eval(train)?;
        let validation_eval = validation.map(eval).transpose()?;
        Ok(EpochRecord {
            epoch,
            train_loss: train_eval.loss,
            train_accuracy: train_eval.accuracy,
            validation_loss: validation_eval.map(|e| e.loss),
            validation_accuracy: validation_eval.and_then(|e| e.accuracy),
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    fn progress_bar(&self, total: u64) -> ProgressBar {
        if !(self.config.progress && std::io::stderr().is_terminal()) {
            return ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        }
        let bar = ProgressBar::new(total);
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} steps {elapsed_precise} {msg}")
        {
            bar.set_style(style);
        }
        bar
    }
}

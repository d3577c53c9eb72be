//! Full training steps through the public API, as a user writes them: forward,
//! cross-entropy, backward and the optimizer's update on a fixed batch, in f32.

use super::timing::{Budget, Summary, measure};
use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use unstuck::autodiff::{Conv2dOptions, Tape, Tensor, Var, gradient_into};
use unstuck::models::{Loss, Mlp, Model, Objective, Targets};
use unstuck::optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};

/// The MLP presets of the anchors' `torch_mlp_train.py`: name, widths, batch.
pub const MLPS: [(&str, &[usize], usize); 3] = [
    ("tiny", &[2, 16, 16, 2], 32),
    ("medium", &[64, 128, 128, 10], 64),
    ("mnist", &[784, 256, 256, 10], 128),
];

/// The optimizers of the anchors: SGD with momentum 0.9 at lr 0.01, Adam at lr 1e-3.
pub fn optimizer(name: &str) -> Result<Box<dyn Optimizer<f32>>> {
    Ok(match name {
        "sgd" => Box::new(Sgd::<f32>::new(SgdConfig {
            lr: 0.01,
            momentum: 0.9,
            ..SgdConfig::default()
        })?),
        "adam" => Box::new(Adam::<f32>::new(AdamConfig {
            lr: 1e-3,
            ..AdamConfig::default()
        })?),
        other => anyhow::bail!("unknown optimizer {other}"),
    })
}

/// A fixed batch: standard normal inputs and uniform labels, seeded.
pub fn batch(n: usize, features: usize, classes: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = (0..n * features)
        .map(|_| rng.sample::<f32, _>(StandardNormal))
        .collect();
    let y = (0..n).map(|_| rng.random_range(0..classes)).collect();
    (x, y)
}

/// Times one MLP step (`widths`, `act`, batch `n`) with optimizer `opt`.
pub fn mlp_step(
    widths: &[usize],
    act: &str,
    n: usize,
    opt: &str,
    budget: Budget,
) -> Result<Summary> {
    let spec = format!(
        "{}:{act}",
        widths
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join("-")
    );
    let mlp = Mlp::from_spec(&spec)?;
    let (x, y) = batch(n, widths[0], widths[widths.len() - 1], 1);
    let objective = Objective::new(
        &mlp,
        Tensor::matrix(x, n, widths[0])?,
        Targets::Classes {
            labels: y,
            n_classes: widths[widths.len() - 1],
        },
        Loss::CrossEntropy,
    )?;
    time_steps(&objective, mlp.init(0), opt, budget)
}

/// Times full steps (gradient of `objective`, then the update of `opt`) from `theta`.
pub fn time_steps(
    objective: &Objective<'_, f32>,
    mut theta: Vec<f32>,
    opt: &str,
    budget: Budget,
) -> Result<Summary> {
    let mut optimizer = optimizer(opt)?;
    let mut grad = Vec::new();
    let mut failed = None;
    let summary = measure(budget, || {
        let step = objective
            .gradient_into(&mut theta, &mut grad)
            .map_err(anyhow::Error::from)
            .and_then(|_| Ok(optimizer.step(&mut theta, &grad)?));
        if let Err(e) = step {
            failed = Some(e);
        }
    });
    failed.map_or(Ok(summary), Err)
}

/// LeNet's parameter shapes in `state_dict` order.
const LENET: [&[usize]; 10] = [
    &[6, 1, 5, 5],
    &[6],
    &[16, 6, 5, 5],
    &[16],
    &[120, 256],
    &[120],
    &[84, 120],
    &[84],
    &[10, 84],
    &[10],
];

/// LeNet's loss: conv 6 k5, relu, maxpool 2, conv 16 k5, relu, maxpool 2, linear 120,
/// 84, 10 (the anchors' `torch_cnn_train.py`), built from the tape's ops.
pub fn lenet_loss(tape: &Tape<f32>, theta: Var, x: &Tensor<f32>, y: &[usize]) -> Var {
    let mut offset = 0;
    let mut p: Vec<Var> = Vec::with_capacity(LENET.len());
    for dims in LENET {
        let len: usize = dims.iter().product();
        p.push(tape.reshape(tape.slice(theta, offset, len), dims));
        offset += len;
    }
    let n = x.dims()[0];
    let conv = Conv2dOptions::default();
    let x = tape.constant(x.clone());
    let h = tape.max_pool2d(tape.relu(tape.conv2d(x, p[0], Some(p[1]), conv)), 2, 2);
    let h = tape.max_pool2d(tape.relu(tape.conv2d(h, p[2], Some(p[3]), conv)), 2, 2);
    let mut h = tape.reshape(h, &[n, 256]);
    for layer in 0..3 {
        let (w, b) = (p[4 + 2 * layer], p[5 + 2 * layer]);
        h = tape.add(tape.matmul_t(h, w, false, true), b);
        if layer < 2 {
            h = tape.relu(h);
        }
    }
    tape.softmax_cross_entropy(h, y)
}

/// PyTorch's default init range for LeNet: uniform within 1/sqrt(fan_in) per tensor.
pub fn lenet_init(seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let fan_in = [25, 25, 150, 150, 256, 256, 120, 120, 84, 84];
    LENET
        .iter()
        .zip(fan_in)
        .flat_map(|(dims, fan)| {
            let bound = 1.0 / (fan as f32).sqrt();
            let len: usize = dims.iter().product();
            (0..len)
                .map(|_| rng.random_range(-bound..bound))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Times one LeNet step at batch `n` with optimizer `opt`.
pub fn lenet_step(n: usize, opt: &str, budget: Budget) -> Result<Summary> {
    let (x, y) = batch(n, 28 * 28, 10, 2);
    let x = Tensor::new(x, &[n, 1, 28, 28])?;
    let mut theta = lenet_init(0);
    let mut optimizer = optimizer(opt)?;
    let mut grad = Vec::new();
    let mut failed = None;
    let summary = measure(budget, || {
        let loss = |tape: &Tape<f32>, theta| lenet_loss(tape, theta, &x, &y);
        let step = gradient_into(loss, &mut theta, &mut grad)
            .map_err(anyhow::Error::from)
            .and_then(|_| Ok(optimizer.step(&mut theta, &grad)?));
        if let Err(e) = step {
            failed = Some(e);
        }
    });
    failed.map_or(Ok(summary), Err)
}

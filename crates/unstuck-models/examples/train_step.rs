//! Build an MLP from a spec string, initialise it, compute the loss and its gradient on
//! a batch, and take a few plain gradient-descent steps.
//!
//! Run with `cargo run -p unstuck-models --example train_step`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use unstuck_autodiff::Tensor;
use unstuck_models::{
    Architecture, Loss, Mlp, Model, ModelError, Objective, Targets, layer_blocks,
};

/// Two Gaussian blobs in the plane, labelled 0 and 1, from a fixed seed.
fn two_blobs(n_per_class: usize, seed: u64) -> (Tensor<f64>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let noise = Normal::new(0.0, 0.7).expect("positive standard deviation");
    let mut x = Vec::with_capacity(4 * n_per_class);
    let mut y = Vec::with_capacity(2 * n_per_class);
    for class in 0..2 {
        let center = if class == 0 { -1.0 } else { 1.0 };
        for _ in 0..n_per_class {
            x.push(center + noise.sample(&mut rng));
            x.push(center + noise.sample(&mut rng));
            y.push(class);
        }
    }
    let x = Tensor::matrix(x, 2 * n_per_class, 2).expect("two features per example");
    (x, y)
}

fn main() -> Result<(), ModelError> {
    let mlp = Mlp::from_spec("2-16-16-2:tanh")?;
    println!("model {mlp}: {} parameters", mlp.n_params());
    for block in layer_blocks(mlp.layout()) {
        println!("  {:<9} theta[{:?}]", block.name, block.range);
    }

    let mut theta: Vec<f64> = mlp.init(0);
    let (x, y) = two_blobs(32, 1);
    let targets = Targets::Classes {
        labels: y,
        n_classes: 2,
    };
    let objective = Objective::new(&mlp, x, targets, Loss::CrossEntropy)?;

    let (loss, gradient) = objective.gradient(&theta)?;
    let norm = gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
    println!("initial loss {loss:.6}, gradient norm {norm:.6}");

    let learning_rate = 0.5;
    for step in 1..=20 {
        let (_, gradient) = objective.gradient(&theta)?;
        for (t, g) in theta.iter_mut().zip(&gradient) {
            *t -= learning_rate * g;
        }
        if step % 5 == 0 {
            let eval = objective.evaluate(&theta)?;
            let accuracy = eval.accuracy.unwrap_or(f64::NAN);
            println!(
                "step {step:>2}: loss {:.6}, accuracy {accuracy:.3}",
                eval.loss
            );
        }
    }
    Ok(())
}

//! A seeded random tanh-MLP problem for the benchmarks and examples, built like the golden
//! p1000 fixture: Gaussian inputs, uniform labels, PyTorch's default uniform initialisation
//! `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` for weights and biases, mean cross-entropy.

#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use unstuck_autodiff::{Tape, Tensor, Var};

#[derive(Debug)]
pub struct RandomMlp {
    pub widths: Vec<usize>,
    pub batch: usize,
    pub x: Vec<f64>,
    pub y: Vec<usize>,
    pub theta: Vec<f64>,
}

impl RandomMlp {
    pub fn new(widths: &[usize], batch: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = (0..batch * widths[0])
            .map(|_| rng.sample::<f64, _>(StandardNormal))
            .collect();
        let classes = *widths.last().unwrap();
        let y = (0..batch).map(|_| rng.random_range(0..classes)).collect();
        let mut theta = Vec::new();
        for pair in widths.windows(2) {
            let bound = 1.0 / (pair[0] as f64).sqrt();
            for _ in 0..pair[0] * pair[1] + pair[1] {
                theta.push(bound * (2.0 * rng.random::<f64>() - 1.0));
            }
        }
        Self {
            widths: widths.to_vec(),
            batch,
            x,
            y,
            theta,
        }
    }

    pub fn n_params(&self) -> usize {
        self.theta.len()
    }

    pub fn loss(&self) -> impl Fn(&Tape<f64>, Var) -> Var + '_ {
        use unstuck_models::Model;
        let spec: Vec<String> = self.widths.iter().map(|w| w.to_string()).collect();
        let mlp = unstuck_models::Mlp::from_spec(&format!("{}:tanh", spec.join("-"))).unwrap();
        move |tape, theta| {
            let x =
                tape.constant(Tensor::matrix(self.x.clone(), self.batch, self.widths[0]).unwrap());
            tape.softmax_cross_entropy(mlp.forward(tape, theta, x), &self.y)
        }
    }
}

/// A seeded symmetric matrix with Gaussian entries (row-major), for eigensolver timings.
pub fn random_symmetric(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let v: f64 = rng.sample(StandardNormal);
            a[i * n + j] = v;
            a[j * n + i] = v;
        }
    }
    a
}

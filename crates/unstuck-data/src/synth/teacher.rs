//! Teacher-student data: targets from a random MLP, so the true model is known.
//!
//! A student of the teacher's architecture can reach zero training loss, so a student
//! that does not is an optimisation failure, and a smaller student shows model bias.

use rand_chacha::ChaCha8Rng;

use super::{Stream, check_at_least, check_non_negative, rng, standard_normal};
use crate::dataset::{Dataset, try_with_capacity};
use crate::error::{DataError, Result};
use unstuck_core::Element;
use unstuck_core::Targets;

/// What the teacher's output means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeacherTarget {
    /// `n_classes` logits; the label is their argmax (first index on ties).
    Classes(usize),
    /// `n_outputs` real values.
    Real(usize),
}

/// The teacher network: `depth` hidden tanh layers of `width` units, then a linear layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TeacherConfig {
    /// Input dimension.
    pub n_inputs: usize,
    /// Number of hidden layers (0 gives a linear teacher).
    pub depth: usize,
    /// Units per hidden layer.
    pub width: usize,
    /// Classification or regression, and the output width.
    pub target: TeacherTarget,
    /// Seed of the weights.
    pub seed: u64,
}

impl Default for TeacherConfig {
    fn default() -> Self {
        Self {
            n_inputs: 10,
            depth: 2,
            width: 32,
            target: TeacherTarget::Classes(2),
            seed: 0,
        }
    }
}

/// A teacher-student dataset: `n` standard-normal inputs labelled by a teacher.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TeacherStudentConfig {
    /// Number of rows.
    pub n: usize,
    /// The teacher.
    pub teacher: TeacherConfig,
    /// Standard deviation of Gaussian noise added to real targets (ignored for classes;
    /// use [`flip_labels`](crate::flip_labels) there).
    pub noise: f64,
    /// Seed of the inputs and the noise.
    pub seed: u64,
}

impl Default for TeacherStudentConfig {
    fn default() -> Self {
        Self {
            n: 1000,
            teacher: TeacherConfig::default(),
            noise: 0.0,
            seed: 0,
        }
    }
}

/// One dense layer, `output = weights x input + bias`, with `weights` row-major
/// `n_out x n_in`.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseLayer {
    /// Row-major `n_out x n_in` weights.
    pub weights: Vec<f64>,
    /// `n_out` biases.
    pub bias: Vec<f64>,
    /// Input width.
    pub n_in: usize,
    /// Output width.
    pub n_out: usize,
}

impl DenseLayer {
    fn apply(&self, input: &[f64], output: &mut Vec<f64>) {
        output.clear();
        for (row, bias) in self.weights.chunks_exact(self.n_in).zip(&self.bias) {
            let dot: f64 = row.iter().zip(input).map(|(w, x)| w * x).sum();
            output.push(dot + bias);
        }
    }
}

/// A random MLP with known weights (tanh hidden layers, linear output).
///
/// Weights are `N(0, 1 / n_in)` so tanh units stay in their responsive range; hidden
/// biases are `N(0, 0.1^2)`; the output bias is 0 so no class is favoured a priori.
#[derive(Debug, Clone, PartialEq)]
pub struct Teacher {
    layers: Vec<DenseLayer>,
    target: TeacherTarget,
}

impl Teacher {
    /// Draws a teacher.
    pub fn new(config: &TeacherConfig) -> Result<Self> {
        check_at_least("n_inputs", config.n_inputs, 1)?;
        let n_outputs = match config.target {
            TeacherTarget::Classes(n_classes) => {
                check_at_least("n_classes", n_classes, 2)?;
                n_classes
            }
            TeacherTarget::Real(n_outputs) => {
                check_at_least("n_outputs", n_outputs, 1)?;
                n_outputs
            }
        };
        if config.depth > 0 {
            check_at_least("width", config.width, 1)?;
        }
        let mut rng = rng(config.seed, Stream::TeacherWeights);
        let mut widths = try_with_capacity("layer widths", &[config.depth.saturating_add(2)])?;
        widths.push(config.n_inputs);
        widths.extend(std::iter::repeat_n(config.width, config.depth));
        widths.push(n_outputs);
        let mut layers = try_with_capacity("layers", &[config.depth + 1])?;
        for (layer_index, pair) in widths.windows(2).enumerate() {
            let (n_in, n_out) = (pair[0], pair[1]);
            let weight_std = (1.0 / n_in as f64).sqrt();
            let bias_std = if layer_index == config.depth {
                0.0
            } else {
                0.1
            };
            let mut weights = try_with_capacity("teacher weights", &[n_in, n_out])?;
            weights.extend((0..n_in * n_out).map(|_| weight_std * standard_normal(&mut rng)));
            layers.push(DenseLayer {
                weights,
                bias: (0..n_out)
                    .map(|_| bias_std * standard_normal(&mut rng))
                    .collect(),
                n_in,
                n_out,
            });
        }
        Ok(Self {
            layers,
            target: config.target,
        })
    }

    /// The layers, input first.
    pub fn layers(&self) -> &[DenseLayer] {
        &self.layers
    }

    /// What the output means.
    pub fn target(&self) -> TeacherTarget {
        self.target
    }

    /// Input dimension.
    pub fn n_inputs(&self) -> usize {
        self.layers[0].n_in
    }

    /// The raw output (logits or real values) for one input.
    pub fn forward(&self, input: &[f64]) -> Result<Vec<f64>> {
        if input.len() != self.n_inputs() {
            return Err(DataError::ShapeMismatch {
                what: "teacher input length",
                expected: self.n_inputs(),
                got: input.len(),
            });
        }
        let mut activation = input.to_vec();
        let mut next = Vec::new();
        let last = self.layers.len() - 1;
        for (layer_index, layer) in self.layers.iter().enumerate() {
            layer.apply(&activation, &mut next);
            if layer_index != last {
                next.iter_mut().for_each(|x| *x = x.tanh());
            }
            std::mem::swap(&mut activation, &mut next);
        }
        Ok(activation)
    }

    /// Labels row-major `n x n_inputs` inputs; real targets get `noise` times a
    /// standard normal drawn from `rng`.
    pub(crate) fn label<T: Element>(
        &self,
        inputs: &[f64],
        noise: f64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Dataset<T>> {
        let d = self.n_inputs();
        let mut labels = Vec::new();
        let mut values = Vec::new();
        for input in inputs.chunks_exact(d) {
            let output = self.forward(input)?;
            match self.target {
                TeacherTarget::Classes(_) => labels.push(argmax(&output)),
                TeacherTarget::Real(_) => values.extend(
                    output
                        .iter()
                        .map(|y| T::from_f64(y + noise * standard_normal(rng))),
                ),
            }
        }
        let features = inputs.iter().map(|&x| T::from_f64(x)).collect();
        let targets = match self.target {
            TeacherTarget::Classes(n_classes) => Targets::Classes { labels, n_classes },
            TeacherTarget::Real(n_outputs) => Targets::Real { values, n_outputs },
        };
        Dataset::new(features, d, targets)
    }
}

fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (index, value) in values.iter().enumerate() {
        if *value > values[best] {
            best = index;
        }
    }
    best
}

/// Draws a teacher, `n` standard-normal inputs, and their targets.
///
/// ```
/// use unstuck_data::{teacher_student, TeacherStudentConfig};
/// let (data, teacher) = teacher_student::<f64>(&TeacherStudentConfig::default())?;
/// let logits = teacher.forward(data.row(0).unwrap())?;
/// let label = usize::from(logits[1] > logits[0]);
/// assert_eq!(data.labels().unwrap()[0], label);
/// # Ok::<(), unstuck_data::DataError>(())
/// ```
pub fn teacher_student<T: Element>(config: &TeacherStudentConfig) -> Result<(Dataset<T>, Teacher)> {
    check_at_least("n", config.n, 1)?;
    check_non_negative("noise", config.noise)?;
    let teacher = Teacher::new(&config.teacher)?;
    let mut rng = rng(config.seed, Stream::Samples);
    let inputs = normal_inputs(config.n, teacher.n_inputs(), 0.0, 1.0, &mut rng)?;
    let data = teacher.label(&inputs, config.noise, &mut rng)?;
    Ok((data, teacher))
}

/// `n x d` inputs, each coordinate `mean_along_diagonal / sqrt(d) + std x N(0, 1)`, so
/// the distribution's centre lies at distance `mean_along_diagonal` from the origin.
pub(crate) fn normal_inputs(
    n: usize,
    d: usize,
    mean_along_diagonal: f64,
    std: f64,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<f64>> {
    let offset = mean_along_diagonal / (d as f64).sqrt();
    let mut inputs = try_with_capacity("inputs", &[n, d])?;
    inputs.extend((0..n * d).map(|_| offset + std * standard_normal(rng)));
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teacher_has_the_requested_architecture() {
        let config = TeacherConfig {
            n_inputs: 3,
            depth: 2,
            width: 5,
            target: TeacherTarget::Real(4),
            seed: 9,
        };
        let teacher = Teacher::new(&config).unwrap();
        let shapes: Vec<(usize, usize)> =
            teacher.layers().iter().map(|l| (l.n_in, l.n_out)).collect();
        assert_eq!(shapes, vec![(3, 5), (5, 5), (5, 4)]);
        assert_eq!(teacher.forward(&[0.1, 0.2, 0.3]).unwrap().len(), 4);
        assert!(matches!(
            teacher.forward(&[0.1]),
            Err(DataError::ShapeMismatch {
                expected: 3,
                got: 1,
                ..
            })
        ));
    }

    #[test]
    fn linear_teacher_output_matches_hand_computation() {
        let config = TeacherConfig {
            n_inputs: 2,
            depth: 0,
            width: 0,
            target: TeacherTarget::Real(1),
            seed: 1,
        };
        let teacher = Teacher::new(&config).unwrap();
        let layer = &teacher.layers()[0];
        let output = teacher.forward(&[2.0, -1.0]).unwrap();
        let expected = 2.0 * layer.weights[0] - layer.weights[1] + layer.bias[0];
        // Same two products and sums in the same order: identical up to one rounding.
        assert!((output[0] - expected).abs() <= 1e-15 * expected.abs().max(1.0));
        assert_eq!(
            layer.bias[0], 0.0,
            "the output bias is zero by construction"
        );
    }

    #[test]
    fn regression_noise_has_the_requested_scale() {
        let base = TeacherStudentConfig {
            n: 4000,
            teacher: TeacherConfig {
                target: TeacherTarget::Real(1),
                ..TeacherConfig::default()
            },
            noise: 0.0,
            seed: 3,
        };
        let (clean, _) = teacher_student::<f64>(&base).unwrap();
        let (noisy, _) =
            teacher_student::<f64>(&TeacherStudentConfig { noise: 0.5, ..base }).unwrap();
        assert_eq!(
            clean.features(),
            noisy.features(),
            "noise must not move the inputs"
        );
        let (Targets::Real { values: a, .. }, Targets::Real { values: b, .. }) =
            (clean.targets(), noisy.targets())
        else {
            panic!("regression teacher gave class targets");
        };
        let variance = a.iter().zip(b).map(|(a, b)| (b - a).powi(2)).sum::<f64>() / a.len() as f64;
        // Sample std of 4000 normals: relative standard error about 1/sqrt(2 x 4000) = 1.1%,
        // so 0.5 +- 0.03 is more than 5 standard errors.
        assert!(
            (variance.sqrt() - 0.5).abs() < 0.03,
            "std {}",
            variance.sqrt()
        );
    }
}

//! Losses on a batch of logits (every one a mean over the batch) and accuracy.

use crate::ModelError;
use std::fmt;
use unstuck_autodiff::{Element, Tape, Tensor, Var};
use unstuck_core::Targets;

/// A loss over a batch: a scalar, the **mean over the batch** of a per-example loss.
///
/// | loss | name | targets | per-example loss | PyTorch |
/// |---|---|---|---|---|
/// | `CrossEntropy` | `cross_entropy` | labels `0..C` | `-log softmax(z)[y]` | `nn.CrossEntropyLoss()` |
/// | `BinaryCrossEntropyWithLogits` | `bce_with_logits` | labels 0/1, one logit | `max(z,0) - z y + log(1 + e^-abs(z))` | `nn.BCEWithLogitsLoss()` |
/// | `Mse` | `mse` | values `[batch, outputs]` | `mean_j (z_j - y_j)^2` | `nn.MSELoss()` |
///
/// For `Mse` the mean runs over all `batch x outputs` elements, as PyTorch's
/// `reduction="mean"` does; with one output that is the mean over the batch.
///
/// ```
/// use unstuck_autodiff::{Tape, Tensor};
/// use unstuck_models::{Loss, Targets};
/// let tape = Tape::<f64>::new();
/// let logits = tape.leaf(Tensor::matrix(vec![0.0, 0.0], 2, 1).unwrap());
/// let targets = Targets::Classes { labels: vec![0, 1], n_classes: 2 };
/// let loss = Loss::BinaryCrossEntropyWithLogits.apply_checked(&tape, logits, &targets).unwrap();
/// assert!((tape.scalar_value(loss) - 2f64.ln()).abs() < 1e-15);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Loss {
    /// Softmax cross-entropy with integer labels.
    CrossEntropy,
    /// Binary cross-entropy on one logit per example, in the stable form.
    BinaryCrossEntropyWithLogits,
    /// Mean squared error.
    Mse,
}

impl Loss {
    /// Every loss, in the order `unstuck list` shows them.
    pub const ALL: [Loss; 3] = [
        Loss::CrossEntropy,
        Loss::BinaryCrossEntropyWithLogits,
        Loss::Mse,
    ];

    /// The short name.
    pub fn name(&self) -> &'static str {
        match self {
            Loss::CrossEntropy => "cross_entropy",
            Loss::BinaryCrossEntropyWithLogits => "bce_with_logits",
            Loss::Mse => "mse",
        }
    }

    /// Whether accuracy makes sense (the loss takes class labels).
    pub fn is_classification(&self) -> bool {
        !matches!(self, Loss::Mse)
    }

    /// Checks that `targets` fit logits of shape `[batch, outputs]`.
    pub fn check<T: Element>(
        &self,
        batch: usize,
        outputs: usize,
        targets: &Targets<T>,
    ) -> Result<(), ModelError> {
        match (self, targets) {
            (Loss::CrossEntropy, Targets::Classes { labels, .. }) => {
                check_labels(labels, batch, outputs)
            }
            (Loss::BinaryCrossEntropyWithLogits, Targets::Classes { .. }) if outputs != 1 => {
                Err(ModelError::OutputWidth {
                    loss: self.name(),
                    expected: "exactly 1",
                    got: outputs,
                })
            }
            (Loss::BinaryCrossEntropyWithLogits, Targets::Classes { labels, .. }) => {
                check_labels(labels, batch, 2)
            }
            (Loss::Mse, Targets::Real { values, n_outputs }) => {
                if *n_outputs == outputs && values.len() == batch * outputs {
                    Ok(())
                } else {
                    let rows = values.len().checked_div(*n_outputs).unwrap_or(0);
                    Err(ModelError::TargetShape {
                        expected: vec![batch, outputs],
                        got: vec![rows, *n_outputs],
                    })
                }
            }
            (Loss::Mse, Targets::Classes { .. }) => Err(ModelError::TargetKind {
                loss: self.name(),
                expected: "real-valued targets (Targets::Real)",
            }),
            (_, Targets::Real { .. }) => Err(ModelError::TargetKind {
                loss: self.name(),
                expected: "class labels (Targets::Classes)",
            }),
        }
    }

    /// [`Loss::apply`] after [`Loss::check`] against the logits' shape.
    pub fn apply_checked<T: Element>(
        &self,
        tape: &Tape<T>,
        logits: Var,
        targets: &Targets<T>,
    ) -> Result<Var, ModelError> {
        match tape.dims(logits)[..] {
            [batch, outputs] => self.check(batch, outputs, targets)?,
            ref dims => {
                return Err(ModelError::InputRank {
                    dims: dims.to_vec(),
                });
            }
        }
        Ok(self.apply(tape, logits, targets))
    }

    /// Records the loss of `[batch, outputs]` logits.
    ///
    /// # Panics
    /// If the targets do not fit (see [`Loss::check`]).
    pub fn apply<T: Element>(&self, tape: &Tape<T>, logits: Var, targets: &Targets<T>) -> Var {
        match (self, targets) {
            (Loss::CrossEntropy, Targets::Classes { labels, .. }) => {
                tape.softmax_cross_entropy(logits, labels)
            }
            (Loss::BinaryCrossEntropyWithLogits, Targets::Classes { labels, .. }) => {
                binary_cross_entropy_with_logits(tape, logits, labels)
            }
            (Loss::Mse, Targets::Real { values, n_outputs }) => {
                let rows = values.len() / n_outputs;
                let values = Tensor::matrix(values.clone(), rows, *n_outputs)
                    .expect("checked targets: n_outputs values per row");
                tape.mse(logits, tape.constant(values))
            }
            _ => panic!("{self}: wrong kind of targets (call Loss::check first)"),
        }
    }
}

/// One label per row, each below `n_classes`.
fn check_labels(labels: &[usize], batch: usize, n_classes: usize) -> Result<(), ModelError> {
    if labels.len() != batch {
        return Err(ModelError::TargetCount {
            expected: batch,
            got: labels.len(),
        });
    }
    match labels.iter().position(|&label| label >= n_classes) {
        Some(index) => Err(ModelError::LabelOutOfRange {
            index,
            label: labels[index],
            n_classes,
        }),
        None => Ok(()),
    }
}

/// `mean(max(z, 0) - z y + log(1 + e^-|z|))`, which never overflows: the exponent is at
/// most 0. Built from tape ops, so its first and second derivatives are exact:
/// sigmoid(z) - y and sigmoid(z)(1 - sigmoid(z)).
///
/// `|z|` is written `2 relu(z) - z`, not `relu(z) + relu(-z)`: relu's derivative at 0 is
/// taken as 0, and only the first form then gives the true slope at `z = 0` exactly
/// (`0 + (-1/2)(-1) = 1/2 - y` instead of `-y`). A zero logit is common (a zero-bias
/// output layer fed by dead ReLUs), so the kink matters.
fn binary_cross_entropy_with_logits<T: Element>(tape: &Tape<T>, z: Var, labels: &[usize]) -> Var {
    let y: Vec<T> = labels
        .iter()
        .map(|&label| if label == 1 { T::ONE } else { T::ZERO })
        .collect();
    let y = tape.constant(
        Tensor::matrix(y, labels.len(), 1).expect("one label per row of a [batch, 1] logit"),
    );
    let positive_part = tape.relu(z);
    let abs = tape.sub(tape.scale(positive_part, T::from_f64(2.0)), z);
    let softplus = tape.log(tape.shift(tape.exp(tape.neg(abs)), T::ONE));
    let per_example = tape.add(tape.sub(positive_part, tape.mul(z, y)), softplus);
    tape.mean(per_example)
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Loss {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, ModelError> {
        Loss::ALL
            .into_iter()
            .find(|loss| loss.name() == s)
            .ok_or_else(|| ModelError::UnknownName {
                kind: "loss",
                name: s.to_string(),
                expected: Loss::ALL.map(|loss| loss.name()).join(", "),
            })
    }
}

/// The fraction of rows whose prediction equals the label.
///
/// With several outputs the prediction is the argmax (the first maximum on ties, as
/// `torch.argmax`); with one output it is `z > 0` (class 1), the rule that matches
/// [`Loss::BinaryCrossEntropyWithLogits`]. A NaN logit never wins an argmax.
///
/// ```
/// use unstuck_autodiff::Tensor;
/// use unstuck_models::accuracy;
/// let logits = Tensor::matrix(vec![0.1, 0.9, 0.8, 0.2], 2, 2).unwrap();
/// assert_eq!(accuracy(&logits, &[1, 1]).unwrap(), 0.5);
/// ```
pub fn accuracy<T: Element>(logits: &Tensor<T>, labels: &[usize]) -> Result<f64, ModelError> {
    let [batch, outputs] = *logits.dims() else {
        return Err(ModelError::InputRank {
            dims: logits.dims().to_vec(),
        });
    };
    if labels.len() != batch {
        return Err(ModelError::TargetCount {
            expected: batch,
            got: labels.len(),
        });
    }
    if batch == 0 || outputs == 0 {
        return Err(ModelError::EmptyBatch);
    }
    let correct = logits
        .data()
        .chunks_exact(outputs)
        .zip(labels)
        .filter(|(row, label)| predict_row(row) == **label)
        .count();
    Ok(correct as f64 / batch as f64)
}

fn predict_row<T: Element>(row: &[T]) -> usize {
    if let [z] = row {
        return usize::from(*z > T::ZERO);
    }
    let mut best = 0;
    for (j, &z) in row.iter().enumerate() {
        // A number replaces a NaN leader; a NaN never replaces anything.
        let leader_is_nan = row[best].to_f64().is_nan();
        if z > row[best] || (leader_is_nan && !z.to_f64().is_nan()) {
            best = j;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sigmoid(z: f64) -> f64 {
        1.0 / (1.0 + (-z).exp())
    }

    fn two_classes(labels: &[usize]) -> Targets<f64> {
        Targets::Classes {
            labels: labels.to_vec(),
            n_classes: 2,
        }
    }

    fn bce_loss(z: &[f64], labels: &[usize]) -> (f64, Vec<f64>) {
        unstuck_autodiff::gradient(
            |tape: &Tape<f64>, theta| {
                let logits = tape.reshape(theta, &[z.len(), 1]);
                Loss::BinaryCrossEntropyWithLogits.apply(tape, logits, &two_classes(labels))
            },
            z,
        )
        .unwrap()
    }

    #[test]
    fn bce_matches_the_naive_formula_its_gradient_and_its_hessian() {
        let z = [-3.0, -0.4, 0.0, 0.25, 2.0, 5.0];
        let labels = [0, 1, 1, 0, 1, 0];
        let (value, grad) = bce_loss(&z, &labels);
        let n = z.len() as f64;
        let naive: f64 = z
            .iter()
            .zip(&labels)
            .map(|(&z, &y)| {
                let (p, y) = (sigmoid(z), y as f64);
                -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
            })
            .sum::<f64>()
            / n;
        // Moderate logits: the naive form loses at most a few ulps of 1.
        assert!((value - naive).abs() < 1e-14, "{value} vs {naive}");
        for (i, (&z, &y)) in z.iter().zip(&labels).enumerate() {
            let want = (sigmoid(z) - y as f64) / n;
            assert!(
                (grad[i] - want).abs() < 1e-15,
                "gradient {i}: {} vs {want}",
                grad[i]
            );
        }
        // The Hessian is diagonal: sigmoid(z)(1 - sigmoid(z)) / n.
        let f = |tape: &Tape<f64>, theta| {
            let logits = tape.reshape(theta, &[z.len(), 1]);
            Loss::BinaryCrossEntropyWithLogits.apply(tape, logits, &two_classes(&labels))
        };
        let ones = vec![1.0; z.len()];
        let hv = unstuck_autodiff::hvp(f, &z, &ones).unwrap();
        for (i, &z) in z.iter().enumerate() {
            // z = 0 sits on the kink of relu; both one-sided Hessians agree there.
            let want = sigmoid(z) * (1.0 - sigmoid(z)) / n;
            assert!((hv[i] - want).abs() < 1e-15, "hvp {i}: {} vs {want}", hv[i]);
        }
    }

    #[test]
    fn bce_is_finite_and_exact_for_huge_logits() {
        // The naive form gives inf or NaN here; the stable form gives |z| or 0.
        let (value, grad) = bce_loss(&[1000.0, -1000.0], &[0, 0]);
        assert_eq!(value, 500.0);
        assert_eq!(grad, vec![0.5, 0.0]);
    }

    #[test]
    fn cross_entropy_and_mse_match_their_formulas() {
        let tape = Tape::<f64>::new();
        let z = tape.constant(Tensor::matrix(vec![1.0, 2.0, 3.0, 0.5, 0.5, -1.0], 2, 3).unwrap());
        let ce = Loss::CrossEntropy
            .apply_checked(
                &tape,
                z,
                &Targets::Classes {
                    labels: vec![2, 0],
                    n_classes: 3,
                },
            )
            .unwrap();
        let lse = |r: [f64; 3]| r.iter().map(|x| x.exp()).sum::<f64>().ln();
        let want = ((lse([1.0, 2.0, 3.0]) - 3.0) + (lse([0.5, 0.5, -1.0]) - 0.5)) / 2.0;
        assert!((tape.scalar_value(ce) - want).abs() < 1e-15);
        let target = Targets::Real {
            values: vec![0.0, 2.0, 1.0, 0.5, 1.5, 0.0],
            n_outputs: 3,
        };
        let mse = Loss::Mse.apply_checked(&tape, z, &target).unwrap();
        // Squares of 1, 0, 2, 0, -1, -1: the sum 7 is exact, the mean multiplies by a
        // rounded 1/6, so one ulp of difference is possible.
        assert!((tape.scalar_value(mse) - 7.0 / 6.0).abs() < 1e-15);
    }

    #[test]
    fn targets_that_do_not_fit_are_typed_errors() {
        let labels = |labels: Vec<usize>| Targets::<f64>::Classes {
            labels,
            n_classes: 3,
        };
        assert!(matches!(
            Loss::CrossEntropy.check(2, 3, &labels(vec![0, 3])),
            Err(ModelError::LabelOutOfRange {
                index: 1,
                label: 3,
                n_classes: 3
            })
        ));
        assert!(matches!(
            Loss::CrossEntropy.check(2, 3, &labels(vec![0])),
            Err(ModelError::TargetCount {
                expected: 2,
                got: 1
            })
        ));
        assert!(matches!(
            Loss::BinaryCrossEntropyWithLogits.check(2, 2, &labels(vec![0, 1])),
            Err(ModelError::OutputWidth { got: 2, .. })
        ));
        assert!(matches!(
            Loss::BinaryCrossEntropyWithLogits.check(2, 1, &labels(vec![0, 2])),
            Err(ModelError::LabelOutOfRange {
                label: 2,
                n_classes: 2,
                ..
            })
        ));
        assert!(matches!(
            Loss::Mse.check(2, 1, &labels(vec![0, 1])),
            Err(ModelError::TargetKind { loss: "mse", .. })
        ));
        let values = Targets::Real {
            values: vec![0.0; 4],
            n_outputs: 2,
        };
        assert!(matches!(
            Loss::Mse.check(2, 1, &values),
            Err(ModelError::TargetShape { .. })
        ));
        assert!(matches!(
            Loss::CrossEntropy.check(2, 2, &values),
            Err(ModelError::TargetKind {
                loss: "cross_entropy",
                ..
            })
        ));
        assert!(Loss::Mse.check(2, 2, &values).is_ok());
    }

    #[test]
    fn accuracy_uses_argmax_or_the_sign_of_one_logit() {
        let multi = Tensor::matrix(
            vec![1.0, 3.0, 2.0, 5.0, 5.0, 0.0, f64::NAN, 0.0, -1.0],
            3,
            3,
        )
        .unwrap();
        // Row 0: argmax 1; row 1: tie, first wins (0); row 2: NaN loses, argmax 1.
        assert_eq!(accuracy(&multi, &[1, 0, 1]).unwrap(), 1.0);
        assert_eq!(accuracy(&multi, &[1, 1, 0]).unwrap(), 1.0 / 3.0);
        let binary = Tensor::matrix(vec![0.3, -0.2, 0.0], 3, 1).unwrap();
        assert_eq!(accuracy(&binary, &[1, 0, 0]).unwrap(), 1.0);
        assert!(matches!(
            accuracy(&binary, &[1, 0]),
            Err(ModelError::TargetCount { .. })
        ));
    }

    #[test]
    fn loss_names_round_trip() {
        for loss in Loss::ALL {
            assert_eq!(loss.name().parse::<Loss>().unwrap(), loss);
        }
        assert!(matches!(
            "nll".parse::<Loss>(),
            Err(ModelError::UnknownName { kind: "loss", .. })
        ));
    }
}

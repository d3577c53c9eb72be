//! Elementwise activations, applied on the tape so that their derivatives (first and
//! second) come from the autodiff rules.

use crate::ModelError;
use std::fmt;
use unstuck_autodiff::{BiasActivation, Element, Tape, Var};

/// The slope of [`Activation::LeakyRelu`] when none is given, PyTorch's default.
pub const DEFAULT_LEAKY_SLOPE: f64 = 0.01;

/// An elementwise nonlinearity between hidden layers.
///
/// Names (for spec strings and [`std::str::FromStr`]): `relu`, `leaky_relu` or
/// `leaky_relu(<slope>)`, `tanh`, `sigmoid`, `gelu`, `identity`.
///
/// ```
/// use unstuck_models::Activation;
/// let a: Activation = "leaky_relu(0.2)".parse().unwrap();
/// assert_eq!(a, Activation::LeakyRelu(0.2));
/// assert_eq!(a.to_string(), "leaky_relu(0.2)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `max(x, 0)`, with derivative 0 at 0 as in PyTorch.
    Relu,
    /// `x` where positive, `slope * x` elsewhere (`nn.LeakyReLU(slope)`).
    LeakyRelu(f64),
    /// Hyperbolic tangent.
    Tanh,
    /// Logistic sigmoid.
    Sigmoid,
    /// GELU in its tanh form, PyTorch's `nn.GELU(approximate="tanh")`; the autodiff crate
    /// has no `erf`, so the exact form (PyTorch's default) is not offered. The two differ
    /// by less than 5e-4 everywhere.
    Gelu,
    /// No nonlinearity: a deep linear network.
    Identity,
}

impl Activation {
    /// The base names, as `unstuck list` shows them.
    pub const NAMES: [&'static str; 6] =
        ["relu", "leaky_relu", "tanh", "sigmoid", "gelu", "identity"];

    /// Leaky ReLU with PyTorch's default slope 0.01.
    pub fn leaky_relu() -> Self {
        Activation::LeakyRelu(DEFAULT_LEAKY_SLOPE)
    }

    /// The base name, without a slope.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::LeakyRelu(_) => "leaky_relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Gelu => "gelu",
            Activation::Identity => "identity",
        }
    }

    /// The activation of a base name, with a leaky ReLU at the default slope.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "relu" => Activation::Relu,
            "leaky_relu" => Activation::leaky_relu(),
            "tanh" => Activation::Tanh,
            "sigmoid" => Activation::Sigmoid,
            "gelu" => Activation::Gelu,
            "identity" => Activation::Identity,
            _ => return None,
        })
    }

    /// Fails unless the parameters are usable (a finite leaky slope).
    pub fn validate(&self) -> Result<(), ModelError> {
        match *self {
            Activation::LeakyRelu(slope) if !slope.is_finite() => {
                Err(ModelError::BadSlope { slope })
            }
            _ => Ok(()),
        }
    }

    /// The op autodiff fuses with a preceding bias, where there is one.
    pub(crate) fn bias_fused(&self) -> Option<BiasActivation> {
        match *self {
            Activation::Relu => Some(BiasActivation::Relu),
            Activation::Tanh => Some(BiasActivation::Tanh),
            Activation::Sigmoid => Some(BiasActivation::Sigmoid),
            _ => None,
        }
    }

    /// Records the activation of `x` on the tape.
    pub fn apply<T: Element>(&self, tape: &Tape<T>, x: Var) -> Var {
        match *self {
            Activation::Relu => tape.relu(x),
            Activation::LeakyRelu(slope) => tape.leaky_relu(x, T::from_f64(slope)),
            Activation::Tanh => tape.tanh(x),
            Activation::Sigmoid => tape.sigmoid(x),
            Activation::Gelu => tape.gelu(x),
            Activation::Identity => x,
        }
    }
}

impl fmt::Display for Activation {
    /// The canonical spec form: the slope is written only when it is not the default.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Activation::LeakyRelu(slope) if slope != DEFAULT_LEAKY_SLOPE => {
                write!(f, "leaky_relu({slope})")
            }
            _ => f.write_str(self.name()),
        }
    }
}

impl std::str::FromStr for Activation {
    type Err = ModelError;

    /// Parses `relu`, `leaky_relu(0.2)`, ...; errors carry the byte position.
    fn from_str(s: &str) -> Result<Self, ModelError> {
        crate::spec::parse_activation_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unstuck_autodiff::Tensor;

    fn apply_f64(activation: Activation, xs: &[f64]) -> Vec<f64> {
        let tape = Tape::<f64>::new();
        let x = tape.constant(Tensor::vector(xs.to_vec()));
        tape.value(activation.apply(&tape, x)).into_data()
    }

    #[test]
    fn each_activation_matches_its_formula() {
        let xs = [-2.0, -0.5, 0.0, 0.7, 3.0];
        type Formula = fn(f64) -> f64;
        let formulas: [(Activation, Formula); 6] = [
            (Activation::Relu, |x| x.max(0.0)),
            (Activation::LeakyRelu(0.2), |x| {
                if x > 0.0 { x } else { 0.2 * x }
            }),
            (Activation::Tanh, f64::tanh),
            (Activation::Sigmoid, |x| 1.0 / (1.0 + (-x).exp())),
            (Activation::Gelu, |x| {
                let c = (2.0 / std::f64::consts::PI).sqrt();
                0.5 * x * (1.0 + (c * (x + 0.044715 * x.powi(3))).tanh())
            }),
            (Activation::Identity, |x| x),
        ];
        for (activation, formula) in formulas {
            for (got, &x) in apply_f64(activation, &xs).iter().zip(&xs) {
                // A few ulps: the tape and the formula round in different orders.
                assert!(
                    (got - formula(x)).abs() <= 1e-15 * (1.0 + x.abs()),
                    "{activation} at {x}: {got} vs {}",
                    formula(x)
                );
            }
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_fail() {
        for name in Activation::NAMES {
            let activation = Activation::from_name(name).unwrap();
            assert_eq!(activation.name(), name);
            assert_eq!(
                activation.to_string().parse::<Activation>().unwrap(),
                activation
            );
        }
        assert!(Activation::from_name("swish").is_none());
        assert_eq!(Activation::leaky_relu().to_string(), "leaky_relu");
    }

    #[test]
    fn non_finite_slope_is_rejected() {
        assert!(matches!(
            Activation::LeakyRelu(f64::NAN).validate(),
            Err(ModelError::BadSlope { .. })
        ));
        assert!(Activation::LeakyRelu(-0.5).validate().is_ok());
    }
}

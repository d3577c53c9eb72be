//! Seeded initialisation of linear layers, with PyTorch's formulas.

use crate::ModelError;
use rand::distr::{Distribution, Uniform};
use rand_chacha::ChaCha8Rng;
use rand_distr::Normal;
use std::fmt;

/// How the weights and biases of a linear layer are drawn (`fan_in` = input width,
/// `fan_out` = output width).
///
/// | scheme | weight | bias |
/// |---|---|---|
/// | `pytorch` | U(-1/sqrt(fan_in), 1/sqrt(fan_in)) | U(-1/sqrt(fan_in), 1/sqrt(fan_in)) |
/// | `xavier_uniform` | U(-a, a), a = sqrt(6 / (fan_in + fan_out)) | 0 |
/// | `xavier_normal` | N(0, 2 / (fan_in + fan_out)) | 0 |
/// | `kaiming_normal` | N(0, 2 / fan_in) | 0 |
///
/// `pytorch` is `nn.Linear`'s default: `kaiming_uniform_(a=sqrt(5))`, whose gain
/// sqrt(2 / (1 + 5)) times sqrt(3 / fan_in) is 1/sqrt(fan_in). Xavier uses PyTorch's
/// default gain 1; Kaiming normal uses PyTorch's defaults (`mode="fan_in"`,
/// `nonlinearity="leaky_relu"`, `a=0`), gain sqrt(2). Biases are zero for the named
/// schemes, the usual companion of `nn.init.zeros_(bias)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Init {
    /// `nn.Linear`'s default.
    #[default]
    PytorchDefault,
    /// Glorot & Bengio (2010), uniform.
    XavierUniform,
    /// Glorot & Bengio (2010), normal.
    XavierNormal,
    /// He et al. (2015), normal, fan-in mode.
    KaimingNormal,
}

/// The distribution of one tensor's entries under an [`Init`] scheme.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InitDistribution {
    /// Uniform on `[-bound, bound)`.
    Uniform {
        /// Half the width of the interval.
        bound: f64,
    },
    /// Normal with mean 0.
    Normal {
        /// The standard deviation.
        std: f64,
    },
    /// All zeros.
    Zeros,
    /// Every entry the same value (a norm layer's scale of ones).
    Constant {
        /// The value.
        value: f64,
    },
}

impl InitDistribution {
    /// Fills `out` with independent draws.
    pub fn fill(&self, rng: &mut ChaCha8Rng, out: &mut [f64]) {
        match *self {
            InitDistribution::Uniform { bound } => {
                let uniform = Uniform::new(-bound, bound)
                    .unwrap_or_else(|e| panic!("uniform init with bound {bound}: {e}"));
                out.iter_mut().for_each(|x| *x = uniform.sample(rng));
            }
            InitDistribution::Normal { std } => {
                let normal = Normal::new(0.0, std)
                    .unwrap_or_else(|e| panic!("normal init with std {std}: {e}"));
                out.iter_mut().for_each(|x| *x = normal.sample(rng));
            }
            InitDistribution::Zeros => out.fill(0.0),
            InitDistribution::Constant { value } => out.fill(value),
        }
    }
}

impl Init {
    /// Every scheme, in the order `unstuck list` shows them.
    pub const ALL: [Init; 4] = [
        Init::PytorchDefault,
        Init::XavierUniform,
        Init::XavierNormal,
        Init::KaimingNormal,
    ];

    /// The name used in spec strings.
    pub fn name(&self) -> &'static str {
        match self {
            Init::PytorchDefault => "pytorch",
            Init::XavierUniform => "xavier_uniform",
            Init::XavierNormal => "xavier_normal",
            Init::KaimingNormal => "kaiming_normal",
        }
    }

    /// The scheme of a name, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Init::ALL.into_iter().find(|init| init.name() == name)
    }

    /// The distribution of a `fan_out x fan_in` weight matrix.
    pub fn weight(&self, fan_in: usize, fan_out: usize) -> InitDistribution {
        let (fan_in, fan_out) = (fan_in as f64, fan_out as f64);
        match self {
            Init::PytorchDefault => InitDistribution::Uniform {
                bound: 1.0 / fan_in.sqrt(),
            },
            Init::XavierUniform => InitDistribution::Uniform {
                bound: (6.0 / (fan_in + fan_out)).sqrt(),
            },
            Init::XavierNormal => InitDistribution::Normal {
                std: (2.0 / (fan_in + fan_out)).sqrt(),
            },
            Init::KaimingNormal => InitDistribution::Normal {
                std: (2.0 / fan_in).sqrt(),
            },
        }
    }

    /// The distribution of a bias of a layer with `fan_in` inputs.
    pub fn bias(&self, fan_in: usize) -> InitDistribution {
        match self {
            Init::PytorchDefault => InitDistribution::Uniform {
                bound: 1.0 / (fan_in as f64).sqrt(),
            },
            _ => InitDistribution::Zeros,
        }
    }

    /// Draws a linear layer: the weight (row-major `fan_out x fan_in`) first, then the
    /// bias, from the same stream.
    ///
    /// # Panics
    /// If a fan is zero (models check their widths before they get here).
    pub fn fill_linear(
        &self,
        rng: &mut ChaCha8Rng,
        fan_in: usize,
        fan_out: usize,
        weight: &mut [f64],
        bias: &mut [f64],
    ) {
        assert!(
            fan_in > 0 && fan_out > 0,
            "fill_linear: fans must be positive, got {fan_in} and {fan_out}"
        );
        debug_assert_eq!(weight.len(), fan_in * fan_out);
        debug_assert_eq!(bias.len(), fan_out);
        self.weight(fan_in, fan_out).fill(rng, weight);
        self.bias(fan_in).fill(rng, bias);
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Init {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, ModelError> {
        Init::from_name(s).ok_or_else(|| ModelError::UnknownName {
            kind: "initialiser",
            name: s.to_string(),
            expected: Init::ALL.map(|init| init.name()).join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Sample moments of draws that should have mean 0.
    struct Moments {
        n: f64,
        mean: f64,
        m2: f64,
        m4: f64,
        max_abs: f64,
    }

    fn moments(xs: &[f64]) -> Moments {
        let n = xs.len() as f64;
        Moments {
            n,
            mean: xs.iter().sum::<f64>() / n,
            m2: xs.iter().map(|x| x * x).sum::<f64>() / n,
            m4: xs.iter().map(|x| x.powi(4)).sum::<f64>() / n,
            max_abs: xs.iter().fold(0.0, |m, x| m.max(x.abs())),
        }
    }

    /// Checks the sample against a zero-mean law with variance `var` and fourth moment
    /// `var^2 * kurtosis`. Tolerances are 6 standard errors of each estimator: the
    /// standard error of the mean is sqrt(var / n), of the second moment
    /// sqrt((E x^4 - var^2) / n). The kurtosis estimate (1.8 uniform, 3 normal) must be
    /// within 0.15, about 10 of its standard errors at n = 2e5 and far from the other law.
    fn check_law(label: &str, xs: &[f64], var: f64, kurtosis: f64) {
        let m = moments(xs);
        let se_mean = (var / m.n).sqrt();
        let se_m2 = ((kurtosis - 1.0) * var * var / m.n).sqrt();
        assert!(
            m.mean.abs() <= 6.0 * se_mean,
            "{label}: mean {} (se {se_mean:e})",
            m.mean
        );
        assert!(
            (m.m2 - var).abs() <= 6.0 * se_m2,
            "{label}: variance {} vs {var} (se {se_m2:e})",
            m.m2
        );
        if m.n >= 1e5 {
            let k = m.m4 / (m.m2 * m.m2);
            assert!(
                (k - kurtosis).abs() <= 0.15,
                "{label}: kurtosis {k} vs {kurtosis}"
            );
        }
    }

    /// Uniform on [-b, b): every draw inside, and the largest within b * 20/n of b
    /// (otherwise all n draws missed an interval of probability 10/n: chance e^-10).
    fn check_uniform(label: &str, xs: &[f64], b: f64) {
        let m = moments(xs);
        assert!(
            m.max_abs <= b,
            "{label}: draw {} beyond bound {b}",
            m.max_abs
        );
        assert!(
            m.max_abs >= b * (1.0 - 20.0 / m.n),
            "{label}: max {} << {b}",
            m.max_abs
        );
        check_law(label, xs, b * b / 3.0, 1.8);
    }

    fn draw(init: Init, fan_in: usize, fan_out: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut w = vec![f64::NAN; fan_in * fan_out];
        let mut b = vec![f64::NAN; fan_out];
        init.fill_linear(&mut rng, fan_in, fan_out, &mut w, &mut b);
        (w, b)
    }

    const FAN_IN: usize = 100;
    const FAN_OUT: usize = 2000;

    #[test]
    fn pytorch_default_is_uniform_with_bound_one_over_sqrt_fan_in() {
        let (w, b) = draw(Init::PytorchDefault, FAN_IN, FAN_OUT, 1);
        let bound = 1.0 / (FAN_IN as f64).sqrt();
        check_uniform("weight", &w, bound);
        check_uniform("bias", &b, bound);
    }

    #[test]
    fn xavier_uniform_has_glorot_bound_and_zero_bias() {
        let (w, b) = draw(Init::XavierUniform, FAN_IN, FAN_OUT, 2);
        check_uniform("weight", &w, (6.0 / (FAN_IN + FAN_OUT) as f64).sqrt());
        assert!(b.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn xavier_normal_has_glorot_variance_and_zero_bias() {
        let (w, b) = draw(Init::XavierNormal, FAN_IN, FAN_OUT, 3);
        check_law("weight", &w, 2.0 / (FAN_IN + FAN_OUT) as f64, 3.0);
        assert!(b.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn kaiming_normal_has_variance_two_over_fan_in_and_zero_bias() {
        let (w, b) = draw(Init::KaimingNormal, FAN_IN, FAN_OUT, 4);
        check_law("weight", &w, 2.0 / FAN_IN as f64, 3.0);
        assert!(b.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn the_checks_tell_the_laws_apart() {
        // Guard against a vacuous test: Kaiming draws must fail the Xavier-normal law.
        let (w, _) = draw(Init::KaimingNormal, FAN_IN, FAN_OUT, 5);
        let wrong = std::panic::catch_unwind(|| {
            check_law("weight", &w, 2.0 / (FAN_IN + FAN_OUT) as f64, 3.0)
        });
        assert!(wrong.is_err());
        let (u, _) = draw(Init::XavierUniform, FAN_IN, FAN_OUT, 6);
        let var = 2.0 / (FAN_IN + FAN_OUT) as f64;
        assert!(std::panic::catch_unwind(|| check_law("weight", &u, var, 3.0)).is_err());
    }

    #[test]
    fn same_seed_same_draws_other_seed_other_draws() {
        let a = draw(Init::XavierNormal, 7, 5, 42);
        let b = draw(Init::XavierNormal, 7, 5, 42);
        let c = draw(Init::XavierNormal, 7, 5, 43);
        assert_eq!(a, b);
        assert_ne!(a.0, c.0);
    }

    #[test]
    fn names_parse_and_unknown_names_are_errors() {
        for init in Init::ALL {
            assert_eq!(init.name().parse::<Init>().unwrap(), init);
        }
        let err = "he_uniform".parse::<Init>().unwrap_err();
        assert!(
            matches!(
                err,
                ModelError::UnknownName {
                    kind: "initialiser",
                    ..
                }
            ),
            "{err}"
        );
    }
}

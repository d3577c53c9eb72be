//! Hyperparameter checks shared by every optimizer and schedule.
//!
//! Each returns the value on success so a constructor reads as a list of checks.

use crate::OptimError;

fn invalid(
    owner: &'static str,
    name: &'static str,
    value: f64,
    expected: &'static str,
) -> OptimError {
    OptimError::InvalidHyperparameter {
        owner,
        name,
        value,
        expected,
    }
}

/// A learning rate: finite and `>= 0`.
pub fn learning_rate(
    owner: &'static str,
    name: &'static str,
    value: f64,
) -> Result<f64, OptimError> {
    non_negative(owner, name, value)
}

/// A finite value `>= 0` (weight decay, momentum, lr decay, ...).
pub fn non_negative(
    owner: &'static str,
    name: &'static str,
    value: f64,
) -> Result<f64, OptimError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(invalid(owner, name, value, "a finite number >= 0"))
    }
}

/// A finite value `> 0` (eps, time scales, divisors).
pub fn positive(owner: &'static str, name: &'static str, value: f64) -> Result<f64, OptimError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(invalid(owner, name, value, "a finite number > 0"))
    }
}

/// A decay rate such as Adam's betas or RMSprop's alpha: in `[0, 1)`.
pub fn decay_rate(owner: &'static str, name: &'static str, value: f64) -> Result<f64, OptimError> {
    if (0.0..1.0).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(owner, name, value, "a number in [0, 1)"))
    }
}

/// A fraction in `[0, 1]` (dampening).
pub fn unit_interval(
    owner: &'static str,
    name: &'static str,
    value: f64,
) -> Result<f64, OptimError> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(owner, name, value, "a number in [0, 1]"))
    }
}

/// A fraction in the open interval `(0, 1)` (one-cycle's warm-up share).
pub fn open_unit_interval(
    owner: &'static str,
    name: &'static str,
    value: f64,
) -> Result<f64, OptimError> {
    if value > 0.0 && value < 1.0 {
        Ok(value)
    } else {
        Err(invalid(owner, name, value, "a number in (0, 1)"))
    }
}

/// A count that must be at least `min` (step sizes, periods).
pub fn count_at_least(
    owner: &'static str,
    name: &'static str,
    value: u64,
    min: u64,
) -> Result<u64, OptimError> {
    if value >= min {
        return Ok(value);
    }
    let expected = match min {
        1 => "a whole number >= 1",
        2 => "a whole number >= 2",
        _ => "a larger whole number",
    };
    // Counts are far below 2^53, so the f64 in the error is exact.
    Err(invalid(owner, name, value as f64, expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert!(learning_rate("t", "lr", 0.0).is_ok());
        assert!(learning_rate("t", "lr", -1e-3).is_err());
        assert!(learning_rate("t", "lr", f64::NAN).is_err());
        assert!(learning_rate("t", "lr", f64::INFINITY).is_err());
        assert!(decay_rate("t", "beta1", 0.0).is_ok());
        assert!(decay_rate("t", "beta1", 1.0).is_err());
        assert!(decay_rate("t", "beta1", -0.1).is_err());
        assert!(positive("t", "eps", 0.0).is_err());
        assert!(unit_interval("t", "dampening", 1.0).is_ok());
        assert!(open_unit_interval("t", "pct_start", 1.0).is_err());
        assert!(count_at_least("t", "t_max", 0, 1).is_err());
    }

    #[test]
    fn error_names_owner_and_key() {
        let err = decay_rate("adam", "beta2", 1.5).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("adam") && text.contains("beta2") && text.contains("1.5"),
            "{text}"
        );
    }
}

//! The reference models of the guide: easy to optimise, so their training loss says what
//! is reachable, and a rule for which of them the user's model can express.

use super::ReferenceConfig;
use crate::TrainError;
use unstuck_models::{Activation, Mlp};

/// The hidden widths of an MLP (empty for a linear model).
fn hidden_widths(mlp: &Mlp) -> &[usize] {
    let widths = mlp.widths();
    &widths[1..widths.len() - 1]
}

/// Whether the model computes a nonlinear function of its input.
fn is_nonlinear(mlp: &Mlp) -> bool {
    !hidden_widths(mlp).is_empty() && mlp.activation() != Activation::Identity
}

/// Softmax (or linear) regression: `d-k:identity`.
pub(crate) fn linear_reference(n_inputs: usize, n_outputs: usize) -> Result<Mlp, TrainError> {
    Ok(Mlp::builder(&[n_inputs, n_outputs])
        .activation(Activation::Identity)
        .build()?)
}

/// The optimizer spec of the linear reference: full-batch Adam decayed to 0 by a cosine.
pub(crate) fn linear_optimizer(config: &ReferenceConfig) -> String {
    format!(
        "adam:lr={},schedule=(cosine:t_max={})",
        config.linear_lr,
        config.linear_steps.max(1)
    )
}

/// One hidden layer. When the user's model is a nonlinear MLP it keeps the user's
/// activation and initialiser, with the user's narrowest hidden width: the lecture's
/// "shallower network of the same kind", which the deeper model can express. Otherwise
/// (the user's model is linear) it is a ReLU net of `config.shallow_width` units: a
/// bigger family, to show what capacity buys.
pub(crate) fn shallow_reference(user: &Mlp, config: &ReferenceConfig) -> Result<Mlp, TrainError> {
    let widths = user.widths();
    let (n_inputs, n_outputs) = (widths[0], widths[widths.len() - 1]);
    let model = if is_nonlinear(user) {
        let narrowest = hidden_widths(user).iter().copied().min().unwrap_or(1);
        Mlp::builder(&[n_inputs, narrowest, n_outputs])
            .activation(user.activation())
            .init(user.initializer())
            .build()?
    } else {
        Mlp::builder(&[n_inputs, config.shallow_width.max(1), n_outputs])
            .activation(Activation::Relu)
            .build()?
    };
    Ok(model)
}

/// Whether the user's model can express (at least approximately) every function of the
/// reference, so that a lower loss of the reference is reachable by the user's model and
/// its higher loss is an optimisation failure.
///
/// * A linear reference fits inside a linear model, and inside any MLP whose hidden
///   layers are all at least `min(inputs, outputs)` wide (a deep linear net exactly; a
///   tanh or ReLU net approximately, by working in the near-linear range).
/// * A one-hidden-layer reference fits inside an MLP with the same activation and every
///   hidden layer at least as wide (the extra layers can approximate the identity).
/// * Nothing nonlinear fits inside a linear model.
pub(crate) fn expressible_by(reference: &Mlp, user: &Mlp) -> bool {
    let user_hidden = hidden_widths(user);
    if !is_nonlinear(reference) {
        let widths = reference.widths();
        let rank = widths[0].min(widths[widths.len() - 1]);
        return user_hidden.iter().all(|&w| w >= rank);
    }
    let reference_width = hidden_widths(reference).iter().copied().max().unwrap_or(0);
    is_nonlinear(user)
        && user.activation() == reference.activation()
        && user_hidden.iter().all(|&w| w >= reference_width)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mlp(spec: &str) -> Mlp {
        Mlp::from_spec(spec).unwrap()
    }

    #[test]
    fn deeper_nets_contain_shallower_ones_of_their_kind() {
        let deep = mlp("2-16-16-16-2:tanh");
        let config = ReferenceConfig::default();
        let shallow = shallow_reference(&deep, &config).unwrap();
        assert_eq!(shallow.to_string(), "2-16-2:tanh");
        assert!(expressible_by(&shallow, &deep));
        assert!(expressible_by(&linear_reference(2, 2).unwrap(), &deep));
        // A ReLU reference is not inside a tanh family, nor a wider one.
        assert!(!expressible_by(&mlp("2-16-2:relu"), &deep));
        assert!(!expressible_by(&mlp("2-32-2:tanh"), &deep));
    }

    #[test]
    fn a_linear_model_contains_only_linear_references() {
        let linear = mlp("2-2:identity");
        let config = ReferenceConfig::default();
        let shallow = shallow_reference(&linear, &config).unwrap();
        assert_eq!(shallow.to_string(), "2-64-2:relu");
        assert!(!expressible_by(&shallow, &linear));
        assert!(expressible_by(&linear_reference(2, 2).unwrap(), &linear));
        // A bottleneck narrower than the output cannot carry a full-rank linear map.
        assert!(!expressible_by(
            &linear_reference(64, 10).unwrap(),
            &mlp("64-4-10:relu")
        ));
    }
}

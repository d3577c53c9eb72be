//! The reference models of the guide, chosen per model family from the user's spec
//! (`unstuck_models::variants`): a linear model on the flattened inputs, a shallower
//! model of the same kind, and a strictly bigger version of the user's own model; and the
//! rule for which of them the user's model can express.

use super::{DiagnoseConfig, Registries};
use crate::TrainError;
use unstuck_models::variants::{
    contains_linear_map, is_linear, linear_on_inputs, one_hidden_layer, shallower, wider,
};
use unstuck_models::{Activation, AnyModel};

/// A model to train beside the user's, and how.
pub(crate) struct ReferenceModel {
    pub(crate) role: &'static str,
    /// The spec the model was built from.
    pub(crate) spec: String,
    pub(crate) model: Box<dyn AnyModel>,
    pub(crate) optimizer: String,
    /// Full-batch steps instead of the user's batch size and epochs.
    pub(crate) full_batch_steps: Option<u64>,
    pub(crate) expressible_by_user: bool,
}

/// The linear reference (full batch, near convergence) and the shallower one (the user's
/// batch size and budget), when the user's family has one.
///
/// * An MLP with two or more hidden layers gets one hidden layer of its narrowest width,
///   same activation and initialiser: the lecture's "shallower network of the same kind",
///   which the deeper model can express (its extra layers can approximate the identity).
/// * A network gets its first weighted block, then its output layer: the shallower CNN of
///   the same kind. The lecture's rule that a deeper net should reach at least the
///   training loss of a shallower one of its kind counts it as inside the family.
/// * A linear MLP gets a ReLU net of `shallow_width` units: a bigger family, outside.
/// * An MLP with one hidden layer, a network of one block and a registered model have no
///   shallower model of their kind.
pub(crate) fn references(
    spec: &str,
    user: &dyn AnyModel,
    config: &DiagnoseConfig,
    registries: &Registries,
) -> Result<Vec<ReferenceModel>, TrainError> {
    let settings = &config.reference;
    let (n_inputs, n_outputs) = (user.input_width(), user.output_width());
    let linear_spec = linear_on_inputs(n_inputs, n_outputs);
    let linear = registries.models.build(&linear_spec)?;
    let mut out = vec![ReferenceModel {
        role: "linear reference",
        spec: linear_spec,
        expressible_by_user: contains_linear_map(spec)?,
        model: linear,
        optimizer: format!(
            "adam:lr={},schedule=(cosine:t_max={})",
            settings.linear_lr,
            settings.linear_steps.max(1)
        ),
        full_batch_steps: Some(settings.linear_steps.max(1)),
    }];
    let shallow = match shallower(spec)? {
        Some(shallow) => Some((shallow, true)),
        None if is_linear(spec)? => Some((
            one_hidden_layer(
                n_inputs,
                settings.shallow_width,
                n_outputs,
                Activation::Relu,
            )?,
            false,
        )),
        None => None,
    };
    if let Some((shallow, inside)) = shallow {
        out.push(ReferenceModel {
            role: "shallow reference",
            model: registries.models.build(&shallow)?,
            spec: shallow,
            optimizer: settings.shallow_optimizer.clone(),
            full_batch_steps: None,
            expressible_by_user: inside,
        });
    }
    Ok(out)
}

/// The strictly bigger version of the user's model (every hidden width and channel count
/// times `wider_factor`), trained the user's way; `None` for a linear or registered
/// model.
pub(crate) fn bigger(
    spec: &str,
    config: &DiagnoseConfig,
    registries: &Registries,
) -> Result<Option<ReferenceModel>, TrainError> {
    let Some(wide) = wider(spec, config.reference.wider_factor)? else {
        return Ok(None);
    };
    Ok(Some(ReferenceModel {
        role: "bigger model",
        model: registries.models.build(&wide)?,
        spec: wide,
        optimizer: config.optimizer.clone(),
        full_batch_steps: None,
        expressible_by_user: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(spec: &str) -> Vec<(String, bool)> {
        let config = DiagnoseConfig::new(spec, "adam:lr=0.01");
        let registries = Registries::builtin();
        let user = registries.models.build(spec).unwrap();
        references(spec, user.as_ref(), &config, &registries)
            .unwrap()
            .iter()
            .map(|r| (r.spec.clone(), r.expressible_by_user))
            .collect()
    }

    #[test]
    fn references_per_family() {
        assert_eq!(
            roles("2-16-16-16-2:tanh"),
            [("2-2:identity".into(), true), ("2-16-2:tanh".into(), true)]
        );
        assert_eq!(
            roles("2-2:identity"),
            [("2-2:identity".into(), true), ("2-64-2:relu".into(), false)]
        );
        // A bottleneck narrower than the output cannot carry a full-rank linear map.
        assert_eq!(roles("64-4-10:relu"), [("64-10:identity".into(), false)]);
        let cnn =
            roles("1x8x8/conv(4,k=3,pad=1)-tanh-maxpool(2)-conv(6,k=3)-tanh-flatten-linear(10)");
        assert_eq!(
            cnn,
            [
                ("64-10:identity".into(), false),
                (
                    "1x8x8/conv(4,k=3,pad=1)-tanh-maxpool(2)-flatten-linear(10)".into(),
                    true
                )
            ]
        );
    }

    #[test]
    fn the_bigger_model_is_the_users_widened() {
        let registries = Registries::builtin();
        let config = DiagnoseConfig::new("64-128-10:relu", "adam:lr=0.01");
        let bigger = bigger("64-128-10:relu", &config, &registries)
            .unwrap()
            .unwrap();
        assert_eq!(bigger.spec, "64-256-10:relu");
        assert_eq!(bigger.optimizer, "adam:lr=0.01");
        assert!(
            super::bigger("2-2:identity", &config, &registries)
                .unwrap()
                .is_none()
        );
    }
}

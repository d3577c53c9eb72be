//! A user's own layer, written against the public API only, registered under a name and
//! used in a model spec: the same path the CLI and the trainer take.
//!
//! Run with `cargo run -p unstuck-models --example custom_layer`.

use unstuck_autodiff::{Element, Tensor, Var};
use unstuck_core::spec::SpecArgs;
use unstuck_models::{
    Forward, InitDistribution, Layer, LayerEntry, LayerForward, Loss, Model, ModelError,
    ModelRegistry, Objective, ParamDecl, ParamInit, ShapeMismatch, Targets,
};

/// `x * scale`: one learned factor per feature of the last axis, starting at `init`.
#[derive(Debug, Clone, Copy)]
struct Scale {
    width: usize,
    init: f64,
}

impl Layer for Scale {
    fn kind(&self) -> &'static str {
        "scale"
    }

    fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>, ShapeMismatch> {
        match input.last() {
            Some(&width) if width == self.width => Ok(input.to_vec()),
            _ => Err(ShapeMismatch::new(format!("[..., {}]", self.width))),
        }
    }

    /// Each example is scaled on its own, so the Hessian tools may record a large batch
    /// in slices on several threads (left out, the layer would keep the batch whole).
    fn per_example(&self) -> bool {
        true
    }

    fn params(&self) -> Vec<ParamDecl> {
        let law = InitDistribution::Constant { value: self.init };
        vec![ParamDecl::new(
            "scale",
            &[self.width],
            ParamInit::Fixed(law),
        )]
    }
}

impl<T: Element> LayerForward<T> for Scale {
    fn forward(&self, cx: &mut Forward<'_, T>, x: Var) -> Var {
        cx.tape.mul(x, cx.param(0))
    }
}

/// `scale(init=0.5)`: the width comes from the shape reaching the layer.
fn build_scale(args: &mut SpecArgs<'_>, input: &[usize]) -> Result<Box<dyn Layer>, ModelError> {
    let init = args.f64("init", 1.0)?;
    let width = input.last().copied().unwrap_or(0);
    Ok(Box::new(Scale { width, init }))
}

fn main() -> Result<(), ModelError> {
    let mut registry = ModelRegistry::builtin();
    registry.register_layer(LayerEntry {
        name: "scale",
        summary: "Multiplies each feature by a learned factor.",
        build: build_scale,
    })?;
    let model = registry.build("4/fc=linear(8)-tanh-gain=scale(init=0.5)-out=linear(3)")?;
    let names: Vec<&str> = model.layout().iter().map(|p| p.name.as_str()).collect();
    println!("parameters: {names:?}");
    let model: &dyn Model<f64> = model.as_ref();
    let theta = model.init(7);
    let x = Tensor::matrix((0..8).map(|i| i as f64 / 8.0).collect(), 2, 4)?;
    let targets = Targets::Classes {
        labels: vec![0, 2],
        n_classes: 3,
    };
    let objective = Objective::new(model, x, targets, Loss::CrossEntropy)?;
    let (loss, gradient) = objective.gradient(&theta)?;
    println!(
        "loss {loss:.4}, gradient norm {:.4}",
        gradient.iter().map(|g| g * g).sum::<f64>().sqrt()
    );
    let help = registry
        .layers()
        .iter()
        .find(|e| e.name == "scale")
        .map(LayerEntry::help);
    println!("scale: {}", help.unwrap_or_default());
    Ok(())
}

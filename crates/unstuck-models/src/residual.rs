//! A residual block: `x + f(x)` for a chain of layers `f` that keeps the shape.

use crate::chain::Chain;
use crate::layer::dims_str;
use crate::{BufferDecl, Forward, Layer, LayerForward, ParamDecl, ShapeMismatch};
use unstuck_autodiff::{Element, Var};

/// `x + f(x)`, where `f` is its layers in order (named as in [`crate::Sequential`]); `f`
/// must give back the shape it was given.
///
/// ```
/// use unstuck_models::{Activation, Architecture, Layer, Linear, Residual, Sequential};
/// let block = Residual::new()
///     .push(Linear::new(8, 8))
///     .push(Activation::Tanh);
/// assert_eq!(block.output_dims(&[8]).unwrap(), vec![8]);
/// assert!(block.output_dims(&[4]).is_err());
/// let net = Sequential::builder(&[8]).push(block).push(Linear::new(8, 2)).build()?;
/// assert_eq!(net.layout()[0].name, "0.0.weight");
/// # Ok::<(), unstuck_models::ModelError>(())
/// ```
#[derive(Debug, Default)]
pub struct Residual {
    chain: Chain,
}

impl Residual {
    /// An empty block (the identity plus itself until layers are pushed).
    pub fn new() -> Self {
        Residual::default()
    }

    /// Appends a layer named by its position.
    pub fn push(self, layer: impl Layer + 'static) -> Self {
        let name = self.chain.children.len().to_string();
        self.push_boxed(name, Box::new(layer))
    }

    /// Appends a layer with a name of its own (`""`: its parameters at the block's level).
    pub fn push_named(self, name: &str, layer: impl Layer + 'static) -> Self {
        self.push_boxed(name.to_string(), Box::new(layer))
    }

    /// Appends a boxed layer (from a registry).
    pub fn push_boxed(mut self, name: String, layer: Box<dyn Layer>) -> Self {
        self.chain.push(name, layer);
        self
    }
}

impl Layer for Residual {
    fn kind(&self) -> &'static str {
        "residual"
    }

    fn describe(&self) -> String {
        format!("residual({})", self.chain.describe())
    }

    fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>, ShapeMismatch> {
        match self.chain.output_dims(input) {
            Ok(output) if output == input => Ok(output),
            Ok(output) => Err(ShapeMismatch::new(format!(
                "a shape its layers keep (they turn {} into {})",
                dims_str(input),
                dims_str(&output)
            ))),
            Err(inner) => Err(ShapeMismatch::new(format!(
                "a shape its layers take (inside it, {})",
                inner.describe()
            ))),
        }
    }

    fn params(&self) -> Vec<ParamDecl> {
        self.chain.params()
    }

    fn buffers(&self) -> Vec<BufferDecl> {
        self.chain.buffers()
    }

    fn min_training_batch(&self, input: &[usize]) -> usize {
        self.chain.min_training_batch(input)
    }

    fn per_example(&self) -> bool {
        self.chain.per_example()
    }
}

impl<T: Element> LayerForward<T> for Residual {
    fn forward(&self, cx: &mut Forward<'_, T>, x: Var) -> Var {
        let fx = self.chain.forward(cx, x);
        cx.tape.add(x, fx)
    }
}

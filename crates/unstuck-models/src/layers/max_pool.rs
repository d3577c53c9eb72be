//! PyTorch's `nn.MaxPool2d`.

use super::pool::PoolWindow;
use crate::{Forward, Layer, LayerForward, ModelError, ShapeMismatch};
use unstuck_autodiff::{Element, Var};

/// `nn.MaxPool2d(kernel, stride)` on `[C, H, W]` images, without padding: the largest value of each window (the gradient goes to it).
///
/// ```
/// use unstuck_models::{MaxPool2d, Layer};
/// let pool = MaxPool2d::new(2).unwrap();
/// assert_eq!(pool.output_dims(&[4, 8, 8]).unwrap(), vec![4, 4, 4]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MaxPool2d {
    /// The window.
    pub window: PoolWindow,
}

impl MaxPool2d {
    /// Windows of side `kernel` with stride `kernel` (PyTorch's default).
    pub fn new(kernel: usize) -> Result<Self, ModelError> {
        Self::with_stride(kernel, kernel)
    }

    /// Windows of side `kernel` every `stride` pixels.
    pub fn with_stride(kernel: usize, stride: usize) -> Result<Self, ModelError> {
        Ok(MaxPool2d {
            window: PoolWindow::new("maxpool", kernel, stride)?,
        })
    }
}

impl Layer for MaxPool2d {
    fn kind(&self) -> &'static str {
        "maxpool"
    }

    fn per_example(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!(
            "maxpool({},stride={})",
            self.window.kernel, self.window.stride
        )
    }

    fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>, ShapeMismatch> {
        self.window.output_dims(input)
    }
}

impl<T: Element> LayerForward<T> for MaxPool2d {
    fn forward(&self, cx: &mut Forward<'_, T>, x: Var) -> Var {
        cx.tape
            .max_pool2d(x, self.window.kernel, self.window.stride)
    }
}

//! PyTorch's `nn.AvgPool2d`.

use super::pool::PoolWindow;
use crate::{Forward, Layer, LayerForward, ModelError, ShapeMismatch};
use unstuck_autodiff::{Element, Var};

/// `nn.AvgPool2d(kernel, stride)` on `[C, H, W]` images, without padding: the mean of each window.
///
/// ```
/// use unstuck_models::{AvgPool2d, Layer};
/// let pool = AvgPool2d::new(2).unwrap();
/// assert_eq!(pool.output_dims(&[4, 8, 8]).unwrap(), vec![4, 4, 4]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AvgPool2d {
    /// The window.
    pub window: PoolWindow,
}

impl AvgPool2d {
    /// Windows of side `kernel` with stride `kernel` (PyTorch's default).
    pub fn new(kernel: usize) -> Result<Self, ModelError> {
        Self::with_stride(kernel, kernel)
    }

    /// Windows of side `kernel` every `stride` pixels.
    pub fn with_stride(kernel: usize, stride: usize) -> Result<Self, ModelError> {
        Ok(AvgPool2d {
            window: PoolWindow::new("avgpool", kernel, stride)?,
        })
    }
}

impl Layer for AvgPool2d {
    fn kind(&self) -> &'static str {
        "avgpool"
    }

    fn per_example(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!(
            "avgpool({},stride={})",
            self.window.kernel, self.window.stride
        )
    }

    fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>, ShapeMismatch> {
        self.window.output_dims(input)
    }
}

impl<T: Element> LayerForward<T> for AvgPool2d {
    fn forward(&self, cx: &mut Forward<'_, T>, x: Var) -> Var {
        cx.tape
            .avg_pool2d(x, self.window.kernel, self.window.stride)
    }
}

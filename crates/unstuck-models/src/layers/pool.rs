//! What the two pooling layers share: the window geometry and its shape rule.

use crate::{ModelError, ShapeMismatch};

/// A square pooling window every `stride` pixels, without padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PoolWindow {
    /// The window's side.
    pub kernel: usize,
    /// Step between windows.
    pub stride: usize,
}

impl PoolWindow {
    /// A window of side `kernel`, stepping by `stride` (PyTorch's default stride is the
    /// kernel); both must be positive.
    pub fn new(layer: &'static str, kernel: usize, stride: usize) -> Result<Self, ModelError> {
        if kernel == 0 || stride == 0 {
            return Err(ModelError::BadLayerArgument {
                layer,
                message: format!("kernel and stride must be positive, got {kernel} and {stride}"),
            });
        }
        Ok(PoolWindow { kernel, stride })
    }

    /// `[C, H, W]` to `[C, (H - k) / s + 1, (W - k) / s + 1]`.
    pub(crate) fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>, ShapeMismatch> {
        let k = self.kernel;
        match *input {
            [c, h, w] if h >= k && w >= k => {
                let out = |n: usize| (n - k) / self.stride + 1;
                Ok(vec![c, out(h), out(w)])
            }
            _ => Err(ShapeMismatch::new(format!("[C, H, W] with H, W >= {k}"))),
        }
    }
}

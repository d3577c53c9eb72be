//! PyTorch's `nn.Conv2d`: a 2-D cross-correlation with stride and zero padding.

use crate::{Forward, Layer, LayerForward, ModelError, ParamDecl, ParamInit, ShapeMismatch};
use unstuck_autodiff::{Conv2dOptions, Element, Var};

/// `nn.Conv2d(in_channels, out_channels, kernel, stride, padding, bias)` on
/// `[C, H, W]` images: a weight `[out, in, kernel, kernel]` and, unless turned off, a bias
/// `[out]`.
///
/// ```
/// use unstuck_models::{Conv2d, Layer};
/// let conv = Conv2d::new(1, 4, 3).unwrap().padding(1);
/// assert_eq!(conv.output_dims(&[1, 8, 8]).unwrap(), vec![4, 8, 8]);
/// assert!(conv.output_dims(&[2, 8, 8]).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2d {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// The square kernel's side.
    pub kernel: usize,
    /// Step between windows.
    pub stride: usize,
    /// Zeros added on each side.
    pub padding: usize,
    /// Whether there is a bias.
    pub bias: bool,
}

impl Conv2d {
    /// A convolution with stride 1, no padding and a bias; every size must be positive.
    pub fn new(in_channels: usize, out_channels: usize, kernel: usize) -> Result<Self, ModelError> {
        for (what, value) in [
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("kernel", kernel),
        ] {
            if value == 0 {
                return Err(ModelError::BadLayerArgument {
                    layer: "conv",
                    message: format!("{what} must be positive"),
                });
            }
        }
        Ok(Conv2d {
            in_channels,
            out_channels,
            kernel,
            stride: 1,
            padding: 0,
            bias: true,
        })
    }

    /// With this stride (at least 1: a zero stride is taken as 1).
    pub fn stride(mut self, stride: usize) -> Self {
        self.stride = stride.max(1);
        self
    }

    /// With this zero padding on each side.
    pub fn padding(mut self, padding: usize) -> Self {
        self.padding = padding;
        self
    }

    /// With or without a bias.
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }

    fn receptive_field(&self) -> usize {
        self.kernel * self.kernel
    }
}

impl Layer for Conv2d {
    fn kind(&self) -> &'static str {
        "conv"
    }

    fn per_example(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        let bias = if self.bias { "" } else { ",bias=false" };
        format!(
            "conv({},k={},stride={},pad={}{bias})",
            self.out_channels, self.kernel, self.stride, self.padding
        )
    }

    fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>, ShapeMismatch> {
        let (k, pad) = (self.kernel, self.padding);
        let need = || {
            ShapeMismatch::new(format!(
                "[{}, H, W] with H, W + 2 * {pad} >= {k}",
                self.in_channels
            ))
        };
        match *input {
            [c, h, w] if c == self.in_channels && h + 2 * pad >= k && w + 2 * pad >= k => {
                let out = |n: usize| (n + 2 * pad - k) / self.stride + 1;
                Ok(vec![self.out_channels, out(h), out(w)])
            }
            _ => Err(need()),
        }
    }

    fn params(&self) -> Vec<ParamDecl> {
        let fan_in = self.in_channels * self.receptive_field();
        let fan_out = self.out_channels * self.receptive_field();
        let (o, i, k) = (self.out_channels, self.in_channels, self.kernel);
        let mut params = vec![ParamDecl::new(
            "weight",
            &[o, i, k, k],
            ParamInit::Weight { fan_in, fan_out },
        )];
        if self.bias {
            params.push(ParamDecl::new("bias", &[o], ParamInit::Bias { fan_in }));
        }
        params
    }
}

impl<T: Element> LayerForward<T> for Conv2d {
    fn forward(&self, cx: &mut Forward<'_, T>, x: Var) -> Var {
        let bias = self.bias.then(|| cx.param(1));
        let options = Conv2dOptions::new(self.stride, self.padding);
        cx.tape.conv2d(x, cx.param(0), bias, options)
    }
}

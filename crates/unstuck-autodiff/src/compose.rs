//! Ops built from other ops: no rule of their own, so their derivatives of every order
//! are exact by construction.

use crate::Element;
use crate::tape::{Tape, Var};
use crate::tensor::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

impl<T: Element> Tape<T> {
    /// `a - b`, with the broadcasting of [`Tape::add`].
    pub fn sub(&self, a: Var, b: Var) -> Var {
        self.add(a, self.neg(b))
    }

    /// `a / b`, with the broadcasting of [`Tape::add`].
    pub fn div(&self, a: Var, b: Var) -> Var {
        self.mul(a, self.powf(b, -T::ONE))
    }

    /// `a^2` elementwise.
    pub fn square(&self, a: Var) -> Var {
        self.mul(a, a)
    }

    /// Square root elementwise.
    pub fn sqrt(&self, a: Var) -> Var {
        self.powf(a, T::from_f64(0.5))
    }

    /// Mean of all elements (a scalar).
    pub fn mean(&self, a: Var) -> Var {
        let n = self.shape_of(a).numel();
        self.scale(self.sum(a), T::ONE / T::from_f64(n as f64))
    }

    /// Mean over one axis, which disappears (see [`Tape::sum_axis`]).
    pub fn mean_axis(&self, a: Var, axis: usize) -> Var {
        self.mean_axes(a, &[axis], false)
    }

    /// Mean over `axes`; with `keep_dims` they stay with length 1.
    pub fn mean_axes(&self, a: Var, axes: &[usize], keep_dims: bool) -> Var {
        let shape = self.shape_of(a);
        let count: usize = axes.iter().map(|&axis| shape.dims()[axis]).product();
        let sum = self.sum_axes(a, axes, keep_dims);
        self.scale(sum, T::ONE / T::from_f64(count as f64))
    }

    /// The biased variance over `axes` (divided by the count, as batch and layer
    /// normalisation use it); with `keep_dims` the axes stay with length 1.
    pub fn var_axes(&self, a: Var, axes: &[usize], keep_dims: bool) -> Var {
        let centred = self.sub(a, self.mean_axes(a, axes, true));
        self.mean_axes(self.square(centred), axes, keep_dims)
    }

    /// GELU in its tanh form: `0.5 a (1 + tanh(sqrt(2/pi) (a + 0.044715 a^3)))`.
    pub fn gelu(&self, a: Var) -> Var {
        let c = T::from_f64((2.0 / std::f64::consts::PI).sqrt());
        let cube = self.powf(a, T::from_f64(3.0));
        let inner = self.scale(self.add(a, self.scale(cube, T::from_f64(0.044715))), c);
        let gate = self.shift(self.tanh(inner), T::ONE);
        self.scale(self.mul(a, gate), T::from_f64(0.5))
    }

    /// Mean squared error over all elements.
    pub fn mse(&self, pred: Var, target: Var) -> Var {
        let (p, t) = (self.shape_of(pred), self.shape_of(target));
        assert!(
            p == t,
            "mse: prediction shape {p:?} differs from target shape {t:?}"
        );
        self.mean(self.square(self.sub(pred, target)))
    }

    /// Rows of `table [V, D]` for token ids laid out as `ids_dims` (for example
    /// `[batch, tokens]`): `[ids_dims..., D]`.
    pub fn embedding(&self, table: Var, ids: &[usize], ids_dims: &[usize]) -> Var {
        let width = self.shape_of(table).dims()[1..].to_vec();
        let mut dims = ids_dims.to_vec();
        dims.extend(width);
        self.reshape(self.gather(table, ids), &dims)
    }

    /// Inverted dropout with a mask drawn from `ChaCha8Rng::seed_from_u64(seed)`: each
    /// element is kept with probability `1 - p` and scaled by `1 / (1 - p)` (PyTorch's
    /// rule). The mask is a constant, so the result is differentiable to every order.
    ///
    /// # Panics
    /// If `p` is not in `[0, 1]`.
    pub fn dropout(&self, a: Var, p: f64, seed: u64) -> Var {
        assert!(
            (0.0..=1.0).contains(&p),
            "dropout: probability {p} is not in [0, 1]"
        );
        let shape = self.shape_of(a);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let keep = if p < 1.0 {
            T::from_f64(1.0 / (1.0 - p))
        } else {
            T::ZERO
        };
        let mask = (0..shape.numel())
            .map(|_| {
                if rng.random::<f64>() >= p {
                    keep
                } else {
                    T::ZERO
                }
            })
            .collect();
        self.mul(a, self.constant(Tensor::from_parts(mask, shape)))
    }
}

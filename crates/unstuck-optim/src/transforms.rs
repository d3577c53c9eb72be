//! Slice-level building blocks shared by several optimizers (weight decay).

use std::borrow::Cow;

use crate::ops::add_scaled;
use crate::{Element, for_each_element};

/// L2 weight decay as PyTorch applies it: the gradient becomes `grad + wd * param`.
///
/// Returns the gradient unchanged (borrowed, no copy) when `weight_decay` is 0, which is
/// the common path.
pub fn l2_weight_decay<'g, T: Element>(
    grads: &'g [T],
    params: &[T],
    weight_decay: f64,
) -> Cow<'g, [T]> {
    if weight_decay == 0.0 {
        return Cow::Borrowed(grads);
    }
    let wd = T::from_f64(weight_decay);
    let mut decayed = grads.to_vec();
    for_each_element(
        (&mut decayed[..], params),
        #[inline(always)]
        move |(g, &p)| *g = add_scaled(*g, wd, p),
    );
    Cow::Owned(decayed)
}

/// Decoupled weight decay (AdamW, Lion): `param *= 1 - lr * wd`, before the update.
pub fn decoupled_weight_decay<T: Element>(params: &mut [T], lr: f64, weight_decay: f64) {
    if weight_decay == 0.0 {
        return;
    }
    let factor = T::from_f64(1.0 - lr * weight_decay);
    for_each_element(
        (params,),
        #[inline(always)]
        move |(p,)| *p *= factor,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_decay_borrows() {
        let g = [1.0f32, 2.0];
        assert!(matches!(
            l2_weight_decay(&g, &[5.0, 6.0], 0.0),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn l2_adds_scaled_params() {
        // Dyadic values: every operation is exact, so equality is the right check.
        let out = l2_weight_decay(&[1.0f64, -2.0], &[4.0, 8.0], 0.25);
        assert_eq!(&*out, &[2.0, 0.0]);
    }

    #[test]
    fn decoupled_decay_shrinks_params() {
        let mut p = [2.0f64, -4.0];
        decoupled_weight_decay(&mut p, 0.5, 0.5);
        assert_eq!(p, [1.5, -3.0]);
    }
}

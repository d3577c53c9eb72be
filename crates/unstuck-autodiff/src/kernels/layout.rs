//! Ops that move elements: permute, narrow and its adjoints pad and add-at.

use super::elementwise::gather_strided;
use crate::Element;
use crate::buffers;
use crate::shape::{MAX_RANK, Shape};
use crate::tensor::{Tensor, View};

/// An axis permutation of rank at most 4: output axis `i` is input axis `perm[i]`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Perm {
    axes: [u8; MAX_RANK],
    rank: u8,
}

impl Perm {
    /// A permutation, or a panic naming `op` when `axes` is not one.
    pub(crate) fn new(op: &str, axes: &[usize]) -> Self {
        let mut seen = [false; MAX_RANK];
        let valid = axes.len() <= MAX_RANK
            && axes
                .iter()
                .all(|&a| a < axes.len() && !std::mem::replace(&mut seen[a], true));
        assert!(
            valid,
            "{op}: {axes:?} is not a permutation of 0..{}",
            axes.len()
        );
        let mut inline = [0; MAX_RANK];
        for (slot, &a) in inline.iter_mut().zip(axes) {
            *slot = a as u8;
        }
        Perm {
            axes: inline,
            rank: axes.len() as u8,
        }
    }

    pub(crate) fn axes(&self) -> impl Iterator<Item = usize> + '_ {
        self.axes[..self.rank as usize].iter().map(|&a| a as usize)
    }

    /// The permutation that undoes this one.
    pub(crate) fn inverse(&self) -> Perm {
        let mut inverse = [0; MAX_RANK];
        for (i, a) in self.axes().enumerate() {
            inverse[a] = i as u8;
        }
        Perm {
            axes: inverse,
            rank: self.rank,
        }
    }

    /// The shape of a permuted tensor, or a panic when the ranks differ.
    pub(crate) fn apply(&self, shape: Shape) -> Shape {
        assert!(
            shape.rank() == self.rank as usize,
            "permute: {self:?} does not fit shape {shape:?}"
        );
        let dims: Vec<usize> = self.axes().map(|a| shape.dims()[a]).collect();
        Shape::of("permute", &dims)
    }
}

impl std::fmt::Debug for Perm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.axes()).finish()
    }
}

/// `x` with its axes reordered by `perm`.
pub(crate) fn permute<T: Element>(x: View<'_, T>, perm: Perm) -> Tensor<T> {
    let out = perm.apply(x.shape);
    let lead = MAX_RANK - out.rank();
    let in_strides = x.shape.strides();
    // Pad to rank 4 with leading axes of length 1 (stride irrelevant).
    let mut dims = [1; MAX_RANK];
    let mut strides = [0; MAX_RANK];
    for (i, a) in perm.axes().enumerate() {
        dims[lead + i] = x.shape.dims()[a];
        strides[lead + i] = in_strides[a];
    }
    let mut data = buffers::take(out.numel());
    gather_strided(x.data, dims, strides, &mut data);
    Tensor::from_parts(data, out)
}

/// Elements `start..start + len` of `x` along `axis`.
pub(crate) fn narrow<T: Element>(
    x: View<'_, T>,
    axis: usize,
    start: usize,
    len: usize,
) -> Tensor<T> {
    assert!(
        axis < x.shape.rank() && start + len <= x.shape.dims()[axis],
        "narrow: range {start}..{} of axis {axis} out of bounds for shape {:?}",
        start + len,
        x.shape
    );
    let (outer, n, inner) = x.shape.split_at_axis(axis);
    let mut data = buffers::take(outer * len * inner);
    for block in x.data.chunks_exact((n * inner).max(1)).take(outer) {
        data.extend_from_slice(&block[start * inner..(start + len) * inner]);
    }
    Tensor::from_parts(data, x.shape.with_dim(axis, len))
}

/// `x` placed at `start` along `axis` inside zeros of length `total` there (the adjoint
/// of [`narrow`]).
pub(crate) fn pad<T: Element>(
    x: View<'_, T>,
    axis: usize,
    start: usize,
    total: usize,
) -> Tensor<T> {
    assert!(
        axis < x.shape.rank() && start + x.shape.dims()[axis] <= total,
        "pad: shape {:?} at {start} along axis {axis} does not fit in length {total}",
        x.shape
    );
    let out = x.shape.with_dim(axis, total);
    Tensor::from_parts(place_in_zeros(out, x, axis, start, |v| v), out)
}

/// `f` of each element of `part` placed at `start` along `axis` inside zeros of shape
/// `shape` (which agrees with `part`'s elsewhere), in one pass: only what lies outside
/// the block is zeroed.
pub(crate) fn place_in_zeros<T: Element>(
    shape: Shape,
    part: View<'_, T>,
    axis: usize,
    start: usize,
    f: impl Fn(T) -> T,
) -> Vec<T> {
    let mut data = buffers::take(shape.numel());
    let (outer, len, inner) = part.shape.split_at_axis(axis);
    let (before, block, row) = (start * inner, len * inner, shape.dims()[axis] * inner);
    if block > 0 {
        for values in part.data.chunks_exact(block).take(outer) {
            let at = data.len();
            data.resize(at + before, T::ZERO);
            data.extend(values.iter().map(|&v| f(v)));
            data.resize(at + row, T::ZERO);
        }
    }
    data.resize(shape.numel(), T::ZERO);
    data
}

/// `acc + pad(part)`: `part` added at `start` along `axis` of `acc`, every element of
/// `acc` outside the block plus zero, in one pass (the very bits of adding a padded copy,
/// without making it).
pub(crate) fn add_at<T: Element>(
    acc: View<'_, T>,
    part: View<'_, T>,
    axis: usize,
    start: usize,
) -> Tensor<T> {
    let (outer, len, inner) = part.shape.split_at_axis(axis);
    assert!(
        axis < acc.shape.rank()
            && part.shape.with_dim(axis, acc.shape.dims()[axis]) == acc.shape
            && start + len <= acc.shape.dims()[axis],
        "add_at: shape {:?} at {start} along axis {axis} does not fit in shape {:?}",
        part.shape,
        acc.shape
    );
    let mut data = buffers::take(acc.shape.numel());
    let (before, block, row) = (start * inner, len * inner, acc.shape.dims()[axis] * inner);
    let plus_zero = |a: &T| *a + T::ZERO;
    for o in 0..outer {
        let acc_row = &acc.data[o * row..(o + 1) * row];
        let part_row = &part.data[o * block..(o + 1) * block];
        data.extend(acc_row[..before].iter().map(plus_zero));
        data.extend(
            acc_row[before..before + block]
                .iter()
                .zip(part_row)
                .map(|(&a, &p)| a + p),
        );
        data.extend(acc_row[before + block..].iter().map(plus_zero));
    }
    Tensor::from_parts(data, acc.shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_moves_axes_and_inverse_undoes_it() {
        let x: Vec<f64> = (0..24).map(f64::from).collect();
        let shape = Shape::new(&[2, 3, 4]).unwrap();
        let perm = Perm::new("t", &[2, 0, 1]);
        let y = permute(View::new(&x, shape), perm);
        assert_eq!(y.dims(), &[4, 2, 3]);
        // y[i, j, k] = x[j, k, i]
        assert_eq!(y.data()[5], x[12 + 4 * 2]);
        let back = permute(y.view(), perm.inverse());
        assert_eq!(back.data(), &x[..]);
    }

    #[test]
    fn narrow_and_pad_are_adjoint() {
        let x: Vec<f64> = (0..24).map(f64::from).collect();
        let shape = Shape::new(&[2, 3, 4]).unwrap();
        let part = narrow(View::new(&x, shape), 1, 1, 2);
        assert_eq!(part.dims(), &[2, 2, 4]);
        assert_eq!(&part.data()[..4], &[4., 5., 6., 7.]);
        let padded = pad(part.view(), 1, 1, 3);
        assert_eq!(&padded.data()[..8], &[0., 0., 0., 0., 4., 5., 6., 7.]);
    }

    #[test]
    fn add_at_has_the_bits_of_adding_a_padded_copy() {
        // -0 outside the block becomes +0 (as `-0 + 0` does), -0 + -0 inside stays -0.
        let shape = Shape::new(&[3, 5, 2]).unwrap();
        let acc: Vec<f64> = (0..30)
            .map(|i| match i % 4 {
                0 => -0.0,
                1 => f64::NAN,
                _ => f64::from(i) * 0.37 - 4.0,
            })
            .collect();
        let part_shape = Shape::new(&[3, 2, 2]).unwrap();
        let part: Vec<f64> = (0..12)
            .map(|i| if i % 3 == 0 { -0.0 } else { f64::from(i) - 5.5 })
            .collect();
        let (acc, part) = (View::new(&acc, shape), View::new(&part, part_shape));
        let padded = pad(part, 1, 2, 5);
        let added = super::super::elementwise::zip("add", acc, padded.view(), |p, q| p + q);
        let bits = |t: &Tensor<f64>| t.data().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let placed = add_at(acc, part, 1, 2);
        assert_eq!(placed.dims(), &[3, 5, 2]);
        assert_eq!(bits(&placed), bits(&added));
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn add_at_refuses_a_part_that_does_not_fit() {
        let acc = [0.0; 6];
        let part = [1.0; 4];
        add_at(
            View::new(&acc, Shape::new(&[6]).unwrap()),
            View::new(&part, Shape::new(&[4]).unwrap()),
            0,
            3,
        );
    }

    #[test]
    #[should_panic(expected = "is not a permutation")]
    fn a_repeated_axis_is_refused() {
        Perm::new("permute", &[0, 0]);
    }
}

//! Shapes of rank 0 to 4, stored inline so that a shape never allocates.

use crate::AutodiffError;

/// The largest rank a tensor may have (`[batch, channels, height, width]`).
pub const MAX_RANK: usize = 4;

/// The dimensions of a tensor of rank 0 to [`MAX_RANK`], outermost first (row-major).
///
/// ```
/// use unstuck_autodiff::Shape;
/// let s = Shape::new(&[2, 3, 4]).unwrap();
/// assert_eq!((s.rank(), s.numel(), s.dims()), (3, 24, &[2, 3, 4][..]));
/// assert!(Shape::new(&[1, 2, 3, 4, 5]).is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: [usize; MAX_RANK],
    rank: u8,
}

impl Shape {
    /// The shape of a scalar.
    pub const SCALAR: Shape = Shape {
        dims: [1; MAX_RANK],
        rank: 0,
    };

    /// A shape from its dimensions; more than [`MAX_RANK`] is an error.
    pub fn new(dims: &[usize]) -> Result<Self, AutodiffError> {
        if dims.len() > MAX_RANK {
            return Err(AutodiffError::UnsupportedRank { rank: dims.len() });
        }
        let mut inline = [1; MAX_RANK];
        inline[..dims.len()].copy_from_slice(dims);
        Ok(Shape {
            dims: inline,
            rank: dims.len() as u8,
        })
    }

    /// Builds a shape from a slice of dimensions (the same as [`Shape::new`]).
    pub fn from_dims(dims: &[usize]) -> Result<Self, AutodiffError> {
        Self::new(dims)
    }

    /// The shape `dims`, checked to hold exactly `len` elements (how user data is checked).
    pub(crate) fn filled(dims: &[usize], len: usize) -> Result<Self, AutodiffError> {
        let shape = Shape::new(dims)?;
        if shape.numel() == len {
            Ok(shape)
        } else {
            Err(AutodiffError::BadShape {
                shape: dims.to_vec(),
                expected: shape.numel(),
                got: len,
            })
        }
    }

    /// A shape the crate knows to be valid; panics naming `op` otherwise.
    pub(crate) fn of(op: &str, dims: &[usize]) -> Self {
        Self::new(dims).unwrap_or_else(|e| panic!("{op}: {e}"))
    }

    /// A vector of `n` elements.
    pub fn vector(n: usize) -> Self {
        Shape {
            dims: [n, 1, 1, 1],
            rank: 1,
        }
    }

    /// A matrix with `rows` rows and `cols` columns.
    pub fn matrix(rows: usize, cols: usize) -> Self {
        Shape {
            dims: [rows, cols, 1, 1],
            rank: 2,
        }
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.rank as usize
    }

    /// The dimensions, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.dims[..self.rank as usize]
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.dims().iter().product()
    }

    /// Rows and columns when seen as a matrix: a vector of n is a single row (1, n).
    pub fn as_matrix(&self) -> (usize, usize) {
        match self.rank {
            0 => (1, 1),
            1 => (1, self.dims[0]),
            _ => (self.dims[0], self.dims[1]),
        }
    }

    /// The same shape with dimension `axis` replaced by `size`.
    pub(crate) fn with_dim(mut self, axis: usize, size: usize) -> Self {
        debug_assert!(axis < self.rank());
        self.dims[axis] = size;
        self
    }

    /// The shape with every axis in `axes` set to 1 (a reduction that keeps dimensions).
    pub(crate) fn keep_dims_reduced(self, axes: &[usize]) -> Self {
        let mut out = self;
        for &axis in axes {
            out.dims[axis] = 1;
        }
        out
    }

    /// The shape with the axes in `axes` removed.
    pub(crate) fn without_axes(self, axes: &[usize]) -> Self {
        let dims: Vec<usize> = (0..self.rank())
            .filter(|a| !axes.contains(a))
            .map(|a| self.dims[a])
            .collect();
        Shape::of("reduce", &dims)
    }

    /// Row-major strides, in elements.
    pub(crate) fn strides(&self) -> [usize; MAX_RANK] {
        let mut strides = [0; MAX_RANK];
        let mut acc = 1;
        for axis in (0..self.rank()).rev() {
            strides[axis] = acc;
            acc *= self.dims[axis];
        }
        strides
    }

    /// The product of the dimensions before `axis`, the dimension, and the product after:
    /// how an op along one axis walks a row-major buffer.
    pub(crate) fn split_at_axis(&self, axis: usize) -> (usize, usize, usize) {
        let dims = self.dims();
        let outer = dims[..axis].iter().product();
        let inner = dims[axis + 1..].iter().product();
        (outer, dims[axis], inner)
    }

    /// The NumPy broadcast of two shapes (trailing dimensions aligned; a 1 stretches),
    /// or `None` when they do not broadcast.
    pub(crate) fn broadcast(a: Shape, b: Shape) -> Option<Shape> {
        let rank = a.rank().max(b.rank());
        let mut dims = [1; MAX_RANK];
        for (i, dim) in dims.iter_mut().enumerate().take(rank) {
            let x = a.dim_from_end(rank - 1 - i);
            let y = b.dim_from_end(rank - 1 - i);
            *dim = match (x, y) {
                _ if x == y => x,
                (1, _) => y,
                (_, 1) => x,
                _ => return None,
            };
        }
        Some(Shape {
            dims,
            rank: rank as u8,
        })
    }

    /// Whether `self` stretches to `to` under NumPy broadcasting.
    pub(crate) fn broadcasts_to(self, to: Shape) -> bool {
        Shape::broadcast(self, to) == Some(to)
    }

    /// Dimension `k` counted from the last (0 = last); 1 beyond the rank.
    fn dim_from_end(&self, k: usize) -> usize {
        if k < self.rank() {
            self.dims[self.rank() - 1 - k]
        } else {
            1
        }
    }

    /// `self` padded with leading 1s to rank `rank` (how it aligns under broadcasting).
    pub(crate) fn aligned_dims(&self, rank: usize) -> [usize; MAX_RANK] {
        let mut dims = [1; MAX_RANK];
        let lead = rank - self.rank();
        dims[lead..rank].copy_from_slice(self.dims());
        dims
    }
}

impl std::fmt::Debug for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.dims())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(dims: &[usize]) -> Shape {
        Shape::new(dims).unwrap()
    }

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(Shape::broadcast(s(&[2, 3]), s(&[3])), Some(s(&[2, 3])));
        assert_eq!(Shape::broadcast(s(&[2, 1]), s(&[1, 3])), Some(s(&[2, 3])));
        assert_eq!(
            Shape::broadcast(s(&[4, 1, 3, 1]), s(&[5, 1, 1])),
            Some(s(&[4, 5, 3, 1]))
        );
        assert_eq!(Shape::broadcast(s(&[4, 1, 3, 1]), s(&[5, 1])), None);
        assert_eq!(Shape::broadcast(s(&[]), s(&[2, 2])), Some(s(&[2, 2])));
        assert_eq!(Shape::broadcast(s(&[2, 3]), s(&[2])), None);
        assert!(s(&[3]).broadcasts_to(s(&[2, 3])));
        assert!(!s(&[2, 3]).broadcasts_to(s(&[3])));
    }

    #[test]
    fn axis_helpers() {
        let x = s(&[2, 3, 4]);
        assert_eq!(x.split_at_axis(1), (2, 3, 4));
        assert_eq!(x.strides()[..3], [12, 4, 1]);
        assert_eq!(x.keep_dims_reduced(&[0, 2]), s(&[1, 3, 1]));
        assert_eq!(x.without_axes(&[1]), s(&[2, 4]));
        assert_eq!(s(&[3]).aligned_dims(3)[..3], [1, 1, 3]);
    }
}

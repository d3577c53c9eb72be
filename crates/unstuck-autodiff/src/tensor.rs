//! A dense, row-major tensor of rank 0, 1 or 2.

use crate::{AutodiffError, Element};

/// The shape of a tensor of rank 0, 1 or 2, stored inline so that shapes never allocate.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: [usize; 2],
    rank: u8,
}

impl Shape {
    /// The shape of a scalar.
    pub const SCALAR: Shape = Shape {
        dims: [1, 1],
        rank: 0,
    };

    /// A vector of `n` elements.
    pub fn vector(n: usize) -> Self {
        Shape {
            dims: [n, 1],
            rank: 1,
        }
    }

    /// A matrix with `rows` rows and `cols` columns.
    pub fn matrix(rows: usize, cols: usize) -> Self {
        Shape {
            dims: [rows, cols],
            rank: 2,
        }
    }

    /// Builds a shape from a slice of dimensions.
    pub fn from_dims(dims: &[usize]) -> Result<Self, AutodiffError> {
        match *dims {
            [] => Ok(Shape::SCALAR),
            [n] => Ok(Shape::vector(n)),
            [m, n] => Ok(Shape::matrix(m, n)),
            _ => Err(AutodiffError::UnsupportedRank { rank: dims.len() }),
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
}

impl std::fmt::Debug for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.dims())
    }
}

/// A dense row-major tensor of rank 0, 1 or 2.
///
/// ```
/// use unstuck_autodiff::Tensor;
/// let m = Tensor::matrix(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3).unwrap();
/// assert_eq!(m.dims(), &[2, 3]);
/// assert_eq!(m.data()[3], 4.0); // row 1, column 0
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor<T> {
    data: Vec<T>,
    shape: Shape,
}

impl<T: Element> Tensor<T> {
    /// A tensor from row-major data and dimensions; the data must fill the shape.
    pub fn new(data: Vec<T>, dims: &[usize]) -> Result<Self, AutodiffError> {
        let shape = Shape::from_dims(dims)?;
        if shape.numel() != data.len() {
            return Err(AutodiffError::BadShape {
                shape: dims.to_vec(),
                expected: shape.numel(),
                got: data.len(),
            });
        }
        Ok(Tensor { data, shape })
    }

    /// A rank-0 tensor.
    pub fn scalar(x: T) -> Self {
        Tensor {
            data: vec![x],
            shape: Shape::SCALAR,
        }
    }

    /// A rank-1 tensor holding `data`.
    pub fn vector(data: Vec<T>) -> Self {
        let shape = Shape::vector(data.len());
        Tensor { data, shape }
    }

    /// A `rows` x `cols` matrix from row-major data.
    pub fn matrix(data: Vec<T>, rows: usize, cols: usize) -> Result<Self, AutodiffError> {
        Self::new(data, &[rows, cols])
    }

    /// A tensor of zeros.
    pub fn zeros(shape: Shape) -> Self {
        Tensor {
            data: vec![T::ZERO; shape.numel()],
            shape,
        }
    }

    pub(crate) fn from_parts(data: Vec<T>, shape: Shape) -> Self {
        debug_assert_eq!(
            data.len(),
            shape.numel(),
            "tensor data does not fill its shape"
        );
        Tensor { data, shape }
    }

    /// The shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The dimensions, outermost first.
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    /// The elements in row-major order.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    pub(crate) fn data_mut(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// Consumes the tensor and returns its elements.
    pub fn into_data(self) -> Vec<T> {
        self.data
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    pub(crate) fn with_shape(mut self, shape: Shape) -> Self {
        debug_assert_eq!(self.data.len(), shape.numel());
        self.shape = shape;
        self
    }
}

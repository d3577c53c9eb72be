//! A dense, row-major tensor of rank 0 to 4, and the borrowed view the kernels read.

use crate::buffers;
use crate::shape::Shape;
use crate::{AutodiffError, Element};

/// A dense row-major tensor of rank 0 to 4 (images are `[batch, channels, height, width]`).
///
/// ```
/// use unstuck_autodiff::Tensor;
/// let m = Tensor::matrix(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3).unwrap();
/// assert_eq!(m.dims(), &[2, 3]);
/// assert_eq!(m.data()[3], 4.0); // row 1, column 0
/// let images = Tensor::<f32>::new(vec![0.0; 2 * 3 * 4 * 4], &[2, 3, 4, 4]).unwrap();
/// assert_eq!(images.numel(), 96);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor<T> {
    data: Vec<T>,
    shape: Shape,
}

impl<T: Element> Tensor<T> {
    /// A tensor from row-major data and dimensions; the data must fill the shape.
    pub fn new(data: Vec<T>, dims: &[usize]) -> Result<Self, AutodiffError> {
        let shape = Shape::filled(dims, data.len())?;
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
            data: buffers::zeros(shape.numel()),
            shape,
        }
    }

    pub(crate) fn from_parts(data: Vec<T>, shape: Shape) -> Self {
        assert_eq!(
            data.len(),
            shape.numel(),
            "tensor data does not fill its shape {shape:?}"
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

    /// Moves the elements out, leaving the tensor empty (for returning them to the pool).
    pub(crate) fn take_data(&mut self) -> Vec<T> {
        std::mem::take(&mut self.data)
    }

    /// Consumes the tensor and returns its elements.
    pub fn into_data(self) -> Vec<T> {
        self.data
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The same elements under another shape with as many elements.
    pub(crate) fn with_shape(mut self, shape: Shape) -> Self {
        assert_eq!(self.data.len(), shape.numel(), "reshape to {shape:?}");
        self.shape = shape;
        self
    }

    /// A borrowed view of the whole tensor.
    pub(crate) fn view(&self) -> View<'_, T> {
        View {
            data: &self.data,
            shape: self.shape,
        }
    }
}

/// A borrowed tensor: what every kernel reads. Node values, parts of node values and
/// temporaries of a backward sweep all look the same through it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a, T> {
    pub(crate) data: &'a [T],
    pub(crate) shape: Shape,
}

impl<'a, T: Element> View<'a, T> {
    pub(crate) fn new(data: &'a [T], shape: Shape) -> Self {
        debug_assert_eq!(data.len(), shape.numel());
        View { data, shape }
    }

    /// An owned copy.
    pub(crate) fn to_tensor(self) -> Tensor<T> {
        Tensor::from_parts(buffers::copy(self.data), self.shape)
    }

    pub(crate) fn dims(&self) -> &[usize] {
        self.shape.dims()
    }
}

//! Numeric kernels: the forward computation of every op on plain tensors.
//!
//! Both the forward pass on the tape and the first-order (non-recording) backward pass
//! call these, so each computation is written once.

use crate::Element;
use crate::tensor::{Shape, Tensor};
use faer::linalg::matmul::matmul as faer_matmul;
use faer::{Accum, MatMut, MatRef, Par};
use unstuck_core::{ElementSlice, ElementSliceMut};

/// How a smaller operand is stretched over a larger shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Broadcast {
    /// Same shape: nothing to stretch.
    Same,
    /// One element repeated everywhere.
    Scalar,
    /// A row vector `[n]` or `[1, n]` repeated over the rows of `[m, n]`.
    Rows,
    /// A column `[m, 1]` repeated over the columns of `[m, n]`.
    Cols,
}

/// How `from` stretches to `to`, if it can.
pub(crate) fn broadcast_kind(from: Shape, to: Shape) -> Option<Broadcast> {
    if from == to {
        return Some(Broadcast::Same);
    }
    if from.numel() == 1 {
        return Some(Broadcast::Scalar);
    }
    if to.rank() != 2 {
        return None;
    }
    let (m, n) = (to.dims()[0], to.dims()[1]);
    match from.dims() {
        [k] if *k == n => Some(Broadcast::Rows),
        [1, k] if *k == n => Some(Broadcast::Rows),
        [k, 1] if *k == m => Some(Broadcast::Cols),
        _ => None,
    }
}

/// The shape of `op(a, b)` for an elementwise binary op, or a panic naming the op.
pub(crate) fn broadcast_shapes(op: &str, a: Shape, b: Shape) -> Shape {
    if broadcast_kind(b, a).is_some() {
        a
    } else if broadcast_kind(a, b).is_some() {
        b
    } else {
        panic!(
            "{op}: shapes {a:?} and {b:?} do not broadcast (same shape, a scalar, a row [n] over [m, n], or a column [m, 1] over [m, n])"
        )
    }
}

/// Applies `f` elementwise.
pub(crate) fn map<T: Element>(a: &Tensor<T>, f: impl Fn(T) -> T) -> Tensor<T> {
    Tensor::from_parts(a.data().iter().map(|&x| f(x)).collect(), a.shape())
}

/// Applies `f(x, y)` elementwise with broadcasting.
pub(crate) fn zip<T: Element>(
    op: &str,
    a: &Tensor<T>,
    b: &Tensor<T>,
    f: impl Fn(T, T) -> T,
) -> Tensor<T> {
    let out = broadcast_shapes(op, a.shape(), b.shape());
    if out == a.shape() && a.shape().numel() >= b.shape().numel() {
        zip_into_left(a, b, out, &f)
    } else {
        zip_into_left(b, a, out, &|y, x| f(x, y))
    }
}

/// `big` has the output shape; `small` broadcasts over it.
fn zip_into_left<T: Element>(
    big: &Tensor<T>,
    small: &Tensor<T>,
    out_shape: Shape,
    f: &impl Fn(T, T) -> T,
) -> Tensor<T> {
    let kind = broadcast_kind(small.shape(), out_shape).expect("checked by broadcast_shapes");
    let x = big.data();
    let y = small.data();
    let data: Vec<T> = match kind {
        Broadcast::Same => x.iter().zip(y).map(|(&p, &q)| f(p, q)).collect(),
        Broadcast::Scalar => {
            let q = y[0];
            x.iter().map(|&p| f(p, q)).collect()
        }
        Broadcast::Rows => {
            let n = y.len();
            let mut data = Vec::with_capacity(x.len());
            for row in x.chunks_exact(n) {
                data.extend(row.iter().zip(y).map(|(&p, &q)| f(p, q)));
            }
            data
        }
        Broadcast::Cols => {
            let n = out_shape.dims()[1];
            let mut data = Vec::with_capacity(x.len());
            for (row, &q) in x.chunks_exact(n).zip(y) {
                data.extend(row.iter().map(|&p| f(p, q)));
            }
            data
        }
    };
    Tensor::from_parts(data, out_shape)
}

/// Stretches `a` to `to` (the forward of `expand`).
pub(crate) fn expand<T: Element>(a: &Tensor<T>, to: Shape) -> Tensor<T> {
    let Some(kind) = broadcast_kind(a.shape(), to) else {
        panic!("expand: shape {:?} does not broadcast to {to:?}", a.shape())
    };
    let data = match kind {
        Broadcast::Same => a.data().to_vec(),
        Broadcast::Scalar => vec![a.data()[0]; to.numel()],
        Broadcast::Rows => a.data().repeat(to.dims()[0]),
        Broadcast::Cols => {
            let n = to.dims()[1];
            a.data()
                .iter()
                .flat_map(|&q| std::iter::repeat_n(q, n))
                .collect()
        }
    };
    Tensor::from_parts(data, to)
}

/// Sum of all elements, as a scalar.
pub(crate) fn sum<T: Element>(a: &Tensor<T>) -> Tensor<T> {
    Tensor::scalar(a.data().iter().copied().sum())
}

/// Sum over one axis of a matrix: axis 0 gives the column sums `[n]`, axis 1 the row sums `[m]`.
pub(crate) fn sum_axis<T: Element>(a: &Tensor<T>, axis: usize) -> Tensor<T> {
    let [m, n] = matrix_dims("sum_axis", a.shape());
    match axis {
        0 => {
            let mut out = vec![T::ZERO; n];
            for row in a.data().chunks_exact(n.max(1)) {
                for (o, &x) in out.iter_mut().zip(row) {
                    *o += x;
                }
            }
            Tensor::from_parts(out, Shape::vector(n))
        }
        1 => {
            let out = if n == 0 {
                vec![T::ZERO; m]
            } else {
                a.data()
                    .chunks_exact(n)
                    .map(|row| row.iter().copied().sum())
                    .collect()
            };
            Tensor::from_parts(out, Shape::vector(m))
        }
        _ => panic!(
            "sum_axis: axis {axis} out of range for shape {:?}",
            a.shape()
        ),
    }
}

/// The two dimensions of a rank-2 shape, or a panic naming the op.
pub(crate) fn matrix_dims(op: &str, s: Shape) -> [usize; 2] {
    match *s.dims() {
        [m, n] => [m, n],
        _ => panic!("{op}: needs a matrix, got shape {s:?}"),
    }
}

/// Products smaller than this many multiply-adds run on one thread: spawning costs more.
const PARALLEL_MATMUL_WORK: usize = 1 << 20;

/// `op_a(a) · op_b(b)` where `op_x` transposes when `tx` is set.
pub(crate) fn matmul<T: Element>(a: &Tensor<T>, b: &Tensor<T>, ta: bool, tb: bool) -> Tensor<T> {
    let [ar, ac] = matrix_dims("matmul", a.shape());
    let [br, bc] = matrix_dims("matmul", b.shape());
    let (m, k) = if ta { (ac, ar) } else { (ar, ac) };
    let (k2, n) = if tb { (bc, br) } else { (br, bc) };
    assert!(
        k == k2,
        "matmul: inner dimensions differ: {:?}{} x {:?}{}",
        a.shape(),
        if ta { "^T" } else { "" },
        b.shape(),
        if tb { "^T" } else { "" },
    );
    let mut out = vec![T::ZERO; m * n];
    if m > 0 && n > 0 && k > 0 {
        // faer splits the output, never the inner sum, across threads, so the result does
        // not depend on the thread count (tested in tests/determinism_tests.rs).
        let par = if m * n * k >= PARALLEL_MATMUL_WORK {
            Par::rayon(0)
        } else {
            Par::Seq
        };
        let dims = MatmulDims {
            ar,
            ac,
            br,
            bc,
            ta,
            tb,
        };
        match (
            T::as_typed(a.data()),
            T::as_typed(b.data()),
            T::as_typed_mut(&mut out),
        ) {
            (ElementSlice::F32(x), ElementSlice::F32(y), ElementSliceMut::F32(dst)) => {
                typed_matmul(x, y, dst, dims, par)
            }
            (ElementSlice::F64(x), ElementSlice::F64(y), ElementSliceMut::F64(dst)) => {
                typed_matmul(x, y, dst, dims, par)
            }
            _ => unreachable!("one element type for all three slices"),
        }
    }
    Tensor::from_parts(out, Shape::matrix(m, n))
}

#[derive(Clone, Copy)]
struct MatmulDims {
    ar: usize,
    ac: usize,
    br: usize,
    bc: usize,
    ta: bool,
    tb: bool,
}

fn typed_matmul<E: faer::traits::RealField + Copy>(
    a: &[E],
    b: &[E],
    out: &mut [E],
    d: MatmulDims,
    par: Par,
) {
    let lhs = MatRef::from_row_major_slice(a, d.ar, d.ac);
    let rhs = MatRef::from_row_major_slice(b, d.br, d.bc);
    let lhs = if d.ta { lhs.transpose() } else { lhs };
    let rhs = if d.tb { rhs.transpose() } else { rhs };
    let (m, n) = (lhs.nrows(), rhs.ncols());
    let dst = MatMut::from_row_major_slice_mut(out, m, n);
    faer_matmul(dst, Accum::Replace, lhs, rhs, E::one_impl(), par);
}

/// Matrix transpose.
pub(crate) fn transpose<T: Element>(a: &Tensor<T>) -> Tensor<T> {
    let [m, n] = matrix_dims("transpose", a.shape());
    let x = a.data();
    let mut out = Vec::with_capacity(m * n);
    for j in 0..n {
        out.extend((0..m).map(|i| x[i * n + j]));
    }
    Tensor::from_parts(out, Shape::matrix(n, m))
}

/// Row-wise `x - logsumexp(x)`, shifted by the row maximum so that no `exp` overflows.
pub(crate) fn log_softmax<T: Element>(a: &Tensor<T>) -> Tensor<T> {
    let (_, n) = a.shape().as_matrix();
    let mut out = a.data().to_vec();
    if n > 0 {
        for row in out.chunks_exact_mut(n) {
            let max = row.iter().copied().fold(row[0], T::max);
            let lse = max + row.iter().map(|&x| (x - max).exp()).sum::<T>().ln();
            for x in row.iter_mut() {
                *x -= lse;
            }
        }
    }
    Tensor::from_parts(out, a.shape())
}

/// `out[i] = a[i, labels[i]]`.
pub(crate) fn pick<T: Element>(a: &Tensor<T>, labels: &[usize]) -> Tensor<T> {
    let [m, n] = matrix_dims("pick", a.shape());
    assert_eq!(
        m,
        labels.len(),
        "pick: {m} rows but {} labels",
        labels.len()
    );
    let out = labels
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            assert!(c < n, "pick: label {c} out of range for {n} classes");
            a.data()[i * n + c]
        })
        .collect();
    Tensor::from_parts(out, Shape::vector(m))
}

/// The adjoint of [`pick`]: zeros `[m, n_classes]` with `g[i]` at `(i, labels[i])`.
pub(crate) fn scatter<T: Element>(g: &Tensor<T>, labels: &[usize], n_classes: usize) -> Tensor<T> {
    let m = labels.len();
    let mut out = vec![T::ZERO; m * n_classes];
    for (i, (&c, &x)) in labels.iter().zip(g.data()).enumerate() {
        out[i * n_classes + c] = x;
    }
    Tensor::from_parts(out, Shape::matrix(m, n_classes))
}

/// Elements `offset..offset + len` of a flat vector.
pub(crate) fn slice<T: Element>(a: &Tensor<T>, offset: usize, len: usize) -> Tensor<T> {
    assert!(
        a.shape().rank() == 1,
        "slice: needs a flat vector, got shape {:?}",
        a.shape()
    );
    assert!(
        offset + len <= a.numel(),
        "slice: range {offset}..{} out of bounds for length {}",
        offset + len,
        a.numel()
    );
    Tensor::from_parts(a.data()[offset..offset + len].to_vec(), Shape::vector(len))
}

/// The adjoint of [`slice`]: `a` placed at `offset` in zeros of length `total`.
pub(crate) fn pad<T: Element>(a: &Tensor<T>, offset: usize, total: usize) -> Tensor<T> {
    let mut out = vec![T::ZERO; total];
    out[offset..offset + a.numel()].copy_from_slice(a.data());
    Tensor::from_parts(out, Shape::vector(total))
}

//! Ops driven by integer indices or a boolean mask: picking a label's entry per row,
//! gathering rows (embeddings), and their scatter adjoints; masked fill.

use crate::Element;
use crate::buffers;
use crate::shape::Shape;
use crate::tensor::{Tensor, View};

fn matrix(op: &str, s: Shape) -> (usize, usize) {
    match *s.dims() {
        [m, n] => (m, n),
        _ => panic!("{op}: needs a matrix, got shape {s:?}"),
    }
}

/// `out[i] = x[i, labels[i]]`.
pub(crate) fn pick<T: Element>(x: View<'_, T>, labels: &[usize]) -> Tensor<T> {
    let (m, n) = matrix("pick", x.shape);
    assert_eq!(
        m,
        labels.len(),
        "pick: {m} rows but {} labels",
        labels.len()
    );
    let mut out = buffers::take(m);
    out.extend(labels.iter().enumerate().map(|(i, &c)| {
        assert!(c < n, "pick: label {c} out of range for {n} classes");
        x.data[i * n + c]
    }));
    Tensor::from_parts(out, Shape::vector(m))
}

/// The adjoint of [`pick`]: zeros `[m, n_classes]` with `g[i]` at `(i, labels[i])`.
pub(crate) fn scatter<T: Element>(g: View<'_, T>, labels: &[usize], n_classes: usize) -> Tensor<T> {
    assert!(
        g.data.len() == labels.len() && labels.iter().all(|&c| c < n_classes),
        "scatter: {} values, {} labels, {n_classes} classes",
        g.data.len(),
        labels.len()
    );
    let m = labels.len();
    let mut out = buffers::zeros(m * n_classes);
    for (i, (&c, &x)) in labels.iter().zip(g.data).enumerate() {
        out[i * n_classes + c] = x;
    }
    Tensor::from_parts(out, Shape::matrix(m, n_classes))
}

/// Row `indices[i]` of `table` as row `i` of the result (an embedding lookup); a row is
/// everything after the first axis.
pub(crate) fn gather_rows<T: Element>(table: View<'_, T>, indices: &[usize]) -> Tensor<T> {
    assert!(
        table.shape.rank() >= 1,
        "gather: needs a table of rank at least 1, got a scalar"
    );
    let rows = table.dims()[0];
    let width = table.shape.numel() / rows.max(1);
    let mut data = buffers::take(indices.len() * width);
    for &index in indices {
        assert!(
            index < rows,
            "gather: index {index} out of range for a table of shape {:?}",
            table.shape
        );
        data.extend_from_slice(&table.data[index * width..(index + 1) * width]);
    }
    Tensor::from_parts(data, table.shape.with_dim(0, indices.len()))
}

/// The adjoint of [`gather_rows`]: row `i` of `g` added into row `indices[i]` of zeros with
/// `rows` rows, in increasing `i` (so repeated indices always sum in the same order).
pub(crate) fn scatter_add_rows<T: Element>(
    g: View<'_, T>,
    indices: &[usize],
    rows: usize,
) -> Tensor<T> {
    assert!(
        g.shape.rank() >= 1 && g.dims()[0] == indices.len(),
        "scatter_add: {} indices for values of shape {:?}",
        indices.len(),
        g.shape
    );
    let width = g.shape.numel() / indices.len().max(1);
    let mut out = buffers::zeros(rows * width);
    for (&index, row) in indices.iter().zip(g.data.chunks_exact(width.max(1))) {
        assert!(
            index < rows,
            "scatter_add: index {index} out of range for {rows} rows"
        );
        for (o, &v) in out[index * width..(index + 1) * width].iter_mut().zip(row) {
            *o += v;
        }
    }
    Tensor::from_parts(out, g.shape.with_dim(0, rows))
}

/// `value` where `mask` is true, `x` elsewhere; `mask` broadcasts to `x`'s shape.
pub(crate) fn masked_fill<T: Element>(
    x: View<'_, T>,
    mask: &[bool],
    mask_shape: Shape,
    value: T,
) -> Tensor<T> {
    assert!(
        mask_shape.broadcasts_to(x.shape),
        "masked_fill: mask of shape {mask_shape:?} does not broadcast to {:?}",
        x.shape
    );
    let mut out = buffers::copy(x.data);
    if mask.len() == out.len() {
        for (o, &m) in out.iter_mut().zip(mask) {
            if m {
                *o = value;
            }
        }
    } else {
        // Expand the mask once: masks are small next to what they cover, and this keeps
        // one code path for every broadcast.
        let wide = crate::kernels::elementwise::broadcast_to(
            View::new(&mask_as_unit(mask), mask_shape),
            x.shape,
        );
        for (o, &m) in out.iter_mut().zip(wide.data()) {
            if m != 0.0 {
                *o = value;
            }
        }
    }
    Tensor::from_parts(out, x.shape)
}

fn mask_as_unit(mask: &[bool]) -> Vec<f64> {
    mask.iter().map(|&m| if m { 1.0 } else { 0.0 }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scatter_add_sums_repeated_rows() {
        let g = Tensor::matrix(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3, 2).unwrap();
        let out = scatter_add_rows(g.view(), &[2, 0, 2], 3);
        assert_eq!(out.data(), &[3.0, 4.0, 0.0, 0.0, 6.0, 8.0]);
        let back = gather_rows(out.view(), &[2, 0]);
        assert_eq!(back.data(), &[6.0, 8.0, 3.0, 4.0]);
    }

    #[test]
    fn masked_fill_broadcasts_the_mask() {
        let x = Tensor::new(vec![1.0f32; 8], &[2, 2, 2]).unwrap();
        let mask = [false, true, false, false];
        let out = masked_fill(x.view(), &mask, Shape::matrix(2, 2), -5.0);
        assert_eq!(out.data(), &[1.0, -5.0, 1.0, 1.0, 1.0, -5.0, 1.0, 1.0]);
    }
}

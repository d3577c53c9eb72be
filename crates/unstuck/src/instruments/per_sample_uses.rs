//! Per-example gradients of the parameters that are not a product's weight or bias, and
//! of any parameter used more than once.
//!
//! - A scale or shift shared by every example (layer norm's weight and bias, a position
//!   embedding; [`ElementwiseSite`]): example `i`'s gradient is `ĝ_i` (times the other
//!   factor `a_i` for a scale) summed down to the parameter's shape, `ĝ_i` being its slice
//!   of `B · ∂L/∂y` (BackPACK's rule for batch norm's affine in evaluation mode,
//!   `einsum("n...,n...->n", ĝ, x̂)` over the non-channel axes, for any broadcast).
//! - A row lookup ([`GatherSite`], an embedding): example `i`'s gradient is its rows of
//!   `ĝ` added into the table's rows at its indices (BackPACK's `Embedding` rule,
//!   `einsum("sn...,vn...h->vnsh", δ, ĝ)` with the one-hot `δ`); only the rows it looks
//!   up are nonzero, so its square is summed over them alone.
//! - A weight used by several sites (a tied or shared weight, Opacus's "tied
//!   parameters"): example `i`'s gradient is the sum of its per-use contributions, and
//!   only that sum is squared (`Σ_i (a_i + b_i)²`, not `Σ_i a_i² + Σ_i b_i²`). Each use
//!   writes its contribution into a row per example, for a fixed group of examples at a
//!   time, and the rows are squared once every use has added to them.

use std::collections::BTreeMap;
use std::ops::Range;
use unstuck_autodiff::{ConvSite, ElementwiseSite, GatherSite, LinearSite, Tape, Tensor};

/// The largest number of per-example gradient entries held at once (8 MB of f64).
const GROUP_ENTRIES: usize = 1 << 20;

/// One use of a run of theta, with the gradient of the loss with respect to its output.
#[derive(Clone, Copy)]
pub(crate) enum Use<'a> {
    LinearWeight(&'a LinearSite, &'a Tensor<f64>),
    LinearBias(&'a LinearSite, &'a Tensor<f64>),
    ConvWeight(&'a ConvSite, &'a Tensor<f64>),
    ConvBias(&'a ConvSite, &'a Tensor<f64>),
    Elementwise(&'a ElementwiseSite, &'a Tensor<f64>),
    Gather(&'a GatherSite, &'a Tensor<f64>),
}

impl Use<'_> {
    /// The run of theta the use reads.
    pub(crate) fn range(&self) -> Range<usize> {
        match *self {
            Use::LinearWeight(site, _) => site.weight.clone(),
            Use::LinearBias(site, _) => site.bias.clone().expect("a bias use has a bias"),
            Use::ConvWeight(site, _) => site.weight.clone(),
            Use::ConvBias(site, _) => site.bias.clone().expect("a bias use has a bias"),
            Use::Elementwise(site, _) => site.param.clone(),
            Use::Gather(site, _) => site.table.clone(),
        }
    }

    /// Whether the use's output splits into the batch's examples along its first axis
    /// (products and convolutions always do: their sites require it).
    pub(crate) fn splits_by_example(&self, batch: usize) -> bool {
        match *self {
            Use::Elementwise(_, dz) => dz.dims()[0] == batch,
            Use::Gather(site, _) => batch > 0 && site.indices.len().is_multiple_of(batch),
            _ => true,
        }
    }

    /// Adds `scale ·` example `n`'s contribution to row `n - examples.start` of `out`
    /// (rows of `row_len`), at `offset`, for every `n` in `examples`.
    fn add_examples(
        &self,
        tape: &Tape<f64>,
        (batch, scale): (usize, f64),
        examples: Range<usize>,
        (out, row_len, offset): (&mut [f64], usize, usize),
    ) {
        match *self {
            Use::LinearWeight(site, dz) => {
                let x = tape.value(site.input);
                let (fan_in, fan_out) = (last_dim(&x), last_dim(dz));
                let tokens = dz.numel() / (batch * fan_out).max(1);
                for (n, row) in examples.zip(rows_of(out, row_len, offset)) {
                    let g = &dz.data()[n * tokens * fan_out..(n + 1) * tokens * fan_out];
                    let xs = &x.data()[n * tokens * fan_in..(n + 1) * tokens * fan_in];
                    for (g, x) in g.chunks_exact(fan_out).zip(xs.chunks_exact(fan_in)) {
                        for (j, &gj) in g.iter().enumerate() {
                            for (k, &xk) in x.iter().enumerate() {
                                let at = if site.transposed {
                                    j * fan_in + k
                                } else {
                                    k * fan_out + j
                                };
                                row[at] += scale * gj * xk;
                            }
                        }
                    }
                }
            }
            Use::LinearBias(_, dz) => {
                let fan_out = last_dim(dz);
                let per_example = dz.numel() / batch.max(1);
                for (n, row) in examples.zip(rows_of(out, row_len, offset)) {
                    let g = &dz.data()[n * per_example..(n + 1) * per_example];
                    for token in g.chunks_exact(fan_out) {
                        for (r, &v) in row.iter_mut().zip(token) {
                            *r += scale * v;
                        }
                    }
                }
            }
            Use::ConvWeight(site, dz) => tape
                .add_conv_weight_grads_of_examples(
                    site,
                    dz.data(),
                    scale,
                    examples,
                    (out, row_len, offset),
                )
                .expect("a site's output gradient comes from the same tape and has its shape"),
            Use::ConvBias(_, dz) => {
                let channels = dz.dims()[1];
                let per_example = dz.numel() / batch.max(1);
                let positions = per_example / channels.max(1);
                for (n, row) in examples.zip(rows_of(out, row_len, offset)) {
                    let g = &dz.data()[n * per_example..(n + 1) * per_example];
                    for (r, channel) in row.iter_mut().zip(g.chunks_exact(positions)) {
                        *r += scale * channel.iter().sum::<f64>();
                    }
                }
            }
            Use::Elementwise(site, dz) => {
                let index = broadcast_index(&site.param_dims, dz.dims());
                let factor = site.factor.map(|a| tape.value(a));
                for (n, row) in examples.zip(rows_of(out, row_len, offset)) {
                    add_elementwise(dz, factor.as_ref(), &index, n, scale, row);
                }
            }
            Use::Gather(site, dz) => {
                let per_example = site.indices.len() / batch.max(1);
                let grads = dz.data().chunks_exact(site.row_len);
                let mut grads = grads.skip(examples.start * per_example);
                for (n, row) in examples.zip(rows_of(out, row_len, offset)) {
                    let ids = &site.indices[n * per_example..(n + 1) * per_example];
                    for (&id, g) in ids.iter().zip(grads.by_ref()) {
                        let target = &mut row[id * site.row_len..(id + 1) * site.row_len];
                        for (t, &v) in target.iter_mut().zip(g) {
                            *t += scale * v;
                        }
                    }
                }
            }
        }
    }
}

/// `out`'s rows of `row_len` elements, each from `offset` on.
fn rows_of(out: &mut [f64], row_len: usize, offset: usize) -> impl Iterator<Item = &mut [f64]> {
    out.chunks_exact_mut(row_len)
        .map(move |row| &mut row[offset..])
}

fn last_dim(t: &Tensor<f64>) -> usize {
    t.dims().last().copied().unwrap_or(1)
}

/// For each element of one example's slice of a `[batch, ...]` output, the element of
/// the parameter (dims `param_dims`, aligned, 1 on the batch axis) it was broadcast from.
fn broadcast_index(param_dims: &[usize], output_dims: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; param_dims.len()];
    let mut stride = 1;
    for axis in (0..param_dims.len()).rev() {
        if param_dims[axis] > 1 {
            strides[axis] = stride;
        }
        stride *= param_dims[axis];
    }
    let per_example: usize = output_dims[1..].iter().product();
    (0..per_example)
        .map(|mut flat| {
            let mut at = 0;
            for axis in (1..output_dims.len()).rev() {
                at += (flat % output_dims[axis]) * strides[axis];
                flat /= output_dims[axis];
            }
            at
        })
        .collect()
}

/// Adds `scale ·` example `n`'s gradient of an elementwise site to `row`.
fn add_elementwise(
    dz: &Tensor<f64>,
    factor: Option<&Tensor<f64>>,
    index: &[usize],
    n: usize,
    scale: f64,
    row: &mut [f64],
) {
    let per_example = index.len();
    let g = &dz.data()[n * per_example..(n + 1) * per_example];
    match factor.map(|a| &a.data()[n * per_example..(n + 1) * per_example]) {
        Some(a) => {
            for ((&at, &g), &a) in index.iter().zip(g).zip(a) {
                row[at] += scale * g * a;
            }
        }
        None => {
            for (&at, &g) in index.iter().zip(g) {
                row[at] += scale * g;
            }
        }
    }
}

/// `Σ_i g_ij²` per parameter of a scale or shift used once, `[param.len()]`.
pub(crate) fn elementwise_sums(
    tape: &Tape<f64>,
    site: &ElementwiseSite,
    dz: &Tensor<f64>,
    scale: f64,
) -> Vec<f64> {
    let index = broadcast_index(&site.param_dims, dz.dims());
    let factor = site.factor.map(|a| tape.value(a));
    let len = site.param.len();
    let (mut sums, mut example) = (vec![0.0; len], vec![0.0; len]);
    for n in 0..dz.dims()[0] {
        example.fill(0.0);
        add_elementwise(dz, factor.as_ref(), &index, n, scale, &mut example);
        for (s, g) in sums.iter_mut().zip(&example) {
            *s += g * g;
        }
    }
    sums
}

/// `Σ_i g_ij²` per entry of a table looked up once, `[table.len()]`: each example's
/// rows are added up by index, then squared, over the rows it looks up alone.
pub(crate) fn gather_sums(
    site: &GatherSite,
    dz: &Tensor<f64>,
    batch: usize,
    scale: f64,
) -> Vec<f64> {
    let mut sums = vec![0.0; site.table.len()];
    let per_example = site.indices.len() / batch.max(1);
    let rows: Vec<&[f64]> = dz.data().chunks_exact(site.row_len).collect();
    for (ids, grads) in site
        .indices
        .chunks(per_example.max(1))
        .zip(rows.chunks(per_example.max(1)))
    {
        // An ordered map: the same additions in the same order on every run.
        let mut example: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
        for (&id, g) in ids.iter().zip(grads) {
            let row = example.entry(id).or_insert_with(|| vec![0.0; site.row_len]);
            for (r, &v) in row.iter_mut().zip(*g) {
                *r += scale * v;
            }
        }
        for (id, row) in example {
            let target = &mut sums[id * site.row_len..(id + 1) * site.row_len];
            for (s, g) in target.iter_mut().zip(row) {
                *s += g * g;
            }
        }
    }
    sums
}

/// `Σ_i g_ij²` per parameter of the block `block` (a run of theta) used by every use in
/// `uses` (each inside the block): per group of examples, every use adds its share of
/// each example's gradient to that example's row, and the rows are squared.
pub(crate) fn shared_sums(
    tape: &Tape<f64>,
    uses: &[Use<'_>],
    block: Range<usize>,
    batch: usize,
    scale: f64,
) -> Vec<f64> {
    let len = block.len();
    let group = (GROUP_ENTRIES / len.max(1)).clamp(1, batch.max(1));
    let mut sums = vec![0.0; len];
    let mut rows = vec![0.0; group * len];
    let mut start = 0;
    while start < batch {
        let examples = start..(start + group).min(batch);
        let rows = &mut rows[..examples.len() * len];
        rows.fill(0.0);
        for use_ in uses {
            let offset = use_.range().start - block.start;
            use_.add_examples(tape, (batch, scale), examples.clone(), (rows, len, offset));
        }
        for row in rows.chunks_exact(len) {
            for (s, g) in sums.iter_mut().zip(row) {
                *s += g * g;
            }
        }
        start = examples.end;
    }
    sums
}

//! Per-example gradient moments of a linear product's weight and bias, for a
//! `[batch, fan_in]` input (a linear layer) and a `[batch, tokens, fan_in]` one (the
//! same weight applied to every token: attention's projections, a linear layer on a
//! sequence).
//!
//! With one row per example, example `i`'s weight gradient is the outer product
//! `ĝ_i x_iᵀ`, whose entries square to `ĝ_ij² x_ik²`: the sums over the batch are one
//! product `(Ĝ∘Ĝ)ᵀ (X∘X)`, nothing per example. With `T` tokens it is `Ĝ_iᵀ X_i`
//! (`[O, T] · [T, K]`), a sum over tokens that does not factor (as a convolution's sum
//! over positions): each example's product is formed and squared, in fixed groups of
//! examples so that the scratch stays bounded and the bits do not depend on the thread
//! count.

use unstuck_autodiff::{LinearSite, Tape, Tensor};

/// The largest number of per-example gradient entries held at once (8 MB of f64).
const GROUP_ENTRIES: usize = 1 << 20;

/// The per-parameter sums over the batch of the squared per-example gradients of the
/// product at `site`, weight then bias (if it has one), from `dz = ∂L/∂z` and
/// `scale = B`.
pub(crate) fn linear_sums(
    tape: &Tape<f64>,
    site: &LinearSite,
    dz: &Tensor<f64>,
    scale: f64,
) -> (Vec<f64>, Option<Vec<f64>>) {
    let dims = dz.dims();
    let (batch, fan_out) = (dims[0], dims[dims.len() - 1]);
    let x_dims = tape.dims(site.input);
    let fan_in = x_dims[x_dims.len() - 1];
    if x_dims.len() == 2 {
        // One row per example: Ĝ∘Ĝ in one pass, whose rows are also the bias's squares.
        let mut g_sq = Vec::with_capacity(dz.numel());
        let mut bias_sums = vec![0.0; fan_out];
        for row in dz.data().chunks_exact(fan_out) {
            for (sum, &g) in bias_sums.iter_mut().zip(row) {
                let g = g * scale;
                g_sq.push(g * g);
                *sum += g * g;
            }
        }
        // Read in place: the input is not copied out of the tape.
        let x_sq: Vec<f64> = tape.read_value(site.input, |x, _| x.iter().map(|v| v * v).collect());
        let weight = sum_of_outer_squares(g_sq, x_sq, batch, [fan_out, fan_in], site.transposed);
        return (weight, site.bias.as_ref().map(|_| bias_sums));
    }
    let tokens = dz.numel() / (batch * fan_out).max(1);
    let per_example: Vec<f64> = dz.data().iter().map(|g| g * scale).collect();
    // Each example's bias gradient: its rows of Ĝ summed over the tokens.
    let (mut bias_sums, mut row) = (vec![0.0; fan_out], vec![0.0; fan_out]);
    for example in per_example.chunks_exact(tokens * fan_out) {
        row.fill(0.0);
        for token in example.chunks_exact(fan_out) {
            for (r, g) in row.iter_mut().zip(token) {
                *r += g;
            }
        }
        for (sum, r) in bias_sums.iter_mut().zip(&row) {
            *sum += r * r;
        }
    }
    let bias = site.bias.as_ref().map(|_| bias_sums);
    let weight = tape.read_value(site.input, |x, _| {
        sum_of_token_products_squared(
            &per_example,
            x,
            [batch, tokens],
            [fan_out, fan_in],
            site.transposed,
        )
    });
    (weight, bias)
}

/// `Σ_i (ĝ_i x_iᵀ)²` entry by entry: `(Ĝ∘Ĝ)ᵀ (X∘X)` in `[fan_out, fan_in]` layout for
/// a transposed weight, `(X∘X)ᵀ (Ĝ∘Ĝ)` in `[fan_in, fan_out]` otherwise; computed with
/// the tape's matrix product (fixed blocks, so the same bits on any thread count).
fn sum_of_outer_squares(
    g_sq: Vec<f64>,
    x_sq: Vec<f64>,
    rows: usize,
    [fan_out, fan_in]: [usize; 2],
    transposed: bool,
) -> Vec<f64> {
    let tape = Tape::<f64>::new();
    let matrix = |values, cols| Tensor::matrix(values, rows, cols).expect("the product's shape");
    let g = tape.constant(matrix(g_sq, fan_out));
    let x = tape.constant(matrix(x_sq, fan_in));
    let product = if transposed {
        tape.matmul_t(g, x, true, false)
    } else {
        tape.matmul_t(x, g, true, false)
    };
    tape.value(product).into_data()
}

/// `Σ_i (Ĝ_iᵀ X_i)²` (`[fan_out, fan_in]`, a transposed weight) or `Σ_i (X_iᵀ Ĝ_i)²`
/// (`[fan_in, fan_out]`) entry by entry, for `Ĝ [batch, tokens, fan_out]` and
/// `X [batch, tokens, fan_in]`: the per-example products of a group of examples as one
/// batched product on a scratch tape, squared and summed, the groups added in order.
fn sum_of_token_products_squared(
    g: &[f64],
    x: &[f64],
    [batch, tokens]: [usize; 2],
    [fan_out, fan_in]: [usize; 2],
    transposed: bool,
) -> Vec<f64> {
    let group = (GROUP_ENTRIES / (fan_out * fan_in).max(1)).clamp(1, batch.max(1));
    let mut sums = vec![0.0; fan_out * fan_in];
    let (g_rows, x_rows) = (tokens * fan_out, tokens * fan_in);
    for (g_group, x_group) in g.chunks(group * g_rows).zip(x.chunks(group * x_rows)) {
        let examples = g_group.len() / g_rows.max(1);
        let tape = Tape::<f64>::new();
        let g_var = tape.constant_from(g_group, &[examples, tokens, fan_out]);
        let x_var = tape.constant_from(x_group, &[examples, tokens, fan_in]);
        let products = if transposed {
            tape.matmul_t(g_var, x_var, true, false)
        } else {
            tape.matmul_t(x_var, g_var, true, false)
        };
        let squares = tape.sum_axis(tape.square(products), 0);
        tape.read_value(squares, |values, _| {
            for (sum, v) in sums.iter_mut().zip(values) {
                *sum += v;
            }
        });
    }
    sums
}

//! The op cases: every public op on small shapes, each one a function of the inputs
//! carved out of one flat theta.

use crate::{BiasActivation, Conv2dOptions, Element, Mask, Tape, Var};

/// How the values of a case's inputs are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Values {
    /// Anywhere in [-1.5, 1.5].
    Any,
    /// At least 0.05 away from zero (ReLU's kink).
    AwayFromZero,
    /// Pairwise at least 0.05 apart (max pooling's ties).
    Distinct,
}

/// The function of a case's inputs that is checked.
pub(crate) type Build<T> = Box<dyn Fn(&Tape<T>, &[Var]) -> Var>;

/// A one-input op, for the table of elementwise cases.
type Unary<T> = Box<dyn Fn(&Tape<T>, Var) -> Var>;

/// One op case: its input shapes and the function of the inputs it checks.
pub(crate) struct Case<T: Element> {
    pub(crate) name: String,
    pub(crate) shapes: Vec<Vec<usize>>,
    pub(crate) values: Values,
    pub(crate) build: Build<T>,
}

impl<T: Element> Case<T> {
    pub(crate) fn n_params(&self) -> usize {
        self.shapes
            .iter()
            .map(|d| d.iter().product::<usize>())
            .sum()
    }
}

/// Small sizes drawn by the property tests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub(crate) m: usize,
    pub(crate) n: usize,
    pub(crate) k: usize,
    pub(crate) flags: u8,
}

fn case<T: Element>(
    name: impl Into<String>,
    shapes: &[&[usize]],
    values: Values,
    build: impl Fn(&Tape<T>, &[Var]) -> Var + 'static,
) -> Case<T> {
    Case {
        name: name.into(),
        shapes: shapes.iter().map(|s| s.to_vec()).collect(),
        values,
        build: Box::new(build),
    }
}

fn c<T: Element>(x: f64) -> T {
    T::from_f64(x)
}

/// `x² + 0.5`: keeps an input inside the domain of `log`, `sqrt` and negative powers.
fn positive<T: Element>(t: &Tape<T>, x: Var) -> Var {
    t.shift(t.square(x), c(0.5))
}

/// Every case, at sizes `s`.
pub(crate) fn all<T: Element>(s: Sizes) -> Vec<Case<T>> {
    let mut out = elementwise(s);
    out.extend(linear_algebra(s));
    out.extend(shapes_and_reductions(s));
    out.extend(softmax_and_indexing(s));
    out.extend(images(s));
    out.extend(networks(s));
    out
}

fn elementwise<T: Element>(s: Sizes) -> Vec<Case<T>> {
    let Sizes { m, n, .. } = s;
    let any = Values::Any;
    let mut out = Vec::new();
    // Every way an operand can broadcast against [m, n] (and a rank-3 pair).
    let pairs: [(&[usize], Vec<usize>); 6] = [
        (&[m, n], vec![m, n]),
        (&[m, n], vec![]),
        (&[m, n], vec![n]),
        (&[m, n], vec![m, 1]),
        (&[m, 1], vec![1, n]),
        (&[2, 1, n], vec![m, 1]),
    ];
    for (a, b) in pairs {
        let (a, b) = (a.to_vec(), b);
        let shapes: [&[usize]; 2] = [&a, &b];
        let swapped: [&[usize]; 2] = [&b, &a];
        out.push(case(format!("add {a:?} {b:?}"), &shapes, any, |t, i| {
            t.add(i[0], i[1])
        }));
        out.push(case(format!("sub {b:?} {a:?}"), &swapped, any, |t, i| {
            t.sub(i[0], i[1])
        }));
        out.push(case(format!("mul {a:?} {b:?}"), &shapes, any, |t, i| {
            t.mul(i[0], i[1])
        }));
        out.push(case(format!("div {a:?} {b:?}"), &shapes, any, |t, i| {
            t.div(i[0], positive(t, i[1]))
        }));
    }
    let p = 0.5 + f64::from(s.flags % 5) * 0.6 - 1.5;
    let unary: Vec<(&str, Values, Unary<T>)> = vec![
        ("neg", any, Box::new(|t: &Tape<T>, x| t.neg(x))),
        ("scale", any, Box::new(|t: &Tape<T>, x| t.scale(x, c(-1.7)))),
        ("shift", any, Box::new(|t: &Tape<T>, x| t.shift(x, c(0.3)))),
        ("exp", any, Box::new(|t: &Tape<T>, x| t.exp(x))),
        ("log", any, Box::new(|t: &Tape<T>, x| t.log(positive(t, x)))),
        (
            "sqrt",
            any,
            Box::new(|t: &Tape<T>, x| t.sqrt(positive(t, x))),
        ),
        (
            "powf",
            any,
            Box::new(move |t: &Tape<T>, x| t.powf(positive(t, x), c(p))),
        ),
        ("square", any, Box::new(|t: &Tape<T>, x| t.square(x))),
        ("tanh", any, Box::new(|t: &Tape<T>, x| t.tanh(x))),
        ("sigmoid", any, Box::new(|t: &Tape<T>, x| t.sigmoid(x))),
        ("gelu", any, Box::new(|t: &Tape<T>, x| t.gelu(x))),
        (
            "relu",
            Values::AwayFromZero,
            Box::new(|t: &Tape<T>, x| t.relu(x)),
        ),
        (
            "leaky_relu",
            Values::AwayFromZero,
            Box::new(|t: &Tape<T>, x| t.leaky_relu(x, c(0.1))),
        ),
    ];
    for (name, values, f) in unary {
        out.push(case(name, &[&[m, n]], values, move |t, i| f(t, i[0])));
    }
    // The bias scaled down so that ReLU's kink stays away: |x| >= 0.05 > |0.01 b|.
    for act in [
        BiasActivation::Relu,
        BiasActivation::Tanh,
        BiasActivation::Sigmoid,
    ] {
        let shapes: [&[usize]; 2] = [&[m, n], &[n]];
        out.push(case(
            format!("bias_activation {act:?}"),
            &shapes,
            Values::AwayFromZero,
            move |t, i| t.bias_activation(i[0], t.scale(i[1], c(0.01)), act),
        ));
    }
    let shapes: [&[usize]; 2] = [&[2, m, n], &[n]];
    out.push(case("bias_activation rank 3", &shapes, any, |t, i| {
        t.bias_activation(i[0], i[1], BiasActivation::Tanh)
    }));
    out
}

fn linear_algebra<T: Element>(s: Sizes) -> Vec<Case<T>> {
    let Sizes { m, n, k, flags } = s;
    let (ta, tb) = (flags & 1 != 0, flags & 2 != 0);
    let any = Values::Any;
    let shape = |rows: usize, cols: usize, transposed: bool| {
        if transposed {
            vec![cols, rows]
        } else {
            vec![rows, cols]
        }
    };
    let (a, b) = (shape(m, k, ta), shape(k, n, tb));
    let batched = |lead: &[usize], x: &[usize]| [lead, x].concat();
    vec![
        case(
            format!("matmul_t {ta} {tb}"),
            &[&a, &b],
            any,
            move |t, i| t.matmul_t(i[0], i[1], ta, tb),
        ),
        case("matmul same operand", &[&[m, m]], any, |t, i| {
            t.matmul(i[0], i[0])
        }),
        case(
            format!("batched matmul_t {ta} {tb}"),
            &[&batched(&[2], &a), &batched(&[2], &b)],
            any,
            move |t, i| t.matmul_t(i[0], i[1], ta, tb),
        ),
        case(
            "rank-4 matmul",
            &[&[2, 2, m, k], &[2, 2, k, n]],
            any,
            |t, i| t.matmul(i[0], i[1]),
        ),
        case(
            format!("shared-weight matmul_t {tb}"),
            &[&[2, m, k], &b],
            any,
            move |t, i| t.matmul_t(i[0], i[1], false, tb),
        ),
    ]
}

fn shapes_and_reductions<T: Element>(s: Sizes) -> Vec<Case<T>> {
    let Sizes { m, n, k, .. } = s;
    let any = Values::Any;
    let keep = s.flags & 4 != 0;
    vec![
        case("transpose", &[&[m, n]], any, |t, i| t.transpose(i[0])),
        case("permute rank 3", &[&[m, n, k]], any, |t, i| {
            t.permute(i[0], &[2, 0, 1])
        }),
        case("permute rank 4", &[&[2, m, n, k]], any, |t, i| {
            t.permute(i[0], &[0, 2, 3, 1])
        }),
        case("reshape", &[&[m, n]], any, move |t, i| {
            t.reshape(i[0], &[n, 1, m])
        }),
        case("broadcast_to row", &[&[n]], any, move |t, i| {
            t.broadcast_to(i[0], &[m, n])
        }),
        case("broadcast_to middle", &[&[m, 1]], any, move |t, i| {
            t.broadcast_to(i[0], &[2, m, n])
        }),
        case("expand scalar", &[&[]], any, move |t, i| {
            t.expand(i[0], &[m, n])
        }),
        case("sum", &[&[m, n]], any, |t, i| t.sum(i[0])),
        case("mean", &[&[m, n]], any, |t, i| t.mean(i[0])),
        case("sum_axis 0", &[&[m, n]], any, |t, i| t.sum_axis(i[0], 0)),
        case("sum_axis 1", &[&[m, n]], any, |t, i| t.sum_axis(i[0], 1)),
        case("mean_axis", &[&[m, n]], any, |t, i| t.mean_axis(i[0], 1)),
        case(
            format!("sum_axes keep {keep}"),
            &[&[m, n, k]],
            any,
            move |t, i| t.sum_axes(i[0], &[0, 2], keep),
        ),
        case("mean_axes", &[&[2, m, n, k]], any, move |t, i| {
            t.mean_axes(i[0], &[0, 2, 3], keep)
        }),
        case("var_axes", &[&[m + 1, n, k]], any, move |t, i| {
            t.var_axes(i[0], &[0], keep)
        }),
        case("narrow", &[&[m, n + 2, k]], any, move |t, i| {
            t.narrow(i[0], 1, 1, n)
        }),
        case("pad_axis", &[&[m, n, k]], any, move |t, i| {
            t.pad_axis(i[0], 2, 1, k + 3)
        }),
        case("slice", &[&[m * n + 2]], any, move |t, i| {
            t.slice(i[0], 1, m * n)
        }),
        case("pad", &[&[m * n]], any, move |t, i| {
            t.pad(i[0], 2, m * n + 3)
        }),
    ]
}

fn labels(rows: usize, classes: usize, seed: u8) -> Vec<usize> {
    (0..rows)
        .map(|i| (usize::from(seed) + 3 * i) % classes)
        .collect()
}

fn softmax_and_indexing<T: Element>(s: Sizes) -> Vec<Case<T>> {
    let Sizes { m, n, k, flags } = s;
    let any = Values::Any;
    let classes = n + 1;
    let y = labels(m, classes, flags);
    let y2 = y.clone();
    let y3 = y.clone();
    // Token ids with a repeat, so scatter-add must sum rows.
    let ids: Vec<usize> = (0..2 * k)
        .map(|i| (i * 2 + usize::from(flags)) % (m + 1))
        .collect();
    let ids2 = ids.clone();
    let mut fill = vec![false; n * n];
    fill[n * n - 1] = true;
    let mask = Mask::new(fill, &[1, n, n]).expect("n x n entries");
    let causal = Mask::causal(n);
    vec![
        case("log_softmax", &[&[m, classes]], any, |t, i| {
            t.log_softmax(i[0])
        }),
        case("log_softmax vector", &[&[classes]], any, |t, i| {
            t.log_softmax(i[0])
        }),
        case("log_softmax_axis 0", &[&[m, n, k]], any, |t, i| {
            t.log_softmax_axis(i[0], 0)
        }),
        case("softmax last", &[&[m, classes]], any, |t, i| {
            t.softmax(i[0], 1)
        }),
        case("softmax middle", &[&[m, n, k]], any, |t, i| {
            t.softmax(i[0], 1)
        }),
        case(
            "softmax_cross_entropy",
            &[&[m, classes]],
            any,
            move |t, i| t.softmax_cross_entropy(i[0], &y),
        ),
        case("pick", &[&[m, classes]], any, move |t, i| t.pick(i[0], &y2)),
        case("scatter", &[&[m]], any, move |t, i| {
            t.scatter(i[0], &y3, classes)
        }),
        case("mse", &[&[m, n], &[m, n]], any, |t, i| t.mse(i[0], i[1])),
        case("gather", &[&[m + 1, k]], any, move |t, i| {
            t.gather(i[0], &ids)
        }),
        case("embedding", &[&[m + 1, k]], any, move |t, i| {
            t.embedding(i[0], &ids2, &[2, k])
        }),
        case("scatter_add", &[&[2 * k, n]], any, move |t, i| {
            t.scatter_add(i[0], &[0, 2, 0, 1, 2, 0][..2 * k], 3)
        }),
        case("masked_fill", &[&[2, n, n]], any, move |t, i| {
            t.masked_fill(i[0], &mask, c(0.7))
        }),
        case("causal softmax", &[&[2, n, n]], any, move |t, i| {
            t.softmax(t.masked_fill(i[0], &causal, c(-30.0)), 2)
        }),
        case("dropout", &[&[m, n]], any, move |t, i| {
            t.dropout(i[0], 0.3, u64::from(flags))
        }),
    ]
}

fn images<T: Element>(s: Sizes) -> Vec<Case<T>> {
    let Sizes { m, n, flags, .. } = s;
    let any = Values::Any;
    let (h, w) = (m + 3, n + 3);
    let stride = 1 + usize::from(flags & 1);
    let padding = usize::from(flags >> 1 & 1);
    let options = Conv2dOptions::new(stride, padding);
    let rectangular = Conv2dOptions {
        stride: [2, 1],
        padding: [0, 1],
    };
    vec![
        case(
            format!("conv2d stride {stride} pad {padding}"),
            &[&[2, 2, h, w], &[3, 2, 3, 3]],
            any,
            move |t, i| t.conv2d(i[0], i[1], None, options),
        ),
        case(
            "conv2d bias, rectangular",
            &[&[1, 2, h, w], &[2, 2, 3, 2], &[2]],
            any,
            move |t, i| t.conv2d(i[0], i[1], Some(i[2]), rectangular),
        ),
        case(
            "max_pool2d",
            &[&[2, 2, h + 1, w + 1]],
            Values::Distinct,
            |t, i| t.max_pool2d(i[0], 2, 2),
        ),
        case(
            "max_pool2d overlapping",
            &[&[1, 2, h, w]],
            Values::Distinct,
            |t, i| t.max_pool2d(i[0], 3, 1),
        ),
        case("avg_pool2d", &[&[2, 2, h, w]], any, |t, i| {
            t.avg_pool2d(i[0], 2, 2)
        }),
        case("avg_pool2d overlapping", &[&[1, 2, h, w]], any, |t, i| {
            t.avg_pool2d(i[0], 3, 1)
        }),
    ]
}

/// Compositions the networks of the next layer rely on, checked as wholes.
fn networks<T: Element>(s: Sizes) -> Vec<Case<T>> {
    let Sizes { m, n, .. } = s;
    let any = Values::Any;
    // eps 0.1, not PyTorch's 1e-5: with two entries close together a small eps makes the
    // curvature so large that central differences, not the rules, miss the tolerance.
    let norm = |t: &Tape<T>, x: Var, axes: &[usize]| {
        let centred = t.sub(x, t.mean_axes(x, axes, true));
        let std = t.sqrt(t.shift(t.var_axes(x, axes, true), c(0.1)));
        t.div(centred, std)
    };
    vec![
        case(
            "layer norm",
            &[&[m, n + 1], &[n + 1], &[n + 1]],
            any,
            move |t, i| t.add(t.mul(norm(t, i[0], &[1]), i[1]), i[2]),
        ),
        case("batch norm 2d", &[&[2, 2, m, n]], any, move |t, i| {
            norm(t, i[0], &[0, 2, 3])
        }),
        case(
            "causal attention",
            &[&[2, n + 1, 3], &[3, 3], &[3, 3]],
            any,
            move |t, i| {
                let (x, wq, wk) = (i[0], i[1], i[2]);
                let q = t.matmul(x, wq);
                let k = t.matmul(x, wk);
                let scores = t.scale(t.matmul_t(q, k, false, true), c(1.0 / 3f64.sqrt()));
                let masked =
                    t.masked_fill(scores, &Mask::causal(n + 1), T::from_f64(f64::NEG_INFINITY));
                t.matmul(t.softmax(masked, 2), x)
            },
        ),
    ]
}

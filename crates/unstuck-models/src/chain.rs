//! A list of named layers applied one after another: what `Sequential` and `Residual`
//! share (shape walk, parameter names, the forward pass).

use crate::layer::{dims_str, forward_layer};
use crate::{BufferDecl, Forward, Layer, ParamDecl};
use unstuck_autodiff::{Element, Var};

/// One layer of a chain with its name (`""` puts its parameters at the chain's level) and
/// its declarations, read once.
#[derive(Debug)]
pub(crate) struct Child {
    pub(crate) name: String,
    pub(crate) layer: Box<dyn Layer>,
    params: Vec<ParamDecl>,
    buffers: Vec<BufferDecl>,
}

/// A layer that does not fit the shape before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChainShapeError {
    pub(crate) position: usize,
    pub(crate) layer: String,
    pub(crate) got: Vec<usize>,
    pub(crate) expected: String,
}

impl ChainShapeError {
    pub(crate) fn describe(&self) -> String {
        format!(
            "layer {} ({}) takes {}, got {}",
            self.position,
            self.layer,
            self.expected,
            dims_str(&self.got)
        )
    }
}

/// Layers in order.
#[derive(Debug, Default)]
pub(crate) struct Chain {
    pub(crate) children: Vec<Child>,
}

/// `prefix.name`, or `name` alone when the prefix is empty.
pub(crate) fn join_name(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

impl Chain {
    pub(crate) fn push(&mut self, name: String, layer: Box<dyn Layer>) {
        let params = layer.params();
        let buffers = layer.buffers();
        self.children.push(Child {
            name,
            layer,
            params,
            buffers,
        });
    }

    /// The per-example output shape for `input`, or the first layer that does not fit.
    pub(crate) fn output_dims(&self, input: &[usize]) -> Result<Vec<usize>, ChainShapeError> {
        let mut dims = input.to_vec();
        for (position, child) in self.children.iter().enumerate() {
            dims = child
                .layer
                .output_dims(&dims)
                .map_err(|mismatch| ChainShapeError {
                    position,
                    layer: self.label(position),
                    got: dims.clone(),
                    expected: mismatch.expected,
                })?;
        }
        Ok(dims)
    }

    /// The first layer that cannot train on `batch` examples of shape `input`, as
    /// `(position, label, its input shape, the batch it needs)`.
    pub(crate) fn too_small_batch(
        &self,
        input: &[usize],
        batch: usize,
    ) -> Option<(usize, String, Vec<usize>, usize)> {
        let mut dims = input.to_vec();
        for (position, child) in self.children.iter().enumerate() {
            let needed = child.layer.min_training_batch(&dims);
            if batch < needed {
                return Some((position, self.label(position), dims, needed));
            }
            // A chain that does not fit has no training batch to check.
            dims = child.layer.output_dims(&dims).ok()?;
        }
        None
    }

    /// Whether every layer computes each example from that example alone.
    pub(crate) fn per_example(&self) -> bool {
        self.children.iter().all(|child| child.layer.per_example())
    }

    /// The largest batch any layer needs, with examples of shape `input`.
    pub(crate) fn min_training_batch(&self, input: &[usize]) -> usize {
        let mut dims = input.to_vec();
        let mut needed = 1;
        for child in &self.children {
            needed = needed.max(child.layer.min_training_batch(&dims));
            match child.layer.output_dims(&dims) {
                Ok(next) => dims = next,
                Err(_) => break,
            }
        }
        needed
    }

    /// `conv1 (conv)`, or just the kind for an unnamed layer.
    fn label(&self, position: usize) -> String {
        let child = &self.children[position];
        if child.name.is_empty() || child.name == position.to_string() {
            child.layer.kind().to_string()
        } else {
            format!("{} ({})", child.name, child.layer.kind())
        }
    }

    /// Every parameter with its name inside the chain, in `state_dict` order.
    pub(crate) fn params(&self) -> Vec<ParamDecl> {
        self.children
            .iter()
            .flat_map(|child| {
                child.params.iter().map(|param| ParamDecl {
                    name: join_name(&child.name, &param.name),
                    ..param.clone()
                })
            })
            .collect()
    }

    /// Every buffer with its name inside the chain, in `state_dict` order.
    pub(crate) fn buffers(&self) -> Vec<BufferDecl> {
        self.children
            .iter()
            .flat_map(|child| {
                child.buffers.iter().map(|buffer| BufferDecl {
                    name: join_name(&child.name, &buffer.name),
                    ..buffer.clone()
                })
            })
            .collect()
    }

    /// The layers as a network spec writes them: `name=kind(args)-...`, the name left out
    /// where it is the layer's position.
    pub(crate) fn describe(&self) -> String {
        let layers: Vec<String> = self
            .children
            .iter()
            .enumerate()
            .map(|(position, child)| match child.name.as_str() {
                "" => format!("_={}", child.layer.describe()),
                name if name == position.to_string() => child.layer.describe(),
                name => format!("{name}={}", child.layer.describe()),
            })
            .collect();
        layers.join("-")
    }

    /// The first layer's vocabulary, if it reads token ids.
    pub(crate) fn token_vocabulary(&self) -> Option<usize> {
        self.children.first()?.layer.token_vocabulary()
    }

    /// Records every layer in turn, each with its slice of the parameters and buffers.
    pub(crate) fn forward<T: Element>(&self, cx: &mut Forward<'_, T>, x: Var) -> Var {
        let (mut param_at, mut buffer_at) = (0, 0);
        let mut h = x;
        for (position, child) in self.children.iter().enumerate() {
            let n_params = child.params.len();
            let n_buffer: usize = child
                .buffers
                .iter()
                .map(|b| b.shape.iter().product::<usize>())
                .sum();
            let mut child_cx = cx.child(
                param_at..param_at + n_params,
                buffer_at..buffer_at + n_buffer,
                position as u64,
            );
            h = forward_layer(child.layer.as_ref(), &mut child_cx, h);
            param_at += n_params;
            buffer_at += n_buffer;
        }
        h
    }
}

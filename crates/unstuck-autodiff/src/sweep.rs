//! The reverse sweep, written once for every evaluator of the rules.

use crate::Element;
use crate::op::{Algebra, Contribution, Op, Placement, vjp};
use crate::tape::MAX_INPUTS;

/// What the sweep needs beyond the rules' algebra: the recorded ops, and how gradients
/// accumulate.
pub(crate) trait Evaluator<T: Element>: Algebra<T> {
    /// Node `i`'s op, its input ids, and how many inputs it has.
    fn node(&self, i: usize) -> (Op<T>, [usize; MAX_INPUTS], usize);
    /// `acc + g`, with `g` placed in node `node`'s gradient as `placement` says.
    fn accumulate(
        &mut self,
        acc: Option<Self::V>,
        g: Self::V,
        placement: Placement,
        node: usize,
    ) -> Self::V;

    /// Whether the sweep should keep the contributions of a node that receives slices
    /// (`Placement::At`) until it reaches the node, and hand them to
    /// [`Evaluator::assemble`] at once.
    fn gathers_slices(&self) -> bool {
        false
    }

    /// Node `node`'s gradient from its contributions in the order they arrived: by
    /// default, the same sums [`Evaluator::accumulate`] makes one at a time.
    fn assemble(&mut self, parts: Vec<(Placement, Self::V)>, node: usize) -> Self::V {
        accumulate_in_order(self, parts, node)
    }
}

/// A node's gathered contributions, in arrival order.
type Parts<V> = Vec<(Placement, V)>;

/// `parts` summed one after another with [`Evaluator::accumulate`].
pub(crate) fn accumulate_in_order<T: Element, E: Evaluator<T> + ?Sized>(
    ev: &mut E,
    parts: Vec<(Placement, E::V)>,
    node: usize,
) -> E::V {
    let mut acc = None;
    for (placement, g) in parts {
        acc = Some(ev.accumulate(acc, g, placement, node));
    }
    acc.expect("a gathered gradient has a contribution")
}

/// Walks nodes `y, y-1, ..., 0`, pushing `seed` (the cotangent of `y`) back to `wrt`.
///
/// Creation order is a topological order, so when the sweep reaches a node every
/// consumer has already added its contribution. Only nodes on a path to `wrt` are
/// visited. Returns one entry per `wrt`; `None` where `y` does not depend on it.
pub(crate) fn sweep<T: Element, E: Evaluator<T>>(
    ev: &mut E,
    y: usize,
    seed: E::V,
    wrt: &[usize],
) -> Vec<Option<E::V>> {
    let mut needed = vec![false; y + 1];
    for &w in wrt {
        if w <= y {
            needed[w] = true;
        }
    }
    let lowest = wrt.iter().copied().min().unwrap_or(y + 1);
    for i in lowest..=y {
        if !needed[i] {
            let (_, inputs, n) = ev.node(i);
            needed[i] = inputs[..n].iter().any(|&input| needed[input]);
        }
    }

    let mut grads: Vec<Option<E::V>> = (0..=y).map(|_| None).collect();
    let mut results: Vec<Option<E::V>> = (0..wrt.len()).map(|_| None).collect();
    if !needed[y] {
        return results;
    }
    grads[y] = Some(seed);
    // Contributions kept for `assemble`, in arrival order (see `gathers_slices`).
    let gathers = ev.gathers_slices();
    let mut parts: Vec<Option<Parts<E::V>>> = (0..=y).map(|_| None).collect();
    let mut emitted: Vec<Contribution<E::V>> = Vec::with_capacity(MAX_INPUTS);
    for i in (lowest..=y).rev() {
        let gathered = parts[i].take().map(|list| ev.assemble(list, i));
        let Some(g) = gathered.or_else(|| grads[i].take()) else {
            continue;
        };
        if !needed[i] {
            continue;
        }
        // A node may be both a target and an intermediate: keep its finished gradient.
        for (slot, &w) in results.iter_mut().zip(wrt) {
            if w == i && slot.is_none() {
                *slot = Some(ev.dup(&g));
            }
        }
        let (op, inputs, n) = ev.node(i);
        let wants = std::array::from_fn(|slot| slot < n && needed[inputs[slot]]);
        vjp(ev, &op, &inputs[..n], i, g, wants, &mut emitted);
        for (slot, placement, contribution) in emitted.drain(..) {
            let input = inputs[slot];
            if needed[input] {
                #[cfg(test)]
                let contribution = perturbation::apply(ev, &op, slot, contribution);
                if gathers && (placement != Placement::Whole || parts[input].is_some()) {
                    let list = parts[input].get_or_insert_with(Vec::new);
                    if let Some(earlier) = grads[input].take() {
                        list.push((Placement::Whole, earlier));
                    }
                    list.push((placement, contribution));
                } else {
                    grads[input] =
                        Some(ev.accumulate(grads[input].take(), contribution, placement, input));
                }
            }
        }
    }
    results
}

/// A test-only hook that makes one rule wrong by a factor `1 + 1e-4`, so the tests can
/// show that the finite-difference suite catches an error that small in every rule.
#[cfg(test)]
pub(crate) mod perturbation {
    use super::*;
    use std::cell::RefCell;

    thread_local! {
        static TARGET: RefCell<Option<(String, usize)>> = const { RefCell::new(None) };
        static SEEN: RefCell<Vec<(String, usize)>> = const { RefCell::new(Vec::new()) };
    }

    /// The relative error given to the perturbed rule.
    pub(crate) const FACTOR: f64 = 1.0 + 1e-4;

    /// Perturbs the contribution of `op` to input `slot` from now on (or none).
    pub(crate) fn set(target: Option<(&str, usize)>) {
        TARGET.with(|t| *t.borrow_mut() = target.map(|(name, slot)| (name.to_string(), slot)));
    }

    /// Every (op, slot) whose rule ran since the last call, without repeats.
    pub(crate) fn take_seen() -> Vec<(String, usize)> {
        SEEN.with(|s| std::mem::take(&mut *s.borrow_mut()))
    }

    pub(super) fn apply<T: Element, A: Algebra<T>>(
        alg: &mut A,
        op: &Op<T>,
        slot: usize,
        v: A::V,
    ) -> A::V {
        let name = op.name();
        SEEN.with(|s| {
            let mut seen = s.borrow_mut();
            if !seen.iter().any(|(n, k)| *n == name && *k == slot) {
                seen.push((name.clone(), slot));
            }
        });
        let hit = TARGET.with(|t| {
            t.borrow()
                .as_ref()
                .is_some_and(|(n, k)| *n == name && *k == slot)
        });
        if hit {
            alg.scale(&v, T::from_f64(FACTOR))
        } else {
            v
        }
    }
}

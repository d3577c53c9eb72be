//! Defining and registering your own optimizer with the public API only.
//!
//! Run: `cargo run -p unstuck-optim --example custom_optimizer`.
//!
//! The rule here is signSGD with heavy-ball momentum on the sign: `m = mu m + sign(g)`,
//! `p -= lr m`. It takes four pieces, the same as every built-in optimizer:
//! a config (hyperparameters), a state (named buffers), an `UpdateRule` (init + update)
//! and `FromSpec` (so a registry can build it from `"signsgd:lr=0.01"`).

use unstuck_optim::{
    Driver, Element, Entry, FromSpec, OptimError, Optimizer, Registry, RuleState, SpecArgs,
    StateReader, StateWriter, UpdateRule, validate, vectorized,
};

#[derive(Debug, Clone, PartialEq)]
struct SignSgdConfig {
    lr: f64,
    momentum: f64,
}

#[derive(Debug, Clone, PartialEq)]
struct SignSgdState<T> {
    momentum_buffer: Vec<T>,
}

impl<T: Element> RuleState<T> for SignSgdState<T> {
    fn save(&self, out: &mut StateWriter) {
        out.buffer("momentum_buffer", &self.momentum_buffer);
    }
    fn load(&mut self, saved: &StateReader<'_>) -> Result<(), OptimError> {
        saved.buffer("momentum_buffer", &mut self.momentum_buffer)
    }
}

impl<T: Element> UpdateRule<T> for SignSgdConfig {
    const NAME: &'static str = "signsgd";
    type State = SignSgdState<T>;

    fn lr(&self) -> f64 {
        self.lr
    }

    fn validate(&self) -> Result<(), OptimError> {
        validate::learning_rate("signsgd", "lr", self.lr)?;
        validate::decay_rate("signsgd", "momentum", self.momentum)?;
        Ok(())
    }

    fn init(&self, n_params: usize) -> SignSgdState<T> {
        SignSgdState {
            momentum_buffer: vec![T::ZERO; n_params],
        }
    }

    fn update(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut SignSgdState<T>,
        lr: f64,
        _step: u64,
    ) {
        let (mu, neg_lr) = (T::from_f64(self.momentum), T::from_f64(-lr));
        let buf = &mut state.momentum_buffer;
        // The driver has already checked lengths and finiteness.
        vectorized(|| {
            for ((p, &g), m) in params.iter_mut().zip(grads).zip(buf.iter_mut()) {
                *m = *m * mu + g.sign();
                *p = neg_lr.mul_add(*m, *p);
            }
        });
    }
}

impl FromSpec for SignSgdConfig {
    const SUMMARY: &'static str = "signSGD with momentum on the sign (example optimizer).";

    fn from_spec(args: &mut SpecArgs<'_>) -> Result<Self, OptimError> {
        Ok(Self {
            lr: args.f64("lr", 1e-3)?,
            momentum: args.f64("momentum", 0.0)?,
        })
    }
}

fn main() -> Result<(), OptimError> {
    // Direct use, no registry.
    let mut opt = Driver::<f64, SignSgdConfig>::new(SignSgdConfig {
        lr: 0.01,
        momentum: 0.0,
    })?;
    let mut params = vec![0.3, -0.2];
    opt.step(&mut params, &[1.0, -1.0])?;
    println!("after one signSGD step: {params:?}");

    // Registered next to the built-ins: specs, help and listings now include it.
    let mut registry = Registry::<f64>::builtin();
    registry.register(Entry::of::<SignSgdConfig>())?;
    for entry in registry.entries() {
        println!("{:>16}  {}", entry.name, entry.help());
    }

    // Minimise the quadratic sum_i (i+1) p_i^2 with the new optimizer and a schedule.
    let mut opt =
        registry.build("signsgd:lr=0.05,momentum=0.5,schedule=(exponential:gamma=0.97)")?;
    let mut params = vec![1.0, -2.0, 0.5];
    for _ in 0..200 {
        let grads: Vec<f64> = params
            .iter()
            .enumerate()
            .map(|(i, p)| 2.0 * (i as f64 + 1.0) * p)
            .collect();
        opt.step(&mut params, &grads)?;
    }
    println!("after 200 steps (lr now {:.2e}): {params:?}", opt.lr());
    Ok(())
}

//! Spec strings to optimizers: `"adam:lr=1e-3"` -> `Box<dyn Optimizer<T>>`.
//!
//! [`Registry::builtin`] is the one list of optimizers the report and the CLI show; one
//! `Entry::of::<...>()` line there makes a new optimizer available everywhere, with help
//! text generated from the keys its builder reads. Users can [`Registry::register`] their
//! own (see `examples/custom_optimizer.rs`).
//!
//! Every optimizer spec also accepts `schedule=(...)`, a schedule spec whose base rate
//! is the optimizer's `lr`: `"sgd:lr=0.1,momentum=0.9,schedule=(cosine:t_max=100)"`.

use crate::schedule::schedule_from_spec;
use crate::spec::{KeyHelp, Spec, SpecArgs, describe_keys, lookup, parse_spec};
use crate::{
    AdagradConfig, AdamConfig, AdamWConfig, Driver, Element, LectureAdagradConfig,
    LectureMomentumConfig, LectureRmsPropConfig, LionConfig, NAdamConfig, OptimError, Optimizer,
    RmsPropConfig, SgdConfig, UpdateRule,
};

/// An update rule that can be built from spec arguments.
pub trait FromSpec: Sized {
    /// One-line description for help texts.
    const SUMMARY: &'static str;

    /// Reads every hyperparameter with [`SpecArgs`] (each with its default); unknown keys
    /// are rejected afterwards by the registry.
    fn from_spec(args: &mut SpecArgs<'_>) -> Result<Self, OptimError>;
}

type BuildOptimizer<T> = fn(&mut SpecArgs<'_>) -> Result<Box<dyn Optimizer<T>>, OptimError>;
type DescribeKeys = fn() -> Vec<KeyHelp>;

/// One optimizer a spec can name.
#[derive(Debug, Clone, Copy)]
pub struct Entry<T: Element> {
    /// Name used in specs.
    pub name: &'static str,
    /// One-line description.
    pub summary: &'static str,
    build: BuildOptimizer<T>,
    keys: DescribeKeys,
}

impl<T: Element> Entry<T> {
    /// The entry for rule `R`.
    pub fn of<R: UpdateRule<T> + FromSpec>() -> Self {
        Self {
            name: R::NAME,
            summary: R::SUMMARY,
            build: build_rule::<T, R>,
            keys: keys_of::<R>,
        }
    }

    /// Every key with its default, read from the builder itself (never out of date).
    pub fn keys(&self) -> Vec<KeyHelp> {
        (self.keys)()
    }

    /// Summary, then `key=default` for every key.
    pub fn help(&self) -> String {
        format!(
            "{} Keys: {}, schedule=(spec)",
            self.summary,
            describe_keys(&self.keys())
        )
    }
}

fn build_rule<T: Element, R: UpdateRule<T> + FromSpec>(
    args: &mut SpecArgs<'_>,
) -> Result<Box<dyn Optimizer<T>>, OptimError> {
    Ok(Box::new(Driver::new(R::from_spec(args)?)?))
}

fn keys_of<R: FromSpec>() -> Vec<KeyHelp> {
    let spec = Spec {
        name: String::new(),
        position: 0,
        args: Vec::new(),
    };
    let mut args = SpecArgs::new("", &spec);
    // All optimizer keys have defaults, so this succeeds; only the record matters.
    let _ = R::from_spec(&mut args);
    args.keys().to_vec()
}

/// A set of named optimizers.
#[derive(Debug, Clone)]
pub struct Registry<T: Element> {
    entries: Vec<Entry<T>>,
}

impl<T: Element> Registry<T> {
    /// Every optimizer this crate ships. Add a line here to add one everywhere.
    pub fn builtin() -> Self {
        Self {
            entries: vec![
                Entry::of::<SgdConfig>(),
                Entry::of::<AdagradConfig>(),
                Entry::of::<RmsPropConfig>(),
                Entry::of::<AdamConfig>(),
                Entry::of::<AdamWConfig>(),
                Entry::of::<NAdamConfig>(),
                Entry::of::<LionConfig>(),
                Entry::of::<LectureMomentumConfig>(),
                Entry::of::<LectureAdagradConfig>(),
                Entry::of::<LectureRmsPropConfig>(),
            ],
        }
    }

    /// A registry with no optimizers.
    pub fn empty() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Adds an optimizer; names must be unique.
    pub fn register(&mut self, entry: Entry<T>) -> Result<(), OptimError> {
        if self.entries.iter().any(|e| e.name == entry.name) {
            return Err(OptimError::DuplicateName {
                name: entry.name.to_owned(),
            });
        }
        self.entries.push(entry);
        Ok(())
    }

    /// All entries, in registration order.
    pub fn entries(&self) -> &[Entry<T>] {
        &self.entries
    }

    /// The entry called `name`.
    pub fn get(&self, name: &str) -> Option<&Entry<T>> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Builds an optimizer from a spec such as `"sgd:lr=0.1,momentum=0.9"`.
    ///
    /// ```
    /// use unstuck_optim::{Optimizer, Registry};
    ///
    /// let opt = Registry::<f32>::builtin().build("adam:lr=1e-3,schedule=(cosine:t_max=100)")?;
    /// assert_eq!(opt.name(), "adam");
    /// assert_eq!(opt.lr(), 1e-3);
    /// # Ok::<(), unstuck_optim::OptimError>(())
    /// ```
    pub fn build(&self, text: &str) -> Result<Box<dyn Optimizer<T>>, OptimError> {
        let spec = parse_spec(text)?;
        let entry = lookup(text, &spec, "optimizer", &self.entries, |e| e.name)?;
        let mut args = SpecArgs::new(text, &spec);
        let schedule = args.spec("schedule")?;
        let mut optimizer = (entry.build)(&mut args)?;
        args.finish()?;
        if let Some(schedule) = schedule {
            let base_lr = optimizer.lr();
            optimizer.set_schedule(schedule_from_spec(text, schedule, base_lr)?);
        }
        Ok(optimizer)
    }
}

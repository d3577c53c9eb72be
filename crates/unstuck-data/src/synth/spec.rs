//! Generator spec strings such as `spirals:n=1000,noise=0.2`, for command lines.
//!
//! The grammar is the one of every spec in unstuck (`unstuck_core::spec`): a generator
//! name, then `key=value` items. Unset keys keep the config's `Default`. Every
//! classification generator also takes `label_noise=<fraction>` (flips that fraction of
//! training labels, seeded by the generator's `seed`). Each generator's keys are the ones
//! its reader below asks for, so error messages and help list them from that record.

use std::str::FromStr;

use unstuck_core::Element;
use unstuck_core::spec::{KeyHelp, Spec, SpecArgs, SpecError, lookup, parse_spec};

use super::{
    BlobsConfig, CirclesConfig, CovariateShiftConfig, LabelNoiseConfig, SineConfig, SpiralsConfig,
    TeacherConfig, TeacherStudentConfig, TeacherTarget, XorConfig, blobs, circles, covariate_shift,
    flip_labels, sine, spirals, teacher_student, xor,
};
use crate::dataset::Dataset;
use crate::error::Result;

/// The generator names a spec may start with.
pub const GENERATOR_NAMES: &str = "spirals, blobs, circles, xor, sine, teacher, shift";

/// One generator with its config; [`generator_keys`] lists each one's keys.
#[derive(Debug, Clone, PartialEq)]
pub enum Generator {
    /// `spirals`: two interleaved spirals.
    Spirals(SpiralsConfig),
    /// `blobs`: Gaussian clusters.
    Blobs(BlobsConfig),
    /// `circles`: two concentric circles.
    Circles(CirclesConfig),
    /// `xor`: the four XOR quadrants.
    Xor(XorConfig),
    /// `sine`: a noisy sine (regression).
    Sine(SineConfig),
    /// `teacher`: labels or values from a random teacher network.
    Teacher(TeacherStudentConfig),
    /// `shift`: a teacher's task with a covariate-shifted test set.
    Shift(CovariateShiftConfig),
}

/// The keys a generator's spec takes, with their defaults, in the order its reader asks
/// for them (the record is the list: it cannot drift from the reader); `None` for an
/// unknown name.
///
/// ```
/// let keys = unstuck_data::generator_keys("xor").unwrap();
/// let names: Vec<&str> = keys.iter().map(|k| k.key).collect();
/// assert_eq!(names, ["n", "noise", "seed", "label_noise"]);
/// ```
pub fn generator_keys(name: &str) -> Option<Vec<KeyHelp>> {
    let (_, read) = GENERATORS.iter().find(|(known, _)| *known == name)?;
    let spec = Spec {
        name: name.to_string(),
        position: 0,
        args: Vec::new(),
    };
    let mut args = SpecArgs::new("", &spec);
    // Every key has a default, so this succeeds; only the record matters.
    read_with_label_noise(*read, &mut args).ok()?;
    Some(args.keys().to_vec())
}

/// A generator's keys, then `label_noise` for the classifying ones.
fn read_with_label_noise(
    read: ReadGenerator,
    args: &mut SpecArgs<'_>,
) -> std::result::Result<(Generator, Option<f64>), SpecError> {
    let generator = read(args)?;
    let fraction = if generator.classifies() {
        args.f64_opt("label_noise")?
    } else {
        None
    };
    Ok((generator, fraction))
}

type ReadGenerator = fn(&mut SpecArgs<'_>) -> std::result::Result<Generator, SpecError>;

/// Every generator a spec can name, with the reader of its keys; the names are
/// [`GENERATOR_NAMES`].
const GENERATORS: [(&str, ReadGenerator); 7] = [
    ("spirals", read_spirals),
    ("blobs", read_blobs),
    ("circles", read_circles),
    ("xor", read_xor),
    ("sine", read_sine),
    ("teacher", read_teacher),
    ("shift", read_shift),
];

fn read_spirals(args: &mut SpecArgs<'_>) -> std::result::Result<Generator, SpecError> {
    let d = SpiralsConfig::default();
    Ok(Generator::Spirals(SpiralsConfig {
        n: args.usize("n", d.n)?,
        noise: args.f64("noise", d.noise)?,
        turns: args.f64("turns", d.turns)?,
        seed: args.u64("seed", d.seed)?,
    }))
}

fn read_blobs(args: &mut SpecArgs<'_>) -> std::result::Result<Generator, SpecError> {
    let d = BlobsConfig::default();
    Ok(Generator::Blobs(BlobsConfig {
        n: args.usize("n", d.n)?,
        n_classes: args.usize("classes", d.n_classes)?,
        n_features: args.usize("features", d.n_features)?,
        std: args.f64("std", d.std)?,
        center_box: args.f64("box", d.center_box)?,
        seed: args.u64("seed", d.seed)?,
    }))
}

fn read_circles(args: &mut SpecArgs<'_>) -> std::result::Result<Generator, SpecError> {
    let d = CirclesConfig::default();
    Ok(Generator::Circles(CirclesConfig {
        n: args.usize("n", d.n)?,
        noise: args.f64("noise", d.noise)?,
        factor: args.f64("factor", d.factor)?,
        seed: args.u64("seed", d.seed)?,
    }))
}

fn read_xor(args: &mut SpecArgs<'_>) -> std::result::Result<Generator, SpecError> {
    let d = XorConfig::default();
    Ok(Generator::Xor(XorConfig {
        n: args.usize("n", d.n)?,
        noise: args.f64("noise", d.noise)?,
        seed: args.u64("seed", d.seed)?,
    }))
}

fn read_sine(args: &mut SpecArgs<'_>) -> std::result::Result<Generator, SpecError> {
    let d = SineConfig::default();
    Ok(Generator::Sine(SineConfig {
        n: args.usize("n", d.n)?,
        noise: args.f64("noise", d.noise)?,
        frequency: args.f64("frequency", d.frequency)?,
        x_min: args.f64("x_min", d.x_min)?,
        x_max: args.f64("x_max", d.x_max)?,
        seed: args.u64("seed", d.seed)?,
    }))
}

fn read_teacher(args: &mut SpecArgs<'_>) -> std::result::Result<Generator, SpecError> {
    let d = TeacherStudentConfig::default();
    let n = args.usize("n", d.n)?;
    let mut teacher = read_teacher_network(args, d.teacher)?;
    let (noise, seed) = (args.f64("noise", d.noise)?, args.u64("seed", d.seed)?);
    teacher.seed = args.u64("teacher_seed", teacher.seed)?;
    Ok(Generator::Teacher(TeacherStudentConfig {
        n,
        teacher,
        noise,
        seed,
    }))
}

fn read_shift(args: &mut SpecArgs<'_>) -> std::result::Result<Generator, SpecError> {
    let d = CovariateShiftConfig::default();
    let (n_train, n_test) = (
        args.usize("n_train", d.n_train)?,
        args.usize("n_test", d.n_test)?,
    );
    let (shift, test_std) = (
        args.f64("shift", d.shift)?,
        args.f64("test_std", d.test_std)?,
    );
    let mut teacher = read_teacher_network(args, d.teacher)?;
    let (noise, seed) = (args.f64("noise", d.noise)?, args.u64("seed", d.seed)?);
    teacher.seed = args.u64("teacher_seed", teacher.seed)?;
    Ok(Generator::Shift(CovariateShiftConfig {
        n_train,
        n_test,
        teacher,
        shift,
        test_std,
        noise,
        seed,
    }))
}

/// The teacher network's shape keys, shared by `teacher` and `shift` (which read its
/// `teacher_seed` after their own seed); `classes` and `outputs` pick the target kind and
/// exclude each other.
fn read_teacher_network(
    args: &mut SpecArgs<'_>,
    d: TeacherConfig,
) -> std::result::Result<TeacherConfig, SpecError> {
    let n_inputs = args.usize("inputs", d.n_inputs)?;
    let depth = args.usize("depth", d.depth)?;
    let width = args.usize("width", d.width)?;
    let classes = args.usize_opt("classes")?;
    let outputs = args.usize_opt("outputs")?;
    args.exclusive("classes", "outputs")?;
    let target = match (classes, outputs) {
        (Some(n_classes), _) => TeacherTarget::Classes(n_classes),
        (None, Some(n_outputs)) => TeacherTarget::Real(n_outputs),
        (None, None) => d.target,
    };
    Ok(TeacherConfig {
        n_inputs,
        depth,
        width,
        target,
        seed: d.seed,
    })
}

impl Generator {
    /// The seed of the samples (also used for label noise).
    fn seed(&self) -> u64 {
        match self {
            Self::Spirals(c) => c.seed,
            Self::Blobs(c) => c.seed,
            Self::Circles(c) => c.seed,
            Self::Xor(c) => c.seed,
            Self::Sine(c) => c.seed,
            Self::Teacher(c) => c.seed,
            Self::Shift(c) => c.seed,
        }
    }

    /// Whether the generator makes class labels that label noise can flip.
    fn classifies(&self) -> bool {
        !matches!(self, Self::Sine(_))
    }
}

/// A parsed spec: a generator and optional label noise.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorSpec {
    /// The generator and its config.
    pub generator: Generator,
    /// Label noise applied to the (training) labels, if any.
    pub label_noise: Option<LabelNoiseConfig>,
}

/// What a spec generates: a dataset, plus a shifted test set for `shift`.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated<T> {
    /// The dataset (for `shift`, the training part).
    pub train: Dataset<T>,
    /// The shifted test part (`shift` only).
    pub shifted_test: Option<Dataset<T>>,
    /// Rows of `train` whose label was flipped by `label_noise` (ascending).
    pub flipped: Vec<usize>,
}

impl GeneratorSpec {
    /// Parses a spec string.
    ///
    /// ```
    /// use unstuck_core::spec::SpecError;
    /// use unstuck_data::{DataError, Generator, GeneratorSpec};
    /// let spec = GeneratorSpec::parse("spirals:n=1000,noise=0.2")?;
    /// let Generator::Spirals(config) = spec.generator else { unreachable!() };
    /// assert_eq!((config.n, config.noise), (1000, 0.2));
    ///
    /// let error = GeneratorSpec::parse("spirals:n=10,nosie=0.2").unwrap_err();
    /// assert!(matches!(error, DataError::Spec(SpecError::UnknownKey { position: 13, .. })));
    /// # Ok::<(), DataError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self> {
        let spec = parse_spec(text)?;
        let (_, read) = lookup(text, &spec, "generator", &GENERATORS, |(name, _)| name)?;
        let mut args = SpecArgs::new(text, &spec);
        let (generator, fraction) = read_with_label_noise(*read, &mut args)?;
        args.finish()?;
        let label_noise = fraction.map(|fraction| LabelNoiseConfig {
            fraction,
            seed: generator.seed(),
        });
        Ok(Self {
            generator,
            label_noise,
        })
    }

    /// Runs the generator (then the label noise, if any).
    pub fn generate<T: Element>(&self) -> Result<Generated<T>> {
        let (train, shifted_test) = match &self.generator {
            Generator::Spirals(config) => (spirals(config)?, None),
            Generator::Blobs(config) => (blobs(config)?, None),
            Generator::Circles(config) => (circles(config)?, None),
            Generator::Xor(config) => (xor(config)?, None),
            Generator::Sine(config) => (sine(config)?, None),
            Generator::Teacher(config) => (teacher_student(config)?.0, None),
            Generator::Shift(config) => {
                let shifted = covariate_shift(config)?;
                (shifted.train, Some(shifted.test))
            }
        };
        let (train, flipped) = match &self.label_noise {
            Some(config) => flip_labels(&train, config)?,
            None => (train, Vec::new()),
        };
        Ok(Generated {
            train,
            shifted_test,
            flipped,
        })
    }
}

impl FromStr for GeneratorSpec {
    type Err = crate::DataError;

    fn from_str(spec: &str) -> Result<Self> {
        Self::parse(spec)
    }
}

/// Parses and runs a spec string in one step.
///
/// ```
/// let generated = unstuck_data::generate::<f32>("blobs:n=300,classes=4,label_noise=0.1")?;
/// assert_eq!((generated.train.n_rows(), generated.flipped.len()), (300, 30));
/// # Ok::<(), unstuck_data::DataError>(())
/// ```
pub fn generate<T: Element>(spec: &str) -> Result<Generated<T>> {
    GeneratorSpec::parse(spec)?.generate()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataError;

    /// Parses `spec`, expecting the spec error `expected` (same kind) at `position`.
    fn check_spec_error(spec: &str, position: usize, expected: &str) {
        match GeneratorSpec::parse(spec) {
            Err(DataError::Spec(error)) => {
                assert_eq!(
                    error.position(),
                    Some(position),
                    "position in {spec:?}: {error}"
                );
                let kind = format!("{error:?}");
                assert!(kind.starts_with(expected), "{spec:?}: {kind}");
            }
            other => panic!("expected a spec error for {spec:?}, got {other:?}"),
        }
    }

    #[test]
    fn errors_say_where() {
        check_spec_error("spiral:n=3", 0, "UnknownName");
        check_spec_error("  moons", 2, "UnknownName");
        check_spec_error("spirals:n=3, colour=red", 13, "UnknownKey");
        check_spec_error("sine:label_noise=0.1", 5, "UnknownKey");
        check_spec_error("spirals:n=three", 10, "BadValue");
        check_spec_error("spirals:n=3,noise=nan", 18, "BadValue");
        check_spec_error("teacher:classes=3,outputs=2", 26, "BadValue");
        check_spec_error("xor:n=3,n=4", 8, "DuplicateKey");
        check_spec_error("xor:n=3,noise", 8, "MissingValue");
    }

    #[test]
    fn unknown_keys_list_the_generators_own() {
        let message = GeneratorSpec::parse("spirals:n=3,colour=red")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("keys: n, noise, turns, seed, label_noise"),
            "{message}"
        );
        let message = GeneratorSpec::parse("sine:label_noise=0.1")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("keys: n, noise, frequency, x_min, x_max, seed"),
            "{message}"
        );
    }

    #[test]
    fn every_generator_lists_its_keys() {
        for name in GENERATOR_NAMES.split(", ") {
            let keys = generator_keys(name).unwrap();
            assert!(keys[0].key.starts_with('n'), "{name}");
            assert_eq!(
                keys.iter().any(|k| k.key == "label_noise"),
                name != "sine",
                "{name}"
            );
        }
        assert!(generator_keys("moons").is_none());
    }

    #[test]
    fn the_names_are_the_table() {
        let names: Vec<&str> = GENERATORS.iter().map(|(name, _)| *name).collect();
        assert_eq!(names.join(", "), GENERATOR_NAMES);
    }

    #[test]
    fn every_generator_parses_and_runs_with_its_keys() {
        let specs = [
            "spirals:n=20,noise=0.1,turns=2,seed=3,label_noise=0.1",
            "blobs:n=20,classes=4,features=3,std=0.5,box=2,seed=1",
            "circles:n=20,noise=0.01,factor=0.3",
            "xor:n=20,noise=0.05,seed=9",
            "sine:n=20,noise=0,frequency=2,x_min=-1,x_max=1",
            "teacher:n=20,inputs=4,depth=1,width=8,outputs=2,noise=0.1,teacher_seed=5",
            "shift:n_train=20,n_test=10,shift=1.5,test_std=2,inputs=3,classes=3",
        ];
        for spec in specs {
            let generated =
                super::generate::<f64>(spec).unwrap_or_else(|error| panic!("{spec}: {error}"));
            assert_eq!(generated.train.n_rows(), 20, "{spec}");
            assert_eq!(
                generated.shifted_test.is_some(),
                spec.starts_with("shift"),
                "{spec}"
            );
        }
        let teacher = GeneratorSpec::parse("teacher:inputs=4,depth=1,width=8,outputs=2").unwrap();
        let Generator::Teacher(config) = teacher.generator else {
            panic!("teacher spec parsed as {:?}", teacher.generator);
        };
        assert_eq!(config.teacher.target, TeacherTarget::Real(2));
        assert_eq!(
            (
                config.teacher.n_inputs,
                config.teacher.depth,
                config.teacher.width
            ),
            (4, 1, 8)
        );
    }

    #[test]
    fn values_out_of_range_fail_at_generation_with_the_field_name() {
        let spec = GeneratorSpec::parse("circles:factor=1.5").unwrap();
        assert!(matches!(
            spec.generate::<f32>(),
            Err(DataError::InvalidConfig {
                field: "factor",
                ..
            })
        ));
    }
}

//! Generator spec strings such as `spirals:n=1000,noise=0.2`, for command lines.
//!
//! Grammar: `name[:key=value[,key=value]...]`, spaces around names, keys and values
//! ignored, empty items skipped. Unset keys keep the config's `Default`. Every
//! generator also takes `label_noise=<fraction>` (classification only; flips that
//! fraction of training labels, seeded by the generator's `seed`). Errors name the byte
//! position of the offending name, key or value.

use std::str::FromStr;

use super::{
    BlobsConfig, CirclesConfig, CovariateShiftConfig, LabelNoiseConfig, SineConfig, SpiralsConfig,
    TeacherConfig, TeacherStudentConfig, TeacherTarget, XorConfig, blobs, circles, covariate_shift,
    flip_labels, sine, spirals, teacher_student, xor,
};
use crate::dataset::Dataset;
use crate::element::Element;
use crate::error::{DataError, Result, SpecErrorKind};

/// The generator names a spec may start with.
pub const GENERATOR_NAMES: &str = "spirals, blobs, circles, xor, sine, teacher, shift";

/// One generator with its config.
#[derive(Debug, Clone, PartialEq)]
pub enum GeneratorSpec {
    /// `spirals`: keys n, noise, turns, seed.
    Spirals(SpiralsConfig),
    /// `blobs`: keys n, classes, features, std, box, seed.
    Blobs(BlobsConfig),
    /// `circles`: keys n, noise, factor, seed.
    Circles(CirclesConfig),
    /// `xor`: keys n, noise, seed.
    Xor(XorConfig),
    /// `sine`: keys n, noise, frequency, x_min, x_max, seed.
    Sine(SineConfig),
    /// `teacher`: keys n, inputs, depth, width, classes, outputs, noise, seed,
    /// teacher_seed.
    Teacher(TeacherStudentConfig),
    /// `shift`: keys n_train, n_test, shift, test_std, inputs, depth, width, classes,
    /// outputs, noise, seed, teacher_seed.
    Shift(CovariateShiftConfig),
}

const SPIRALS_KEYS: &str = "n, noise, turns, seed, label_noise";
const BLOBS_KEYS: &str = "n, classes, features, std, box, seed, label_noise";
const CIRCLES_KEYS: &str = "n, noise, factor, seed, label_noise";
const XOR_KEYS: &str = "n, noise, seed, label_noise";
const SINE_KEYS: &str = "n, noise, frequency, x_min, x_max, seed";
const TEACHER_KEYS: &str =
    "n, inputs, depth, width, classes, outputs, noise, seed, teacher_seed, label_noise";
const SHIFT_KEYS: &str = "n_train, n_test, shift, test_std, inputs, depth, width, classes, outputs, noise, seed, teacher_seed, label_noise";

impl GeneratorSpec {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "spirals" => Self::Spirals(SpiralsConfig::default()),
            "blobs" => Self::Blobs(BlobsConfig::default()),
            "circles" => Self::Circles(CirclesConfig::default()),
            "xor" => Self::Xor(XorConfig::default()),
            "sine" => Self::Sine(SineConfig::default()),
            "teacher" => Self::Teacher(TeacherStudentConfig::default()),
            "shift" => Self::Shift(CovariateShiftConfig::default()),
            _ => return None,
        })
    }

    fn name_and_keys(&self) -> (&'static str, &'static str) {
        match self {
            Self::Spirals(_) => ("spirals", SPIRALS_KEYS),
            Self::Blobs(_) => ("blobs", BLOBS_KEYS),
            Self::Circles(_) => ("circles", CIRCLES_KEYS),
            Self::Xor(_) => ("xor", XOR_KEYS),
            Self::Sine(_) => ("sine", SINE_KEYS),
            Self::Teacher(_) => ("teacher", TEACHER_KEYS),
            Self::Shift(_) => ("shift", SHIFT_KEYS),
        }
    }

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

    /// Sets one key; `None` if the key is unknown, `Some(Err(reason))` if the value is bad.
    fn set(&mut self, key: &str, value: &str) -> Option<Result<(), String>> {
        Some(match (self, key) {
            (Self::Spirals(c), "n") => set(&mut c.n, value),
            (Self::Spirals(c), "noise") => set_f64(&mut c.noise, value),
            (Self::Spirals(c), "turns") => set_f64(&mut c.turns, value),
            (Self::Spirals(c), "seed") => set(&mut c.seed, value),
            (Self::Blobs(c), "n") => set(&mut c.n, value),
            (Self::Blobs(c), "classes") => set(&mut c.n_classes, value),
            (Self::Blobs(c), "features") => set(&mut c.n_features, value),
            (Self::Blobs(c), "std") => set_f64(&mut c.std, value),
            (Self::Blobs(c), "box") => set_f64(&mut c.center_box, value),
            (Self::Blobs(c), "seed") => set(&mut c.seed, value),
            (Self::Circles(c), "n") => set(&mut c.n, value),
            (Self::Circles(c), "noise") => set_f64(&mut c.noise, value),
            (Self::Circles(c), "factor") => set_f64(&mut c.factor, value),
            (Self::Circles(c), "seed") => set(&mut c.seed, value),
            (Self::Xor(c), "n") => set(&mut c.n, value),
            (Self::Xor(c), "noise") => set_f64(&mut c.noise, value),
            (Self::Xor(c), "seed") => set(&mut c.seed, value),
            (Self::Sine(c), "n") => set(&mut c.n, value),
            (Self::Sine(c), "noise") => set_f64(&mut c.noise, value),
            (Self::Sine(c), "frequency") => set_f64(&mut c.frequency, value),
            (Self::Sine(c), "x_min") => set_f64(&mut c.x_min, value),
            (Self::Sine(c), "x_max") => set_f64(&mut c.x_max, value),
            (Self::Sine(c), "seed") => set(&mut c.seed, value),
            (Self::Teacher(c), "n") => set(&mut c.n, value),
            (Self::Teacher(c), "noise") => set_f64(&mut c.noise, value),
            (Self::Teacher(c), "seed") => set(&mut c.seed, value),
            (Self::Teacher(c), key) => return set_teacher(&mut c.teacher, key, value),
            (Self::Shift(c), "n_train") => set(&mut c.n_train, value),
            (Self::Shift(c), "n_test") => set(&mut c.n_test, value),
            (Self::Shift(c), "shift") => set_f64(&mut c.shift, value),
            (Self::Shift(c), "test_std") => set_f64(&mut c.test_std, value),
            (Self::Shift(c), "noise") => set_f64(&mut c.noise, value),
            (Self::Shift(c), "seed") => set(&mut c.seed, value),
            (Self::Shift(c), key) => return set_teacher(&mut c.teacher, key, value),
            _ => return None,
        })
    }
}

fn set_teacher(teacher: &mut TeacherConfig, key: &str, value: &str) -> Option<Result<(), String>> {
    Some(match key {
        "inputs" => set(&mut teacher.n_inputs, value),
        "depth" => set(&mut teacher.depth, value),
        "width" => set(&mut teacher.width, value),
        "teacher_seed" => set(&mut teacher.seed, value),
        "classes" => value
            .parse()
            .map(|n_classes| teacher.target = TeacherTarget::Classes(n_classes))
            .map_err(|error| format!("{error}")),
        "outputs" => value
            .parse()
            .map(|n_outputs| teacher.target = TeacherTarget::Real(n_outputs))
            .map_err(|error| format!("{error}")),
        _ => return None,
    })
}

fn set<V: FromStr>(slot: &mut V, value: &str) -> Result<(), String>
where
    V::Err: std::fmt::Display,
{
    *slot = value.parse().map_err(|error| format!("{error}"))?;
    Ok(())
}

fn set_f64(slot: &mut f64, value: &str) -> Result<(), String> {
    let parsed: f64 = value.parse().map_err(|error| format!("{error}"))?;
    if !parsed.is_finite() {
        return Err("must be finite".into());
    }
    *slot = parsed;
    Ok(())
}

/// A parsed spec: a generator and optional label noise.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The generator and its config.
    pub generator: GeneratorSpec,
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

impl Spec {
    /// Parses a spec string.
    ///
    /// ```
    /// use unstuck_data::{DataError, GeneratorSpec, Spec, SpecErrorKind};
    /// let spec = Spec::parse("spirals:n=1000,noise=0.2")?;
    /// let GeneratorSpec::Spirals(config) = spec.generator else { unreachable!() };
    /// assert_eq!((config.n, config.noise), (1000, 0.2));
    ///
    /// let error = Spec::parse("spirals:n=10,nosie=0.2").unwrap_err();
    /// assert!(matches!(error, DataError::Spec { position: 13, kind: SpecErrorKind::UnknownKey { .. }, .. }));
    /// # Ok::<(), DataError>(())
    /// ```
    pub fn parse(spec: &str) -> Result<Self> {
        let error = |part: &str, kind| DataError::Spec {
            spec: spec.to_string(),
            position: offset_in(spec, part),
            kind,
        };
        let (name, items) = match spec.split_once(':') {
            Some((name, items)) => (name.trim(), items),
            None => (spec.trim(), ""),
        };
        let mut generator = GeneratorSpec::from_name(name).ok_or_else(|| {
            error(
                name,
                SpecErrorKind::UnknownGenerator {
                    name: name.to_string(),
                    known: GENERATOR_NAMES,
                },
            )
        })?;
        let (generator_name, known_keys) = generator.name_and_keys();
        let mut seen: Vec<&str> = Vec::new();
        let mut label_noise = None;
        for item in items
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let Some((key, value)) = item.split_once('=') else {
                return Err(error(
                    item,
                    SpecErrorKind::MissingEquals {
                        token: item.to_string(),
                    },
                ));
            };
            let (key, value) = (key.trim(), value.trim());
            if seen.contains(&key) {
                return Err(error(
                    key,
                    SpecErrorKind::DuplicateKey {
                        key: key.to_string(),
                    },
                ));
            }
            let bad_value = |reason: String| {
                error(
                    value,
                    SpecErrorKind::BadValue {
                        key: key.to_string(),
                        value: value.to_string(),
                        reason,
                    },
                )
            };
            if (key == "classes" && seen.contains(&"outputs"))
                || (key == "outputs" && seen.contains(&"classes"))
            {
                return Err(bad_value("classes and outputs exclude each other".into()));
            }
            seen.push(key);
            let outcome = if key == "label_noise" && known_keys.contains("label_noise") {
                let mut fraction = 0.0;
                set_f64(&mut fraction, value).map(|()| {
                    label_noise = Some(LabelNoiseConfig { fraction, seed: 0 });
                })
            } else {
                generator.set(key, value).ok_or_else(|| {
                    error(
                        key,
                        SpecErrorKind::UnknownKey {
                            generator: generator_name,
                            key: key.to_string(),
                            known: known_keys,
                        },
                    )
                })?
            };
            outcome.map_err(bad_value)?;
        }
        let seed = generator.seed();
        if let Some(config) = &mut label_noise {
            config.seed = seed;
        }
        Ok(Self {
            generator,
            label_noise,
        })
    }

    /// Runs the generator (then the label noise, if any).
    pub fn generate<T: Element>(&self) -> Result<Generated<T>> {
        let (train, shifted_test) = match &self.generator {
            GeneratorSpec::Spirals(config) => (spirals(config)?, None),
            GeneratorSpec::Blobs(config) => (blobs(config)?, None),
            GeneratorSpec::Circles(config) => (circles(config)?, None),
            GeneratorSpec::Xor(config) => (xor(config)?, None),
            GeneratorSpec::Sine(config) => (sine(config)?, None),
            GeneratorSpec::Teacher(config) => (teacher_student(config)?.0, None),
            GeneratorSpec::Shift(config) => {
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

impl FromStr for Spec {
    type Err = DataError;

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
    Spec::parse(spec)?.generate()
}

/// Byte offset of `part` (a subslice of `whole`) within `whole`.
fn offset_in(whole: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_spec_error(spec: &str, position: usize, expected: &SpecErrorKind) {
        match Spec::parse(spec) {
            Err(DataError::Spec {
                position: got_position,
                kind,
                ..
            }) => {
                assert_eq!(got_position, position, "position in {spec:?}");
                assert_eq!(
                    std::mem::discriminant(&kind),
                    std::mem::discriminant(expected),
                    "{kind:?}"
                );
            }
            other => panic!("expected a spec error for {spec:?}, got {other:?}"),
        }
    }

    #[test]
    fn errors_say_where() {
        let unknown_generator = SpecErrorKind::UnknownGenerator {
            name: String::new(),
            known: "",
        };
        let unknown_key = SpecErrorKind::UnknownKey {
            generator: "",
            key: String::new(),
            known: "",
        };
        let bad_value = SpecErrorKind::BadValue {
            key: String::new(),
            value: String::new(),
            reason: String::new(),
        };
        check_spec_error("spiral:n=3", 0, &unknown_generator);
        check_spec_error("  moons", 2, &unknown_generator);
        check_spec_error("spirals:n=3, colour=red", 13, &unknown_key);
        check_spec_error("sine:label_noise=0.1", 5, &unknown_key);
        check_spec_error("spirals:n=three", 10, &bad_value);
        check_spec_error("spirals:n=3,noise=nan", 18, &bad_value);
        check_spec_error("teacher:classes=3,outputs=2", 26, &bad_value);
        check_spec_error(
            "xor:n=3,n=4",
            8,
            &SpecErrorKind::DuplicateKey { key: String::new() },
        );
        check_spec_error(
            "xor:n=3,noise",
            8,
            &SpecErrorKind::MissingEquals {
                token: String::new(),
            },
        );
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
        let teacher = Spec::parse("teacher:inputs=4,depth=1,width=8,outputs=2").unwrap();
        let GeneratorSpec::Teacher(config) = teacher.generator else {
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
        let spec = Spec::parse("circles:factor=1.5").unwrap();
        assert!(matches!(
            spec.generate::<f32>(),
            Err(DataError::InvalidConfig {
                field: "factor",
                ..
            })
        ));
    }
}

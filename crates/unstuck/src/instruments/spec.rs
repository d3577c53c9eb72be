//! `norms,noise:every=10,curvature:every=50,iters=20`: the instruments' spec, read with
//! core's grammar one instrument at a time.
//!
//! The text is cut at the commas that start a new instrument (a piece that is not
//! `key=value`); each instrument is parsed in a copy of the text blanked around it, so
//! every error's byte position is the user's.

use super::{CurvatureConfig, InstrumentConfig};
use unstuck_core::spec::{SpecArgs, SpecError, lookup, parse_spec};

/// The instrument names, in the order the help lists them.
pub const INSTRUMENTS: [&str; 4] = ["norms", "noise", "alpha", "curvature"];

impl InstrumentConfig {
    /// Reads an instrument spec (see the [module docs](crate::instruments)).
    ///
    /// ```
    /// use unstuck::instruments::InstrumentConfig;
    /// let config = InstrumentConfig::from_spec("norms,noise:every=10,curvature:every=50,iters=8").unwrap();
    /// assert_eq!(config.norms, Some(1));
    /// assert_eq!(config.noise, Some(10));
    /// assert_eq!(config.curvature.unwrap().iters, 8);
    /// let error = InstrumentConfig::from_spec("norms,nosie").unwrap_err();
    /// assert_eq!(error.position(), Some(6));
    /// ```
    pub fn from_spec(text: &str) -> Result<InstrumentConfig, SpecError> {
        let mut config = InstrumentConfig::default();
        for range in instrument_ranges(text) {
            let mut blank = vec![b' '; text.len()];
            blank[range.clone()].copy_from_slice(&text.as_bytes()[range]);
            // Blanking keeps byte positions; a multi-byte character outside the range
            // becomes spaces, which the grammar skips.
            let blank = String::from_utf8(blank).unwrap_or_else(|_| " ".repeat(text.len()));
            read_one(&blank, &mut config).map_err(|error| error.with_spec(text))?;
        }
        Ok(config)
    }
}

/// The byte ranges of the instruments: a comma starts a new one unless what follows it
/// is `key=...`.
fn instrument_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut depth = 0usize;
    for (index, byte) in text.bytes().enumerate() {
        match byte {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 0 && !is_key_value(&text[index + 1..]) => {
                ranges.push(start..index);
                start = index + 1;
            }
            _ => {}
        }
    }
    ranges.push(start..text.len());
    ranges
}

fn is_key_value(rest: &str) -> bool {
    let rest = rest.trim_start();
    let key_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    key_len > 0 && rest[key_len..].trim_start().starts_with('=')
}

fn read_one(text: &str, config: &mut InstrumentConfig) -> Result<(), SpecError> {
    let spec = parse_spec(text)?;
    let name = lookup(text, &spec, "instrument", &INSTRUMENTS, |n| n)?;
    let mut args = SpecArgs::new(text, &spec).owned_by(name);
    match *name {
        "curvature" => {
            let defaults = CurvatureConfig::default();
            config.curvature = Some(CurvatureConfig {
                every: args.u64("every", defaults.every)?,
                iters: args.usize("iters", defaults.iters)?,
                probes: args.usize("probes", defaults.probes)?,
                seed: args.u64("seed", defaults.seed)?,
            });
        }
        other => {
            let every = Some(args.u64("every", 1)?);
            match other {
                "norms" => config.norms = every,
                "noise" => config.noise = every,
                _ => config.alpha = every,
            }
        }
    }
    args.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_instrument_reads_its_keys_and_a_bad_key_is_named_at_its_byte() {
        let config =
            InstrumentConfig::from_spec("alpha:every=3, curvature:every=5,probes=0,seed=2")
                .unwrap();
        assert_eq!(config.alpha, Some(3));
        assert_eq!(
            config.curvature,
            Some(CurvatureConfig {
                every: 5,
                iters: 20,
                probes: 0,
                seed: 2
            })
        );
        let error = InstrumentConfig::from_spec("norms:every=2,iters=3").unwrap_err();
        assert_eq!(error.position(), Some(14), "{error}");
        assert!(
            error.to_string().contains("norms:every=2,iters=3"),
            "{error}"
        );
    }
}

//! Findings as claims: each sentence the report asserts comes with the predicate over the
//! experiment's numbers that makes it true, evaluated when the report is built.
//!
//! A claim that no longer holds (after a change to an optimizer, a seed, the data) fails
//! the build with its id, instead of leaving a sentence the numbers contradict.

use anyhow::{Result, bail};

/// One checked sentence of a finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// A stable name, e.g. `adam-crosses-the-plateau`: what a failing build reports.
    pub id: String,
    /// The sentence as the report prints it, with its numbers.
    pub text: String,
    /// The predicate, evaluated over the experiment's numbers.
    pub holds: bool,
    /// The predicate in words with the numbers it compared, for the failure message.
    pub test: String,
}

impl Claim {
    pub fn new(
        id: impl Into<String>,
        text: impl Into<String>,
        holds: bool,
        test: impl Into<String>,
    ) -> Self {
        Claim {
            id: id.into(),
            text: text.into(),
            holds,
            test: test.into(),
        }
    }
}

/// What an experiment found: a sentence of context (what was run, not itself a claim) and
/// the claims.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Finding {
    pub setup: String,
    pub claims: Vec<Claim>,
}

impl Finding {
    pub fn new(setup: impl Into<String>) -> Self {
        Finding {
            setup: setup.into(),
            claims: Vec::new(),
        }
    }

    pub fn claim(
        &mut self,
        id: impl Into<String>,
        text: impl Into<String>,
        holds: bool,
        test: impl Into<String>,
    ) {
        self.claims.push(Claim::new(id, text, holds, test));
    }

    /// Fails, naming every claim of `experiment` that does not hold.
    pub fn check(&self, experiment: &str) -> Result<()> {
        let broken: Vec<String> = self
            .claims
            .iter()
            .filter(|c| !c.holds)
            .map(|c| {
                format!(
                    "claim `{}` no longer holds ({}): \"{}\"",
                    c.id, c.test, c.text
                )
            })
            .collect();
        if broken.is_empty() {
            return Ok(());
        }
        bail!("experiment `{experiment}`: {}", broken.join("; "))
    }

    /// The Markdown: the setup, then the claims as a list, each with its id.
    pub fn markdown(&self) -> String {
        let mut out = format!("**Finding.** {}\n\n", self.setup);
        for claim in &self.claims {
            out.push_str(&format!("- {} <sub>[`{}`]</sub>\n", claim.text, claim.id));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_claim_fails_with_its_id_and_the_others_pass() {
        let mut finding = Finding::new("two runs");
        finding.claim("a-holds", "A is below B.", 1.0 < 2.0, "1 < 2");
        assert!(finding.check("demo").is_ok());
        finding.claim("b-broken", "C is below D.", 3.0 < 2.0, "3 < 2");
        let message = finding.check("demo").unwrap_err().to_string();
        assert!(message.contains("experiment `demo`"), "{message}");
        assert!(
            message.contains("claim `b-broken` no longer holds (3 < 2)"),
            "{message}"
        );
        assert!(!message.contains("a-holds"), "{message}");
    }

    #[test]
    fn the_markdown_lists_every_claim_with_its_id() {
        let mut finding = Finding::new("Setup.");
        finding.claim("x", "X.", true, "");
        finding.claim("y", "Y.", true, "");
        assert_eq!(
            finding.markdown(),
            "**Finding.** Setup.\n\n- X. <sub>[`x`]</sub>\n- Y. <sub>[`y`]</sub>\n"
        );
    }
}

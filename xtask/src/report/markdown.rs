//! Assembling the report's Markdown.

use super::Section;

/// A Markdown table; every row must have as many cells as there are headers.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        headers.join(" | "),
        "---|".repeat(headers.len())
    );
    for row in rows {
        assert_eq!(
            row.len(),
            headers.len(),
            "table row has the wrong number of cells"
        );
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}

/// `docs/report/README.md`: an introduction, then one section per experiment.
pub fn readme(quick: bool, sections: &[(&str, Section)]) -> String {
    let mut out = String::from(
        "# unstuck report: what to do when a network fails to train\n\n\
         Every number and figure below is produced by `cargo xtask report` from a fixed seed and \
         is bit-identical on every run and thread count (`cargo xtask report --check` verifies it; \
         `manifest.json` lists the SHA-256 of every artifact). Wall-clock timings change from \
         machine to machine, so they live in `timings.md` and the manifest, outside the hashes.\n\n",
    );
    if quick {
        out.push_str("> This is the `--quick` report: small sizes, for CI. The full report is in `docs/report/`.\n\n");
    }
    for (name, section) in sections {
        out.push_str(&format!(
            "## {} (`{name}`)\n\n**Finding.** {}\n\n{}\n",
            section.title, section.finding, section.body
        ));
    }
    out
}

/// `timings.md`: wall-clock figures, deliberately outside the hashed artifacts.
pub fn timings(entries: &[(String, f64)]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|(name, seconds)| vec![name.clone(), format!("{seconds:.6}")])
        .collect();
    format!(
        "# Timings\n\nMeasured on the machine that generated this report; not reproducible bit for bit, so not hashed.\n\n{}",
        table(&["what", "seconds"], &rows)
    )
}

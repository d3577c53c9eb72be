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
         `manifest.json` lists the SHA-256 of every artifact). Each finding is a list of claims; \
         each claim (its id in brackets) is a predicate over the experiment's numbers, checked \
         when the report is built: a claim that no longer holds fails the build. Wall-clock \
         timings change from machine to machine, so they stay out of this directory's hashed \
         files: every run writes them to `target/report-timings/`, and `timings.md` here is \
         refreshed only by `cargo xtask report --update`.\n\n",
    );
    if quick {
        out.push_str("> This is the `--quick` report: small sizes, for CI. The full report is in `docs/report/`.\n\n");
    }
    for (name, section) in sections {
        out.push_str(&format!(
            "## {} (`{name}`)\n\n{}\n{}\n",
            section.title,
            section.finding.markdown(),
            section.body
        ));
    }
    out
}

/// `timings.md`: wall-clock figures and the machine they were measured on, deliberately
/// outside the hashed artifacts.
pub fn timings(entries: &[(String, f64)]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|(name, seconds)| vec![name.clone(), format!("{seconds:.6}")])
        .collect();
    format!(
        "# Timings\n\nMeasured on the machine that generated this report ({}, {} rayon threads, {} kernels, {}); \
         not reproducible bit for bit, so not hashed. Each unit of a sharded report was timed on the \
         machine that ran its part.\n\n{}",
        super::source::cpu_name(),
        rayon::current_num_threads(),
        super::source::kernel_family(),
        super::source::rustc_version(),
        table(&["what", "seconds"], &rows)
    )
}

//! Which code made a report part, and which numeric kernels the machine picks.

use super::workspace_root;
use std::process::Command;
use std::sync::OnceLock;

fn git(args: &[&str]) -> Option<Vec<u8>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(workspace_root())
        .args(args)
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

/// The git commit of the workspace, with a digest of uncommitted changes to tracked files
/// (`abc123...+dirty:0f1e...`), or `unknown` without git. Parts from two different
/// sources are never merged.
pub fn source_id() -> String {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE
        .get_or_init(|| {
            let Some(head) = git(&["rev-parse", "HEAD"]) else {
                return "unknown".to_string();
            };
            let head = String::from_utf8_lossy(&head).trim().to_string();
            // Changes under docs/report/ are the report's own output, not its source.
            match git(&["diff", "HEAD", "--", ".", ":(exclude)docs/report"]) {
                Some(diff) if !diff.is_empty() => {
                    format!(
                        "{head}+dirty:{}",
                        &super::artifacts::sha256_hex(&diff)[..16]
                    )
                }
                _ => head,
            }
        })
        .clone()
}

/// The matrix-product kernels faer dispatches to on this CPU, decided the way faer decides
/// (`is_x86_feature_detected!`): the last bits of a product can differ between families,
/// so the report's hashes are for one family. The same on every machine of a kind.
pub fn kernel_family() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            "x86_64 AVX-512"
        } else if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
        {
            "x86_64 AVX2+FMA"
        } else {
            "x86_64 without AVX2"
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::env::consts::ARCH
    }
}

/// The CPU's model name, for timings only.
pub fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// `rustc --version`, for timings only.
pub fn rustc_version() -> String {
    Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

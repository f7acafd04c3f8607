//! `promtool` (Debian package `prometheus`): the judge of what the binaries
//! serve on `/metrics` (`check metrics`: the text format and Prometheus's
//! naming lint) and of the alert rules in `docker/prometheus/`.

use crate::process::filter;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `promtool` on the PATH. Panics with one line saying what to install.
pub fn binary() -> PathBuf {
    crate::process::on_path("promtool", "prometheus")
}

/// `docker/prometheus/` of the workspace: the rules and their tests.
pub fn prometheus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the test crate lives inside the workspace")
        .join("docker/prometheus")
}

/// Runs `promtool ARGS` in `dir` to its end.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run promtool {args:?}: {e}"))
}

/// `promtool check metrics` on a scrape: `Err` with promtool's findings.
pub fn check_metrics(text: &str) -> Result<(), String> {
    let mut cmd = Command::new(binary());
    cmd.args(["check", "metrics"]);
    let out = filter(&mut cmd, text.as_bytes()).expect("run promtool check metrics");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

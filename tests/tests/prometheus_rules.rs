//! The alert rules of the Compose stack's Prometheus (`docker/prometheus/`):
//! `promtool check rules` accepts every rule file, `promtool test rules`
//! passes every unit test, and each alert is tested both firing and not
//! firing.

use openclaw_e2e::promtool::{prometheus_dir, run};
use std::collections::BTreeMap;
use std::path::Path;

/// The `.yml` files of `docker/prometheus/<sub>`, relative to docker/prometheus.
fn files(sub: &str) -> Vec<String> {
    let dir = prometheus_dir().join(sub);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".yml"))
        .map(|n| format!("{sub}/{n}"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no .yml file in {}", dir.display());
    names
}

/// Runs `promtool SUBCOMMAND FILES...` in docker/prometheus and asserts success.
fn promtool_passes(subcommand: &[&str], files: &[String]) {
    let mut args = subcommand.to_vec();
    args.extend(files.iter().map(String::as_str));
    let out = run(&prometheus_dir(), &args);
    assert!(
        out.status.success(),
        "promtool {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn rule_files_pass_promtool_check() {
    promtool_passes(&["check", "rules"], &files("rules"));
}

#[test]
fn rule_unit_tests_pass() {
    promtool_passes(&["test", "rules"], &files("tests"));
}

/// Every `- alert: NAME` of the rule files.
fn alerts() -> Vec<String> {
    files("rules")
        .iter()
        .flat_map(|f| read(f).lines().map(str::to_string).collect::<Vec<_>>())
        .filter_map(|l| {
            l.trim()
                .strip_prefix("- alert:")
                .map(|n| n.trim().to_string())
        })
        .collect()
}

fn read(relative: &str) -> String {
    let path = prometheus_dir().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", Path::display(&path)))
}

/// For each alert name the unit tests evaluate: (tested not firing, tested firing).
fn tested_cases() -> BTreeMap<String, (bool, bool)> {
    let mut cases: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for file in files("tests") {
        let text = read(&file);
        let mut lines = text.lines().map(str::trim).filter(|l| !l.starts_with('#'));
        while let Some(line) = lines.next() {
            let Some(name) = line.strip_prefix("alertname:") else {
                continue;
            };
            let expected = lines.next().unwrap_or("");
            let case = cases.entry(name.trim().to_string()).or_default();
            if expected.starts_with("exp_alerts: []") {
                case.0 = true;
            } else {
                case.1 = true;
            }
        }
    }
    cases
}

#[test]
fn every_alert_is_tested_firing_and_not_firing() {
    let cases = tested_cases();
    let missing: Vec<String> = alerts()
        .into_iter()
        .filter_map(|a| match cases.get(&a) {
            Some((true, true)) => None,
            Some((quiet, _)) => Some(format!(
                "{a}: no case where it {}",
                if *quiet { "fires" } else { "stays quiet" }
            )),
            None => Some(format!("{a}: not tested")),
        })
        .collect();
    assert!(
        missing.is_empty(),
        "docker/prometheus/tests must show each alert firing and not firing:\n{}",
        missing.join("\n")
    );
}

//! The Grafana dashboard (`docker/grafana/dashboards/openclaw.json`) and the
//! alert rules (`docker/prometheus/rules/`) against a real Prometheus
//! (Debian's binary) scraping a running local stack, the one `make run`
//! starts: Redis, three gateway nodes on `conf/gateway.json` (sessions and
//! the leader lease in Redis, active-active), the edge on `conf/edge.yaml`
//! in front of them; only the ports differ (free loopback ports).
//!
//! After HTTP requests and WebSocket tunnels through the edge:
//!
//! - every query of the dashboard (each panel's targets, rows included; the
//!   `upstream` variable's `label_values`; annotations), with its template
//!   variables substituted, parses and returns data: at least one series,
//!   and for panels at least one value that is a number (not `NaN`);
//! - every alert rule is loaded and healthy, and "returns data" in this
//!   sense: its expression parses, and its *data part* returns at least one
//!   series. The data part is what the alert compares or tests for absence:
//!   a top-level comparison with a number is dropped (`X > 0.05` -> `X`),
//!   both sides are kept when neither is a number, `absent(X)` is replaced
//!   by `X` (`absent(...)` of a misspelled name would have data), `a or b`
//!   and `a and b` need both, `a unless b` needs `a`.
//!   In a healthy stack the alert itself must be quiet, so the whole
//!   expression is expected to be empty and cannot show the metrics exist;
//! - in every query (dashboard and alerts), every metric selector on its own
//!   (`name{matchers}`) has series: a name that no binary serves, or a
//!   label value that never occurs, fails the test even where an outer
//!   `or`, `absent` or aggregation would hide it;
//! - the healthy stack raises no alert.
//!
//! Then the leader node is killed (SIGKILL): its `OpenclawGatewayDown`
//! alert goes pending (its `for:` is 30 s; pending is enough), the edge's
//! `OpenclawEdgeUpstreamServerDown` for that server too, and the dashboard's
//! leader query names another node, with a failover counted.

use openclaw_e2e::gateway::{command, wait_started};
use openclaw_e2e::lifecycle::EdgeFiles;
use openclaw_e2e::ports::free_port;
use openclaw_e2e::process::ChildProcess;
use openclaw_e2e::prometheus::{docker_dir, sample_value, Job, Prometheus};
use openclaw_e2e::protocol::ProtoClient;
use openclaw_e2e::redis::Redis;
use openclaw_e2e::wait::until_some;
use openclaw_e2e::{bounded, Request};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The local stack's token (conf/gateway.json).
const TOKEN: &str = "local-dev-token";
/// Scrape and rule evaluation interval of the test's Prometheus.
const INTERVAL: Duration = Duration::from_secs(1);
/// What the test puts for Grafana's interval variables. `$__rate_interval`
/// and `$__range` cover the whole test, so every request it made counts.
const INTERVALS: [(&str, &str); 6] = [
    ("${__rate_interval}", "1m"),
    ("$__rate_interval", "1m"),
    ("${__interval}", "15s"),
    ("$__interval", "15s"),
    ("${__range}", "5m"),
    ("$__range", "5m"),
];

// ------------------------------------------------------------------ PromQL text

/// PromQL keywords and operators that are not metric names.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "atan2",
    "inf",
    "nan",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];
/// Keywords followed by a parenthesized list of label names.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The byte offset just past the quoted string starting at `i`.
fn skip_string(s: &[u8], i: usize) -> usize {
    let quote = s[i];
    let mut j = i + 1;
    while j < s.len() && s[j] != quote {
        if s[j] == b'\\' && quote != b'`' {
            j += 1;
        }
        j += 1;
    }
    (j + 1).min(s.len())
}

/// The byte offset just past the bracket group (`(`, `{`, `[`) opening at `i`.
fn skip_group(s: &[u8], i: usize) -> usize {
    let mut depth = 0usize;
    let mut j = i;
    while j < s.len() {
        match s[j] {
            b'"' | b'\'' | b'`' => {
                j = skip_string(s, j);
                continue;
            }
            b'(' | b'{' | b'[' => depth += 1,
            b')' | b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    s.len()
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

/// The offset of the next non-blank byte at or after `i`.
fn skip_blank(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && s[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Every instant-vector selector of `expr` as written: `name`,
/// `name{matchers}` or `{matchers}` (range brackets and offsets left out).
fn selectors(expr: &str) -> Vec<String> {
    let s = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c == b'"' || c == b'\'' || c == b'`' {
            i = skip_string(s, i);
        } else if c == b'[' {
            i = skip_group(s, i);
        } else if c == b'{' {
            let end = skip_group(s, i);
            out.push(expr[i..end].to_string());
            i = end;
        } else if c.is_ascii_digit() || c == b'.' {
            // Numbers and durations (1e3, 0.99, 5m).
            while i < s.len() && (is_ident(s[i]) || s[i] == b'.') {
                i += 1;
            }
        } else if is_ident_start(c) {
            let start = i;
            while i < s.len() && is_ident(s[i]) {
                i += 1;
            }
            let word = &expr[start..i];
            let next = skip_blank(s, i);
            let lower = word.to_ascii_lowercase();
            if LABEL_LISTS.contains(&lower.as_str()) {
                if next < s.len() && s[next] == b'(' {
                    i = skip_group(s, next);
                }
            } else if KEYWORDS.contains(&lower.as_str()) || (next < s.len() && s[next] == b'(') {
                // An operator, or a function called here.
            } else if next < s.len() && s[next] == b'{' {
                let end = skip_group(s, next);
                out.push(format!("{word}{}", &expr[next..end]));
                i = end;
            } else {
                out.push(word.to_string());
            }
        } else {
            i += 1;
        }
    }
    out
}

/// PromQL's binary operators that an alert's data part is split at, from
/// the loosest binding: `or`; `and`, `unless`; the comparisons (longest
/// first). Arithmetic binds tighter and stays inside a part.
const SPLIT_AT: [&[&str]; 3] = [
    &["or"],
    &["and", "unless"],
    &["==", "!=", ">=", "<=", ">", "<"],
];

/// The last of `ops` at the top level of `expr` (outside brackets and
/// strings; words only as whole words): its offset and operator.
fn top_operator(expr: &str, ops: &[&'static str]) -> Option<(usize, &'static str)> {
    let s = expr.as_bytes();
    let mut found = None;
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'"' | b'\'' | b'`' => {
                i = skip_string(s, i);
                continue;
            }
            b'(' | b'{' | b'[' => {
                i = skip_group(s, i);
                continue;
            }
            c if is_ident_start(c) || c.is_ascii_digit() => {
                let start = i;
                while i < s.len() && (is_ident(s[i]) || s[i] == b'.') {
                    i += 1;
                }
                let word = &expr[start..i];
                if let Some(op) = ops.iter().find(|op| word.eq_ignore_ascii_case(op)) {
                    found = Some((start, *op));
                }
                continue;
            }
            _ => {}
        }
        if let Some(op) = ops.iter().find(|op| s[i..].starts_with(op.as_bytes())) {
            found = Some((i, *op));
            i += op.len();
            continue;
        }
        i += 1;
    }
    found
}

/// `text` less the modifiers a binary operator may carry in front of its
/// right-hand side: `bool`, `on (...)`, `ignoring (...)`, `group_left (...)`,
/// `group_right (...)`.
fn strip_modifiers(text: &str) -> &str {
    let mut rest = text.trim_start();
    loop {
        let word_end = rest
            .bytes()
            .position(|c| !is_ident(c))
            .unwrap_or(rest.len());
        let word = rest[..word_end].to_ascii_lowercase();
        if word == "bool" {
            rest = rest[word_end..].trim_start();
        } else if ["on", "ignoring", "group_left", "group_right"].contains(&word.as_str()) {
            rest = rest[word_end..].trim_start();
            if rest.starts_with('(') {
                rest = rest[skip_group(rest.as_bytes(), 0)..].trim_start();
            }
        } else {
            return rest;
        }
    }
}

/// If `expr` is `name( ... )` as a whole: the text inside the parentheses.
fn call_arg<'a>(expr: &'a str, name: &str) -> Option<&'a str> {
    let rest = expr.strip_prefix(name)?;
    let open = skip_blank(rest.as_bytes(), 0);
    if rest.as_bytes().get(open) != Some(&b'(') {
        return None;
    }
    let end = skip_group(rest.as_bytes(), open);
    (end == rest.len()).then(|| &rest[open + 1..end - 1])
}

/// The data part of an alert expression (see the module doc): what must
/// return series in a healthy stack for the alert to be able to fire.
fn data_parts(expr: &str) -> Vec<String> {
    let expr = expr.trim();
    if let Some(inner) = call_arg(expr, "").filter(|_| expr.starts_with('(')) {
        return data_parts(inner);
    }
    for f in ["absent", "absent_over_time"] {
        if let Some(inner) = call_arg(expr, f) {
            return data_parts(inner);
        }
    }
    let Some((at, op)) = SPLIT_AT.iter().find_map(|ops| top_operator(expr, ops)) else {
        return vec![expr.to_string()];
    };
    let lhs = &expr[..at];
    let rhs = strip_modifiers(&expr[at + op.len()..]);
    let number = |t: &str| t.trim().parse::<f64>().is_ok();
    let mut parts = Vec::new();
    if !number(lhs) {
        parts.extend(data_parts(lhs));
    }
    // `a unless b` fires from `a`; `b` may well be empty (its selectors are
    // still checked on their own).
    if !number(rhs) && op != "unless" {
        parts.extend(data_parts(rhs));
    }
    parts
}

#[test]
fn promql_text_helpers() {
    assert_eq!(
        selectors(
            "sum by (job, instance, le) (rate(openclaw_edge_requests_total{upstream!=\"\",code=\"5xx\"}[5m])) / up > 0.05"
        ),
        [
            "openclaw_edge_requests_total{upstream!=\"\",code=\"5xx\"}",
            "up"
        ]
    );
    assert_eq!(
        selectors("absent(openclaw_gateway_leader{job=\"a,}b\"} == 1) or on (x) {__name__=\"m\"} offset 5m"),
        ["openclaw_gateway_leader{job=\"a,}b\"}", "{__name__=\"m\"}"]
    );
    assert_eq!(
        selectors("histogram_quantile(0.99, sum without (le) (x_bucket))"),
        ["x_bucket"]
    );
    assert_eq!(data_parts("up{job=\"e\"} == 0"), ["up{job=\"e\"}"]);
    assert_eq!(
        data_parts("absent(openclaw_gateway_leader{job=\"g\"} == 1)"),
        ["openclaw_gateway_leader{job=\"g\"}"]
    );
    assert_eq!(
        data_parts("count by (job) (openclaw_gateway_leader == 1) > 1"),
        ["count by (job) (openclaw_gateway_leader == 1)"]
    );
    assert_eq!(
        data_parts("a / b > bool 0.05"),
        ["a / b"],
        "arithmetic binds tighter than the comparison"
    );
    assert_eq!(data_parts("(a > b)"), ["a", "b"]);
    assert_eq!(
        data_parts("x_or_y == 0 or absent(up{job=\"or\"}) unless on (i) group_left z"),
        ["x_or_y", "up{job=\"or\"}"]
    );
    assert_eq!(data_parts("a and on (i) b"), ["a", "b"]);
    assert_eq!(data_parts("rate(x[5m])"), ["rate(x[5m])"]);
}

// ------------------------------------------------------------------ the stack

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the test crate lives inside the workspace")
        .to_path_buf()
}

/// `text` with `from` replaced by `to`, which must occur in it.
fn replaced(text: &str, from: &str, to: &str, file: &str) -> String {
    assert!(
        text.contains(from),
        "{file} no longer contains {from}: update this test"
    );
    text.replace(from, to)
}

/// One gateway node run as `make run` runs it: `conf/gateway.json` through
/// OPENCLAW_CONFIG_PATH, its port through OPENCLAW_GATEWAY_PORT.
struct Node {
    name: String,
    addr: SocketAddr,
    process: Option<ChildProcess>,
    _dir: TempDir,
}

impl Node {
    async fn start(name: &str, config: &Path) -> Node {
        let dir = tempfile::Builder::new()
            .prefix("openclaw-dash-node-")
            .tempdir()
            .expect("temp dir");
        let port = free_port();
        let mut cmd = command(dir.path());
        cmd.env("OPENCLAW_CONFIG_PATH", config)
            .env("OPENCLAW_GATEWAY_PORT", port.to_string())
            .args(["gateway", "run", "--node", name]);
        let mut process = ChildProcess::spawn(&format!("openclaw-{name}"), &mut cmd, dir.path());
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_started(&mut process, addr, name).await;
        Node {
            name: name.to_string(),
            addr,
            process: Some(process),
            _dir: dir,
        }
    }
}

// ------------------------------------------------------------------ the dashboard

/// One query of the dashboard: where it is, and its text.
struct DashQuery {
    place: String,
    expr: String,
    /// Panels must show numbers; annotations mark events (comparisons).
    panel: bool,
}

/// The dashboard's file.
fn dashboard() -> Value {
    let path = docker_dir().join("grafana/dashboards/openclaw.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every panel of `panels`, rows' nested panels included.
fn all_panels(panels: &Value, out: &mut Vec<Value>) {
    for p in panels.as_array().into_iter().flatten() {
        out.push(p.clone());
        all_panels(&p["panels"], out);
    }
}

/// The checks that need no Prometheus: the model's shape, every panel on
/// the datasource variable, unique panel ids, no overlapping panels.
/// Returns the panels.
fn check_model(d: &Value) -> Vec<Value> {
    assert!(
        d["schemaVersion"].as_u64().unwrap_or(0) >= 36,
        "schemaVersion"
    );
    assert!(d["uid"].is_string() && d["title"].is_string());
    let vars = d["templating"]["list"].as_array().expect("templating.list");
    assert!(
        vars.iter().any(|v| v["name"] == "datasource"
            && v["type"] == "datasource"
            && v["query"] == "prometheus"),
        "a `datasource` variable of type datasource picks the Prometheus"
    );
    let ds = json!({"type": "prometheus", "uid": "${datasource}"});
    let mut panels = Vec::new();
    all_panels(&d["panels"], &mut panels);
    let mut ids = BTreeSet::new();
    // Grid cells (24 columns) to the panel covering them: none twice.
    let mut cells = std::collections::BTreeMap::new();
    for p in &panels {
        let title = p["title"].as_str().unwrap_or("?");
        assert!(
            ids.insert(p["id"].as_u64().expect("panel id")),
            "panel id of {title} is not unique"
        );
        let g = |k: &str| p["gridPos"][k].as_u64().expect("gridPos") as usize;
        assert!(
            g("x") + g("w") <= 24,
            "panel {title} is wider than the grid"
        );
        for x in g("x")..g("x") + g("w") {
            for y in g("y")..g("y") + g("h") {
                if let Some(other) = cells.insert((x, y), title) {
                    panic!("panels {other} and {title} overlap at ({x}, {y})");
                }
            }
        }
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"], ds, "datasource of panel {title}");
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {title} has no query");
        for t in targets {
            assert_eq!(t["datasource"], ds, "datasource of a query of {title}");
        }
    }
    panels
}

/// `expr` with the template variables substituted: the interval variables
/// and `$upstream` (an alternation of the `upstream` values Prometheus has).
fn substitute(expr: &str, upstreams: &str) -> String {
    let mut out = expr.to_string();
    for (var, value) in INTERVALS {
        out = out.replace(var, value);
    }
    for var in ["${upstream:regex}", "${upstream}", "$upstream"] {
        out = out.replace(var, upstreams);
    }
    assert!(
        !out.contains('$'),
        "a template variable the test does not know in: {expr}"
    );
    out
}

/// Every query of the dashboard, variables substituted; `label_values`
/// variable queries checked (and the `upstream` values read) on the way.
async fn dashboard_queries(prom: &Prometheus, d: &Value, panels: &[Value]) -> Vec<DashQuery> {
    let mut upstreams = Vec::new();
    for v in d["templating"]["list"].as_array().into_iter().flatten() {
        if v["type"] != "query" {
            continue;
        }
        let def = v["definition"].as_str().expect("variable definition");
        let args = def
            .strip_prefix("label_values(")
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or_else(|| panic!("variable {}: not label_values(..): {def}", v["name"]));
        let (metric, label) = args.rsplit_once(',').expect("label_values(metric, label)");
        let (metric, label) = (metric.trim(), label.trim());
        let q = format!("count by ({label}) ({metric})");
        let values: Vec<String> = prom
            .query(&q)
            .await
            .unwrap_or_else(|e| panic!("variable {}: {q}: {e}", v["name"]))
            .iter()
            .filter_map(|s| s["metric"][label].as_str().map(str::to_string))
            .collect();
        assert!(
            !values.is_empty(),
            "variable {} ({def}) has no value",
            v["name"]
        );
        if v["name"] == "upstream" {
            upstreams = values;
        }
    }
    assert!(
        !upstreams.is_empty(),
        "the dashboard has an upstream variable"
    );
    let upstreams = upstreams.join("|");
    let mut out = Vec::new();
    for p in panels {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("a query of panel {} has no expr", p["title"]));
            out.push(DashQuery {
                place: format!(
                    "panel \"{}\" {}",
                    p["title"].as_str().unwrap_or("?"),
                    t["refId"]
                ),
                expr: substitute(expr, &upstreams),
                panel: true,
            });
        }
    }
    for a in d["annotations"]["list"].as_array().into_iter().flatten() {
        if let Some(expr) = a["expr"].as_str() {
            out.push(DashQuery {
                place: format!("annotation \"{}\"", a["name"].as_str().unwrap_or("?")),
                expr: substitute(expr, &upstreams),
                panel: false,
            });
        }
    }
    out
}

// ------------------------------------------------------------------ checks

/// Checks every selector of `expr` on its own; the failures, described.
async fn selectors_have_series(prom: &Prometheus, place: &str, expr: &str) -> Vec<String> {
    let mut failures = Vec::new();
    for sel in selectors(expr) {
        match prom.query(&format!("count({sel})")).await {
            Ok(r) if !r.is_empty() => {}
            Ok(_) => failures.push(format!("{place}: no series for {sel}")),
            Err(e) => failures.push(format!("{place}: count({sel}): {e}")),
        }
    }
    failures
}

/// A short account of a result, for the report.
fn describe(result: &[Value]) -> String {
    let values: Vec<String> = result
        .iter()
        .take(4)
        .map(|s| format!("{}", sample_value(s).unwrap_or(f64::NAN)))
        .collect();
    format!("{} series [{}]", result.len(), values.join(", "))
}

/// One dashboard query checked now: its selectors have series, and it
/// returns data (a panel: a number among its values; an annotation, which
/// marks events: its data part, as for alerts). `Err((fatal, why))`, fatal
/// if Prometheus refused the query.
async fn check_query(prom: &Prometheus, q: &DashQuery) -> Result<String, (bool, String)> {
    let missing = selectors_have_series(prom, &q.place, &q.expr).await;
    if !missing.is_empty() {
        return Err((false, missing.join("\n")));
    }
    let parts = if q.panel {
        vec![q.expr.clone()]
    } else {
        prom.query(&q.expr)
            .await
            .map_err(|e| (true, format!("{}: {e}\n    {}", q.place, q.expr)))?;
        data_parts(&q.expr)
    };
    let mut seen = Vec::new();
    for part in parts {
        let r = prom
            .query(&part)
            .await
            .map_err(|e| (true, format!("{}: {e}\n    {part}", q.place)))?;
        let numbers = r
            .iter()
            .any(|s| sample_value(s).is_some_and(|v| !v.is_nan()));
        if r.is_empty() || (q.panel && !numbers) {
            return Err((
                false,
                format!("{}: no data ({})\n    {part}", q.place, describe(&r)),
            ));
        }
        seen.push(describe(&r));
    }
    Ok(format!("ok  {}: {}", q.place, seen.join("; ")))
}

/// Polls until every dashboard query passes [`check_query`], or the
/// deadline (new series and rate windows need a few scrapes); the failures
/// then. Queries Prometheus refuses fail at once.
async fn check_dashboard(prom: &Prometheus, queries: &[DashQuery]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut failures = Vec::new();
        let mut report = Vec::new();
        for q in queries {
            match check_query(prom, q).await {
                Ok(line) => report.push(line),
                Err((true, why)) => return vec![why],
                Err((false, why)) => failures.push(why),
            }
        }
        if failures.is_empty() || Instant::now() >= deadline {
            eprintln!("{}", report.join("\n"));
            return failures;
        }
        tokio::time::sleep(INTERVAL).await;
    }
}

/// The `- alert:` names of the rule files.
fn alert_names_in_files() -> BTreeSet<String> {
    let dir = docker_dir().join("prometheus/rules");
    let mut names = BTreeSet::new();
    for e in std::fs::read_dir(&dir).expect("docker/prometheus/rules") {
        let path = e.expect("dir entry").path();
        if path.extension().is_some_and(|x| x == "yml") {
            let text = std::fs::read_to_string(&path).expect("rule file");
            names.extend(
                text.lines()
                    .filter_map(|l| l.trim().strip_prefix("- alert:"))
                    .map(|n| n.trim().to_string()),
            );
        }
    }
    names
}

/// Every alert rule loaded, healthy, parsing, its data part returning data
/// and its selectors having series; the failures.
async fn check_alerts(prom: &Prometheus) -> Vec<String> {
    let rules: Vec<Value> = until_some(
        "the rules evaluated once",
        Duration::from_secs(10),
        || async {
            let rules = prom.rules().await;
            rules
                .iter()
                .all(|r| {
                    r["lastEvaluation"]
                        .as_str()
                        .is_some_and(|t| !t.starts_with("0001"))
                })
                .then_some(rules)
        },
    )
    .await;
    let loaded: BTreeSet<String> = rules
        .iter()
        .filter(|r| r["type"] == "alerting")
        .filter_map(|r| r["name"].as_str().map(str::to_string))
        .collect();
    let mut failures = Vec::new();
    let in_files = alert_names_in_files();
    if loaded != in_files {
        failures.push(format!(
            "alerts in the rule files {in_files:?}, loaded by Prometheus {loaded:?}"
        ));
    }
    for r in rules.iter().filter(|r| r["type"] == "alerting") {
        let name = r["name"].as_str().unwrap_or("?");
        let expr = r["query"].as_str().expect("rule query");
        let place = format!("alert {name}");
        if r["health"] != "ok" {
            failures.push(format!(
                "{place}: health {} {}",
                r["health"], r["lastError"]
            ));
        }
        if let Err(e) = prom.query(expr).await {
            failures.push(format!("{place}: {e}\n    {expr}"));
            continue;
        }
        for part in data_parts(expr) {
            match prom.query(&part).await {
                Ok(res) if !res.is_empty() => {
                    eprintln!("ok  {place}: {} <- {part}", describe(&res))
                }
                Ok(_) => failures.push(format!("{place}: no data for {part}\n    {expr}")),
                Err(e) => failures.push(format!("{place}: {part}: {e}")),
            }
        }
        failures.extend(selectors_have_series(prom, &place, expr).await);
    }
    failures
}

/// `(alertname, instance-or-server label, state)` of the active alerts.
async fn active_alerts(prom: &Prometheus) -> Vec<(String, String, String)> {
    prom.alerts()
        .await
        .iter()
        .map(|a| {
            let l = &a["labels"];
            let who = l["instance"]
                .as_str()
                .into_iter()
                .chain(l["server"].as_str())
                .collect::<Vec<_>>()
                .join(" ");
            (
                l["alertname"].as_str().unwrap_or("?").to_string(),
                who,
                a["state"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

/// The instances the dashboard's leader query names.
async fn leaders(prom: &Prometheus) -> Vec<String> {
    prom.query("openclaw_gateway_leader == 1")
        .await
        .expect("leader query")
        .iter()
        .filter_map(|s| s["metric"]["instance"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_and_alerts_have_data_and_a_dead_node_alerts() {
    let started = Instant::now();
    bounded(Duration::from_secs(180), async {
        let d = dashboard();
        let panels = check_model(&d);

        // The stack: conf/gateway.json and conf/edge.yaml on free ports.
        let redis = Redis::start().await;
        let conf_dir = tempfile::Builder::new()
            .prefix("openclaw-dash-conf-")
            .tempdir()
            .expect("temp dir");
        let gateway_json = std::fs::read_to_string(root().join("conf/gateway.json"))
            .expect("conf/gateway.json");
        let gateway_json = replaced(
            &gateway_json,
            "redis://127.0.0.1:16379",
            &redis.url(),
            "conf/gateway.json",
        );
        let node_config = conf_dir.path().join("gateway.json");
        std::fs::write(&node_config, gateway_json).expect("write gateway.json");
        let mut nodes = Vec::new();
        for i in 1..=3 {
            nodes.push(Node::start(&format!("node{i}"), &node_config).await);
        }

        let files = EdgeFiles::new();
        let mut edge_yaml =
            std::fs::read_to_string(root().join("conf/edge.yaml")).expect("conf/edge.yaml");
        for (i, node) in nodes.iter().enumerate() {
            let local = format!("127.0.0.1:{}", 18789 + i);
            edge_yaml = replaced(&edge_yaml, &local, &node.addr.to_string(), "conf/edge.yaml");
        }
        edge_yaml = replaced(&edge_yaml, "0.0.0.0:8080", &files.listen.to_string(), "conf/edge.yaml");
        edge_yaml = replaced(&edge_yaml, "127.0.0.1:9901", &files.admin.to_string(), "conf/edge.yaml");
        files.write(&edge_yaml);
        let _edge = files.start("edge").await;

        // Prometheus as in docker/prometheus/prometheus.yml (same job names,
        // the same rule files), scraping every second.
        let node_addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
        let prom = Prometheus::start(
            &[
                Job::new("openclaw-edge", &[files.admin]),
                Job::new("openclaw-gateway", &node_addrs),
            ],
            &[docker_dir().join("prometheus/rules/*.yml")],
            INTERVAL,
        )
        .await;
        until_some("every target up in Prometheus", Duration::from_secs(20), || async {
            let up = prom.query("up == 1").await.ok()?;
            (up.len() == 4).then_some(())
        })
        .await;
        until_some("a leader", Duration::from_secs(20), || async {
            (leaders(&prom).await.len() == 1).then_some(())
        })
        .await;

        // Traffic: HTTP requests (2xx and 4xx), WebSocket tunnels with
        // protocol calls, one of them closed.
        for i in 0..30 {
            let path = if i % 5 == 4 { "/no-such-page" } else { "/health" };
            let r = Request::get(files.listen, path)
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {path} through the edge: {e}"));
            assert!(r.status < 500, "GET {path} through the edge: {}", r.status);
        }
        let url = format!("ws://{}", files.listen);
        let (mut open, _) = ProtoClient::hello(&url, TOKEN).await;
        open.call("health", json!({})).await.expect("health");
        let (mut closed, _) = ProtoClient::hello(&url, TOKEN).await;
        closed.call("status", json!({})).await.expect("status");
        closed.close_with(1000).await;
        drop(closed);

        // Every dashboard query returns data.
        let queries = dashboard_queries(&prom, &d, &panels).await;
        assert!(queries.len() >= 30, "{} dashboard queries", queries.len());
        let mut failures = check_dashboard(&prom, &queries).await;
        // Every alert expression parses and its data part returns data.
        failures.extend(check_alerts(&prom).await);
        assert!(
            failures.is_empty(),
            "{} problems:\n{}",
            failures.len(),
            failures.join("\n")
        );
        eprintln!(
            "{} dashboard queries and every alert checked at {:?}",
            queries.len(),
            started.elapsed()
        );

        // A healthy stack is quiet.
        until_some("no alert pending or firing", Duration::from_secs(20), || async {
            active_alerts(&prom).await.is_empty().then_some(())
        })
        .await;

        // The leader dies: its alerts go pending, another node leads.
        let leader = leaders(&prom).await.pop().expect("a leader");
        let victim = nodes
            .iter_mut()
            .find(|n| n.addr.to_string() == leader)
            .expect("the leader is one of the nodes");
        eprintln!("killing the leader {} ({leader})", victim.name);
        victim.process = None;
        let killed_at = Instant::now();
        let want = [
            ("OpenclawGatewayDown", leader.clone()),
            ("OpenclawEdgeUpstreamServerDown", format!("{} {leader}", files.admin)),
        ];
        until_some(
            "the dead node's alerts pending or firing",
            Duration::from_secs(30),
            || async {
                let active = active_alerts(&prom).await;
                want.iter()
                    .all(|(name, who)| {
                        active.iter().any(|(n, w, state)| {
                            n == name && w == who && (state == "pending" || state == "firing")
                        })
                    })
                    .then_some(())
            },
        )
        .await;
        eprintln!(
            "OpenclawGatewayDown and OpenclawEdgeUpstreamServerDown pending {:?} after the kill: {:?}",
            killed_at.elapsed(),
            active_alerts(&prom).await
        );
        until_some("another node leads, a failover counted", Duration::from_secs(30), || async {
            let now = leaders(&prom).await;
            let failovers = prom
                .query("sum(openclaw_gateway_failovers_total)")
                .await
                .ok()?
                .first()
                .and_then(sample_value)?;
            (now.len() == 1 && now[0] != leader && failovers >= 1.0).then_some(())
        })
        .await;
        eprintln!(
            "new leader {:?} {:?} after the kill; whole test {:?}",
            leaders(&prom).await,
            killed_at.elapsed(),
            started.elapsed()
        );
        // The open tunnel went through the dead node or another: either way
        // it is only closed here.
        drop(open);
        drop(prom);
        drop(nodes);
        drop(redis);
    })
    .await;
}

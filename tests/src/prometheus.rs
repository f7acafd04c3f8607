//! A real Prometheus server (Debian's `prometheus`, the package that also
//! brings `promtool`) on a loopback port, killed on drop: it scrapes the
//! targets a test names, evaluates alert rule files, and answers through its
//! HTTP API (`/api/v1/query`, `/api/v1/rules`, `/api/v1/alerts`).

use crate::client::Request;
use crate::ports::free_addr;
use crate::process::ChildProcess;
use crate::wait::until_some;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;

/// `prometheus` on the PATH. Panics with one line saying what to install.
pub fn binary() -> PathBuf {
    crate::process::on_path("prometheus", "prometheus")
}

/// One scrape job: its name (the `job` label) and targets.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub targets: Vec<SocketAddr>,
}

impl Job {
    /// A job scraping `/metrics` of `targets` over plain HTTP.
    pub fn new(name: &str, targets: &[SocketAddr]) -> Job {
        Job {
            name: name.to_string(),
            targets: targets.to_vec(),
        }
    }
}

/// A running Prometheus.
pub struct Prometheus {
    process: ChildProcess,
    addr: SocketAddr,
    _dir: TempDir,
}

/// The config file's text: every job scraped and every rule evaluated each
/// `interval`.
fn config(jobs: &[Job], rule_files: &[PathBuf], interval: Duration) -> String {
    let secs = format!("{}ms", interval.as_millis());
    let mut out = format!(
        "# written by the test harness\nglobal:\n  scrape_interval: {secs}\n  scrape_timeout: {secs}\n  evaluation_interval: {secs}\nrule_files:\n"
    );
    for f in rule_files {
        out.push_str(&format!("  - \"{}\"\n", f.display()));
    }
    out.push_str("scrape_configs:\n");
    for job in jobs {
        let targets: Vec<String> = job.targets.iter().map(|t| format!("\"{t}\"")).collect();
        out.push_str(&format!(
            "  - job_name: \"{}\"\n    static_configs:\n      - targets: [{}]\n",
            job.name,
            targets.join(", ")
        ));
    }
    out
}

impl Prometheus {
    /// Starts one on a free loopback port with `jobs` and `rule_files`
    /// (paths or globs), scraping and evaluating every `interval`; waits
    /// until it is ready.
    pub async fn start(jobs: &[Job], rule_files: &[PathBuf], interval: Duration) -> Prometheus {
        let dir = tempfile::Builder::new()
            .prefix("openclaw-prometheus-")
            .tempdir()
            .expect("temp dir");
        let file = dir.path().join("prometheus.yml");
        std::fs::write(&file, config(jobs, rule_files, interval)).expect("write prometheus.yml");
        let addr = free_addr();
        let mut cmd = Command::new(binary());
        cmd.arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .current_dir(dir.path());
        let mut process = ChildProcess::spawn("prometheus", &mut cmd, dir.path());
        until_some("prometheus /-/ready", Duration::from_secs(30), || {
            let exited = process.exited();
            let config = std::fs::read_to_string(&file).unwrap_or_default();
            async move {
                if let Some(status) = exited {
                    panic!("prometheus exited at start ({status}); its config:\n{config}");
                }
                let r = Request::get(addr, "/-/ready").send().await.ok()?;
                (r.status == 200).then_some(())
            }
        })
        .await;
        Prometheus {
            process,
            addr,
            _dir: dir,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        self.process.stderr()
    }

    /// `GET path` (with its query string) from the HTTP API: the JSON answer,
    /// errors included (`{"status":"error","error":...}`).
    pub async fn api(&self, path: &str) -> Value {
        let r = Request::get(self.addr, path)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path} from prometheus: {e}"));
        serde_json::from_slice(&r.body).unwrap_or_else(|e| {
            panic!(
                "GET {path} from prometheus: status {}, not JSON ({e}): {}",
                r.status,
                r.text()
            )
        })
    }

    /// An instant query now: the result's series (`{metric, value}`), or
    /// Prometheus's error (a query that does not parse, or fails).
    pub async fn query(&self, promql: &str) -> Result<Vec<Value>, String> {
        let answer = self
            .api(&format!("/api/v1/query?query={}", urlencode(promql)))
            .await;
        if answer["status"] != "success" {
            return Err(format!(
                "{}: {}",
                answer["errorType"].as_str().unwrap_or("error"),
                answer["error"].as_str().unwrap_or("(no message)")
            ));
        }
        match &answer["data"]["result"] {
            Value::Array(series) => Ok(series.clone()),
            // A scalar or string result: one value.
            other => Ok(vec![serde_json::json!({"metric": {}, "value": other})]),
        }
    }

    /// Every rule of every loaded group (`/api/v1/rules`): `name`, `query`,
    /// `type` (`alerting`, `recording`), `health`, `lastError`, `state`...
    pub async fn rules(&self) -> Vec<Value> {
        let answer = self.api("/api/v1/rules").await;
        assert_eq!(answer["status"], "success", "/api/v1/rules: {answer}");
        answer["data"]["groups"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// The alerts pending or firing now (`/api/v1/alerts`): `labels`,
    /// `state`, `activeAt`...
    pub async fn alerts(&self) -> Vec<Value> {
        let answer = self.api("/api/v1/alerts").await;
        assert_eq!(answer["status"], "success", "/api/v1/alerts: {answer}");
        answer["data"]["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// The value of one series of a query result, as a number (`NaN`, `+Inf`
/// included); `None` if it is not a number.
pub fn sample_value(series: &Value) -> Option<f64> {
    series["value"][1].as_str()?.parse().ok()
}

/// Percent-encodes `text` for a query string (everything but RFC 3986's
/// unreserved characters).
pub fn urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The workspace's `docker/` directory (dashboards, rules, Compose file).
pub fn docker_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the test crate lives inside the workspace")
        .join("docker")
}

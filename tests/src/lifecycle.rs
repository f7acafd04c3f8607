//! Running the edge from a config file the test controls, for what the
//! fixed [`crate::EdgeConfig`] cannot express: upstream-level keys
//! (`health_check`, `sticky`, `route`), reloads of an edited file, signals,
//! pid files and binary upgrades (two processes on one config).
//!
//! | item | purpose |
//! |---|---|
//! | [`EdgeFiles`] | a temp dir with `edge.yaml`, the pid file and the upgrade socket; admin queries |
//! | [`upstream`], [`server`], [`health_check`] | YAML fragments |
//! | [`signal`] | `kill(2)` on a pid |
//! | [`Silent`] | a listener that accepts TCP and never answers |
//! | [`Load`] | a bounded, steady HTTP load that counts failures |

use crate::client::Request;
use crate::edge::binary;
use crate::metrics::Metrics;
use crate::ports::free_addr;
use crate::process::ChildProcess;
use crate::wait::{accepts, until};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How long a starting edge may take to accept connections.
const START_LIMIT: Duration = Duration::from_secs(15);

/// The files of one edge setup: `edge.yaml`, `edge.pid`, `upgrade.sock`
/// in a temp dir, plus the two loopback addresses the config listens on.
/// Processes started from it log into the same dir, so declare the
/// `EdgeFiles` before the processes (dropped after them).
#[derive(Debug)]
pub struct EdgeFiles {
    dir: TempDir,
    /// The proxy listener.
    pub listen: SocketAddr,
    /// The admin listener.
    pub admin: SocketAddr,
}

impl Default for EdgeFiles {
    fn default() -> Self {
        EdgeFiles::new()
    }
}

impl EdgeFiles {
    /// A fresh temp dir and fresh loopback ports; no file written yet.
    pub fn new() -> EdgeFiles {
        let dir = tempfile::Builder::new()
            .prefix("openclaw-edge-life-")
            .tempdir()
            .expect("temp dir");
        EdgeFiles {
            dir,
            listen: free_addr(),
            admin: free_addr(),
        }
    }

    /// The config file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("edge.yaml")
    }

    /// The `pid_file` of the config.
    pub fn pid_path(&self) -> PathBuf {
        self.dir.path().join("edge.pid")
    }

    /// The `upgrade_sock` of the config.
    pub fn upgrade_sock_path(&self) -> PathBuf {
        self.dir.path().join("upgrade.sock")
    }

    /// A whole config: `top` (extra top-level lines, e.g. `grace_period: 5s\n`),
    /// the pid file, upgrade socket, admin listener, `upstreams` (a block of
    /// [`upstream`] entries; the first must be named `gw`) and one server on
    /// `listen` whose `/` proxies to `gw`, with `location_keys` on it.
    pub fn yaml(&self, top: &str, upstreams: &str, location_keys: &[&str]) -> String {
        let mut out = format!(
            "{top}pid_file: \"{}\"\nupgrade_sock: \"{}\"\nadmin:\n  listen: \"{}\"\nupstreams:\n{upstreams}\
             servers:\n  - listen: [\"{}\"]\n    locations:\n      - path: /\n        proxy_pass: http://gw\n",
            self.pid_path().display(),
            self.upgrade_sock_path().display(),
            self.admin,
            self.listen,
        );
        for key in location_keys {
            out.push_str(&format!("        {key}\n"));
        }
        out
    }

    /// Writes `yaml` to the config file (atomically: a reload never reads half a file).
    pub fn write(&self, yaml: &str) {
        let tmp = self.dir.path().join("edge.yaml.tmp");
        std::fs::write(&tmp, yaml).expect("write edge.yaml.tmp");
        std::fs::rename(&tmp, self.config_path()).expect("rename to edge.yaml");
    }

    /// Spawns `openclaw-edge ARGS -c edge.yaml` without waiting for anything;
    /// its output goes to `NAME.stdout` / `NAME.stderr` in the dir.
    pub fn spawn(&self, name: &str, args: &[&str]) -> ChildProcess {
        let mut cmd = Command::new(binary());
        cmd.args(args).arg("-c").arg(self.config_path());
        ChildProcess::spawn(name, &mut cmd, self.dir.path())
    }

    /// Spawns the edge on the config file and waits until both listeners
    /// accept; panics with its logs if it exits first.
    pub async fn start(&self, name: &str) -> ChildProcess {
        let mut process = self.spawn(name, &[]);
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if let Some(status) = process.exited() {
                panic!(
                    "openclaw-edge exited at start ({status}):\n{}\nconfig:\n{}",
                    process.logs(),
                    std::fs::read_to_string(self.config_path()).unwrap_or_default()
                );
            }
            if accepts(self.listen).await && accepts(self.admin).await {
                return process;
            }
            assert!(
                Instant::now() < deadline,
                "openclaw-edge did not accept on {} and {} within {START_LIMIT:?}",
                self.listen,
                self.admin
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Runs `openclaw-edge -s SIGNAL -c edge.yaml` to its end (bounded).
    pub async fn signal_cmd(&self, signal: &str) -> Output {
        let mut cmd = tokio::process::Command::new(binary());
        cmd.args(["-s", signal, "-c"])
            .arg(self.config_path())
            .kill_on_drop(true);
        tokio::time::timeout(Duration::from_secs(10), cmd.output())
            .await
            .unwrap_or_else(|_| panic!("openclaw-edge -s {signal} did not exit within 10s"))
            .unwrap_or_else(|e| panic!("cannot run openclaw-edge -s {signal}: {e}"))
    }

    /// The pid in the pid file, if there is a readable one.
    pub fn read_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.pid_path())
            .ok()
            .and_then(|t| t.trim().parse().ok())
    }

    /// `/api/status` from the admin listener.
    pub async fn status(&self) -> Value {
        let resp = Request::get(self.admin, "/api/status")
            .send()
            .await
            .expect("GET /api/status");
        assert_eq!(resp.status, 200, "/api/status: {}", resp.text());
        resp.json()
    }

    /// `(server, state)` of every server of upstream `upstream`, in order.
    pub async fn states(&self, upstream: &str) -> Vec<(String, String)> {
        let status = self.status().await;
        let ups = status["upstreams"].as_array().cloned().unwrap_or_default();
        let Some(u) = ups.iter().find(|u| u["name"] == upstream) else {
            return Vec::new();
        };
        u["servers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|s| {
                (
                    s["server"].as_str().unwrap_or("").to_string(),
                    s["state"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// The state of server `addr` in `upstream` (`None` if it is not there).
    pub async fn state_of(&self, upstream: &str, addr: SocketAddr) -> Option<String> {
        let addr = addr.to_string();
        self.states(upstream)
            .await
            .into_iter()
            .find(|(s, _)| *s == addr)
            .map(|(_, st)| st)
    }

    /// `/metrics` from the admin listener.
    pub async fn metrics(&self) -> Metrics {
        let resp = Request::get(self.admin, "/metrics")
            .send()
            .await
            .expect("GET /metrics");
        assert_eq!(resp.status, 200, "/metrics: {}", resp.text());
        Metrics::parse(&resp.text())
    }

    /// Waits until the upgrade socket exists (a `--upgrade` process is
    /// waiting for the listeners).
    pub async fn wait_upgrade_sock(&self, limit: Duration) {
        let path = self.upgrade_sock_path();
        until("the new process to open the upgrade socket", limit, || {
            let exists = path.exists();
            async move { exists }
        })
        .await;
    }
}

/// One entry of `upstreams:`: `NAME:` with `keys` (one YAML line each,
/// e.g. `balance: round_robin`) and `servers` (from [`server`]).
pub fn upstream(name: &str, keys: &[&str], servers: &[String]) -> String {
    let mut out = format!("  {name}:\n");
    for key in keys {
        out.push_str(&format!("    {key}\n"));
    }
    out.push_str("    servers:\n");
    for s in servers {
        out.push_str(&format!("      - {s}\n"));
    }
    out
}

/// A server entry: `{ address: "ADDR", EXTRA }` (`extra` may be empty).
pub fn server(addr: SocketAddr, extra: &str) -> String {
    if extra.is_empty() {
        format!("{{ address: \"{addr}\" }}")
    } else {
        format!("{{ address: \"{addr}\", {extra} }}")
    }
}

/// A `health_check:` line of type http on `/health`.
pub fn health_check(
    interval: Duration,
    rise: u32,
    fall: u32,
    timeout: Duration,
    default_down: bool,
) -> String {
    format!(
        "health_check: {{ type: http, interval: {}ms, rise: {rise}, fall: {fall}, timeout: {}ms, port: 0, \
         default_down: {default_down}, send: \"GET /health HTTP/1.0\\r\\n\\r\\n\", expect_alive: [http_2xx, http_3xx] }}",
        interval.as_millis(),
        timeout.as_millis()
    )
}

/// Sends `sig` (`libc::SIGTERM`...) to `pid`.
pub fn signal(pid: u32, sig: i32) -> std::io::Result<()> {
    let pid = i32::try_from(pid).expect("pid fits i32");
    // SAFETY: kill(2) on a pid of a child we started; no memory involved.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The hex MD5 of `text`, from the system's `md5sum` (the sticky cookie
/// value nginx derives from `ip:port`).
pub fn md5_hex(text: &str) -> String {
    let out =
        crate::process::filter(&mut Command::new("md5sum"), text.as_bytes()).expect("run md5sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("md5sum prints a digest")
        .to_string()
}

/// A listener that accepts TCP connections and holds them without reading
/// or writing a byte: a server that is up but never answers.
#[derive(Debug)]
pub struct Silent {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Silent {
    /// Starts on a new port of 127.0.0.1.
    pub async fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        Silent {
            addr,
            accepted,
            task,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Counters of a [`Load`].
#[derive(Debug, Default)]
struct LoadShared {
    stop: AtomicBool,
    ok: AtomicUsize,
    failed: AtomicUsize,
    /// The first failures, described.
    errors: Mutex<Vec<String>>,
    /// Which backend answered, per name (from the JSON body's `name`).
    by_backend: Mutex<std::collections::BTreeMap<String, usize>>,
}

/// What a finished [`Load`] saw.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Requests answered 200.
    pub ok: usize,
    /// Requests that failed (an error, a timeout or another status).
    pub failed: usize,
    /// The first failures, described.
    pub errors: Vec<String>,
    /// 200 answers per backend name.
    pub by_backend: std::collections::BTreeMap<String, usize>,
}

/// A steady HTTP load: `workers` tasks, each sending `GET path` (one
/// connection per request) every `pace`, until stopped. Every request is
/// bounded by a per-request time limit and counted as ok (200) or failed.
#[derive(Debug)]
pub struct Load {
    shared: Arc<LoadShared>,
    tasks: Vec<JoinHandle<()>>,
}

/// The longest one request of a [`Load`] may take.
const LOAD_REQUEST_LIMIT: Duration = Duration::from_secs(10);

impl Load {
    /// Starts the load.
    pub fn start(target: SocketAddr, path: &str, workers: usize, pace: Duration) -> Load {
        let shared = Arc::new(LoadShared::default());
        let tasks = (0..workers)
            .map(|_| {
                let shared = shared.clone();
                let path = path.to_string();
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(pace);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    while !shared.stop.load(Ordering::SeqCst) {
                        tick.tick().await;
                        let sent = Instant::now();
                        let result = tokio::time::timeout(
                            LOAD_REQUEST_LIMIT,
                            Request::get(target, &path).send(),
                        )
                        .await;
                        let failure = match result {
                            Ok(Ok(resp)) if resp.status == 200 => {
                                let name = serde_json::from_slice::<Value>(&resp.body)
                                    .ok()
                                    .and_then(|v| v["name"].as_str().map(str::to_string))
                                    .unwrap_or_default();
                                *shared
                                    .by_backend
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .entry(name)
                                    .or_default() += 1;
                                shared.ok.fetch_add(1, Ordering::SeqCst);
                                continue;
                            }
                            Ok(Ok(resp)) => format!("status {}: {}", resp.status, resp.text()),
                            Ok(Err(e)) => format!("error: {e}"),
                            Err(_) => format!("no answer within {LOAD_REQUEST_LIMIT:?}"),
                        };
                        shared.failed.fetch_add(1, Ordering::SeqCst);
                        let mut errors = shared.errors.lock().unwrap_or_else(|e| e.into_inner());
                        if errors.len() < 20 {
                            errors.push(format!("{failure} (request sent at {sent:?})"));
                        }
                    }
                })
            })
            .collect();
        Load { shared, tasks }
    }

    /// Requests answered 200 so far.
    pub fn ok(&self) -> usize {
        self.shared.ok.load(Ordering::SeqCst)
    }

    /// Requests failed so far.
    pub fn failed(&self) -> usize {
        self.shared.failed.load(Ordering::SeqCst)
    }

    /// Waits until `n` more requests than now have succeeded (the load is
    /// really running), or panics after `limit`.
    pub async fn wait_progress(&self, n: usize, limit: Duration) {
        let want = self.ok() + n;
        until("the load to make progress", limit, || {
            let ok = self.ok();
            async move { ok >= want }
        })
        .await;
    }

    /// Stops the load, waits for its requests in flight, and reports.
    pub async fn stop(mut self) -> LoadReport {
        self.shared.stop.store(true, Ordering::SeqCst);
        for task in std::mem::take(&mut self.tasks) {
            task.await.expect("load task");
        }
        LoadReport {
            ok: self.shared.ok.load(Ordering::SeqCst),
            failed: self.shared.failed.load(Ordering::SeqCst),
            errors: self
                .shared
                .errors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            by_backend: self
                .shared
                .by_backend
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for task in &self.tasks {
            task.abort();
        }
    }
}

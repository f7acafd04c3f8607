//! Running the `openclaw-edge` binary under test.
//!
//! The binary is found through `OPENCLAW_EDGE_BIN`, else at
//! `<workspace>/target/release/openclaw-edge` (what `cargo build --release`
//! makes). [`Edge`] runs it in the foreground until dropped; [`run_to_exit`]
//! runs it for commands that end by themselves (`-t`, a config that cannot
//! start).

use crate::config::EdgeConfig;
use crate::metrics::Metrics;
use crate::process::ChildProcess;
use crate::wait::accepts;
use crate::{Backend, Request};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long a starting edge may take to accept connections.
const START_LIMIT: Duration = Duration::from_secs(15);

/// The binary under test. Panics with what to do if it is missing.
pub fn binary() -> PathBuf {
    let path = match std::env::var_os("OPENCLAW_EDGE_BIN") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the test crate lives inside the workspace")
            .join("target/release/openclaw-edge"),
    };
    assert!(
        path.is_file(),
        "openclaw-edge not found at {}: run `cargo build --release` first, or set OPENCLAW_EDGE_BIN",
        path.display()
    );
    path
}

/// A temporary directory holding `edge.yaml` with `yaml` in it.
fn config_dir(yaml: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("openclaw-edge-")
        .tempdir()
        .expect("temp dir");
    let file = dir.path().join("edge.yaml");
    std::fs::write(&file, yaml).expect("write edge.yaml");
    (dir, file)
}

/// A running edge, killed when dropped (its logs are printed if that
/// happens during a panic).
#[derive(Debug)]
pub struct Edge {
    process: ChildProcess,
    config: EdgeConfig,
    _dir: TempDir,
}

impl Edge {
    /// Starts the edge with `config` and waits until both its proxy and
    /// admin listeners accept connections. If a listen port was taken in
    /// the meantime, tries again on new ports.
    pub async fn start(config: EdgeConfig) -> Edge {
        Edge::start_with_args(config, &[]).await
    }

    /// [`Edge::start`] with extra command-line arguments (`--log-format json`).
    pub async fn start_with_args(mut config: EdgeConfig, args: &[&str]) -> Edge {
        for _ in 0..3 {
            match Edge::try_start(&config, args).await {
                Some(edge) => return edge,
                None => config.repick_ports(),
            }
        }
        panic!("the edge could not bind its ports in three attempts");
    }

    /// One start; `None` if the edge exited because a port was in use.
    async fn try_start(config: &EdgeConfig, args: &[&str]) -> Option<Edge> {
        let (dir, file) = config_dir(&config.yaml());
        let mut cmd = Command::new(binary());
        cmd.args(args).arg("-c").arg(&file);
        let mut process = ChildProcess::spawn("openclaw-edge", &mut cmd, dir.path());
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if let Some(status) = process.exited() {
                if process.stderr().contains("in use") {
                    return None;
                }
                panic!(
                    "openclaw-edge exited at start ({status}); config:\n{}",
                    config.yaml()
                );
            }
            if accepts(config.listen).await && accepts(config.admin).await {
                return Some(Edge {
                    process,
                    config: config.clone(),
                    _dir: dir,
                });
            }
            assert!(
                Instant::now() < deadline,
                "openclaw-edge did not accept connections on {} and {} within {START_LIMIT:?}",
                config.listen,
                config.admin
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Its process id (for signals and memory readings).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The proxy listener.
    pub fn addr(&self) -> SocketAddr {
        self.config.listen
    }

    /// The admin listener.
    pub fn admin(&self) -> SocketAddr {
        self.config.admin
    }

    /// The config it runs.
    pub fn config(&self) -> &EdgeConfig {
        &self.config
    }

    /// What it wrote to stdout so far (the access log).
    pub fn stdout(&self) -> String {
        self.process.stdout()
    }

    /// What it wrote to stderr so far (its own log).
    pub fn stderr(&self) -> String {
        self.process.stderr()
    }

    /// Scrapes `/metrics` from the admin listener.
    pub async fn metrics(&self) -> Metrics {
        let resp = Request::get(self.admin(), "/metrics")
            .send()
            .await
            .expect("GET /metrics from the admin listener");
        assert_eq!(resp.status, 200, "GET /metrics: {}", resp.text());
        Metrics::parse(&resp.text())
    }
}

impl Edge {
    /// Waits until the sum of `name` over series with `labels` equals
    /// `want`. The edge counts a request after its response has gone out,
    /// so a client can read the answer before the count moves: poll.
    pub async fn wait_metric(&self, name: &str, labels: &[(&str, &str)], want: f64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.metrics().await.sum(name, labels);
            if got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name}{labels:?} is {got}, expected {want}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `openclaw_edge_upstream_server_inflight` of each backend in
    /// `upstream`, in the order given (0 for a missing series).
    pub async fn inflight_gauges(&self, upstream: &str, backends: &[Backend]) -> Vec<usize> {
        let metrics = self.metrics().await;
        backends
            .iter()
            .map(|b| {
                let server = b.addr().to_string();
                let labels = [("upstream", upstream), ("server", server.as_str())];
                metrics.sum("openclaw_edge_upstream_server_inflight", &labels) as usize
            })
            .collect()
    }
}

/// How a run that ended by itself went.
#[derive(Debug)]
pub struct Finished {
    /// The exit status.
    pub status: ExitStatus,
    /// All of stdout.
    pub stdout: String,
    /// All of stderr.
    pub stderr: String,
    /// The config file as passed on the command line (errors name it).
    pub config_file: String,
}

/// Runs `openclaw-edge ARGS -c FILE` with `yaml` in FILE and waits up to
/// `limit` for it to exit; panics (showing its output) if it keeps running.
pub async fn run_to_exit(args: &[&str], yaml: &str, limit: Duration) -> Finished {
    let (dir, file) = config_dir(yaml);
    let mut cmd = Command::new(binary());
    cmd.args(args).arg("-c").arg(&file);
    let mut process = ChildProcess::spawn("openclaw-edge", &mut cmd, dir.path());
    let Some(status) = process.wait_exit(limit).await else {
        panic!("openclaw-edge {args:?} still runs after {limit:?}; expected it to exit");
    };
    Finished {
        status,
        stdout: process.stdout(),
        stderr: process.stderr(),
        config_file: file.display().to_string(),
    }
}

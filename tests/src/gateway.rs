//! Running the `openclaw` gateway binary under test.
//!
//! The binary is found through `OPENCLAW_BIN`, else at
//! `<workspace>/target/release/openclaw`. A [`Gateway`] runs one node in the
//! foreground, in a state dir of its own (also its HOME), with a config file
//! written from [`NodeConfig`]; [`cli`] runs a command to its exit.

use crate::client::Request;
use crate::ports::free_port;
use crate::process::ChildProcess;
use crate::wait::until_some;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use tempfile::TempDir;

/// The token test nodes use unless told otherwise.
pub const TOKEN: &str = "test-token";

/// The binary under test. Panics with what to do if it is missing.
pub fn binary() -> PathBuf {
    let path = match std::env::var_os("OPENCLAW_BIN") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the test crate lives inside the workspace")
            .join("target/release/openclaw"),
    };
    assert!(
        path.is_file(),
        "openclaw not found at {}: run `cargo build --release` first, or set OPENCLAW_BIN",
        path.display()
    );
    path
}

/// What goes into a node's `openclaw.json`.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The node's name (`--node`).
    pub name: String,
    pub token: Option<String>,
    /// `Some(url)`: sessions in Redis under a prefix shared by the test's nodes.
    pub redis: Option<String>,
    /// Extra `gateway.limits` keys, as JSON5 text (`maxPayload: 4096`).
    pub limits: String,
    /// `agents.list`, as JSON.
    pub agents: Value,
    /// More `gateway` keys, as JSON5 text (`ha: {...}, lock: {...}`).
    pub gateway_keys: String,
    /// More top-level keys, as JSON5 text (`cron: {...}`).
    pub top_keys: String,
}

impl NodeConfig {
    /// A node with local sessions, the test token, default limits, echo agents.
    pub fn new(name: &str) -> NodeConfig {
        NodeConfig {
            name: name.to_string(),
            token: Some(TOKEN.to_string()),
            redis: None,
            limits: String::new(),
            agents: json!([]),
            gateway_keys: String::new(),
            top_keys: String::new(),
        }
    }

    /// Adds `gateway` keys (JSON5 text, comma-terminated as needed).
    pub fn gateway_keys(mut self, keys: &str) -> NodeConfig {
        self.gateway_keys.push_str(keys);
        self.gateway_keys.push_str(",\n");
        self
    }

    /// Adds top-level keys (JSON5 text).
    pub fn top_keys(mut self, keys: &str) -> NodeConfig {
        self.top_keys.push_str(keys);
        self.top_keys.push_str(",\n");
        self
    }

    /// Clients reach it through an edge on this machine too:
    /// `trustedProxies` names loopback, so the edge's forwarded headers are
    /// believed rather than refused (403 `proxy_attribution_required`).
    pub fn behind_edge(self) -> NodeConfig {
        self.gateway_keys("trustedProxies: [\"127.0.0.1\"]")
    }

    /// Sessions in Redis at `url`.
    pub fn redis(mut self, url: &str) -> NodeConfig {
        self.redis = Some(url.to_string());
        self
    }

    /// `gateway.limits` keys.
    pub fn limits(mut self, keys: &str) -> NodeConfig {
        self.limits = keys.to_string();
        self
    }

    /// `agents.list`.
    pub fn agents(mut self, list: Value) -> NodeConfig {
        self.agents = list;
        self
    }

    /// The config file's text (JSON5, with a comment, as operators write it).
    pub fn json5(&self, port: u16) -> String {
        let auth = match &self.token {
            Some(t) => format!("auth: {{ token: \"{t}\" }},"),
            None => String::new(),
        };
        let sessions = match &self.redis {
            Some(url) => format!(
                "sessions: {{ storage: \"redis\", redis: {{ url: \"{url}\", keyPrefix: \"test:sessions:\", ttl: \"1h\" }} }},"
            ),
            None => String::new(),
        };
        format!(
            "// written by the test harness\n{{\n  gateway: {{\n    mode: \"local\",\n    port: {port},\n    {auth}\n    {sessions}\n    limits: {{ {} }},\n    {}  }},\n  agents: {{ list: {} }},\n  {}}}\n",
            self.limits, self.gateway_keys, self.agents, self.top_keys
        )
    }
}

/// Waits until a node just spawned answers `/health` on `addr`; panics if
/// it exits first or takes over 15 s.
pub async fn wait_started(process: &mut ChildProcess, addr: SocketAddr, name: &str) {
    until_some(
        &format!("{name}'s /health"),
        Duration::from_secs(15),
        || {
            let exited = process.exited();
            async move {
                if let Some(status) = exited {
                    panic!("the node exited at start: {status}");
                }
                let r = Request::get(addr, "/health").send().await.ok()?;
                (r.status == 200).then_some(())
            }
        },
    )
    .await;
}

/// A running node, killed when dropped.
pub struct Gateway {
    process: ChildProcess,
    pub config: NodeConfig,
    pub port: u16,
    dir: TempDir,
}

impl Gateway {
    /// Starts a node and waits until `/health` answers.
    pub async fn start(config: NodeConfig) -> Gateway {
        let dir = tempfile::Builder::new()
            .prefix("openclaw-node-")
            .tempdir()
            .expect("temp dir");
        Gateway::start_in(config, dir).await
    }

    /// Starts a node in an existing state dir (to restart one on its sessions).
    pub async fn start_in(config: NodeConfig, dir: TempDir) -> Gateway {
        Gateway::start_at(config, dir, free_port()).await
    }

    /// Starts a node in an existing state dir on `port`: a node restarted
    /// where a proxy's server list expects it.
    pub async fn start_at(config: NodeConfig, dir: TempDir, port: u16) -> Gateway {
        std::fs::write(dir.path().join("openclaw.json"), config.json5(port)).expect("write config");
        let mut cmd = command(dir.path());
        cmd.args(["gateway", "run", "--node", &config.name]);
        let mut process =
            ChildProcess::spawn(&format!("openclaw-{}", config.name), &mut cmd, dir.path());
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_started(&mut process, addr, &config.name).await;
        Gateway {
            process,
            config,
            port,
            dir,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Its state dir.
    pub fn state_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// `/ready`: the status and the body.
    pub async fn ready(&self) -> (u16, Value) {
        let r = Request::get(self.addr(), "/ready")
            .send()
            .await
            .expect("GET /ready");
        (r.status, r.json())
    }

    /// `/metrics`, parsed.
    pub async fn metrics(&self) -> crate::metrics::Metrics {
        let r = Request::get(self.addr(), "/metrics")
            .send()
            .await
            .expect("GET /metrics");
        crate::metrics::Metrics::parse(&r.text())
    }

    /// Sends a signal (SIGTERM for a graceful stop, SIGKILL for a crash, SIGSTOP...).
    pub fn signal(&self, signal: i32) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.pid() as i32, signal) };
    }

    /// Waits for the process to exit.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        self.process.wait_exit(limit).await
    }

    /// Stderr so far (the node's log).
    pub fn log(&self) -> String {
        self.process.stderr()
    }

    /// Stops the process and hands back its state dir.
    pub fn into_state_dir(self) -> TempDir {
        drop(self.process);
        self.dir
    }
}

/// The binary with a private HOME and state dir, and no inherited OPENCLAW_* setting.
pub fn command(state_dir: &Path) -> Command {
    let mut cmd = Command::new(binary());
    for (k, _) in std::env::vars() {
        if k.starts_with("OPENCLAW_") || k == "REDIS_URL" {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", state_dir)
        .env("OPENCLAW_STATE_DIR", state_dir);
    cmd
}

/// Runs `openclaw ARGS` to its exit with `state_dir` as its home and state dir.
pub fn cli(state_dir: &Path, args: &[&str]) -> Output {
    command(state_dir)
        .args(args)
        .output()
        .expect("openclaw runs")
}

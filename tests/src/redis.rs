//! A private `redis-server` on a loopback port, killed on drop. It can be
//! stopped and started again on the same port, to test what nodes do while
//! Redis is away.

use crate::ports::free_port;
use crate::process::ChildProcess;
use crate::wait::{accepts, until};
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;

/// A running (or stopped) redis-server.
pub struct Redis {
    process: Option<ChildProcess>,
    port: u16,
    dir: TempDir,
    /// Append-only file fsynced on every write: a restart keeps every write
    /// it acknowledged (the lease's epoch counter, recorded job runs).
    persistent: bool,
}

impl Redis {
    /// Starts one on a free port, without persistence.
    pub async fn start() -> Redis {
        Redis::start_with(false).await
    }

    /// Starts one on a free port that keeps its data across restarts.
    pub async fn start_persistent() -> Redis {
        Redis::start_with(true).await
    }

    async fn start_with(persistent: bool) -> Redis {
        let dir = tempfile::Builder::new()
            .prefix("openclaw-redis-")
            .tempdir()
            .expect("temp dir");
        let mut redis = Redis {
            process: None,
            port: free_port(),
            dir,
            persistent,
        };
        redis.resume().await;
        redis
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Kills it (SIGKILL): connections drop at once, as in a crash.
    pub fn kill(&mut self) {
        self.process = None;
    }

    /// Starts it again on the same port (empty unless persistent).
    pub async fn resume(&mut self) {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", ""]);
        if self.persistent {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        cmd.arg("--dir").arg(self.dir.path());
        self.process = Some(ChildProcess::spawn(
            "redis-server",
            &mut cmd,
            self.dir.path(),
        ));
        let addr = self.addr();
        until(
            "redis-server to accept connections",
            Duration::from_secs(10),
            || accepts(addr),
        )
        .await;
    }

    /// Runs a redis-cli command and returns its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

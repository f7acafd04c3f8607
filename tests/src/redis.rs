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
}

impl Redis {
    /// Starts one on a free port, without persistence.
    pub async fn start() -> Redis {
        let dir = tempfile::Builder::new()
            .prefix("openclaw-redis-")
            .tempdir()
            .expect("temp dir");
        let mut redis = Redis {
            process: None,
            port: free_port(),
            dir,
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

    /// Starts it again on the same port (empty: no persistence).
    pub async fn resume(&mut self) {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path());
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

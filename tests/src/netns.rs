//! Network namespaces made by a test, for faults loopback cannot show: a
//! node cut off from one peer while another still reaches it.
//!
//! A [`Netns`] is created with `ip netns add` under a name of this process
//! (`<prefix>-<pid>-<n>`), has its `lo` up, and is deleted when dropped (on a
//! panic too). [`Netns::veth`] joins two of them with a veth pair made inside
//! the first and moved straight to the second, so the root namespace's
//! interfaces and routes are never touched. Processes run inside one with
//! [`Netns::command`] (`ip netns exec`, which execs the program in place, so
//! a [`crate::process::ChildProcess`] owns the program itself); the test
//! itself reaches into one with [`Netns::connect`] and [`Netns::get`], from a
//! thread of its own that enters the namespace and ends with the request.

use crate::client::{read_response, Response};
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A network namespace of this test, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `<prefix>-<pid>-<n>` with `lo` up. `Err` with what `ip` said
    /// when the machine does not allow it (no permission, no `ip`), so the
    /// caller can skip.
    pub fn create(prefix: &str) -> Result<Netns, String> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}-{}-{n}", std::process::id());
        run(Command::new("ip").args(["netns", "add", &name]))?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Its name, as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NAME ARGS`, to its exit; `Err` with its stderr on failure.
    pub fn ip(&self, args: &[&str]) -> Result<String, String> {
        run(Command::new("ip").args(["-n", &self.name]).args(args))
    }

    /// A command running `program` inside the namespace.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// Runs `program ARGS` inside the namespace to its exit; its stdout, or
    /// `Err` with its stderr on failure.
    pub fn run(&self, program: &str, args: &[&str]) -> Result<String, String> {
        run(self.command(program).args(args))
    }

    /// Joins `a` and `b` with a veth pair (`veth0` in each), addressed
    /// `a_cidr` and `b_cidr` (`10.213.7.1/24`), both ends up.
    pub fn veth(a: &Netns, a_cidr: &str, b: &Netns, b_cidr: &str) -> Result<(), String> {
        a.ip(&[
            "link", "add", "veth0", "type", "veth", "peer", "name", "veth0", "netns", &b.name,
        ])?;
        for (ns, cidr) in [(a, a_cidr), (b, b_cidr)] {
            ns.ip(&["addr", "add", cidr, "dev", "veth0"])?;
            ns.ip(&["link", "set", "veth0", "up"])?;
        }
        Ok(())
    }

    fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// A TCP connection to `addr` made from inside the namespace (the socket
    /// stays there), connecting for at most `limit`.
    pub async fn connect(&self, addr: SocketAddr, limit: Duration) -> io::Result<TcpStream> {
        let path = self.path();
        let (tx, rx) = tokio::sync::oneshot::channel();
        // A thread of its own: setns changes the calling thread for good.
        std::thread::spawn(move || {
            let made = (|| {
                let ns = File::open(&path)?;
                // SAFETY: a valid namespace fd; affects this thread only.
                if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                let stream = std::net::TcpStream::connect_timeout(&addr, limit)?;
                stream.set_nonblocking(true)?;
                Ok(stream)
            })();
            let _ = tx.send(made);
        });
        let stream = rx
            .await
            .map_err(|_| io::Error::other("the namespace thread died"))??;
        TcpStream::from_std(stream)
    }

    /// `GET path` on `addr` from inside the namespace (`Connection: close`),
    /// the whole exchange bounded by `limit`.
    pub async fn get(&self, addr: SocketAddr, path: &str, limit: Duration) -> io::Result<Response> {
        let exchange = async {
            let mut stream = self.connect(addr, limit).await?;
            stream
                .write_all(
                    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await?;
            read_response(&mut stream).await
        };
        tokio::time::timeout(limit, exchange)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("GET {addr}{path}")))?
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out: Output = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "{cmd:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

//! The real nginx, run as an oracle: given the same upstream block and the
//! same backends, a client should reach the same server through nginx and
//! through the edge.
//!
//! nginx runs in the foreground as a single process (`daemon off;
//! master_process off;`) with its prefix, pid file and temp paths in a temporary directory,
//! its error log on stderr (shown if the test fails), listening on loopback only. The binary is
//! `NGINX_BIN` or `/usr/sbin/nginx`; tests that need it fail with what to
//! install when it is missing.

use crate::config::Upstream;
use crate::ports::free_addr;
use crate::process::ChildProcess;
use crate::wait::accepts;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long nginx may take to accept connections.
const START_LIMIT: Duration = Duration::from_secs(10);

/// The nginx binary; panics with what to do if it is missing.
pub fn binary() -> PathBuf {
    let path =
        PathBuf::from(std::env::var_os("NGINX_BIN").unwrap_or_else(|| "/usr/sbin/nginx".into()));
    assert!(
        path.is_file(),
        "nginx not found at {}: these tests use the real nginx as an oracle; \
         install it (`apt-get install nginx`, which `make deps` does) or set NGINX_BIN",
        path.display()
    );
    path
}

/// A running nginx proxying `/` to one upstream; killed when dropped.
#[derive(Debug)]
pub struct Nginx {
    _process: ChildProcess,
    addr: SocketAddr,
    _dir: TempDir,
}

impl Nginx {
    /// Starts nginx with `upstream` and a server on a fresh loopback port
    /// whose `/` proxies to it, setting `Host` as the edge does.
    pub async fn start(upstream: &Upstream) -> Nginx {
        let binary = binary();
        let dir = tempfile::Builder::new()
            .prefix("nginx-oracle-")
            .tempdir()
            .expect("temp dir");
        let prefix = dir.path();
        let addr = free_addr();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\n\
             pid {p}/nginx.pid;\nerror_log stderr warn;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n\
               client_body_temp_path {p}/client_body;\n  proxy_temp_path {p}/proxy;\n\
               fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n\
             {upstream}\
               server {{\n    listen {addr};\n\
                 location / {{\n      proxy_pass http://{name};\n      proxy_set_header Host $host;\n    }}\n  }}\n}}\n",
            p = prefix.display(),
            upstream = upstream.nginx(),
            name = upstream.name,
        );
        let conf_file = prefix.join("nginx.conf");
        std::fs::write(&conf_file, &conf).expect("write nginx.conf");
        let mut cmd = Command::new(binary);
        cmd.arg("-p")
            .arg(prefix)
            .arg("-e")
            .arg("stderr")
            .arg("-c")
            .arg(&conf_file);
        let mut process = ChildProcess::spawn("nginx", &mut cmd, prefix);
        let deadline = Instant::now() + START_LIMIT;
        while !accepts(addr).await {
            if let Some(status) = process.exited() {
                panic!("nginx exited at start ({status}); config:\n{conf}");
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen on {addr} within {START_LIMIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Nginx {
            _process: process,
            addr,
            _dir: dir,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

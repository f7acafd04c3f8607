//! The real nginx, run as an oracle: given the same config and the same
//! backends, a client should get the same answer through nginx and through
//! the edge.
//!
//! nginx runs in the foreground as a single process (`daemon off;
//! master_process off;`) with its prefix, pid file and temp paths in a temporary directory,
//! its error log on stderr (shown if the test fails), listening on loopback only. The binary is
//! `NGINX_BIN` or `/usr/sbin/nginx`; tests that need it fail with what to
//! install when it is missing.

use crate::config::Upstream;
use crate::nginx_conf::spawn_listening;
use crate::ports::free_addr;
use crate::process::ChildProcess;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

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

/// A whole `nginx.conf` around the http-context text `http`: one process in
/// the foreground, its pid file and temp paths under `prefix`, the error log
/// on stderr, no access log.
pub fn main_conf(prefix: &Path, http: &str) -> String {
    let p = prefix.display();
    format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\n\
         pid {p}/nginx.pid;\nerror_log stderr warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {p}/client_body;\n  \
         proxy_temp_path {p}/proxy;\n  fastcgi_temp_path {p}/fastcgi;\n  \
         uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n{http}}}\n"
    )
}

/// A running nginx; killed when dropped.
#[derive(Debug)]
pub struct Nginx {
    process: ChildProcess,
    addr: SocketAddr,
    _dir: TempDir,
}

impl Nginx {
    /// Starts nginx with `upstream` and a server on a fresh loopback port
    /// whose `/` proxies to it, setting `Host` as the edge does.
    pub async fn start(upstream: &Upstream) -> Nginx {
        Nginx::start_http(|addr| {
            format!(
                "{upstream}  server {{\n    listen {addr};\n\
                   location / {{\n      proxy_pass http://{name};\n      proxy_set_header Host $host;\n    }}\n  }}\n",
                upstream = upstream.nginx(),
                name = upstream.name,
            )
        })
        .await
    }

    /// Starts nginx on the http-context text `http(ADDR)` (upstreams,
    /// servers, maps...) for a fresh loopback address ADDR, on which the
    /// text's servers should listen; see [`Nginx::start_http_on`].
    pub async fn start_http(http: impl FnOnce(SocketAddr) -> String) -> Nginx {
        let addr = free_addr();
        Nginx::start_http_on(addr, &http(addr)).await
    }

    /// Starts nginx on the http-context text `http` wrapped by
    /// [`main_conf`]; waits until `addr`, where the text's servers listen,
    /// accepts connections.
    pub async fn start_http_on(addr: SocketAddr, http: &str) -> Nginx {
        let dir = tempfile::Builder::new()
            .prefix("nginx-oracle-")
            .tempdir()
            .expect("temp dir");
        let prefix = dir.path();
        let conf = main_conf(prefix, http);
        let conf_file = prefix.join("nginx.conf");
        std::fs::write(&conf_file, &conf).expect("write nginx.conf");
        let mut cmd = Command::new(binary());
        cmd.arg("-p")
            .arg(prefix)
            .arg("-e")
            .arg("stderr")
            .arg("-c")
            .arg(&conf_file);
        let process = spawn_listening("nginx", &mut cmd, prefix, &[addr], &conf).await;
        Nginx {
            process,
            addr,
            _dir: dir,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its error log so far (on stderr).
    pub fn log(&self) -> String {
        self.process.stderr()
    }
}

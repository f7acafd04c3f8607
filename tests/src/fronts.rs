//! Proxies in front of a fixed list of gateway nodes, as the failover bench
//! (`tests/src/bin/failover_bench.rs`) compares them. Every front balances
//! round robin over the same servers, waits at most the same time for an
//! upstream's connect and answer, and adds `X-Forwarded-For`:
//!
//! | front | how it finds the node to use |
//! |---|---|
//! | `edge-leader` | the edge following the cluster's lease in Redis (`leader:`), plus the `/ready` checks |
//! | `edge-health` | the edge's active checks only: `GET /ready`, 2xx is alive |
//! | `haproxy` | HAProxy's `option httpchk GET /ready` at the same interval, rise, fall and timeout |
//! | `nginx-passive` | nginx OSS: no active checks; `max_fails=1 fail_timeout=10s` and `proxy_next_upstream` |

use crate::config::{EdgeConfig, Server, Upstream};
use crate::edge::{run_to_exit, Edge};
use crate::nginx::Nginx;
use crate::nginx_conf::spawn_listening;
use crate::ports::free_addr;
use crate::process::ChildProcess;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;

/// Which proxy, configured how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    EdgeLeader,
    EdgeHealth,
    Haproxy,
    NginxPassive,
}

impl Kind {
    /// Every front, in the order a report lists them.
    pub const ALL: [Kind; 4] = [
        Kind::EdgeLeader,
        Kind::EdgeHealth,
        Kind::Haproxy,
        Kind::NginxPassive,
    ];

    /// Its name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::EdgeLeader => "edge-leader",
            Kind::EdgeHealth => "edge-health",
            Kind::Haproxy => "haproxy",
            Kind::NginxPassive => "nginx-passive",
        }
    }

    /// The front named `name`.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether it sends clients only to nodes whose `/ready` says 200 (every
    /// front but nginx's): then a settled cluster's clients all reach the leader.
    pub fn checks_ready(self) -> bool {
        self != Kind::NginxPassive
    }
}

/// What every front is given.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The gateway nodes, in order.
    pub servers: Vec<SocketAddr>,
    /// Active check interval, in the spelling all three accept (`200ms`).
    pub check_interval: String,
    /// Limit of one active check (`500ms`).
    pub check_timeout: String,
    /// Limit of an upstream connect and of the wait for its answer (`1s`).
    pub upstream_timeout: String,
    /// The cluster's Redis (`redis://127.0.0.1:PORT`), for `edge-leader`.
    pub redis_url: String,
    /// The lease key, for `edge-leader`.
    pub lease_key: String,
}

/// A running front, stopped when dropped.
pub struct Front {
    pub kind: Kind,
    /// Where clients connect.
    pub addr: SocketAddr,
    running: Running,
}

impl Front {
    /// Its own log so far (the edge's and HAProxy's stderr, nginx's error
    /// log), to explain a slow round.
    pub fn log(&self) -> String {
        match &self.running {
            Running::Edge(e) => e.stderr(),
            Running::Haproxy { process, .. } => process.stderr(),
            Running::Nginx(n) => n.log(),
        }
    }
}

enum Running {
    Edge(Box<Edge>),
    Haproxy {
        process: ChildProcess,
        _dir: TempDir,
    },
    Nginx(Nginx),
}

/// How long a front may take to listen.
const START_LIMIT: Duration = Duration::from_secs(15);

/// Starts `kind` in front of `s.servers`; `Err` with the edge's own words
/// when it refuses the config (`edge-leader` on an edge without `leader:`).
pub async fn start(kind: Kind, s: &Settings) -> Result<Front, String> {
    let running = match kind {
        Kind::EdgeLeader | Kind::EdgeHealth => {
            let config = edge_config(kind, s);
            let check = run_to_exit(&["-t"], &config.yaml(), START_LIMIT).await;
            if !check.status.success() {
                // `FILE:LINE:COL: what`, without the temporary file's name.
                let last = check.stderr.trim().lines().last().unwrap_or("").to_string();
                let what = last
                    .split_once(".yaml:")
                    .and_then(|(_, rest)| rest.split_once(": "))
                    .map_or(last.as_str(), |(_, what)| what);
                return Err(format!("the edge refuses the config: {what}"));
            }
            Running::Edge(Box::new(Edge::start(config).await))
        }
        Kind::Haproxy => {
            let dir = tempfile::Builder::new()
                .prefix("haproxy-front-")
                .tempdir()
                .expect("temp dir");
            let addr = free_addr();
            let text = haproxy_config(addr, s);
            let file = dir.path().join("haproxy.cfg");
            std::fs::write(&file, &text).expect("write haproxy.cfg");
            let mut cmd = Command::new(haproxy_binary());
            cmd.arg("-db").arg("-f").arg(&file);
            let process = spawn_listening("haproxy", &mut cmd, dir.path(), &[addr], &text).await;
            return Ok(Front {
                kind,
                addr,
                running: Running::Haproxy { process, _dir: dir },
            });
        }
        Kind::NginxPassive => Running::Nginx(Nginx::start_http(|addr| nginx_http(addr, s)).await),
    };
    let addr = match &running {
        Running::Edge(e) => e.addr(),
        Running::Nginx(n) => n.addr(),
        Running::Haproxy { .. } => unreachable!("returned above"),
    };
    Ok(Front {
        kind,
        addr,
        running,
    })
}

/// The edge's config: round robin, `/ready` checks, and for `edge-leader`
/// the `leader:` block on the cluster's lease.
pub fn edge_config(kind: Kind, s: &Settings) -> EdgeConfig {
    let servers = s.servers.iter().map(|a| Server::new(*a)).collect();
    let mut upstream = Upstream::new("gateways", "round_robin", servers).key(&format!(
        "health_check: {{ type: http, interval: {}, rise: 1, fall: 1, timeout: {}, \
         send: \"GET /ready HTTP/1.0\\r\\n\\r\\n\", expect_alive: [http_2xx] }}",
        s.check_interval, s.check_timeout
    ));
    if kind == Kind::EdgeLeader {
        upstream = upstream.key(&format!(
            "leader: {{ redis: \"{}/\", key: \"{}\" }}",
            s.redis_url, s.lease_key
        ));
    }
    let mut config = EdgeConfig::new(upstream)
        .location_key(&format!("connect_timeout: {}", s.upstream_timeout))
        .location_key(&format!("read_timeout: {}", s.upstream_timeout));
    config.access_log = "off".to_string();
    config
}

/// HAProxy's config: `option httpchk GET /ready` on every server.
pub fn haproxy_config(listen: SocketAddr, s: &Settings) -> String {
    let t = &s.upstream_timeout;
    let i = &s.check_interval;
    let mut out = format!(
        "global\n    nbthread 1\n\n\
         defaults\n    mode http\n    timeout connect {t}\n    timeout client 60s\n    \
         timeout server {t}\n    timeout tunnel 1h\n    timeout check {}\n    \
         retries 2\n    option redispatch\n\n\
         frontend fe\n    bind {listen}\n    default_backend gateways\n\n\
         backend gateways\n    balance roundrobin\n    option forwardfor\n    \
         option httpchk GET /ready\n    \
         default-server inter {i} fastinter {i} downinter {i} rise 1 fall 1\n",
        s.check_timeout
    );
    for (n, addr) in s.servers.iter().enumerate() {
        out.push_str(&format!("    server n{} {addr} check\n", n + 1));
    }
    out
}

/// nginx's http context: passive checks only.
pub fn nginx_http(listen: SocketAddr, s: &Settings) -> String {
    let t = &s.upstream_timeout;
    let mut out = String::from("  upstream gateways {\n");
    for addr in &s.servers {
        out.push_str(&format!(
            "    server {addr} max_fails=1 fail_timeout=10s;\n"
        ));
    }
    out.push_str(&format!(
        "  }}\n  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}\n  \
         server {{\n    listen {listen};\n    location / {{\n      \
         proxy_pass http://gateways;\n      proxy_http_version 1.1;\n      \
         proxy_set_header Host $host;\n      proxy_set_header Upgrade $http_upgrade;\n      \
         proxy_set_header Connection $connection_upgrade;\n      \
         proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n      \
         proxy_connect_timeout {t};\n      proxy_read_timeout {t};\n      \
         proxy_next_upstream error timeout http_502 http_503;\n    }}\n  }}\n"
    ));
    out
}

/// The HAProxy binary: `HAPROXY_BIN` or `/usr/sbin/haproxy`.
pub fn haproxy_binary() -> PathBuf {
    let path = PathBuf::from(
        std::env::var_os("HAPROXY_BIN").unwrap_or_else(|| "/usr/sbin/haproxy".into()),
    );
    assert!(
        path.is_file(),
        "haproxy not found at {}: install it (`apt-get install haproxy`, which `make deps` does) or set HAPROXY_BIN",
        path.display()
    );
    path
}

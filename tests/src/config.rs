//! Upstream groups and edge configs as data, rendered both as the edge's
//! YAML and as an nginx `upstream` block, so that an oracle test runs both
//! proxies from one definition instead of two hand-written copies.

use crate::ports::free_addr;
use std::fmt::Write;
use std::net::SocketAddr;

/// One `server` of an upstream, with nginx's parameters.
#[derive(Debug, Clone)]
pub struct Server {
    /// Where the backend listens.
    pub addr: SocketAddr,
    /// nginx `weight=`.
    pub weight: u32,
    /// nginx `max_fails=`.
    pub max_fails: u32,
    /// nginx `fail_timeout=`, in the spelling both accept (`10s`).
    pub fail_timeout: String,
    /// nginx `down`.
    pub down: bool,
}

impl Server {
    /// A server with nginx's defaults: weight 1, max_fails 1, fail_timeout 10s.
    pub fn new(addr: SocketAddr) -> Server {
        Server {
            addr,
            weight: 1,
            max_fails: 1,
            fail_timeout: "10s".to_string(),
            down: false,
        }
    }

    /// Sets the weight.
    pub fn weight(mut self, weight: u32) -> Server {
        self.weight = weight;
        self
    }

    /// Sets max_fails and fail_timeout.
    pub fn fails(mut self, max_fails: u32, fail_timeout: &str) -> Server {
        self.max_fails = max_fails;
        self.fail_timeout = fail_timeout.to_string();
        self
    }

    /// Marks the server `down`.
    pub fn down(mut self) -> Server {
        self.down = true;
        self
    }
}

/// Servers for `backends` in order, with `weights` (nginx defaults otherwise).
pub fn weighted(backends: &[crate::Backend], weights: &[u32]) -> Vec<Server> {
    assert_eq!(backends.len(), weights.len(), "one weight per backend");
    backends
        .iter()
        .zip(weights)
        .map(|(b, w)| Server::new(b.addr()).weight(*w))
        .collect()
}

/// An upstream group: a name, a balancing method and servers in order.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// The name `proxy_pass http://NAME` refers to.
    pub name: String,
    /// The edge's `balance:` spelling (`round_robin`, `ip_hash`, `hash $remote_addr consistent`...).
    pub balance: String,
    /// The servers, in the order both proxies see them (order matters to nginx).
    pub servers: Vec<Server>,
    /// More keys of the edge's upstream, one YAML line each
    /// (`health_check: { ... }`); the nginx rendering leaves them out.
    pub keys: Vec<String>,
}

impl Upstream {
    /// A group named `name` balanced by `balance`.
    pub fn new(name: &str, balance: &str, servers: Vec<Server>) -> Upstream {
        Upstream {
            name: name.to_string(),
            balance: balance.to_string(),
            servers,
            keys: Vec::new(),
        }
    }

    /// Adds a key to the edge's upstream, e.g. `keepalive: 0`.
    pub fn key(mut self, line: &str) -> Upstream {
        self.keys.push(line.to_string());
        self
    }

    /// The group as an entry of the edge's `upstreams:` map.
    pub fn yaml(&self) -> String {
        let mut out = format!("  {}:\n    balance: \"{}\"\n", self.name, self.balance);
        for line in &self.keys {
            let _ = writeln!(out, "    {line}");
        }
        out.push_str("    servers:\n");
        for s in &self.servers {
            let _ = writeln!(
                out,
                "      - {{ address: \"{}\", weight: {}, max_fails: {}, fail_timeout: {}, down: {} }}",
                s.addr, s.weight, s.max_fails, s.fail_timeout, s.down
            );
        }
        out
    }

    /// The group as an nginx `upstream` block.
    pub fn nginx(&self) -> String {
        let method = match self.balance.as_str() {
            "round_robin" => String::new(),
            other => format!("    {other};\n"),
        };
        let mut out = format!("  upstream {} {{\n{method}", self.name);
        for s in &self.servers {
            let _ = writeln!(
                out,
                "    server {} weight={} max_fails={} fail_timeout={}{};",
                s.addr,
                s.weight,
                s.max_fails,
                s.fail_timeout,
                if s.down { " down" } else { "" }
            );
        }
        out.push_str("  }\n");
        out
    }
}

/// An edge config with one virtual server whose `/` location proxies to the
/// first upstream.
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// The proxy listener.
    pub listen: SocketAddr,
    /// The admin listener (`/metrics`).
    pub admin: SocketAddr,
    /// `access_log:` (`stdout`, `off`, a path).
    pub access_log: String,
    /// Upstream groups; the location proxies to the first.
    pub upstreams: Vec<Upstream>,
    /// Extra YAML keys of the `/` location, one per line (`read_timeout: 1s`).
    pub location_keys: Vec<String>,
    /// Further locations, each a path and its YAML keys.
    pub other_locations: Vec<(String, Vec<String>)>,
    /// Extra YAML keys of the server, one per line (`client: { ... }`).
    pub server_keys: Vec<String>,
}

impl EdgeConfig {
    /// A config proxying `/` to `upstream`, on fresh loopback ports.
    pub fn new(upstream: Upstream) -> EdgeConfig {
        EdgeConfig {
            listen: free_addr(),
            admin: free_addr(),
            access_log: "stdout".to_string(),
            upstreams: vec![upstream],
            location_keys: Vec::new(),
            other_locations: Vec::new(),
            server_keys: Vec::new(),
        }
    }

    /// Adds a location after `/`, e.g. `("= /ping", ["return: { status: 200 }"])`.
    pub fn location(mut self, path: &str, keys: &[&str]) -> EdgeConfig {
        let keys = keys.iter().map(|k| k.to_string()).collect();
        self.other_locations.push((path.to_string(), keys));
        self
    }

    /// Adds a key to the `/` location, e.g. `read_timeout: 1s`.
    pub fn location_key(mut self, line: &str) -> EdgeConfig {
        self.location_keys.push(line.to_string());
        self
    }

    /// Adds a key to the server, e.g. `client: { max_body_size: 10 }`.
    pub fn server_key(mut self, line: &str) -> EdgeConfig {
        self.server_keys.push(line.to_string());
        self
    }

    /// Moves the config to fresh ports (after a bind conflict).
    pub fn repick_ports(&mut self) {
        self.listen = free_addr();
        self.admin = free_addr();
    }

    /// The whole `edge.yaml`.
    pub fn yaml(&self) -> String {
        let mut out = format!(
            "threads: 1\naccess_log: {}\nadmin:\n  listen: \"{}\"\nupstreams:\n",
            self.access_log, self.admin
        );
        for u in &self.upstreams {
            out.push_str(&u.yaml());
        }
        let _ = writeln!(out, "servers:\n  - listen: [\"{}\"]", self.listen);
        for line in &self.server_keys {
            let _ = writeln!(out, "    {line}");
        }
        let _ = write!(
            out,
            "    locations:\n      - path: /\n        proxy_pass: http://{}\n",
            self.upstreams[0].name
        );
        for line in &self.location_keys {
            let _ = writeln!(out, "        {line}");
        }
        for (path, keys) in &self.other_locations {
            let _ = writeln!(out, "      - path: \"{path}\"");
            for line in keys {
                let _ = writeln!(out, "        {line}");
            }
        }
        out
    }
}

//! The routing tables the request path reads: built from a validated config,
//! swapped whole on reload, never edited in place (server state lives in each
//! [`Upstream`]'s pool).

mod build;
mod carry;
mod client;
mod idle;
mod upstream;

pub use build::build;
pub use carry::{carry_over, state_lock};
pub use client::ClientLimits;
pub use idle::{set_total_cap, IdlePool};
pub use upstream::{Lease, Server, Upstream};

use crate::config::NextWhen;
use crate::routing::{Found, LocationTable, NameTable};
use crate::vars::Template;
use http::HeaderName;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Everything one config turns into.
#[derive(Debug)]
pub struct Runtime {
    /// One entry per distinct listen address, in config order.
    pub listeners: Vec<Listener>,
    /// Every upstream, named and implicit (`proxy_pass http://host:port`).
    pub upstreams: Vec<Arc<Upstream>>,
    /// Counters for answers the edge gives itself (`return`, 404).
    pub local_codes: crate::admin::CodeCounters,
    /// Their duration histogram.
    pub local_duration: prometheus::Histogram,
    /// The config's maps, indexed as [`crate::vars::Var::Map`] refers to them.
    pub maps: Vec<crate::vars::MapTable>,
}

/// The virtual servers reachable on one listen address.
#[derive(Debug)]
pub struct Listener {
    /// The address.
    pub addr: SocketAddr,
    /// Virtual servers, in config order.
    pub servers: Vec<Arc<VirtualServer>>,
    /// Host -> server index.
    pub names: NameTable,
    /// Head limits and timeouts of this address: its default server's.
    pub client: ClientLimits,
    /// The TLS settings of this address, when its servers have `tls:`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// One virtual server's locations.
#[derive(Debug)]
pub struct VirtualServer {
    /// Locations, in config order.
    pub routes: Vec<Arc<Route>>,
    /// Path -> route index.
    pub table: LocationTable,
}

/// Where a request goes.
#[derive(Debug)]
pub enum Routed<'a> {
    /// This location.
    Route(&'a Arc<Route>),
    /// A 301 to the path with `/` appended (nginx's `auto_redirect`).
    AddSlash,
    /// No location matches: 404.
    NotFound,
}

impl Runtime {
    /// Where a request that arrived on listener `listener` with `host` and
    /// the normalized `path` goes.
    pub fn route(&self, listener: usize, host: &str, path: &str) -> Routed<'_> {
        let l = &self.listeners[listener];
        let vs = &l.servers[l.names.find(host)];
        match vs.table.find(path) {
            Some(Found::Location(i)) => Routed::Route(&vs.routes[i]),
            Some(Found::AddSlash) => Routed::AddSlash,
            None => Routed::NotFound,
        }
    }
}

/// What one location does.
#[derive(Debug)]
pub struct Route {
    /// The location prefix, replaced by `proxy_pass`'s URI when it has one.
    pub prefix: Option<String>,
    /// Proxy or answer.
    pub action: Action,
    /// Headers set toward the upstream; an empty expansion removes the header.
    pub headers: Vec<(HeaderName, Template)>,
    /// Speak HTTP/1.0 to the upstream (nginx's default `proxy_http_version`).
    pub http10: bool,
    /// Connect, read, send timeouts.
    pub connect_timeout: Duration,
    /// See [`crate::config::Location::read_timeout`].
    pub read_timeout: Duration,
    /// See [`crate::config::Location::send_timeout`].
    pub send_timeout: Duration,
    /// Idle limit of WebSocket tunnels (none = until a side closes).
    pub tunnel_idle_timeout: Option<Duration>,
    /// Retry policy.
    pub next: NextPolicy,
    /// Whether requests here are access-logged.
    pub access_log: bool,
    /// Body size and client timeouts of this location.
    pub client: ClientLimits,
    /// Fields added to responses (nginx `add_header`).
    pub add_header: Vec<crate::config::AddHeader>,
    /// TLS to the servers (`proxy_pass https://`).
    pub upstream_tls: Option<crate::tls::UpstreamTls>,
    /// Where the client's address comes from (the server's realip settings).
    pub real_ip: Option<Arc<crate::realip::RealIp>>,
}

/// What a location does with a request.
#[derive(Debug)]
pub enum Action {
    /// Proxy to an upstream, optionally replacing the location prefix with `uri`.
    Proxy {
        /// The upstream.
        upstream: Arc<Upstream>,
        /// `proxy_pass`'s URI part.
        uri: Option<String>,
    },
    /// Answer directly.
    Return {
        /// Status code.
        status: u16,
        /// Body (for redirects, the Location value).
        body: Template,
    },
}

/// nginx's `proxy_next_upstream` as the request path uses it.
#[derive(Debug, Clone)]
pub struct NextPolicy {
    /// Retry after connection errors.
    pub on_error: bool,
    /// Retry after timeouts.
    pub on_timeout: bool,
    /// Most tries in all (0 = every server once).
    pub tries: usize,
    /// Stop retrying after this long (None = no limit).
    pub timeout: Option<Duration>,
    /// Retry non-idempotent methods too.
    pub non_idempotent: bool,
}

impl NextPolicy {
    fn from_config(n: &crate::config::NextUpstream) -> Self {
        NextPolicy {
            on_error: n.when.contains(&NextWhen::Error),
            on_timeout: n.when.contains(&NextWhen::Timeout),
            tries: n.tries as usize,
            timeout: Some(n.timeout.0).filter(|d| !d.is_zero()),
            non_idempotent: n.non_idempotent,
        }
    }
}

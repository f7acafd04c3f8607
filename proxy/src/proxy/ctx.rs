//! Per-request state. Dropped when the request is accounted for, on every
//! path, so the lease and tunnel guard in it always give back what they hold.

use crate::admin::{metrics, UpstreamMeters};
use crate::balance::{Pick, Tried};
use crate::runtime::{Action, Lease, Route, Runtime, Server, Upstream};
use crate::tls::UpStream;
use prometheus::{Histogram, IntGauge};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Requests (and WebSocket tunnels) under way in this process; a graceful
/// stop waits for this to reach zero.
pub fn in_flight() -> usize {
    IN_FLIGHT.load(Ordering::Relaxed)
}

/// What kind of failure ended the last try (for 502 vs 504 and retry rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryFailure {
    /// Refused, reset, closed.
    Error,
    /// Connect or read timed out.
    Timeout,
    /// The server answered with something the edge will not relay
    /// (broken or ambiguous framing, an unasked-for 1xx or 101).
    Invalid,
}

/// State of one request through the edge.
pub struct RequestCtx {
    /// When the request arrived.
    pub start: Instant,
    /// The tables this request routes with.
    pub runtime: Option<Arc<Runtime>>,
    /// The matched location.
    pub route: Option<Arc<Route>>,
    /// The normalized path, when it differs from the one sent (for
    /// `proxy_pass` URI replacement).
    pub uri: Option<String>,
    /// Servers tried so far.
    pub tried: Tried,
    /// Tries made.
    pub tries: usize,
    /// The server currently held.
    pub lease: Option<Lease>,
    /// The server of the last try, kept for logs and metrics after a failed lease.
    pub last_pick: Option<Pick>,
    /// Status the upstream answered with.
    pub upstream_status: Option<u16>,
    /// When the current try started (for the upstream response time).
    pub try_start: Option<Instant>,
    /// Held while a WebSocket tunnel is open.
    pub tunnel: Option<TunnelGuard>,
    /// The client's address as the request is attributed: the connection's,
    /// or the one trusted proxies gave (realip).
    pub client: Option<std::net::SocketAddr>,
    /// The server's socket once it switched protocols (101): the tunnel is
    /// run by the connection's task after the exchange returns.
    pub upgraded: Option<UpStream>,
    /// The expanded hash key (hash methods only).
    pub hash_key: String,
    /// The client must be (re)pinned: send a sticky Set-Cookie with the response.
    pub sticky_new: bool,
    /// Response body bytes sent to the client.
    pub body_sent: u64,
}

impl RequestCtx {
    /// A fresh context.
    pub fn new() -> Self {
        IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
        RequestCtx {
            start: Instant::now(),
            runtime: None,
            uri: None,
            route: None,
            tried: Tried::default(),
            tries: 0,
            lease: None,
            last_pick: None,
            upstream_status: None,
            try_start: None,
            tunnel: None,
            upgraded: None,
            client: None,
            hash_key: String::new(),
            sticky_new: false,
            body_sent: 0,
        }
    }

    /// The upstream the request was routed to (`None` for the edge's own
    /// answers).
    pub fn upstream(&self) -> Option<&Arc<Upstream>> {
        match &self.route.as_deref()?.action {
            Action::Proxy { upstream, .. } => Some(upstream),
            Action::Return { .. } => None,
        }
    }
}

impl Drop for RequestCtx {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Default for RequestCtx {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts one open WebSocket tunnel in `openclaw_edge_websocket_tunnels`
/// and its server's gauge while it lives, and its lifetime when it ends.
pub struct TunnelGuard {
    /// When the 101 went out: the upgrade request's own duration ends here.
    pub opened: Instant,
    server: IntGauge,
    lifetime: Histogram,
}

impl TunnelGuard {
    /// Counts a tunnel to `server` of the upstream of `meters` as open.
    pub fn open(server: &Server, meters: &UpstreamMeters) -> Self {
        metrics().tunnels.inc();
        server.tunnels.inc();
        TunnelGuard {
            opened: Instant::now(),
            server: server.tunnels.clone(),
            lifetime: meters.tunnel_duration.clone(),
        }
    }
}

impl Drop for TunnelGuard {
    fn drop(&mut self) {
        metrics().tunnels.dec();
        self.server.dec();
        self.lifetime.observe(self.opened.elapsed().as_secs_f64());
    }
}

//! Metric handles resolved once per upstream and server when the routing
//! tables are built, so that the request path counts with an atomic add
//! and never looks a label set up (nor allocates, nor locks).

use prometheus::{Histogram, IntCounter, IntCounterVec};

/// `openclaw_edge_requests_total` for one (upstream, server), by status class.
#[derive(Clone)]
pub struct CodeCounters([IntCounter; 5]);

impl CodeCounters {
    /// The five status classes of `server` of `upstream` in `family`.
    pub(super) fn new(family: &IntCounterVec, upstream: &str, server: &str) -> Self {
        CodeCounters(
            ["1xx", "2xx", "3xx", "4xx", "5xx"]
                .map(|class| family.with_label_values(&[upstream, server, class])),
        )
    }

    /// Counts one response with `status`.
    pub fn count(&self, status: u16) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.0[class].inc();
    }
    /// The counts so far, `1xx` to `5xx` (for the status page).
    pub fn counts(&self) -> [u64; 5] {
        std::array::from_fn(|i| self.0[i].get())
    }
}

impl std::fmt::Debug for CodeCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("CodeCounters")
    }
}

/// Why a request was sent again (`openclaw_edge_upstream_retries_total`'s
/// `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryReason {
    /// The try failed: refused, reset, closed (`proxy_next_upstream error`).
    Error = 0,
    /// The try timed out (`proxy_next_upstream timeout`).
    Timeout = 1,
    /// A kept-alive connection the server had closed: the same server
    /// gets the request again on a new connection.
    KeepaliveClosed = 2,
}

/// `openclaw_edge_upstream_retries_total` for one upstream, by reason.
#[derive(Clone)]
pub struct RetryCounters([IntCounter; 3]);

impl RetryCounters {
    /// The reasons of `upstream` in `family`.
    pub(super) fn new(family: &IntCounterVec, upstream: &str) -> Self {
        RetryCounters(
            ["error", "timeout", "keepalive_closed"]
                .map(|reason| family.with_label_values(&[upstream, reason])),
        )
    }

    /// Counts one retry for `reason`.
    pub fn count(&self, reason: RetryReason) {
        self.0[reason as usize].inc();
    }
}

/// One upstream's handles beside its status codes and request durations.
#[derive(Clone)]
pub struct UpstreamMeters {
    /// `openclaw_edge_upstream_sent_bytes_total`.
    pub sent: IntCounter,
    /// `openclaw_edge_upstream_received_bytes_total`.
    pub received: IntCounter,
    /// `openclaw_edge_upstream_connect_duration_seconds`.
    pub connect: Histogram,
    /// `openclaw_edge_upstream_retries_total`.
    pub retries: RetryCounters,
    /// `openclaw_edge_websocket_tunnel_duration_seconds`.
    pub tunnel_duration: Histogram,
}

impl std::fmt::Debug for UpstreamMeters {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("UpstreamMeters")
    }
}

//! `/metrics`: the node's Prometheus metrics, all named `openclaw_gateway_*`.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// The node's metrics.
pub struct Metrics {
    registry: Registry,
    /// Open WebSocket connections (handshaken or not).
    pub connections: IntGauge,
    /// Handshakes by result (`ok`, `unauthorized`, `rate_limited`, `protocol`,
    /// `invalid`, `timeout`, ...).
    pub handshakes: IntCounterVec,
    /// Requests by method and result (`ok`, `error`).
    pub requests: IntCounterVec,
    /// Sessions in the store, refreshed at each scrape.
    pub sessions: IntGauge,
    /// Agent runs by result (`ok`, `error`).
    pub runs: IntCounterVec,
    /// Agent runs going on now.
    pub runs_active: IntGauge,
    /// Session store latency by operation.
    pub store_seconds: HistogramVec,
    /// Connections closed for falling behind.
    pub slow_consumers: IntCounter,
    /// 1 while this node leads, else 0.
    pub leader: IntGauge,
    /// The epoch of this node's current or last term.
    pub lease_epoch: IntGauge,
    /// Terms this node took over from another node.
    pub failovers: IntCounter,
    /// Lease renewal round trips.
    pub lease_renew_seconds: Histogram,
    /// Leader-only job ticks by result (`ran`, `duplicate`, `stale`, `error`).
    pub jobs: IntCounterVec,
    /// Requests to the port by client attribution (`direct-local`,
    /// `direct-remote`, `trusted-proxy`, `unattributable-proxy`).
    pub ingress: IntCounterVec,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(format!("openclaw_gateway_{name}"), help).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric");
            g
        };
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(format!("openclaw_gateway_{name}"), help), labels)
                .expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let connections = gauge("connections", "Open WebSocket connections");
        let sessions = gauge("sessions", "Sessions in the session store");
        let runs_active = gauge("runs_active", "Agent runs in progress on this node");
        let plain_counter = |name: &str, help: &str| {
            let c =
                IntCounter::new(format!("openclaw_gateway_{name}"), help).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let slow_consumers = plain_counter(
            "slow_consumers_total",
            "Connections closed because they fell behind",
        );
        let leader = gauge("leader", "1 while this node holds the leader lease");
        let lease_epoch = gauge(
            "lease_epoch",
            "Fencing epoch of this node's current or last leader term",
        );
        let failovers = plain_counter(
            "failovers_total",
            "Leader terms this node took over from another node",
        );
        let lease_renew_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "openclaw_gateway_lease_renew_seconds",
                "Leader lease renewal round trip",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            ]),
        )
        .expect("valid metric");
        registry
            .register(Box::new(lease_renew_seconds.clone()))
            .expect("unique metric");
        let jobs = counter("jobs_total", "Leader-only job ticks by result", &["result"]);
        let handshakes = counter(
            "handshakes_total",
            "WebSocket handshakes by result",
            &["result"],
        );
        let requests = counter(
            "requests_total",
            "Protocol requests by method and result",
            &["method", "result"],
        );
        let runs = counter("runs_total", "Agent runs by result", &["result"]);
        let ingress = counter(
            "ingress_requests_total",
            "Requests to the gateway port by client attribution",
            &["kind"],
        );
        let store_seconds = HistogramVec::new(
            HistogramOpts::new(
                "openclaw_gateway_store_seconds",
                "Session store operation latency",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
                2.5,
            ]),
            &["op"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(store_seconds.clone()))
            .expect("unique metric");
        Metrics {
            registry,
            connections,
            handshakes,
            requests,
            sessions,
            runs,
            runs_active,
            store_seconds,
            slow_consumers,
            leader,
            lease_epoch,
            failovers,
            lease_renew_seconds,
            jobs,
            ingress,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding cannot fail");
        String::from_utf8(out).expect("metrics are UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

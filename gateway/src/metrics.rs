//! `/metrics`: the node's Prometheus metrics, all named `openclaw_gateway_*`
//! (the process's own are the standard `process_*`). Labels are bounded:
//! method names come from the method table, operations and results from
//! the code, never from a client.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
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
    /// Terms this node started, whoever led before: the flapping alert's count.
    pub terms: IntCounter,
    /// Lease renewal round trips.
    pub lease_renew_seconds: Histogram,
    /// Leader-only job ticks by result (`ran`, `duplicate`, `stale`, `error`).
    pub jobs: IntCounterVec,
    /// Requests to the port by client attribution (`direct-local`,
    /// `direct-remote`, `trusted-proxy`, `unattributable-proxy`).
    pub ingress: IntCounterVec,
    /// WebSocket data frames received from clients.
    pub frames_in: IntCounter,
    /// WebSocket data frames sent to clients.
    pub frames_out: IntCounter,
    /// Redis call latency by operation (see [`crate::redis_link`]).
    pub redis_seconds: HistogramVec,
    /// Whether Redis answered this node's last call, by link (`sessions`, `lock`).
    pub redis_up: IntGaugeVec,
    /// Always 1, with the hash of the settings every node should share
    /// (`nodes` flags drift on it) as its label.
    pub config_info: IntGaugeVec,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        // Registers a new metric and hands it back.
        macro_rules! registered {
            ($metric:expr) => {{
                let metric = $metric.expect("valid metric");
                registry
                    .register(Box::new(metric.clone()))
                    .expect("unique metric");
                metric
            }};
        }
        let name = |name: &str| format!("openclaw_gateway_{name}");
        let gauge = |n: &str, help: &str| registered!(IntGauge::new(name(n), help));
        let gauges = |n: &str, help: &str, labels: &[&str]| {
            registered!(IntGaugeVec::new(Opts::new(name(n), help), labels))
        };
        let counter = |n: &str, help: &str| registered!(IntCounter::new(name(n), help));
        let counters = |n: &str, help: &str, labels: &[&str]| {
            registered!(IntCounterVec::new(Opts::new(name(n), help), labels))
        };
        let histograms = |n: &str, help: &str, labels: &[&str]| {
            let opts = HistogramOpts::new(name(n), help).buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
                2.5,
            ]);
            registered!(HistogramVec::new(opts, labels))
        };
        let lease_renew_seconds = registered!(Histogram::with_opts(
            HistogramOpts::new(
                name("lease_renew_seconds"),
                "Leader lease renewal round trip"
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            ])
        ));
        let frames = counters(
            "frames_total",
            "WebSocket data frames (text, binary) by direction (in: from clients, out: to clients)",
            &["direction"],
        );
        gauges(
            "build_info",
            "Always 1; the running binary's version as a label",
            &["version"],
        )
        .with_label_values(&[crate::node::VERSION])
        .set(1);
        // CPU, memory and descriptors from /proc, under the standard names.
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("unique metric");
        Metrics {
            connections: gauge("connections", "Open WebSocket connections"),
            handshakes: counters(
                "handshakes_total",
                "WebSocket handshakes by result",
                &["result"],
            ),
            requests: counters(
                "requests_total",
                "Protocol requests by method and result",
                &["method", "result"],
            ),
            sessions: gauge("sessions", "Sessions in the session store"),
            runs: counters("runs_total", "Agent runs by result", &["result"]),
            runs_active: gauge("runs_active", "Agent runs in progress on this node"),
            store_seconds: histograms("store_seconds", "Session store operation latency", &["op"]),
            slow_consumers: counter(
                "slow_consumers_total",
                "Connections closed because they fell behind",
            ),
            leader: gauge("leader", "1 while this node holds the leader lease"),
            lease_epoch: gauge(
                "lease_epoch",
                "Fencing epoch of this node's current or last leader term",
            ),
            failovers: counter(
                "failovers_total",
                "Leader terms this node took over from another node",
            ),
            terms: counter(
                "leader_terms_total",
                "Leader terms this node started (after another node's term or its own)",
            ),
            lease_renew_seconds,
            ingress: counters(
                "ingress_requests_total",
                "Requests to the gateway port by client attribution",
                &["kind"],
            ),
            jobs: counters("jobs_total", "Leader-only job ticks by result", &["result"]),
            frames_in: frames.with_label_values(&["in"]),
            frames_out: frames.with_label_values(&["out"]),
            redis_seconds: histograms(
                "redis_seconds",
                "Redis call latency by operation, failed and timed-out calls included",
                &["op"],
            ),
            redis_up: gauges(
                "redis_up",
                "1 if Redis answered this node's last call on the link (sessions, lock), 0 if it \
                 could not be reached or did not answer in time",
                &["link"],
            ),
            config_info: gauges(
                "config_info",
                "Always 1; the hash of the settings every node of a cluster should share \
                 (as `openclaw gateway nodes` shows it) as a label",
                &["config_hash"],
            ),
            registry,
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

//! The edge's Prometheus metrics. Names start with `openclaw_edge_`, labels
//! are bounded (upstream, server, code class; never a path). Label handles are
//! resolved when the routing tables are built, so the request path only
//! increments counters it already holds.

use prometheus::{
    exponential_buckets, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry,
};
use std::sync::OnceLock;

/// Every metric family of the edge, in one registry.
pub struct Metrics {
    /// The registry `/metrics` renders.
    pub registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    /// 1 when a server may take requests, by upstream and server.
    pub server_up: IntGaugeVec,
    /// Requests and tunnels in flight, by upstream and server.
    pub inflight: IntGaugeVec,
    /// WebSocket tunnels open now.
    pub tunnels: IntGauge,
    checks: IntCounterVec,
    reloads: IntCounterVec,
}

/// The process-wide metrics (reloads keep counting into the same series).
pub fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(Metrics::new)
}

impl Metrics {
    fn new() -> Metrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "openclaw_edge_requests_total",
                "Requests answered, by upstream, server and status class.",
            ),
            &["upstream", "server", "code"],
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "openclaw_edge_request_duration_seconds",
                "Time from the request's arrival to the end of its response, by upstream.",
            )
            .buckets(exponential_buckets(0.0005, 2.0, 16).expect("valid buckets")),
            &["upstream"],
        )
        .expect("valid metric");
        let server_up = IntGaugeVec::new(
            Opts::new(
                "openclaw_edge_upstream_server_up",
                "1 if the server may take requests, 0 if down or failed.",
            ),
            &["upstream", "server"],
        )
        .expect("valid metric");
        let inflight = IntGaugeVec::new(
            Opts::new(
                "openclaw_edge_upstream_server_inflight",
                "Requests in flight to the server, open WebSocket tunnels included.",
            ),
            &["upstream", "server"],
        )
        .expect("valid metric");
        let tunnels = IntGauge::new(
            "openclaw_edge_websocket_tunnels",
            "WebSocket tunnels open now.",
        )
        .expect("valid metric");
        let checks = IntCounterVec::new(
            Opts::new(
                "openclaw_edge_health_checks_total",
                "Active health checks, by upstream, server and result.",
            ),
            &["upstream", "server", "result"],
        )
        .expect("valid metric");
        let reloads = IntCounterVec::new(
            Opts::new(
                "openclaw_edge_config_reloads_total",
                "Configuration reloads, by result (ok, error).",
            ),
            &["result"],
        )
        .expect("valid metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(duration.clone()),
            Box::new(server_up.clone()),
            Box::new(inflight.clone()),
            Box::new(tunnels.clone()),
            Box::new(checks.clone()),
            Box::new(reloads.clone()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        Metrics {
            registry,
            requests,
            duration,
            server_up,
            inflight,
            tunnels,
            checks,
            reloads,
        }
    }

    /// Counters for requests to `server` of `upstream` (server "" for requests
    /// that reached none).
    pub fn codes(&self, upstream: &str, server: &str) -> CodeCounters {
        CodeCounters(
            ["1xx", "2xx", "3xx", "4xx", "5xx"]
                .map(|class| self.requests.with_label_values(&[upstream, server, class])),
        )
    }

    /// `openclaw_edge_health_checks_total` for one server and result.
    pub fn checks(&self, upstream: &str, server: &str, alive: bool) -> IntCounter {
        self.checks
            .with_label_values(&[upstream, server, if alive { "alive" } else { "dead" }])
    }

    /// `openclaw_edge_config_reloads_total` for `result` (`ok` or `error`).
    pub fn reloads(&self, result: &str) -> IntCounter {
        self.reloads.with_label_values(&[result])
    }

    /// The duration histogram of `upstream` ("" for answers the edge gives itself).
    pub fn duration(&self, upstream: &str) -> Histogram {
        self.duration.with_label_values(&[upstream])
    }
}

/// `openclaw_edge_requests_total` for one (upstream, server), by status class.
#[derive(Clone)]
pub struct CodeCounters([IntCounter; 5]);

impl CodeCounters {
    /// Counts one response with `status`.
    pub fn count(&self, status: u16) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.0[class].inc();
    }
}

impl std::fmt::Debug for CodeCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("CodeCounters")
    }
}

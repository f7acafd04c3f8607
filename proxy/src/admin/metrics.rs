//! The edge's Prometheus metrics. Names start with `openclaw_edge_` (the
//! process's own are the standard `process_*`), labels are bounded
//! (upstream, server, code class, result, reason; never a path or a client
//! address). Label handles are resolved when the routing tables are built
//! ([`super::meters`]), so the request path only increments counters it
//! already holds.

use super::meters::{CodeCounters, RetryCounters, UpstreamMeters};
use prometheus::core::Collector;
#[cfg(target_os = "linux")]
use prometheus::process_collector::ProcessCollector;
use prometheus::proto::MetricFamily;
use prometheus::{
    exponential_buckets, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry,
};
use std::sync::{Once, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// Every metric family of the edge, in one registry.
pub struct Metrics {
    registry: Registry,
    /// Adds the process collector once (see [`Metrics::gather`]).
    process: Once,
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
    /// Client connections open now (TLS handshakes included).
    pub client_connections: IntGauge,
    /// Client connections accepted since start.
    pub client_accepted: IntCounter,
    sent: IntCounterVec,
    received: IntCounterVec,
    connect: HistogramVec,
    retries: IntCounterVec,
    tunnel_duration: HistogramVec,
    server_tunnels: IntGaugeVec,
    generation: IntGauge,
    reload_ok: IntGauge,
    reload_time: Gauge,
}

/// The process-wide metrics (reloads keep counting into the same series).
pub fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(Metrics::new)
}

/// Registers `metric` in `registry` and hands it back.
fn registered<C: Collector + Clone + 'static>(
    registry: &Registry,
    metric: prometheus::Result<C>,
) -> C {
    let metric = metric.expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are unique");
    metric
}

impl Metrics {
    fn new() -> Metrics {
        let r = Registry::new();
        let counters = |name: &str, help: &str, labels: &[&str]| {
            registered(&r, IntCounterVec::new(Opts::new(name, help), labels))
        };
        let gauges = |name: &str, help: &str, labels: &[&str]| {
            registered(&r, IntGaugeVec::new(Opts::new(name, help), labels))
        };
        let histograms = |name: &str, help: &str, buckets: Vec<f64>, labels: &[&str]| {
            registered(
                &r,
                HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels),
            )
        };
        let gauge = |name: &str, help: &str| registered(&r, IntGauge::new(name, help));
        let m = Metrics {
            requests: counters(
                "openclaw_edge_requests_total",
                "Requests answered, by upstream, server and status class.",
                &["upstream", "server", "code"],
            ),
            duration: histograms(
                "openclaw_edge_request_duration_seconds",
                "Time from the request's arrival to the end of its response (to the 101 for a \
                 WebSocket upgrade), by upstream.",
                exponential_buckets(0.0005, 2.0, 16).expect("valid buckets"),
                &["upstream"],
            ),
            server_up: gauges(
                "openclaw_edge_upstream_server_up",
                "1 if the server may take new requests, 0 if down, draining, unhealthy or failed.",
                &["upstream", "server"],
            ),
            inflight: gauges(
                "openclaw_edge_upstream_server_inflight",
                "Requests in flight to the server, open WebSocket tunnels included.",
                &["upstream", "server"],
            ),
            tunnels: gauge(
                "openclaw_edge_websocket_tunnels",
                "WebSocket tunnels open now.",
            ),
            checks: counters(
                "openclaw_edge_health_checks_total",
                "Active health checks, by upstream, server and result.",
                &["upstream", "server", "result"],
            ),
            reloads: counters(
                "openclaw_edge_config_reloads_total",
                "Configuration reloads, by result (ok, error).",
                &["result"],
            ),
            client_connections: gauge(
                "openclaw_edge_client_connections",
                "Client connections open now, TLS handshakes and WebSocket tunnels included.",
            ),
            client_accepted: registered(
                &r,
                IntCounter::new(
                    "openclaw_edge_client_connections_accepted_total",
                    "Client connections accepted.",
                ),
            ),
            sent: counters(
                "openclaw_edge_upstream_sent_bytes_total",
                "Bytes sent to the upstream's servers (requests and the client side of \
                 tunnels; before TLS), by upstream.",
                &["upstream"],
            ),
            received: counters(
                "openclaw_edge_upstream_received_bytes_total",
                "Bytes received from the upstream's servers (responses and the server side \
                 of tunnels; after TLS), by upstream.",
                &["upstream"],
            ),
            connect: histograms(
                "openclaw_edge_upstream_connect_duration_seconds",
                "Time to open a new connection to a server (TLS handshake included), by \
                 upstream; failed attempts are counted in retries, not here.",
                exponential_buckets(0.0001, 2.0, 16).expect("valid buckets"),
                &["upstream"],
            ),
            retries: counters(
                "openclaw_edge_upstream_retries_total",
                "Requests sent again after a failed try, by upstream and reason (error, \
                 timeout, keepalive_closed).",
                &["upstream", "reason"],
            ),
            tunnel_duration: histograms(
                "openclaw_edge_websocket_tunnel_duration_seconds",
                "Lifetime of WebSocket tunnels that ended, from the 101, by upstream.",
                vec![
                    1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 43200.0, 86400.0, 604800.0,
                ],
                &["upstream"],
            ),
            server_tunnels: gauges(
                "openclaw_edge_upstream_server_websocket_tunnels",
                "WebSocket tunnels open now, by upstream and server.",
                &["upstream", "server"],
            ),
            generation: gauge(
                "openclaw_edge_config_generation",
                "Configurations loaded since start: 1 at start, one more per successful reload.",
            ),
            reload_ok: gauge(
                "openclaw_edge_config_last_reload_successful",
                "1 if the last configuration load (start or reload) succeeded, 0 if it was \
                 refused and the previous configuration keeps serving.",
            ),
            reload_time: registered(
                &r,
                Gauge::new(
                    "openclaw_edge_config_last_reload_success_timestamp_seconds",
                    "Unix time of the last successful configuration load (start or reload).",
                ),
            ),
            registry: r.clone(),
            process: Once::new(),
        };
        let build = gauges(
            "openclaw_edge_build_info",
            "Always 1; the running binary's version as a label.",
            &["version"],
        );
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        // Both results exist from the start, so that `increase()` sees the first.
        for result in ["ok", "error"] {
            m.reloads.with_label_values(&[result]);
        }
        m
    }

    /// Counters for requests to `server` of `upstream` (server "" for requests
    /// that reached none).
    pub fn codes(&self, upstream: &str, server: &str) -> CodeCounters {
        CodeCounters::new(&self.requests, upstream, server)
    }

    /// The traffic, connect, retry and tunnel handles of `upstream`.
    pub fn upstream(&self, upstream: &str) -> UpstreamMeters {
        UpstreamMeters {
            sent: self.sent.with_label_values(&[upstream]),
            received: self.received.with_label_values(&[upstream]),
            connect: self.connect.with_label_values(&[upstream]),
            retries: RetryCounters::new(&self.retries, upstream),
            tunnel_duration: self.tunnel_duration.with_label_values(&[upstream]),
        }
    }

    /// `openclaw_edge_upstream_server_websocket_tunnels` of one server.
    pub fn server_tunnels(&self, upstream: &str, server: &str) -> IntGauge {
        self.server_tunnels.with_label_values(&[upstream, server])
    }

    /// `openclaw_edge_health_checks_total` for one server and result.
    pub fn checks(&self, upstream: &str, server: &str, alive: bool) -> IntCounter {
        self.checks
            .with_label_values(&[upstream, server, if alive { "alive" } else { "dead" }])
    }

    /// Every family for a scrape. The standard `process_*` ones (CPU,
    /// memory, descriptors, read from /proc) join at the first scrape: the
    /// collector reads the pid it was made in, which must be the serving
    /// process's, after `-d`'s fork.
    pub fn gather(&self) -> Vec<MetricFamily> {
        #[cfg(target_os = "linux")]
        self.process.call_once(|| {
            self.registry
                .register(Box::new(ProcessCollector::for_self()))
                .expect("registered once");
        });
        self.registry.gather()
    }

    /// Records a reload that went through, in
    /// `openclaw_edge_config_reloads_total` and the configuration gauges.
    pub fn reloaded(&self) {
        self.reloads.with_label_values(&["ok"]).inc();
        self.config_loaded();
    }

    /// Records a configuration that now serves (the one the edge starts
    /// with, or a reload's) in the configuration gauges.
    pub fn config_loaded(&self) {
        self.generation.inc();
        self.reload_ok.set(1);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.reload_time.set(now);
    }

    /// Configurations loaded since start (`openclaw_edge_config_generation`).
    pub fn generation(&self) -> i64 {
        self.generation.get()
    }

    /// Whether the last configuration load succeeded.
    pub fn last_reload_ok(&self) -> bool {
        self.reload_ok.get() == 1
    }

    /// Records a refused reload: the previous configuration keeps serving.
    pub fn reload_refused(&self) {
        self.reloads.with_label_values(&["error"]).inc();
        self.reload_ok.set(0);
    }

    /// The duration histogram of `upstream` ("" for answers the edge gives itself).
    pub fn duration(&self, upstream: &str) -> Histogram {
        self.duration.with_label_values(&[upstream])
    }
}

//! Smooth weighted round robin, checked against nginx itself.

use openclaw_e2e::client::backend_sequence;
use openclaw_e2e::config::weighted;
use openclaw_e2e::{bounded, Backend, Edge, EdgeConfig, Nginx, Upstream};
use std::collections::BTreeMap;
use std::time::Duration;

/// Weights 3:2:1 over 600 requests: exactly 300/200/100, in nginx's smooth
/// order (s0 s1 s0 s2 s1 s0, repeated), and request for request the same
/// sequence the real nginx produces with the same upstream block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_round_robin_is_smooth_and_matches_nginx() {
    bounded(Duration::from_secs(90), async {
        let backends = Backend::start_n(3).await;
        let upstream = Upstream::new("rr", "round_robin", weighted(&backends, &[3, 2, 1]));
        let edge = Edge::start(EdgeConfig::new(upstream.clone())).await;

        let seen = backend_sequence(edge.addr(), 600).await;

        let mut counts = BTreeMap::new();
        for name in &seen {
            *counts.entry(name.as_str()).or_insert(0) += 1;
        }
        assert_eq!(
            counts,
            BTreeMap::from([("s0", 300), ("s1", 200), ("s2", 100)]),
            "requests per server for weights 3:2:1"
        );
        let period = ["s0", "s1", "s0", "s2", "s1", "s0"];
        for (i, name) in seen.iter().enumerate() {
            assert_eq!(
                name,
                period[i % 6],
                "pick {i} breaks the smooth order; first 12 picks: {:?}",
                &seen[..12]
            );
        }

        for (b, want) in backends.iter().zip([300.0, 200.0, 100.0]) {
            let server = b.addr().to_string();
            let labels = [
                ("upstream", "rr"),
                ("server", server.as_str()),
                ("code", "2xx"),
            ];
            edge.wait_metric("openclaw_edge_requests_total", &labels, want)
                .await;
        }
        let upstream_label = [("upstream", "rr")];
        edge.wait_metric(
            "openclaw_edge_request_duration_seconds_count",
            &upstream_label,
            600.0,
        )
        .await;

        let nginx = Nginx::start(&upstream).await;
        let oracle = backend_sequence(nginx.addr(), 600).await;
        assert_eq!(seen, oracle, "the edge's order differs from nginx's");
    })
    .await;
}

//! least_conn: in-flight requests per weight, as the backends see them and
//! as the edge reports them.

use openclaw_e2e::config::weighted;
use openclaw_e2e::wait::until;
use openclaw_e2e::{bounded, Backend, Edge, EdgeConfig, Request, Upstream};
use std::time::Duration;

/// Weights 3:2:1 and 60 requests held open at the same time: the backends
/// hold 30/20/10 (±1), the edge's in-flight gauge says the same, and once
/// released every request is answered and the gauges drop to zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_requests_split_by_weight() {
    bounded(Duration::from_secs(60), async {
        let backends = Backend::start_n(3).await;
        let upstream = Upstream::new("lc", "least_conn", weighted(&backends, &[3, 2, 1]));
        let edge = Edge::start(EdgeConfig::new(upstream)).await;

        let held: Vec<_> = (0..60)
            .map(|_| {
                let req = Request::get(edge.addr(), "/hold");
                tokio::spawn(async move { req.send().await })
            })
            .collect();
        until(
            "60 requests held at the backends",
            Duration::from_secs(20),
            || async { backends.iter().map(Backend::inflight).sum::<usize>() == 60 },
        )
        .await;

        let at_backends: Vec<usize> = backends.iter().map(Backend::inflight).collect();
        for (got, want) in at_backends.iter().zip([30, 20, 10]) {
            assert!(
                got.abs_diff(want) <= 1,
                "in flight per server {at_backends:?}, expected 30/20/10 (±1)"
            );
        }
        let gauges = edge.inflight_gauges("lc", &backends).await;
        assert_eq!(
            gauges, at_backends,
            "openclaw_edge_upstream_server_inflight disagrees with the backends"
        );

        for b in &backends {
            b.release_held();
        }
        for h in held {
            let resp = h.await.expect("task").expect("held request");
            assert_eq!(resp.status, 200, "{}", resp.text());
        }
        until(
            "the in-flight gauges to return to 0",
            Duration::from_secs(10),
            || async { edge.inflight_gauges("lc", &backends).await == [0, 0, 0] },
        )
        .await;
    })
    .await;
}

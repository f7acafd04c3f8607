//! Location matching with nginx's syntax: an exact `= /ping` location
//! answers by itself, everything else reaches the upstream.

use openclaw_e2e::{bounded, Backend, Edge, EdgeConfig, Request, Server, Upstream};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_return_location_answers_without_the_upstream() {
    bounded(Duration::from_secs(30), async {
        let backend = Backend::start("s0").await;
        let upstream = Upstream::new("app", "round_robin", vec![Server::new(backend.addr())]);
        let config = EdgeConfig::new(upstream)
            .location("= /ping", &["return: { status: 200, body: \"pong\" }"]);
        let edge = Edge::start(config).await;

        let ping = Request::get(edge.addr(), "/ping")
            .send()
            .await
            .expect("GET /ping");
        assert_eq!((ping.status, ping.text().trim()), (200, "pong"));
        assert_eq!(backend.requests(), 0, "/ping must not reach the upstream");

        for path in ["/pingx", "/ping/", "/other"] {
            let resp = Request::get(edge.addr(), path).send().await.expect("GET");
            assert_eq!(resp.status, 200, "{path}: {}", resp.text());
            assert_eq!(
                resp.json()["path"],
                path,
                "{path} reaches the upstream unchanged"
            );
        }
    })
    .await;
}

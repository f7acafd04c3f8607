//! When no server of an upstream can take a request, the client gets a 502
//! whose body names the upstream, and the edge counts it as a 5xx.

use openclaw_e2e::ports::free_addr;
use openclaw_e2e::{bounded, Edge, EdgeConfig, Request, Server, Upstream};
use std::time::Duration;

/// Sends a GET through an edge in front of `servers` (upstream `deadpool`)
/// and checks the 502 and its accounting.
async fn answers_502_naming_the_upstream(servers: Vec<Server>) {
    bounded(Duration::from_secs(30), async {
        let edge = Edge::start(EdgeConfig::new(Upstream::new(
            "deadpool",
            "round_robin",
            servers,
        )))
        .await;
        for _ in 0..3 {
            let resp = Request::get(edge.addr(), "/")
                .send()
                .await
                .expect("an answer");
            assert_eq!(resp.status, 502, "{}", resp.text());
            assert!(
                resp.text().contains("deadpool"),
                "the 502 body should name the upstream: {:?}",
                resp.text()
            );
        }
        edge.wait_metric(
            "openclaw_edge_requests_total",
            &[("upstream", "deadpool"), ("code", "5xx")],
            3.0,
        )
        .await;
    })
    .await;
}

/// Every server refuses connections (nothing listens on their ports).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_refuses() {
    answers_502_naming_the_upstream(vec![Server::new(free_addr()), Server::new(free_addr())]).await;
}

/// Every server is marked `down` in the config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_marked_down() {
    answers_502_naming_the_upstream(vec![
        Server::new(free_addr()).down(),
        Server::new(free_addr()).down(),
    ])
    .await;
}

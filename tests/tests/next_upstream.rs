//! `next_upstream` (nginx `proxy_next_upstream*`): which failed tries move a
//! request on to the next server. The first server of each upstream here
//! refuses connections, and round robin picks it first.

use openclaw_e2e::ports::free_addr;
use openclaw_e2e::{bounded, Backend, Edge, EdgeConfig, Request, Server, Upstream};
use std::time::Duration;

/// The status of the first `method` request through an edge whose upstream
/// is [refusing, live], with `next_upstream` set on the location.
async fn first_request(method: &str, next_upstream: &str) -> (u16, String) {
    let live = Backend::start("live").await;
    let servers = vec![Server::new(free_addr()), Server::new(live.addr())];
    let config = EdgeConfig::new(Upstream::new("app", "round_robin", servers))
        .location_key(&format!("next_upstream: {next_upstream}"));
    let edge = Edge::start(config).await;
    let resp = Request::get(edge.addr(), "/")
        .method(method)
        .header("Content-Length", "0")
        .send()
        .await
        .expect("an answer");
    (resp.status, resp.text())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_moves_on_after_a_refused_connection() {
    bounded(Duration::from_secs(30), async {
        let (status, body) = first_request("GET", "{ when: [error, timeout] }").await;
        assert_eq!(status, 200, "{body}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tries_one_means_no_second_server() {
    bounded(Duration::from_secs(30), async {
        let (status, body) = first_request("GET", "{ tries: 1 }").await;
        assert_eq!(status, 502, "{body}");
        assert!(body.contains("app"), "the 502 names the upstream: {body}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_moves_on_when_non_idempotent_is_allowed() {
    bounded(Duration::from_secs(30), async {
        let (status, body) = first_request("POST", "{ non_idempotent: true }").await;
        assert_eq!(status, 200, "{body}");
    })
    .await;
}

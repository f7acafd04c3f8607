//! The request headers a backend receives through the edge, as the seed's
//! `proxy_set_header` lines define them with nginx's variables.

use openclaw_e2e::{bounded, Backend, Edge, EdgeConfig, Request, Response, Server, Upstream};
use std::net::IpAddr;
use std::time::Duration;

/// The seed's header set, written out as in conf/edge.yaml.
const SEED_HEADERS: &str = "headers: { Host: $host, X-Real-IP: $remote_addr, \
    X-Forwarded-For: $proxy_add_x_forwarded_for, X-Forwarded-Proto: $scheme, \
    Upgrade: $http_upgrade, Connection: $connection_upgrade }";

const CLIENT: [u8; 4] = [127, 0, 0, 9];

/// A GET from 127.0.0.9 with `headers`, through an edge whose location has
/// `location_keys`; returns the backend's report.
async fn through_edge(location_keys: &[&str], headers: &[(&str, &str)]) -> Response {
    let backend = Backend::start("s0").await;
    let upstream = Upstream::new("app", "round_robin", vec![Server::new(backend.addr())]);
    let mut config = EdgeConfig::new(upstream);
    for key in location_keys {
        config = config.location_key(key);
    }
    let edge = Edge::start(config).await;
    let mut req = Request::get(edge.addr(), "/some/path?q=1").from_ip(IpAddr::from(CLIENT));
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.expect("request through the edge");
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp
}

/// Asserts that the backend received header `name` once, with `value`.
fn received_once(resp: &Response, name: &str, value: &str) {
    assert_eq!(
        resp.received_header(name),
        [value],
        "{name} as the backend received it; report: {}",
        resp.text()
    );
}

/// Host is `$host` (lowercased, port dropped), X-Real-IP the client,
/// X-Forwarded-For `forwarded` for a client that sent `10.1.2.3`,
/// X-Forwarded-Proto http.
async fn seed_headers_arrive(location_keys: &[&str], forwarded: &str) {
    bounded(Duration::from_secs(30), async {
        let resp = through_edge(
            location_keys,
            &[
                ("Host", "Gateway.Example.com:8080"),
                ("X-Forwarded-For", "10.1.2.3"),
            ],
        )
        .await;
        assert_eq!(resp.json()["path"], "/some/path?q=1");
        received_once(&resp, "host", "gateway.example.com");
        received_once(&resp, "x-real-ip", "127.0.0.9");
        received_once(&resp, "x-forwarded-for", forwarded);
        received_once(&resp, "x-forwarded-proto", "http");

        let resp = through_edge(location_keys, &[("Host", "example.com")]).await;
        received_once(&resp, "host", "example.com");
        received_once(&resp, "x-forwarded-for", "127.0.0.9");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_headers_when_written_out() {
    seed_headers_arrive(&[SEED_HEADERS], "10.1.2.3, 127.0.0.9").await;
}

/// The default is the seed's set with X-Forwarded-For rebuilt: the
/// client's own list is not passed on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_headers_by_default() {
    seed_headers_arrive(&[], "127.0.0.9").await;
}

//! nginx's client-side limits and timeouts at the edge, as a client meets
//! them: `client_max_body_size` (server-wide and per location, for
//! Content-Length and chunked bodies), `keepalive_requests`,
//! `client_header_timeout`, `client_body_timeout`, and re-framed request
//! bodies as the backend receives them.

use openclaw_e2e::client::Conn;
use openclaw_e2e::{bounded, Backend, Edge, EdgeConfig, Server, Upstream};
use std::time::{Duration, Instant};

/// An edge with small limits in front of one backend; `/big` allows more.
async fn limited() -> (Backend, Edge) {
    let backend = Backend::start("a").await;
    let upstream = Upstream::new("app", "round_robin", vec![Server::new(backend.addr())]);
    let config = EdgeConfig::new(upstream)
        .server_key(
            "client: { max_body_size: 10, keepalive_requests: 2, header_timeout: 1s, body_timeout: 1s }",
        )
        .location(
            "/big",
            &["proxy_pass: http://app", "client_max_body_size: 100"],
        );
    let edge = Edge::start(config).await;
    (backend, edge)
}

fn post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn chunked(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_per_server_and_per_location() {
    bounded(Duration::from_secs(30), async {
        let (backend, edge) = limited().await;
        for (request, status) in [
            (post("/a", "0123456789"), 200),
            (post("/a", "0123456789x"), 413),
            (chunked("/a", "0123456789x"), 413),
            (post("/big/a", &"x".repeat(50)), 200),
            (chunked("/big/a", &"x".repeat(100)), 200),
            (chunked("/big/a", &"x".repeat(101)), 413),
        ] {
            let mut conn = Conn::open(edge.addr()).await.unwrap();
            conn.send(&request).await.unwrap();
            let resp = conn.response().await.unwrap();
            assert_eq!(
                resp.status,
                status,
                "{}",
                String::from_utf8_lossy(&request[..request.len().min(80)])
            );
            if status == 413 {
                assert!(resp.text().contains("413"), "{}", resp.text());
                conn.closed().await.unwrap();
            }
        }
        assert_eq!(
            backend.requests(),
            3,
            "refused bodies never reach the backend"
        );
    })
    .await;
}

#[tokio::test]
async fn a_chunked_body_reaches_the_backend_with_the_edges_own_framing() {
    bounded(Duration::from_secs(30), async {
        let (_backend, edge) = limited().await;
        let mut conn = Conn::open(edge.addr()).await.unwrap();
        // Extensions and trailers the backend must never see.
        conn.send(b"POST /big/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n")
            .await
            .unwrap();
        let resp = conn.response().await.unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.received_header("content-length"), vec!["5".to_string()]);
        assert!(resp.received_header("transfer-encoding").is_empty());
        assert!(resp.received_header("x-trailer").is_empty());
        assert_eq!(resp.json()["body"], "abcde");
    })
    .await;
}

#[tokio::test]
async fn keepalive_requests_closes_after_the_nth_response() {
    bounded(Duration::from_secs(30), async {
        let (_backend, edge) = limited().await;
        let mut conn = Conn::open(edge.addr()).await.unwrap();
        conn.send(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let first = conn.response().await.unwrap();
        assert_eq!((first.status, first.header("connection")), (200, None));
        conn.send(b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let second = conn.response().await.unwrap();
        assert_eq!(
            (second.status, second.header("connection")),
            (200, Some("close"))
        );
        conn.closed().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn slow_heads_and_stalled_bodies_are_closed_without_an_answer() {
    bounded(Duration::from_secs(30), async {
        let (backend, edge) = limited().await;
        for partial in [
            &b"GET / HTTP/1.1\r\nHost: x\r\n"[..],
            b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab",
        ] {
            let started = Instant::now();
            let mut conn = Conn::open(edge.addr()).await.unwrap();
            conn.send(partial).await.unwrap();
            let rest = conn.closed().await.unwrap();
            assert!(
                rest.is_empty(),
                "answered {:?}",
                String::from_utf8_lossy(&rest)
            );
            let took = started.elapsed();
            assert!(
                took >= Duration::from_millis(900),
                "closed after {took:?}, before the 1 s timeout"
            );
        }
        assert_eq!(backend.requests(), 0);
    })
    .await;
}

//! WebSocket tunnels through the edge: both directions, immunity to the
//! request read timeout, and their weight in least_conn.

use openclaw_e2e::config::weighted;
use openclaw_e2e::wait::until;
use openclaw_e2e::ws::WsClient;
use openclaw_e2e::{bounded, Backend, Edge, EdgeConfig, Request, Server, Upstream};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// One backend behind the edge, with extra keys on the location.
async fn one_backend(location_keys: &[&str]) -> (Backend, Edge) {
    let backend = Backend::start("ws0").await;
    let servers = vec![Server::new(backend.addr())];
    let mut config = EdgeConfig::new(Upstream::new("ws", "round_robin", servers));
    for key in location_keys {
        config = config.location_key(key);
    }
    (backend, Edge::start(config).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_cross_the_tunnel_both_ways() {
    bounded(Duration::from_secs(30), async {
        let (backend, edge) = one_backend(&[]).await;
        // The greeting travels server -> client unprompted; echoes go both ways.
        let mut ws = WsClient::connect(edge.addr()).await;
        assert_eq!(ws.backend, "ws0");
        for i in 0..20 {
            let text = format!("message {i}");
            assert_eq!(ws.echo(&text).await, text);
        }
        let blob: Vec<u8> = (0..=255).cycle().take(100_000).collect();
        ws.send(Message::binary(blob.clone())).await;
        match ws.recv().await {
            Message::Binary(b) => assert!(b[..] == blob[..], "binary echo differs"),
            other => panic!("expected the binary echo, got {other:?}"),
        }
        assert_eq!(backend.websockets(), 1);
        ws.close().await;
        until(
            "the backend to see the close",
            Duration::from_secs(5),
            || async { backend.websockets() == 0 },
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_tunnel_outlives_the_read_timeout() {
    bounded(Duration::from_secs(30), async {
        let (_backend, edge) = one_backend(&["read_timeout: 1s"]).await;
        let mut ws = WsClient::connect(edge.addr()).await;
        assert_eq!(ws.echo("before").await, "before");
        // The idleness is what is under test, not a synchronisation.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(ws.echo("after 3 s idle").await, "after 3 s idle");
    })
    .await;
}

/// Ten tunnels opened one by one to a least_conn pair of equal weight split
/// 5/5, and the edge's in-flight and tunnel gauges count them. Then s0's
/// tunnels close while s1's stay open: if open tunnels count, the next six
/// requests (held open) go to s0 until it has as many as s1, i.e. at least
/// five of six; if they did not count, the six would split 3/3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_tunnels_count_for_least_conn() {
    bounded(Duration::from_secs(30), async {
        let backends = Backend::start_n(2).await;
        let upstream = Upstream::new("lcws", "least_conn", weighted(&backends, &[1, 1]));
        let edge = Edge::start(EdgeConfig::new(upstream)).await;
        let mut tunnels = Vec::new();
        for _ in 0..10 {
            tunnels.push(WsClient::connect(edge.addr()).await);
        }
        let open: Vec<usize> = backends.iter().map(Backend::websockets).collect();
        assert_eq!(open, [5, 5], "open tunnels per server");
        assert_eq!(edge.inflight_gauges("lcws", &backends).await, [5, 5]);
        edge.wait_metric("openclaw_edge_websocket_tunnels", &[], 10.0)
            .await;

        let (on_s0, on_s1): (Vec<_>, Vec<_>) = tunnels.into_iter().partition(|t| t.backend == "s0");
        for ws in on_s0 {
            ws.close().await;
        }
        until("s0's tunnels to close at the edge", Duration::from_secs(10), || async {
            edge.inflight_gauges("lcws", &backends).await == [0, 5]
        })
        .await;
        let held: Vec<_> = (0..6)
            .map(|_| {
                let req = Request::get(edge.addr(), "/hold");
                tokio::spawn(async move { req.send().await })
            })
            .collect();
        until("six requests held", Duration::from_secs(10), || async {
            backends.iter().map(Backend::inflight).sum::<usize>() == 6
        })
        .await;
        let split: Vec<usize> = backends.iter().map(Backend::inflight).collect();
        assert!(
            split[0] >= 5,
            "held requests per server {split:?} with five tunnels open on s1: open tunnels do not count for least_conn"
        );

        for b in &backends {
            b.release_held();
        }
        for h in held {
            assert_eq!(h.await.expect("task").expect("held request").status, 200);
        }
        for ws in on_s1 {
            ws.close().await;
        }
        until("the gauges to drop to 0 after the close", Duration::from_secs(10), || async {
            let tunnels = edge.metrics().await.get("openclaw_edge_websocket_tunnels", &[]);
            tunnels == Some(0.0) && edge.inflight_gauges("lcws", &backends).await == [0, 0]
        })
        .await;
    })
    .await;
}

//! Two `openclaw` nodes on one real redis-server: a chat driven on one node is
//! seen live and in history on the other, an idempotency key runs once across
//! the cluster, a client whose node is killed reconnects through the edge to
//! the other node and continues the session, and a Redis outage makes nodes
//! unready until Redis is back, after which events flow again.

use openclaw_e2e::gateway::{Gateway, NodeConfig, TOKEN};
use openclaw_e2e::protocol::ProtoClient;
use openclaw_e2e::redis::Redis;
use openclaw_e2e::wait::until;
use openclaw_e2e::{bounded, Edge, EdgeConfig, Server, Upstream};
use serde_json::{json, Value};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(90);
const READY_LIMIT: Duration = Duration::from_secs(20);

async fn ready(g: &Gateway) {
    until(
        &format!("node {} ready", g.config.name),
        READY_LIMIT,
        || async { g.ready().await.0 == 200 },
    )
    .await;
}

async fn nodes(redis: &Redis) -> (Gateway, Gateway) {
    let a = Gateway::start(NodeConfig::new("a").redis(&redis.url()).behind_edge()).await;
    let b = Gateway::start(NodeConfig::new("b").redis(&redis.url()).behind_edge()).await;
    ready(&a).await;
    ready(&b).await;
    (a, b)
}

fn send(key: &str, message: &str, idem: &str) -> Value {
    json!({"sessionKey": key, "message": message, "idempotencyKey": idem})
}

/// Waits for the final chat event of `run` and returns its text.
async fn final_text(c: &mut ProtoClient, run: &str) -> String {
    let f = c
        .event("chat", |p| {
            p["runId"] == run && (p["state"] == "final" || p["state"] == "error")
        })
        .await;
    assert_eq!(f["payload"]["state"], "final", "{f}");
    f["payload"]["message"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn sessions_and_events_are_shared_and_survive_a_node_crash() {
    bounded(LIMIT, async {
        let redis = Redis::start().await;
        let (mut a, b) = nodes(&redis).await;
        let key = "agent:main:shared";
        let (mut on_b, _) = ProtoClient::hello(&format!("ws://{}", b.addr()), TOKEN).await;
        let (mut on_a, _) = ProtoClient::hello(&format!("ws://{}", a.addr()), TOKEN).await;

        on_a.call("chat.send", send(key, "driven on a", "s1"))
            .await
            .unwrap();
        assert_eq!(final_text(&mut on_a, "s1").await, "driven on a");
        // The client on b saw the run live, with deltas first.
        let delta = on_b.event("chat", |p| p["runId"] == "s1").await;
        assert_eq!(delta["payload"]["state"], "delta", "{delta}");
        assert_eq!(final_text(&mut on_b, "s1").await, "driven on a");
        let hist_a = on_a
            .call("chat.history", json!({"sessionKey": key}))
            .await
            .unwrap();
        let hist_b = on_b
            .call("chat.history", json!({"sessionKey": key}))
            .await
            .unwrap();
        assert_eq!(hist_a["messages"], hist_b["messages"]);
        assert_eq!(hist_b["totalMessages"], 2);
        assert_eq!(
            redis.cli(&[
                "HGET",
                "test:sessions:meta:agent:main:shared",
                "messageCount"
            ]),
            "2"
        );

        // The same idempotency key on the other node does not run again.
        let again = on_b
            .call("chat.send", send(key, "driven on a", "s1"))
            .await
            .unwrap();
        assert_eq!(again["cached"], true, "{again}");
        let list = on_b.call("sessions.list", json!({})).await.unwrap();
        assert_eq!(list["totalCount"], 1);

        // Through the edge: a client on a, then a dies.
        let upstream = Upstream::new(
            "gw",
            "least_conn",
            vec![Server::new(a.addr()), Server::new(b.addr())],
        );
        let edge = Edge::start(EdgeConfig::new(upstream)).await;
        let via_edge = format!("ws://{}", edge.addr());
        let mut held = Vec::new();
        let mut on_a_via_edge = loop {
            let (mut c, _) = ProtoClient::hello(&via_edge, TOKEN).await;
            let node = c.call("status", json!({})).await.unwrap()["node"].clone();
            if node == "a" {
                break c;
            }
            held.push(c);
            assert!(held.len() < 4, "least_conn never picked node a");
        };
        a.signal(libc::SIGKILL);
        a.wait_exit(Duration::from_secs(10))
            .await
            .expect("node a dies");
        let lost = loop {
            if let Err(closed) = on_a_via_edge.frame().await {
                break closed;
            }
        };
        assert_ne!(lost.code, 1000, "the tunnel broke: {lost:?}");
        let (mut again, _) = ProtoClient::hello(&via_edge, TOKEN).await;
        assert_eq!(again.call("status", json!({})).await.unwrap()["node"], "b");
        let before = again
            .call("chat.history", json!({"sessionKey": key}))
            .await
            .unwrap();
        assert_eq!(
            before["messages"], hist_a["messages"],
            "b shows the session a drove"
        );
        again
            .call("chat.send", send(key, "continued on b", "s2"))
            .await
            .unwrap();
        assert_eq!(final_text(&mut again, "s2").await, "continued on b");
        let after = again
            .call("chat.history", json!({"sessionKey": key}))
            .await
            .unwrap();
        assert_eq!(after["totalMessages"], 4);
        assert_eq!(
            after["sessionId"], hist_a["sessionId"],
            "the same session continues"
        );
    })
    .await;
}

#[tokio::test]
async fn a_redis_outage_makes_nodes_unready_until_redis_returns() {
    bounded(LIMIT, async {
        let mut redis = Redis::start().await;
        let (a, b) = nodes(&redis).await;
        let (mut on_a, _) = ProtoClient::hello(&format!("ws://{}", a.addr()), TOKEN).await;
        let (mut on_b, _) = ProtoClient::hello(&format!("ws://{}", b.addr()), TOKEN).await;

        redis.kill();
        for g in [&a, &b] {
            until(
                &format!("node {} unready", g.config.name),
                READY_LIMIT,
                || async { g.ready().await.0 == 503 },
            )
            .await;
            let (_, body) = g.ready().await;
            assert!(body["reason"].as_str().unwrap().contains("redis"), "{body}");
        }
        let err = on_a
            .call("chat.send", send("main", "lost?", "o1"))
            .await
            .unwrap_err();
        assert_eq!(err["code"], "UNAVAILABLE", "{err}");
        assert_eq!(err["retryable"], true);
        // Probes and the protocol still answer while Redis is away.
        assert_eq!(on_b.call("health", json!({})).await.unwrap()["ok"], false);

        redis.resume().await;
        ready(&a).await;
        ready(&b).await;
        // b resubscribed: it tells its clients to resync, and sees a's runs again.
        on_b.event("sessions.changed", |p| p["reason"] == "resync")
            .await;
        on_a.call("chat.send", send("main", "after the outage", "o2"))
            .await
            .unwrap();
        assert_eq!(final_text(&mut on_b, "o2").await, "after the outage");
    })
    .await;
}

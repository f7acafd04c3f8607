//! Protocol v4 conformance of the `openclaw` node: the official CLI's recorded
//! frames replayed (tests/fixtures, recorded against the reference gateway),
//! and every way a client can get the handshake wrong, each answered with the
//! documented error while the node keeps serving others.

use openclaw_e2e::bounded;
use openclaw_e2e::gateway::{Gateway, NodeConfig};
use openclaw_e2e::protocol::{connect_params, tui_client, ProtoClient};
use serde_json::{json, Value};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// The client frames (`>>` lines) of the recorded CLI session, in order.
fn recorded_requests() -> Vec<Value> {
    include_str!("../fixtures/openclaw-frames.cli-session.txt")
        .lines()
        .filter_map(|l| l.strip_prefix(">> "))
        .map(|l| serde_json::from_str(l).expect("recorded frames are JSON"))
        .collect()
}

/// The node the recordings were made against used the token `devtok`.
async fn node() -> Gateway {
    let mut config = NodeConfig::new("proto");
    config.token = Some("devtok".into());
    Gateway::start(config.limits("maxPayload: 65536, handshakeTimeout: \"500ms\"")).await
}

fn url(g: &Gateway) -> String {
    format!("ws://{}", g.addr())
}

/// A fresh client still gets `hello-ok` and an answer: the node serves others.
async fn still_serving(g: &Gateway) {
    let (mut c, _) = ProtoClient::hello(&url(g), "devtok").await;
    assert_eq!(c.call("health", json!({})).await.unwrap()["ok"], true);
}

#[tokio::test]
async fn recorded_cli_session_replays() {
    bounded(LIMIT, async {
        let g = node().await;
        let frames = recorded_requests();
        assert_eq!(frames.len(), 5, "three connects, sessions.list, chat.send");

        // 1: wrong token, answered as the reference gateway did.
        let mut c = ProtoClient::open(&url(&g)).await;
        assert!(c.challenge["nonce"].as_str().is_some_and(|n| n.len() == 36), "{}", c.challenge);
        assert!(c.challenge["ts"].as_u64().is_some());
        c.send_text(&frames[0].to_string()).await;
        let (err, closed) = c.refused().await;
        assert_eq!(err["id"], frames[0]["id"]);
        assert_eq!(
            err["error"],
            json!({
                "code": "INVALID_REQUEST",
                "message": "unauthorized: gateway token mismatch (use this gateway's gateway.auth.token or pair the device)",
                "details": {"code": "AUTH_TOKEN_MISMATCH", "authReason": "token_mismatch",
                            "canRetryWithDeviceToken": false, "recommendedNextStep": "update_auth_credentials"}
            })
        );
        assert_eq!(closed.code, 1008);

        // 2: connect (read scope), sessions.list.
        let mut c = ProtoClient::open(&url(&g)).await;
        c.send_text(&frames[1].to_string()).await;
        let hello = c.response(frames[1]["id"].as_str().unwrap()).await.unwrap();
        assert_eq!(hello["type"], "hello-ok");
        assert_eq!(hello["protocol"], 4);
        assert!(hello["server"]["connId"].is_string() && hello["server"]["version"].is_string());
        for m in ["health", "status", "system-presence", "sessions.list", "sessions.reset", "sessions.delete", "chat.send", "chat.history"] {
            assert!(hello["features"]["methods"].as_array().unwrap().contains(&json!(m)), "{m} listed");
        }
        for e in ["connect.challenge", "tick", "chat", "agent", "sessions.changed", "presence", "health", "shutdown"] {
            assert!(hello["features"]["events"].as_array().unwrap().contains(&json!(e)), "{e} listed");
        }
        assert_eq!(hello["policy"]["maxPayload"], 65536);
        assert!(hello["policy"]["maxBufferedBytes"].as_u64().unwrap() > 0);
        assert_eq!(hello["policy"]["tickIntervalMs"], 30000);
        assert_eq!(hello["auth"], json!({"method": "token", "role": "operator", "scopes": ["operator.read"]}));
        assert!(hello["snapshot"]["presence"].as_array().unwrap()[0]["mode"] == "gateway");
        c.send_text(&frames[2].to_string()).await;
        let list = c.response(frames[2]["id"].as_str().unwrap()).await.unwrap();
        assert_eq!((list["count"].clone(), list["totalCount"].clone(), list["hasMore"].clone()), (json!(0), json!(0), json!(false)));
        assert_eq!(list["sessions"], json!([]));
        // A read-only client may not drive a chat.
        let err = c.call("chat.send", json!({"sessionKey": "main", "message": "x", "idempotencyKey": "ro"})).await.unwrap_err();
        assert_eq!(err["message"], "missing scope: operator.write");

        // 3: connect (write scope), chat.send with idempotency key k1.
        let mut c = ProtoClient::open(&url(&g)).await;
        c.send_text(&frames[3].to_string()).await;
        c.response(frames[3]["id"].as_str().unwrap()).await.unwrap();
        c.send_text(&frames[4].to_string()).await;
        let sent = c.response(frames[4]["id"].as_str().unwrap()).await.unwrap();
        assert_eq!(sent, json!({"runId": "k1", "status": "started"}));
        let delta = c.event("chat", |p| p["state"] == "delta").await;
        assert_eq!(delta["payload"]["sessionKey"], "agent:dev:main");
        assert_eq!(delta["payload"]["runId"], "k1");
        let fin = c.event("chat", |p| p["state"] == "final").await;
        assert_eq!(fin["payload"]["message"]["content"][0]["text"], "hello");
        assert!(fin["seq"].as_u64() > delta["seq"].as_u64(), "connection seq grows");
        assert!(fin["payload"]["seq"].as_u64() > delta["payload"]["seq"].as_u64(), "run seq grows");
        let hist = c.call("chat.history", json!({"sessionKey": "agent:dev:main", "limit": 10})).await.unwrap();
        assert_eq!(hist["totalMessages"], 2);
        assert_eq!(hist["messages"][0]["role"], "user");
        assert_eq!(hist["messages"][0]["content"], "hello");
        assert_eq!(hist["messages"][1]["role"], "assistant");
        assert!(hist["sessionId"].is_string());

        // The same idempotency key again: no second run.
        c.send_text(&frames[4].to_string()).await;
        let again = c.response(frames[4]["id"].as_str().unwrap()).await.unwrap();
        assert_eq!((again["runId"].as_str(), again["cached"].as_bool()), (Some("k1"), Some(true)));
        let hist = c.call("chat.history", json!({"sessionKey": "agent:dev:main"})).await.unwrap();
        assert_eq!(hist["totalMessages"], 2, "the duplicate did not run");

        let list = c.call("sessions.list", json!({})).await.unwrap();
        assert_eq!(list["totalCount"], 1);
        assert_eq!(list["sessions"][0]["key"], "agent:dev:main");
        let err = c.call("sessions.list", json!({"bogus": 1})).await.unwrap_err();
        assert_eq!(err["code"], "INVALID_REQUEST");
        assert_eq!(err["message"], "invalid sessions.list params: at root: unexpected property 'bogus'");
        let err = c.call("no.such.method", json!({})).await.unwrap_err();
        assert_eq!(err["message"], "unknown method: no.such.method");
    })
    .await;
}

#[tokio::test]
async fn handshake_mistakes_get_the_documented_errors() {
    bounded(LIMIT, async {
        let g = node().await;
        let u = url(&g);

        // Not a request before connect: no answer, a close (as the official gateway).
        let mut c = ProtoClient::open(&u).await;
        c.send_text("{not json").await;
        assert_eq!(c.frame().await.unwrap_err().code, 1000);
        let mut c = ProtoClient::open(&u).await;
        c.send_text(r#"{"type":"event","event":"x"}"#).await;
        let closed = c.frame().await.unwrap_err();
        assert_eq!((closed.code, closed.reason.as_str()), (1008, "invalid request frame"));
        still_serving(&g).await;

        let mut c = ProtoClient::open(&u).await;
        c.send_text(&json!({"type": "req", "id": "1", "method": "health", "params": {}}).to_string()).await;
        let (err, closed) = c.refused().await;
        assert_eq!(err["id"], "1");
        assert_eq!(err["error"]["code"], "INVALID_REQUEST");
        assert_eq!(err["error"]["message"], "invalid handshake: first request must be connect");
        assert_eq!(closed.code, 1008);
        still_serving(&g).await;

        let mut c = ProtoClient::open(&u).await;
        let mut params = connect_params("devtok", &["operator.read"]);
        params["minProtocol"] = json!(5);
        params["maxProtocol"] = json!(6);
        c.send_text(&json!({"type": "req", "id": "p", "method": "connect", "params": params}).to_string()).await;
        let (err, closed) = c.refused().await;
        assert_eq!(err["error"]["details"]["code"], "PROTOCOL_MISMATCH");
        assert_eq!(err["error"]["details"]["expectedProtocol"], 4);
        assert_eq!(closed.code, 1002);
        still_serving(&g).await;

        let mut c = ProtoClient::open(&u).await;
        c.send_text(&json!({"type": "req", "id": "t", "method": "connect", "params": connect_params("", &[])}).to_string()).await;
        let (err, closed) = c.refused().await;
        assert_eq!(err["error"]["code"], "NOT_PAIRED");
        assert_eq!(err["error"]["details"]["code"], "DEVICE_IDENTITY_REQUIRED");
        assert_eq!(closed.code, 1008);

        // Oversized, before (a close, as the official gateway) and after the handshake.
        let mut c = ProtoClient::open(&u).await;
        c.send_text(&"x".repeat(70_000)).await;
        let closed = c.frame().await.unwrap_err();
        assert_eq!((closed.code, closed.reason.as_str()), (1009, "preauth payload too large"));
        let (mut c, _) = ProtoClient::hello(&u, "devtok").await;
        let big = json!({"type": "req", "id": "big", "method": "chat.send",
                         "params": {"sessionKey": "main", "message": "y".repeat(70_000), "idempotencyKey": "big"}});
        c.send_text(&big.to_string()).await;
        let closed = loop {
            match c.frame().await {
                Ok(f) if f["type"] == "res" => assert_eq!(f["error"]["details"]["code"], "PAYLOAD_TOO_LARGE"),
                Ok(_) => {}
                Err(closed) => break closed,
            }
        };
        assert_eq!(closed.code, 1009);
        still_serving(&g).await;

        // Silence after the challenge: closed at the handshake timeout (500ms here).
        let mut c = ProtoClient::open(&u).await;
        let closed = c.frame().await.unwrap_err();
        assert_eq!((closed.code, closed.reason.as_str()), (1008, "handshake timeout"));
        still_serving(&g).await;

        let metrics = openclaw_e2e::Request::get(g.addr(), "/metrics").send().await.unwrap().text();
        for line in [
            "openclaw_gateway_handshakes_total{result=\"unauthorized\"} 1",
            "openclaw_gateway_handshakes_total{result=\"protocol\"} 1",
            "openclaw_gateway_handshakes_total{result=\"timeout\"} 1",
        ] {
            assert!(metrics.contains(line), "{line} in\n{metrics}");
        }
        assert!(metrics.contains("openclaw_gateway_requests_total{method=\"health\",result=\"ok\"}"), "{metrics}");
    })
    .await;
}

#[tokio::test]
async fn probes_presence_and_graceful_stop() {
    bounded(LIMIT, async {
        let mut g = node().await;
        let live = openclaw_e2e::Request::get(g.addr(), "/healthz")
            .send()
            .await
            .unwrap();
        assert_eq!(
            (live.status, live.json()),
            (200, json!({"ok": true, "status": "live"}))
        );
        assert_eq!(g.ready().await, (200, json!({"ready": true})));

        let (mut a, _) = ProtoClient::hello_as(&url(&g), "devtok", tui_client("tui-a")).await;
        let (mut b, _) = ProtoClient::hello_as(&url(&g), "devtok", tui_client("tui-b")).await;
        let presence = a.call("system-presence", json!({})).await.unwrap();
        assert_eq!(
            presence.as_array().unwrap().len(),
            3,
            "the node and two clients: {presence}"
        );
        let status = b.call("status", json!({})).await.unwrap();
        assert_eq!(status["connections"], 2);
        assert_eq!(status["sessions"]["storage"], "local");
        assert_eq!(status["sessions"]["byAgent"][0]["agentId"], "main");

        g.signal(libc::SIGTERM);
        for c in [&mut a, &mut b] {
            let bye = c.event("shutdown", |_| true).await;
            assert_eq!(bye["payload"]["reason"], "gateway stopping");
            let closed = loop {
                if let Err(closed) = c.frame().await {
                    break closed;
                }
            };
            assert_eq!(closed.code, 1012);
        }
        let status = g
            .wait_exit(Duration::from_secs(10))
            .await
            .expect("the node exits after SIGTERM");
        assert!(status.success(), "{status}");
        assert!(
            !g.state_dir().join("gateway.pid").exists(),
            "pid file removed at exit"
        );
    })
    .await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_others_are_served() {
    bounded(LIMIT, async {
        // An agent that answers with 16 MB: far more than a stalled client's
        // socket buffers plus maxBufferedBytes (1 MiB here).
        let agents = json!([{"id": "flood", "command": ["sh", "-c", "head -c 16000000 /dev/zero | tr '\\0' a"]}]);
        let config = NodeConfig::new("slow").agents(agents).limits("maxBufferedBytes: 1048576");
        let g = Gateway::start(config).await;
        let u = format!("ws://{}", g.addr());
        let (mut stalled, _) = ProtoClient::hello(&u, openclaw_e2e::gateway::TOKEN).await;
        let (mut reader, _) = ProtoClient::hello(&u, openclaw_e2e::gateway::TOKEN).await;
        reader
            .call("chat.send", json!({"sessionKey": "agent:flood:main", "message": "go", "idempotencyKey": "f1"}))
            .await
            .unwrap();
        let fin = reader.event("chat", |p| p["runId"] == "f1" && p["state"] != "delta").await;
        assert_eq!(fin["payload"]["state"], "final");
        assert_eq!(fin["payload"]["message"]["content"][0]["text"].as_str().unwrap().len(), 16_000_000);
        openclaw_e2e::wait::until("the stalled client to be dropped", Duration::from_secs(20), || async {
            let m = openclaw_e2e::Request::get(g.addr(), "/metrics").send().await.unwrap().text();
            m.contains("openclaw_gateway_slow_consumers_total 1")
        })
        .await;
        // What the stalled client finds when it reads again: what was buffered, then the end.
        let end = loop {
            match stalled.frame().await {
                Ok(_) => continue,
                Err(closed) => break closed,
            }
        };
        assert_ne!(end.code, 1000, "{end:?}");
        assert_eq!(reader.call("health", json!({})).await.unwrap()["connections"], 1);
    })
    .await;
}

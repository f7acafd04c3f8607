//! What the official OpenClaw clients really send (`openclaw tui`, the
//! Control UI, `openclaw status`), answered as the official gateway answers
//! it: every field of the official schemas accepted with the official
//! messages for faults, `status` in the official shape, the official session
//! semantics, close handshake, presence rules, Origin check and pre-auth frame
//! cap. The answers expected here were taken from the official gateway
//! 2026.9.6 (`make interop-diff` compares the two live); these tests need only
//! our binary.

use openclaw_e2e::bounded;
use openclaw_e2e::gateway::{Gateway, NodeConfig, TOKEN};
use openclaw_e2e::protocol::{connect_params, tui_client, ProtoClient};
use serde_json::{json, Value};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn url(g: &Gateway) -> String {
    format!("ws://{}", g.addr())
}

async fn node() -> Gateway {
    let agents =
        json!([{"id": "ops"}, {"id": "slow", "command": ["sh", "-c", "sleep 5; echo late"]}]);
    Gateway::start(NodeConfig::new("official").agents(agents)).await
}

/// The `chat.send` params `openclaw tui` sends (gateway-chat sendChat).
fn tui_send(key: &str, message: &str, run: &str) -> Value {
    json!({"sessionKey": key, "message": message, "thinking": "low", "deliver": false,
           "timeoutMs": 30000, "idempotencyKey": run})
}

#[tokio::test]
async fn tui_and_control_ui_chat_params_are_accepted_and_routed() {
    bounded(LIMIT, async {
        let g = node().await;
        let (mut c, _) = ProtoClient::hello_as(&url(&g), TOKEN, tui_client("tui-1")).await;

        // The TUI's send: accepted, answered, recorded.
        let sent = c.call("chat.send", tui_send("agent:main:main", "hello tui", "t1")).await.unwrap();
        assert_eq!(sent, json!({"runId": "t1", "status": "started"}));
        let fin = c.event("chat", |p| p["runId"] == "t1" && p["state"] != "delta").await;
        assert_eq!(fin["payload"]["state"], "final");

        // The Control UI composer's send (deliver false, queueMode, attachments).
        let cui = json!({"sessionKey": "agent:main:main", "message": "from the ui", "deliver": false,
                         "queueMode": "steer", "idempotencyKey": "u1", "attachments": []});
        assert_eq!(c.call("chat.send", cui).await.unwrap()["status"], "started");
        c.event("chat", |p| p["runId"] == "u1" && p["state"] == "final").await;

        // agentId routes a bare key to that agent; an unknown agent is refused as officially.
        let mut to_ops = tui_send("work", "for ops", "o1");
        to_ops["agentId"] = json!("ops");
        c.call("chat.send", to_ops).await.unwrap();
        let fin = c.event("chat", |p| p["runId"] == "o1" && p["state"] == "final").await;
        assert_eq!(fin["payload"]["sessionKey"], "agent:ops:work");
        let mut nobody = tui_send("work", "x", "n1");
        nobody["agentId"] = json!("nobody");
        let err = c.call("chat.send", nobody).await.unwrap_err();
        assert_eq!(err["message"], "Unknown agent id: nobody");

        // chat.history with the TUI's and the Control UI's params, and offset paging.
        let h = c.call("chat.history", json!({"sessionKey": "agent:main:main", "limit": 200})).await.unwrap();
        assert_eq!(h["totalMessages"], 4);
        let h = c
            .call("chat.history", json!({"sessionKey": "main", "agentId": "main", "limit": 2, "offset": 2, "maxChars": 12000}))
            .await
            .unwrap();
        let texts: Vec<&Value> = h["messages"].as_array().unwrap().iter().map(|m| &m["content"]).collect();
        assert_eq!(texts[0], "hello tui", "offset skips the newest two: {h}");
        assert_eq!((h["offset"].clone(), h["hasMore"].clone()), (json!(2), json!(false)));
        let h = c.call("chat.history", json!({"sessionKey": "main", "limit": 1, "offset": 1})).await.unwrap();
        assert_eq!((h["hasMore"].clone(), h["nextOffset"].clone()), (json!(true), json!(2)));
    })
    .await;
}

/// What the Control UI needs to open a conversation and let the user send:
/// `chat.startup` (the history page with the session's row) and an agent
/// with `model.primary` (without one the UI refuses to send).
#[tokio::test]
async fn control_ui_can_open_a_conversation() {
    bounded(LIMIT, async {
        let g = node().await;
        let (mut c, _) = ProtoClient::hello_as(&url(&g), TOKEN, tui_client("cui-1")).await;
        let startup = json!({"sessionKey": "agent:main:main", "limit": 80, "maxBytes": 262144});
        let empty = c.call("chat.startup", startup.clone()).await.unwrap();
        assert_eq!(
            (empty["messages"].clone(), empty["sessionInfo"].clone()),
            (json!([]), Value::Null)
        );

        c.call("chat.send", tui_send("agent:main:main", "hello ui", "s1"))
            .await
            .unwrap();
        c.event("chat", |p| p["runId"] == "s1" && p["state"] == "final")
            .await;
        let page = c.call("chat.startup", startup).await.unwrap();
        let history = c
            .call(
                "chat.history",
                json!({"sessionKey": "agent:main:main", "limit": 80}),
            )
            .await
            .unwrap();
        assert_eq!(page["messages"], history["messages"], "{page}");
        assert_eq!(page["totalMessages"], 2);
        let described = c
            .call("sessions.describe", json!({"key": "agent:main:main"}))
            .await
            .unwrap();
        assert_eq!(page["sessionInfo"], described["session"]);
        assert_eq!(page["sessionInfo"]["key"], "agent:main:main");

        // The official short links are not supported: refused, not guessed.
        let err = c
            .call("chat.startup", json!({"shortId": "abc"}))
            .await
            .unwrap_err();
        assert_eq!(err["code"], "INVALID_REQUEST");
        let err = c
            .call("chat.startup", json!({"sessionKey": "main", "limit": 1001}))
            .await
            .unwrap_err();
        assert_eq!(
            err["message"],
            "invalid chat.startup params: at /limit: must be <= 1000"
        );

        let agents = c.call("agents.list", json!({})).await.unwrap();
        let models: Vec<&Value> = agents["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| &a["model"]["primary"])
            .collect();
        assert_eq!(
            models,
            [
                &json!("builtin/echo"),
                &json!("builtin/echo"),
                &json!("command/sh")
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn faults_get_the_official_messages() {
    bounded(LIMIT, async {
        let g = node().await;
        let (mut c, _) = ProtoClient::hello(&url(&g), TOKEN).await;
        let cases = [
            ("chat.send", json!({"sessionKey": "main", "message": "x", "idempotencyKey": "k", "deliver": "no"}),
             "invalid chat.send params: at /deliver: must be boolean"),
            ("chat.send", json!({"sessionKey": "main", "message": "x"}),
             "invalid chat.send params: must have required property 'idempotencyKey'"),
            ("chat.send", json!({"sessionKey": "main", "message": "x", "idempotencyKey": "k", "timeoutMs": -1}),
             "invalid chat.send params: at /timeoutMs: must be >= 0"),
            ("chat.history", json!({"sessionKey": "main", "limit": 1001}),
             "invalid chat.history params: at /limit: must be <= 1000"),
            ("sessions.list", json!({"includeGlobal": "yes"}),
             "invalid sessions.list params: at /includeGlobal: must be boolean"),
            ("sessions.reset", json!({"key": "main", "reason": "later"}),
             "invalid sessions.reset params: at /reason: must be equal to constant; at /reason: must match a schema in anyOf"),
            ("sessions.delete", json!({"key": ""}),
             "invalid sessions.delete params: at /key: must not have fewer than 1 characters"),
        ];
        for (method, params, message) in cases {
            let err = c.call(method, params.clone()).await.unwrap_err();
            assert_eq!((err["code"].as_str(), err["message"].as_str()), (Some("INVALID_REQUEST"), Some(message)), "{method} {params}");
        }
        // What the TUI picker and the Control UI send to sessions.list is accepted.
        for params in [
            json!({"limit": 50, "activeMinutes": 10080, "includeGlobal": false, "includeUnknown": false,
                   "includeDerivedTitles": true, "includeLastMessage": true}),
            json!({"activeOnly": true, "archived": "all", "includeGlobal": true, "includeUnknown": true}),
        ] {
            assert!(c.call("sessions.list", params).await.unwrap()["sessions"].is_array());
        }
        // status, health and system-presence take any params, as officially.
        assert!(c.call("health", json!({"probe": true, "x": 1})).await.is_ok());
        // A read-only client: FORBIDDEN with details.code, as officially.
        let mut ro = ProtoClient::open(&url(&g)).await;
        ro.call("connect", connect_params(TOKEN, &["operator.read"])).await.unwrap();
        let err = ro.call("chat.send", json!({"sessionKey": "main", "message": "x", "idempotencyKey": "ro"})).await.unwrap_err();
        assert_eq!((err["code"].as_str(), err["details"]["code"].as_str()), (Some("FORBIDDEN"), Some("MISSING_SCOPE")));
        // Frames that are not requests after the handshake: answered, or ignored if not JSON.
        c.send_text(r#"{"type":"req","method":"health"}"#).await;
        let f = c.frame().await.unwrap();
        assert_eq!((f["id"].as_str(), f["error"]["message"].as_str()),
                   (Some("invalid"), Some("invalid request frame: must have required property 'id'")));
        c.send_text("{not json").await;
        assert_eq!(c.call("health", json!({})).await.unwrap()["ok"], true, "still connected");
    })
    .await;
}

#[tokio::test]
async fn status_has_the_official_shape() {
    bounded(LIMIT, async {
        let g = node().await;
        let (mut c, _) = ProtoClient::hello(&url(&g), TOKEN).await;
        c.call("chat.send", tui_send("agent:ops:a", "hi", "s1"))
            .await
            .unwrap();
        c.event("chat", |p| p["runId"] == "s1" && p["state"] == "final")
            .await;
        // What `openclaw status` sends.
        let s = c
            .call(
                "status",
                json!({"includeChannelSummary": false, "includeCliProjection": true}),
            )
            .await
            .unwrap();
        assert!(s["runtimeVersion"].is_string());
        let sessions = &s["sessions"];
        assert_eq!(sessions["count"], 1);
        assert!(
            sessions["paths"][0].is_string()
                && sessions["defaults"].is_object()
                && sessions["recent"].is_array()
        );
        let agents: Vec<&str> = sessions["byAgent"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["agentId"].as_str().unwrap())
            .collect();
        assert_eq!(agents, ["main", "ops", "slow"]);
        assert_eq!(sessions["byAgent"][1]["count"], 1);
        assert_eq!(sessions["byAgent"][1]["recent"][0]["key"], "agent:ops:a");
        assert_eq!(s["cliProjection"]["agents"]["defaultId"], "main");
        assert!(s["heartbeat"]["agents"].is_array() && s["tasks"]["total"] == 0);
        let plain = c.call("status", json!({})).await.unwrap();
        assert!(plain.get("cliProjection").is_none());
    })
    .await;
}

#[tokio::test]
async fn reset_creates_and_the_main_session_cannot_be_deleted() {
    bounded(LIMIT, async {
        let g = node().await;
        let (mut c, _) = ProtoClient::hello(&url(&g), TOKEN).await;
        // `/new` in the TUI: a key with no session yet starts a fresh one.
        let r = c
            .call(
                "sessions.reset",
                json!({"key": "fresh", "agentId": "ops", "reason": "new"}),
            )
            .await
            .unwrap();
        assert_eq!(
            (r["ok"].clone(), r["key"].clone()),
            (json!(true), json!("agent:ops:fresh"))
        );
        assert!(r["entry"]["sessionId"]
            .as_str()
            .is_some_and(|s| !s.is_empty()));
        let h = c
            .call("chat.history", json!({"sessionKey": "agent:ops:fresh"}))
            .await
            .unwrap();
        assert_eq!(
            (h["sessionId"].clone(), h["totalMessages"].clone()),
            (r["entry"]["sessionId"].clone(), json!(0))
        );
        // The main session is never deleted, under either spelling.
        for key in ["main", "agent:main:main", "agent:ops:main"] {
            let err = c
                .call("sessions.delete", json!({"key": key}))
                .await
                .unwrap_err();
            let canonical = if key == "main" {
                "agent:main:main"
            } else {
                key
            };
            assert_eq!(
                err["message"],
                format!("Cannot delete the main session ({canonical}).")
            );
        }
        // `openclaw sessions delete` sends the id it listed: a stale one spares the session.
        let err = c
            .call(
                "sessions.delete",
                json!({"key": "agent:ops:fresh", "expectedSessionId": "old"}),
            )
            .await
            .unwrap_err();
        assert_eq!(
            err["message"],
            "Session agent:ops:fresh changed before deletion. Retry."
        );
        assert_eq!(err["details"]["reason"], "session-changed");
        let listed = r["entry"]["sessionId"].clone();
        let d = c
            .call(
                "sessions.delete",
                json!({"key": "agent:ops:fresh", "expectedSessionId": listed}),
            )
            .await
            .unwrap();
        assert_eq!(d["deleted"], true);
    })
    .await;
}

#[tokio::test]
async fn timeout_ms_bounds_the_run() {
    bounded(LIMIT, async {
        let g = node().await;
        let (mut c, _) = ProtoClient::hello(&url(&g), TOKEN).await;
        let mut send = tui_send("agent:slow:main", "go", "slow1");
        send["timeoutMs"] = json!(300);
        c.call("chat.send", send).await.unwrap();
        let started = std::time::Instant::now();
        let end = c
            .event("chat", |p| p["runId"] == "slow1" && p["state"] != "delta")
            .await;
        assert_eq!(end["payload"]["state"], "error", "{end}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "ended by timeoutMs, not the 5 s agent"
        );
    })
    .await;
}

#[tokio::test]
async fn a_close_is_answered_with_a_close() {
    bounded(LIMIT, async {
        let g = node().await;
        let (mut c, _) = ProtoClient::hello(&url(&g), TOKEN).await;
        assert_eq!(c.close_with(1000).await.code, 1000);
        let (mut c, _) = ProtoClient::hello(&url(&g), TOKEN).await;
        assert_eq!(
            c.close_with(4000).await.code,
            4000,
            "the client's code is echoed"
        );
        let mut c = ProtoClient::open(&url(&g)).await;
        assert_eq!(c.close_with(1000).await.code, 1000, "also before connect");
    })
    .await;
}

#[tokio::test]
async fn cli_backend_and_probe_clients_stay_out_of_presence() {
    bounded(LIMIT, async {
        let g = node().await;
        let (mut cli, _) = ProtoClient::hello(&url(&g), TOKEN).await;
        let mut probe_client = tui_client("probe-1");
        probe_client["mode"] = json!("probe");
        let (_probe, _) = ProtoClient::hello_as(&url(&g), TOKEN, probe_client).await;
        let (_tui, _) = ProtoClient::hello_as(&url(&g), TOKEN, tui_client("tui-7")).await;
        let modes = |p: &Value| -> Vec<String> {
            p.as_array()
                .unwrap()
                .iter()
                .map(|e| e["mode"].as_str().unwrap().to_string())
                .collect()
        };
        let p = cli.call("system-presence", json!({})).await.unwrap();
        assert_eq!(modes(&p), ["gateway", "ui"], "{p}");
    })
    .await;
}

#[tokio::test]
async fn browser_origins_are_checked() {
    bounded(LIMIT, async {
        let config = NodeConfig::new("origin")
            .gateway_keys(r#"controlUi: { allowedOrigins: ["https://ui.example"] }"#);
        let g = Gateway::start(config).await;
        let params = connect_params(TOKEN, &["operator.read"]);
        let connect =
            json!({"type": "req", "id": "c", "method": "connect", "params": params}).to_string();
        let mut c =
            ProtoClient::open_with_headers(&url(&g), &[("origin", "https://evil.example")]).await;
        c.send_text(&connect).await;
        let (err, closed) = c.refused().await;
        assert_eq!(
            err["error"]["details"]["code"],
            "CONTROL_UI_ORIGIN_NOT_ALLOWED"
        );
        assert_eq!(err["error"]["details"]["reason"], "origin not allowed");
        assert_eq!(closed.code, 1008);
        for origin in ["https://ui.example", "http://localhost:5173"] {
            let mut c = ProtoClient::open_with_headers(&url(&g), &[("origin", origin)]).await;
            c.send_text(&connect).await;
            assert_eq!(
                c.frame().await.unwrap()["payload"]["type"],
                "hello-ok",
                "{origin}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn preauth_frames_are_capped_and_connect_follows_the_schema() {
    bounded(LIMIT, async {
        let g = node().await; // maxPayload is the default 25 MiB
        let mut c = ProtoClient::open(&url(&g)).await;
        let mut params = connect_params(TOKEN, &["operator.read"]);
        params["client"]["displayName"] = json!("x".repeat(70 * 1024));
        c.send_text(&json!({"type": "req", "id": "c", "method": "connect", "params": params}).to_string()).await;
        let closed = c.frame().await.unwrap_err();
        assert_eq!((closed.code, closed.reason.as_str()), (1009, "preauth payload too large"));
        // After the handshake the same size is fine.
        let (mut c, _) = ProtoClient::hello(&url(&g), TOKEN).await;
        let big = json!({"sessionKey": "main", "message": "y".repeat(70 * 1024), "idempotencyKey": "big"});
        assert_eq!(c.call("chat.send", big).await.unwrap()["status"], "started");

        for (change, message) in [
            (json!({"client": {"id": "my-script", "version": "1", "platform": "linux", "mode": "cli"}}),
             "invalid connect params: at /client/id: must be equal to one of the allowed values"),
            (json!({"colour": "blue"}), "invalid connect params: at root: unexpected property 'colour'"),
            (json!({"role": "superuser"}), "invalid role"),
        ] {
            let mut params = connect_params(TOKEN, &["operator.read"]);
            for (k, v) in change.as_object().unwrap() {
                params[k] = v.clone();
            }
            let mut c = ProtoClient::open(&url(&g)).await;
            c.send_text(&json!({"type": "req", "id": "c", "method": "connect", "params": params}).to_string()).await;
            let (err, closed) = c.refused().await;
            assert_eq!(err["error"]["message"], message);
            assert_eq!(closed.code, 1008);
        }
    })
    .await;
}

/// Replays the client frames (`>> ` lines) of a recording: each `connect`
/// on a connection of its own, as the client did. Every request's method
/// and answer, in order.
async fn replay(g: &Gateway, recording: &str) -> Vec<(String, Result<Value, Value>)> {
    let frames: Vec<Value> = recording
        .lines()
        .filter_map(|l| l.strip_prefix(">> "))
        .map(|l| serde_json::from_str(l).expect("recorded frames are JSON"))
        .collect();
    let mut answers = Vec::new();
    let mut c: Option<ProtoClient> = None;
    for f in &frames {
        if f["method"] == "connect" {
            c = Some(ProtoClient::open(&url(g)).await);
        }
        let c = c.as_mut().expect("the recording starts with a connect");
        c.send_text(&f.to_string()).await;
        let answer = c.response(f["id"].as_str().unwrap()).await;
        answers.push((f["method"].as_str().unwrap().to_string(), answer));
    }
    answers
}

/// The recordings were made with the token `devtok`.
async fn devtok_node() -> Gateway {
    Gateway::start(NodeConfig {
        token: Some("devtok".into()),
        ..NodeConfig::new("recorded")
    })
    .await
}

/// The frames `openclaw status` sent to the official gateway, replayed: every
/// request is answered. (Its probe connection asks for presence without a
/// paired device; the official gateway grants that client no scopes and
/// answers FORBIDDEN, this node grants the scopes asked for with the token.)
#[tokio::test]
async fn recorded_openclaw_status_replays() {
    bounded(LIMIT, async {
        let g = devtok_node().await;
        let answers = replay(&g, include_str!("../fixtures/openclaw-frames.status.txt")).await;
        let methods: Vec<&str> = answers.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(methods, ["connect", "system-presence", "connect", "status"]);
        for (method, answer) in &answers {
            assert!(answer.is_ok(), "{method}: {answer:?}");
        }
        let status = answers[3].1.as_ref().unwrap();
        assert_eq!(status["cliProjection"]["agents"]["rows"][0]["id"], "main");
        assert!(status["sessions"]["byAgent"].is_array());
    })
    .await;
}

/// The frames of `openclaw resume` (the TUI's connect, with its device block,
/// and its session picker's `sessions.list`), replayed.
#[tokio::test]
async fn recorded_openclaw_resume_replays() {
    bounded(LIMIT, async {
        let g = devtok_node().await;
        let answers = replay(&g, include_str!("../fixtures/openclaw-frames.resume.txt")).await;
        assert_eq!(answers.len(), 2);
        assert_eq!(answers[0].1.as_ref().unwrap()["type"], "hello-ok");
        assert!(
            answers[1].1.as_ref().unwrap()["sessions"].is_array(),
            "{:?}",
            answers[1]
        );
    })
    .await;
}

//! The operator CLI of `openclaw`: start/status/stop in the background, one
//! instance per state dir and per port (the second names the first), config
//! errors that name the file and the key, the token rule for non-loopback
//! binds, `call`, and agents that are commands.

use openclaw_e2e::bounded;
use openclaw_e2e::gateway::{cli, Gateway, NodeConfig, TOKEN};
use openclaw_e2e::ports::free_port;
use openclaw_e2e::protocol::ProtoClient;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn write_config(dir: &Path, config: &NodeConfig, port: u16) {
    std::fs::write(dir.join("openclaw.json"), config.json5(port)).unwrap();
}

#[tokio::test]
async fn start_status_stop_and_one_instance_per_state_dir_and_port() {
    bounded(LIMIT, async {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        write_config(dir.path(), &NodeConfig::new("bg"), port);

        let started = cli(dir.path(), &["gateway", "start", "--node", "bg"]);
        let (out, err) = text(&started);
        assert!(started.status.success(), "{out}{err}");
        let log = dir.path().join("logs/gateway.log");
        assert!(
            out.contains(&format!("port {port}"))
                && out.contains(&dir.path().display().to_string()),
            "{out}"
        );
        assert!(out.contains(&log.display().to_string()), "{out}");
        let pid: u32 = std::fs::read_to_string(dir.path().join("gateway.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(out.contains(&format!("pid {pid}")), "{out}");

        let status = cli(dir.path(), &["gateway", "status", "--json"]);
        let s: Value = serde_json::from_slice(&status.stdout).unwrap();
        assert_eq!(
            (
                s["running"].clone(),
                s["pid"].clone(),
                s["port"].clone(),
                s["ready"].clone()
            ),
            (json!(true), json!(pid), json!(port), json!(true))
        );

        // The same state dir again: refused, naming the holder.
        let second = cli(dir.path(), &["gateway", "run"]);
        let (_, err) = text(&second);
        assert_eq!(second.status.code(), Some(1));
        let holder = format!(
            "pid {pid} on port {port} (state dir {})",
            dir.path().canonicalize().unwrap().display()
        );
        assert!(
            err.contains("is in use by the gateway") && err.contains(&holder),
            "{err}"
        );
        // Another state dir on the same port: refused, naming the holder.
        let other = tempfile::tempdir().unwrap();
        write_config(other.path(), &NodeConfig::new("other"), port);
        let clash = cli(other.path(), &["gateway", "run"]);
        let (_, err) = text(&clash);
        assert_eq!(clash.status.code(), Some(1));
        assert!(
            err.contains(&format!("port {port} is in use by the gateway")) && err.contains(&holder),
            "{err}"
        );

        // call and health against the running node.
        let health = cli(dir.path(), &["gateway", "health"]);
        assert!(
            text(&health).0.starts_with("ok: node bg"),
            "{:?}",
            text(&health)
        );
        let sent = cli(
            dir.path(),
            &[
                "gateway",
                "call",
                "chat.send",
                "--expect-final",
                "--json",
                "--params",
                r#"{"sessionKey":"main","message":"via the cli","idempotencyKey":"c1"}"#,
            ],
        );
        let fin: Value =
            serde_json::from_slice(&sent.stdout).unwrap_or_else(|_| panic!("{:?}", text(&sent)));
        assert_eq!(fin["message"]["content"][0]["text"], "via the cli");
        let bad = cli(
            dir.path(),
            &["gateway", "call", "health", "--token", "nope"],
        );
        assert_eq!(bad.status.code(), Some(1));
        assert!(
            text(&bad).1.contains("gateway token mismatch"),
            "{:?}",
            text(&bad)
        );

        let stopped = cli(dir.path(), &["gateway", "stop"]);
        assert!(
            text(&stopped)
                .0
                .contains(&format!("gateway stopped (pid {pid}")),
            "{:?}",
            text(&stopped)
        );
        assert_eq!(
            cli(dir.path(), &["gateway", "status"]).status.code(),
            Some(3)
        );
        assert!(!dir.path().join("gateway.pid").exists());
        assert!(std::fs::read_to_string(&log).unwrap().contains("stopped"));
        // Sessions of the local store survive the restart.
        let restarted = cli(dir.path(), &["gateway", "start", "--node", "bg"]);
        assert!(restarted.status.success(), "{:?}", text(&restarted));
        let hist = cli(
            dir.path(),
            &[
                "gateway",
                "call",
                "chat.history",
                "--json",
                "--params",
                r#"{"sessionKey":"main"}"#,
            ],
        );
        let hist: Value = serde_json::from_slice(&hist.stdout).unwrap();
        assert_eq!(hist["totalMessages"], 2);
        assert!(cli(dir.path(), &["gateway", "stop"]).status.success());
    })
    .await;
}

#[test]
fn config_mistakes_name_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openclaw.json");
    let cases = [
        (
            "{gateway: {prot: 18789}}",
            "key `gateway.prot`: unknown field `prot`",
        ),
        ("{gateway: {port: \"x\"}}", "key `gateway.port`"),
        (
            "{gateway: {sessions: {redis: {ttl: \"1y\"}}}}",
            "key `gateway.sessions.redis.ttl`: `1y` has no known unit",
        ),
        ("{\n  gateway: {,\n}", "line 2, column"),
        (
            "{gateway: {bind: \"0.0.0.0\"}}",
            "no token or password is set",
        ),
    ];
    for (config, expected) in cases {
        std::fs::write(&file, config).unwrap();
        let run = cli(
            dir.path(),
            &["gateway", "run", "--port", &free_port().to_string()],
        );
        let (_, err) = text(&run);
        assert_eq!(run.status.code(), Some(1), "{config}: {err}");
        assert!(
            err.contains(expected),
            "{config}: expected {expected:?} in {err}"
        );
        assert!(
            err.contains(&file.display().to_string()),
            "{config}: the file is named in {err}"
        );
    }
    let env_port = openclaw_e2e::gateway::command(dir.path())
        .env("OPENCLAW_GATEWAY_PORT", "eighty")
        .args(["gateway", "status", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        env_port.status.code(),
        Some(3),
        "status needs no valid port"
    );
    std::fs::write(&file, "{}").unwrap();
    let bad_env = openclaw_e2e::gateway::command(dir.path())
        .env("OPENCLAW_GATEWAY_PORT", "eighty")
        .args(["gateway", "run"])
        .output()
        .unwrap();
    assert!(
        text(&bad_env)
            .1
            .contains("OPENCLAW_GATEWAY_PORT=`eighty` is not a port number"),
        "{:?}",
        text(&bad_env)
    );
}

#[tokio::test]
async fn command_agents_stream_stdout_and_report_failures() {
    bounded(LIMIT, async {
        let agents = json!([
            {"id": "ops", "command": ["sh", "-c", "read m; printf 'ops got: %s' \"$m\"; printf ' in %s' \"$OPENCLAW_SESSION_KEY\""]},
            {"id": "bad", "command": ["sh", "-c", "echo nope >&2; exit 2"]},
            {"id": "slow", "command": ["sleep", "5"], "timeout": "300ms"},
        ]);
        let g = Gateway::start(NodeConfig::new("agents").agents(agents)).await;
        let (mut c, _) = ProtoClient::hello(&format!("ws://{}", g.addr()), TOKEN).await;
        c.call("chat.send", json!({"sessionKey": "agent:ops:main", "message": "hi", "idempotencyKey": "a1"})).await.unwrap();
        let fin = c.event("chat", |p| p["runId"] == "a1" && p["state"] != "delta").await;
        assert_eq!(fin["payload"]["message"]["content"][0]["text"], "ops got: hi in agent:ops:main", "{fin}");

        c.call("chat.send", json!({"sessionKey": "agent:bad:main", "message": "hi", "idempotencyKey": "a2"})).await.unwrap();
        // The agent's lifecycle ends in `error`, then the chat does.
        let lifecycle = c.event("agent", |p| p["runId"] == "a2" && p["stream"] == "lifecycle" && p["data"]["phase"] == "error").await;
        assert!(lifecycle["payload"]["data"]["error"].is_string());
        let err = c.event("chat", |p| p["runId"] == "a2" && p["state"] != "delta").await;
        assert_eq!(err["payload"]["state"], "error");
        assert_eq!(err["payload"]["errorMessage"], "agent command exited with status 2: nope");

        c.call("chat.send", json!({"sessionKey": "agent:slow:main", "message": "hi", "idempotencyKey": "a3"})).await.unwrap();
        let err = c.event("chat", |p| p["runId"] == "a3" && p["state"] != "delta").await;
        assert!(err["payload"]["errorMessage"].as_str().unwrap().contains("timed out after 0.3s"), "{err}");
        let hist = c.call("chat.history", json!({"sessionKey": "agent:bad:main"})).await.unwrap();
        assert_eq!(hist["messages"][1]["role"], "custom", "the failure is in the transcript: {hist}");
        let metrics = openclaw_e2e::Request::get(g.addr(), "/metrics").send().await.unwrap().text();
        assert!(metrics.contains("openclaw_gateway_runs_total{result=\"error\"} 2"), "{metrics}");
        assert!(metrics.contains("openclaw_gateway_runs_total{result=\"ok\"} 1"), "{metrics}");
        assert!(metrics.contains("openclaw_gateway_store_seconds_bucket{op=\"append\""), "{metrics}");
        assert!(metrics.contains("openclaw_gateway_sessions 3"), "{metrics}");
    })
    .await;
}

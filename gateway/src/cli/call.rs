//! `call` and `health`: a protocol client. Connects, answers the challenge with
//! `connect`, sends one request and prints the payload.

use super::connect::{self, Socket};
use super::{Global, Target};
use crate::config::Settings;
use crate::node::VERSION;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// A failed call: a transport problem, or the gateway's error object.
enum CallError {
    Transport(String),
    Gateway(Value),
}

/// `openclaw gateway call METHOD`.
pub fn call(
    g: &Global,
    s: &Settings,
    method: &str,
    params: &str,
    expect_final: bool,
    t: &Target,
) -> Result<i32, String> {
    let params: Value = serde_json::from_str(params).map_err(|e| {
        format!("--params is not JSON: {e} (quote it: --params '{{\"key\":\"value\"}}')")
    })?;
    if !params.is_object() {
        return Err("--params must be a JSON object, like '{}'".to_string());
    }
    let result = runtime()?.block_on(request(s, t, method, params, expect_final));
    finish(g, method, result, |payload| format!("{payload:#}"))
}

/// `openclaw gateway health`.
pub fn health(g: &Global, s: &Settings, t: &Target) -> Result<i32, String> {
    let result = runtime()?.block_on(request(s, t, "health", json!({}), false));
    finish(g, "health", result, |h| {
        let reasons = h["reasons"].as_array().map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; ")
        });
        format!(
            "{}: node {} (version {}), up {}s, {} connection(s), sessions: {} {}{}",
            if h["ok"] == true { "ok" } else { "NOT READY" },
            h["node"].as_str().unwrap_or("?"),
            h["version"].as_str().unwrap_or("?"),
            h["uptimeMs"].as_u64().unwrap_or(0) / 1000,
            h["connections"],
            h["sessions"]["storage"].as_str().unwrap_or("?"),
            h["sessions"]["count"]
                .as_u64()
                .map(|n| format!("({n})"))
                .unwrap_or_default(),
            reasons
                .filter(|r| !r.is_empty())
                .map(|r| format!("\n  {r}"))
                .unwrap_or_default(),
        )
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

fn finish(
    g: &Global,
    method: &str,
    result: Result<Value, CallError>,
    human: impl Fn(&Value) -> String,
) -> Result<i32, String> {
    match result {
        Ok(payload) if g.json => println!("{payload:#}"),
        Ok(payload) => println!("{}", human(&payload)),
        Err(CallError::Transport(message)) => return Err(message),
        Err(CallError::Gateway(error)) => {
            if g.json {
                println!("{:#}", json!({"ok": false, "error": error}));
            }
            eprintln!(
                "openclaw: {method} failed: {}: {}",
                error["code"].as_str().unwrap_or("ERROR"),
                error["message"].as_str().unwrap_or("")
            );
            return Ok(1);
        }
    }
    Ok(0)
}

async fn request(
    s: &Settings,
    t: &Target,
    method: &str,
    params: Value,
    expect_final: bool,
) -> Result<Value, CallError> {
    let url = t.url.clone().unwrap_or_else(|| {
        let addr =
            crate::instance::local_addr(std::net::SocketAddr::new(s.bind.value, s.port.value));
        format!("ws://{addr}")
    });
    let work = async {
        let mut ws = connect::open(&url, t.ca_file.as_deref())
            .await
            .map_err(CallError::Transport)?;
        expect_event(&mut ws, "connect.challenge").await?;
        let connect = json!({
            "minProtocol": 4, "maxProtocol": 4,
            "client": {"id": "cli", "version": VERSION, "platform": std::env::consts::OS, "mode": "cli",
                       "instanceId": uuid::Uuid::new_v4().to_string()},
            "caps": [], "role": "operator",
            "scopes": ["operator.admin", "operator.read", "operator.write"],
            // No `token: null`: the official schema wants a string or nothing.
            "auth": credentials(s),
        });
        send(&mut ws, "1", "connect", connect).await?;
        response(&mut ws, "1").await?;
        send(&mut ws, "2", method, params).await?;
        let payload = response(&mut ws, "2").await?;
        if !expect_final {
            return Ok(payload);
        }
        let Some(run_id) = payload["runId"].as_str().map(str::to_string) else {
            return Ok(payload);
        };
        if payload["status"] != "started" {
            return Ok(payload);
        }
        loop {
            let frame = read(&mut ws).await?;
            let p = &frame["payload"];
            if frame["event"] == "chat" && p["runId"] == run_id.as_str() {
                match p["state"].as_str() {
                    Some("final") => return Ok(p.clone()),
                    Some("error") => {
                        return Err(CallError::Gateway(
                            json!({"code": "RUN_FAILED", "message": p["errorMessage"]}),
                        ))
                    }
                    _ => {}
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_millis(t.timeout), work)
        .await
        .unwrap_or_else(|_| {
            Err(CallError::Transport(format!(
                "no answer from {url} within {}ms",
                t.timeout
            )))
        })
}

async fn send(ws: &mut Socket, id: &str, method: &str, params: Value) -> Result<(), CallError> {
    let frame = json!({"type": "req", "id": id, "method": method, "params": params});
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .map_err(|e| CallError::Transport(format!("sending {method}: {e}")))
}

async fn read(ws: &mut Socket) -> Result<Value, CallError> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                return serde_json::from_str(t.as_str()).map_err(|e| {
                    CallError::Transport(format!("the gateway sent a frame that is not JSON: {e}"))
                })
            }
            Some(Ok(Message::Close(frame))) => {
                let why = frame
                    .map(|f| format!("{} {}", u16::from(f.code), f.reason))
                    .unwrap_or_default();
                return Err(CallError::Transport(format!(
                    "the gateway closed the connection {why}"
                )));
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(CallError::Transport(format!("connection lost: {e}"))),
            None => {
                return Err(CallError::Transport(
                    "the gateway closed the connection".into(),
                ))
            }
        }
    }
}

async fn expect_event(ws: &mut Socket, name: &str) -> Result<Value, CallError> {
    let frame = read(ws).await?;
    if frame["type"] == "event" && frame["event"] == name {
        Ok(frame)
    } else {
        Err(CallError::Transport(format!(
            "expected the {name} event first, got {frame}"
        )))
    }
}

async fn response(ws: &mut Socket, id: &str) -> Result<Value, CallError> {
    loop {
        let frame = read(ws).await?;
        if frame["type"] == "res" && frame["id"] == id {
            return if frame["ok"] == true {
                Ok(frame["payload"].clone())
            } else {
                Err(CallError::Gateway(frame["error"].clone()))
            };
        }
        if frame["type"] == "res" && frame["ok"] == false {
            // An error for a frame we did not send an id for (the connection is refused).
            return Err(CallError::Gateway(frame["error"].clone()));
        }
    }
}

/// The `connect.auth` block: the token and the password this command knows
/// (no `null`s: the official schema wants a string or nothing).
fn credentials(s: &Settings) -> Value {
    let mut auth = serde_json::Map::new();
    if let Some(t) = &s.token.value {
        auth.insert("token".into(), json!(t));
    }
    if let Some(p) = &s.password.value {
        auth.insert("password".into(), json!(p));
    }
    Value::Object(auth)
}

//! The handshake: `connect.challenge`, then the client's `connect`, answered with
//! `hello-ok` or an error after which the socket is closed.

use super::frames::{ErrorShape, PROTOCOL_VERSION};
use crate::clock::now_ms;
use crate::node::{Node, VERSION};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

/// A client that completed `connect`.
#[derive(Debug, Clone)]
pub struct Client {
    pub conn_id: String,
    /// The `client` block as sent.
    pub info: Value,
    pub role: String,
    pub scopes: Vec<String>,
}

/// Why a `connect` was refused, with the WebSocket close code and reason.
#[derive(Debug)]
pub struct Refusal {
    pub error: ErrorShape,
    pub close_code: u16,
    pub close_reason: &'static str,
    /// The `openclaw_gateway_handshakes_total` result label.
    pub metric: &'static str,
}

/// The challenge sent when a socket opens.
pub fn challenge() -> Value {
    json!({"nonce": uuid::Uuid::new_v4().to_string(), "ts": now_ms()})
}

/// Checks a `connect` request's params.
pub fn accept(node: &Node, conn_id: &str, params: &Value) -> Result<Client, Box<Refusal>> {
    let invalid = |message: String| {
        Box::new(Refusal {
            error: ErrorShape::invalid(message),
            close_code: 1008,
            close_reason: "invalid connect params",
            metric: "invalid",
        })
    };
    let min = params.get("minProtocol").and_then(Value::as_u64);
    let max = params.get("maxProtocol").and_then(Value::as_u64);
    let (Some(min), Some(max)) = (min, max) else {
        return Err(invalid(
            "invalid connect params: minProtocol and maxProtocol must be numbers".into(),
        ));
    };
    if !(min..=max).contains(&PROTOCOL_VERSION) {
        return Err(Box::new(Refusal {
            error: ErrorShape::invalid(format!(
                "protocol mismatch: this gateway speaks protocol {PROTOCOL_VERSION}, the client {min}..{max}"
            ))
            .with_details(json!({"code": "PROTOCOL_MISMATCH", "expectedProtocol": PROTOCOL_VERSION, "minProtocol": min, "maxProtocol": max})),
            close_code: 1002,
            close_reason: "protocol mismatch",
            metric: "protocol",
        }));
    }
    let Some(info) = params.get("client").filter(|c| c.is_object()).cloned() else {
        return Err(invalid(
            "invalid connect params: client must be an object".into(),
        ));
    };
    let role = params
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or("operator")
        .to_string();
    if role != "operator" {
        return Err(invalid(format!(
            "invalid connect params: role `{role}` is not served here (operator only)"
        )));
    }
    let scopes: Vec<String> = match params.get("scopes") {
        None => vec!["operator.read".to_string()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(_) => {
            return Err(invalid(
                "invalid connect params: scopes must be a list of strings".into(),
            ))
        }
    };
    if let Some(expected) = &node.settings.token.value {
        let given = params
            .pointer("/auth/token")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            let (message, reason) = if given.is_empty() {
                ("unauthorized: gateway token missing (provide this gateway's gateway.auth.token)", "token_missing")
            } else {
                ("unauthorized: gateway token mismatch (use this gateway's gateway.auth.token or pair the device)", "token_mismatch")
            };
            return Err(Box::new(Refusal {
                error: ErrorShape::invalid(message).with_details(json!({
                    "code": if given.is_empty() { "AUTH_TOKEN_MISSING" } else { "AUTH_TOKEN_MISMATCH" },
                    "authReason": reason,
                    "canRetryWithDeviceToken": false,
                    "recommendedNextStep": "update_auth_credentials",
                })),
                close_code: 1008,
                close_reason: "unauthorized",
                metric: "unauthorized",
            }));
        }
    }
    Ok(Client {
        conn_id: conn_id.to_string(),
        info,
        role,
        scopes,
    })
}

/// Whether the client's scopes allow a method. Admin includes write, write
/// includes read, as in OpenClaw.
pub fn allows(client: &Client, needed: Scope) -> bool {
    let has = |s: &str| client.scopes.iter().any(|x| x == s);
    match needed {
        Scope::Read => has("operator.read") || has("operator.write") || has("operator.admin"),
        Scope::Write => has("operator.write") || has("operator.admin"),
        Scope::Admin => has("operator.admin"),
    }
}

/// The scope a method needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
    Admin,
}

impl Scope {
    /// The scope's protocol name.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "operator.read",
            Scope::Write => "operator.write",
            Scope::Admin => "operator.admin",
        }
    }
}

/// The `hello-ok` payload.
pub fn hello(
    node: &Node,
    client: &Client,
    methods: &[&str],
    events: &[&str],
    health: Value,
) -> Value {
    let limits = node.settings.limits;
    json!({
        "type": "hello-ok",
        "protocol": PROTOCOL_VERSION,
        "server": {
            "version": VERSION,
            "connId": client.conn_id,
            "bootId": node.boot_id,
            "node": node.settings.node,
        },
        "features": {"methods": methods, "events": events},
        "snapshot": {
            "presence": node.presence.list(),
            "health": health,
            "uptimeMs": node.started.elapsed().as_millis() as u64,
            "sessionDefaults": {
                "defaultAgentId": "main",
                "mainKey": "main",
                "mainSessionKey": "agent:main:main",
            },
        },
        "auth": {
            "method": if node.settings.token.value.is_some() { "token" } else { "none" },
            "role": client.role,
            "scopes": client.scopes,
        },
        "policy": {
            "maxPayload": limits.max_payload,
            "maxBufferedBytes": limits.max_buffered_bytes,
            "tickIntervalMs": limits.tick_interval.as_millis() as u64,
        },
    })
}

//! The handshake: `connect.challenge`, then the client's `connect`, answered with
//! `hello-ok` or an error after which the socket is closed.

use super::frames::{self, ErrorShape, PROTOCOL_VERSION};
use super::origin::RequestOrigin;
use super::schema;
use crate::auth::Failure;
use crate::clock::now_ms;
use crate::ingress::Attribution;
use crate::node::{Node, VERSION};
use axum::http::HeaderMap;
use serde_json::{json, Value};
use std::net::IpAddr;

/// A client that completed `connect`.
#[derive(Debug, Clone)]
pub struct Client {
    pub conn_id: String,
    /// The `client` block as sent.
    pub info: Value,
    pub role: String,
    pub scopes: Vec<String>,
    /// How it authenticated, as `hello-ok` reports it.
    pub auth_method: &'static str,
    /// The user a trusted proxy named.
    pub user: Option<String>,
    /// Its address as presence reports it: none for a client on this machine.
    pub ip: Option<IpAddr>,
}

/// Where the upgrade came from.
pub struct Ingress<'a> {
    pub attribution: Attribution,
    /// The socket peer.
    pub peer: IpAddr,
    pub headers: &'a HeaderMap,
}

/// Why a `connect` was refused, with the WebSocket close code and reason.
#[derive(Debug)]
pub struct Refusal {
    pub error: ErrorShape,
    pub close_code: u16,
    pub close_reason: String,
    /// The `openclaw_gateway_handshakes_total` result label.
    pub metric: &'static str,
}

/// The official gateway's cap on a close reason (WebSocket allows 123 bytes).
const CLOSE_REASON_MAX_BYTES: usize = 120;

/// `reason` cut to [`CLOSE_REASON_MAX_BYTES`] on a character boundary.
pub fn close_reason(reason: &str) -> String {
    let mut end = reason.len().min(CLOSE_REASON_MAX_BYTES);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}

fn refusal(error: ErrorShape, close_code: u16, reason: &str, metric: &'static str) -> Box<Refusal> {
    Box::new(Refusal {
        error,
        close_code,
        close_reason: close_reason(reason),
        metric,
    })
}

/// The challenge sent when a socket opens.
pub fn challenge() -> Value {
    json!({"nonce": uuid::Uuid::new_v4().to_string(), "ts": now_ms()})
}

/// Checks a `connect` request's params in the official gateway's order:
/// the official schema, the protocol range, the role, the browser origin,
/// then the token.
pub async fn accept(
    node: &Node,
    conn_id: &str,
    params: &Value,
    origin: &RequestOrigin,
    ingress: &Ingress<'_>,
) -> Result<Client, Box<Refusal>> {
    if let Err(what) = schema::check("connect", params) {
        let message = format!("invalid connect params: {what}");
        return Err(refusal(
            ErrorShape::invalid(&message),
            1008,
            &message,
            "invalid",
        ));
    }
    let min = params["minProtocol"].as_u64().unwrap_or(0);
    let max = params["maxProtocol"].as_u64().unwrap_or(0);
    if !(min..=max).contains(&PROTOCOL_VERSION) {
        let error = ErrorShape::invalid("protocol mismatch").with_details(json!({
            "code": "PROTOCOL_MISMATCH", "clientMinProtocol": min, "clientMaxProtocol": max,
            "expectedProtocol": PROTOCOL_VERSION, "minimumProbeProtocol": 3,
        }));
        return Err(refusal(error, 1002, "protocol mismatch", "protocol"));
    }
    let info = params["client"].clone();
    let role = params
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or("operator")
        .to_string();
    match role.as_str() {
        "operator" => {}
        "node" => {
            let message = "invalid connect params: role `node` is not served here: this gateway serves operators only";
            return Err(refusal(
                ErrorShape::invalid(message),
                1008,
                "invalid role",
                "invalid",
            ));
        }
        _ => {
            return Err(refusal(
                ErrorShape::invalid("invalid role"),
                1008,
                "invalid role",
                "invalid",
            ));
        }
    }
    // No `scopes`: none, as officially (a client asks for what it needs).
    let scopes: Vec<String> = params
        .get("scopes")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let client_id = info.get("id").and_then(Value::as_str).unwrap_or("");
    if let Err(reason) = super::origin::check(origin, client_id, &node.settings.allowed_origins) {
        let message = "origin not allowed (open the Control UI from the gateway host or allow it in gateway.controlUi.allowedOrigins)";
        let error = ErrorShape::invalid(message)
            .with_details(json!({"code": "CONTROL_UI_ORIGIN_NOT_ALLOWED", "reason": reason}));
        return Err(refusal(error, 1008, message, "origin"));
    }
    let attempt = crate::auth::Attempt {
        attribution: ingress.attribution,
        peer: ingress.peer,
        headers: ingress.headers,
        origin: origin.origin.as_deref(),
        auth: params.get("auth").unwrap_or(&Value::Null),
    };
    let granted = crate::auth::authorize(&node.settings, &node.limiter, &attempt)
        .await
        .map_err(|f| auth_refusal(&info, ingress.attribution.is_local(), f))?;
    Ok(Client {
        conn_id: conn_id.to_string(),
        info,
        role,
        scopes,
        auth_method: granted.method,
        user: granted.user,
        ip: ingress.attribution.reported(),
    })
}

/// The official error frame and close for a refused `connect`, with the
/// hint the official gateway gives this kind of client.
fn auth_refusal(client: &Value, local: bool, failure: Failure) -> Box<Refusal> {
    let mode = client.get("mode").and_then(Value::as_str).unwrap_or("");
    let id = client.get("id").and_then(Value::as_str).unwrap_or("");
    let cli = mode == "cli";
    let ui = matches!(
        id,
        "openclaw-control-ui" | "openclaw-browser-copilot" | "openclaw-tui" | "webchat-ui"
    ) || mode == "webchat";
    let hint = |secret: &str, ui_hint: &str| match (cli, local, ui) {
        (true, true, _) if secret == "token" => {
            "use this gateway's gateway.auth.token or pair the device".to_string()
        }
        (true, true, _) => format!("use this gateway's gateway.auth.{secret}"),
        (true, false, _) => format!("set gateway.remote.{secret} to match gateway.auth.{secret}"),
        (false, _, true) => ui_hint.to_string(),
        _ => format!("provide gateway auth {secret}"),
    };
    let (message, code, reason, next) = match &failure {
        Failure::DeviceIdentityRequired => {
            let error = ErrorShape {
                code: frames::NOT_PAIRED,
                ..ErrorShape::invalid("device identity required")
            }
            .with_details(json!({"code": "DEVICE_IDENTITY_REQUIRED"}));
            return refusal(error, 1008, "device identity required", "unauthorized");
        }
        Failure::TokenMismatch => (
            format!(
                "unauthorized: gateway token mismatch ({})",
                hint(
                    "token",
                    "open the dashboard URL and paste the token in Control UI settings"
                )
            ),
            "AUTH_TOKEN_MISMATCH",
            "token_mismatch".to_string(),
            "update_auth_credentials",
        ),
        Failure::PasswordMismatch => (
            format!(
                "unauthorized: gateway password mismatch ({})",
                hint("password", "enter the password in Control UI settings")
            ),
            "AUTH_PASSWORD_MISMATCH",
            "password_mismatch".to_string(),
            "update_auth_credentials",
        ),
        Failure::RateLimited(_) => (
            "unauthorized: too many failed authentication attempts (retry later)".to_string(),
            "AUTH_RATE_LIMITED",
            "rate_limited".to_string(),
            "wait_then_retry",
        ),
        Failure::TrustedProxy(reason) => {
            let message = if mode == "node" && reason.starts_with("trusted_proxy_missing_header_") {
                "gateway rejected this node: trusted-proxy identity-header authentication is required and no usable machine credential was accepted; run `openclaw doctor` on the Gateway"
            } else {
                "unauthorized"
            };
            let code = if reason.starts_with("trusted_proxy_missing_header_") {
                "AUTH_IDENTITY_HEADER_REQUIRED"
            } else {
                "AUTH_UNAUTHORIZED"
            };
            (
                message.to_string(),
                code,
                reason.clone(),
                "review_auth_configuration",
            )
        }
    };
    let mut error = ErrorShape::invalid(&message).with_details(json!({
        "code": code,
        "authReason": reason,
        "canRetryWithDeviceToken": false,
        "recommendedNextStep": next,
    }));
    let metric = match failure {
        Failure::RateLimited(left) => {
            error.retryable = Some(true);
            error.retry_after_ms = Some(left.as_millis() as u64);
            "rate_limited"
        }
        _ => "unauthorized",
    };
    refusal(error, 1008, &message, metric)
}

/// Whether the client's scopes allow a method. Admin includes write, write
/// includes read, as in OpenClaw.
pub fn allows(client: &Client, needed: Scope) -> bool {
    let has = |s: &str| client.scopes.iter().any(|x| x == s);
    match needed {
        Scope::Read => has("operator.read") || has("operator.write") || has("operator.admin"),
        Scope::Write => has("operator.write") || has("operator.admin"),
        Scope::Admin => has("operator.admin"),
        Scope::Questions => has("operator.questions") || has("operator.admin"),
        Scope::Approvals => has("operator.approvals") || has("operator.admin"),
    }
}

/// The scope a method needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
    Admin,
    /// Answering the questions agents ask the operator.
    Questions,
    /// Deciding approvals agents and plugins ask for.
    Approvals,
}

impl Scope {
    /// The scope's protocol name.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "operator.read",
            Scope::Write => "operator.write",
            Scope::Admin => "operator.admin",
            Scope::Questions => "operator.questions",
            Scope::Approvals => "operator.approvals",
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
            "method": client.auth_method,
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

//! `chat.send` (start an agent run) and `chat.history` (read a transcript).

use super::params::Params;
use crate::node::Node;
use crate::protocol::frames::ErrorShape;
use crate::protocol::handshake::Client;
use crate::sessions::key;
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn send(node: &Arc<Node>, client: &Client, params: &Value) -> Result<Value, ErrorShape> {
    let p = Params::new(
        "chat.send",
        params,
        &["sessionKey", "message", "idempotencyKey"],
    )?;
    let key = key::parse(p.string("sessionKey")?).map_err(|e| p.error(&e))?;
    let message = p.string("message")?.to_string();
    let idempotency_key = p.string("idempotencyKey")?.to_string();
    if idempotency_key.len() > 200 {
        return Err(p.error("at /idempotencyKey: at most 200 characters"));
    }
    if node.is_stopping() {
        return Err(ErrorShape::unavailable(
            "the gateway is shutting down; reconnect and send again",
        ));
    }
    let client_id = client
        .info
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string();
    crate::agent::run::start(node, key, message, idempotency_key, client_id).await
}

pub async fn history(node: &Node, params: &Value) -> Result<Value, ErrorShape> {
    let p = Params::new("chat.history", params, &["sessionKey", "limit"])?;
    let key = key::parse(p.string("sessionKey")?).map_err(|e| p.error(&e))?;
    let limit = p.opt_int("limit", 1, 1000)?.unwrap_or(200) as usize;
    let history = node
        .timed("history", node.store.history(&key.key, limit))
        .await
        .map_err(|e| ErrorShape::unavailable(format!("session store unavailable: {e}")))?;
    Ok(match history {
        Some(h) => json!({
            "sessionKey": key.key,
            "sessionId": h.meta.session_id,
            "messages": h.messages,
            "hasMore": (h.messages.len() as u64) < h.meta.message_count,
            "totalMessages": h.meta.message_count,
            "version": h.meta.version,
        }),
        None => json!({
            "sessionKey": key.key, "sessionId": null, "messages": [], "hasMore": false, "totalMessages": 0,
        }),
    })
}

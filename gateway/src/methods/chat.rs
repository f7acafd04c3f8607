//! `chat.send` (start an agent run) and `chat.history` (read a transcript).
//!
//! Both take every field of the official schemas. What they mean here:
//! `agentId` picks the agent a bare key belongs to, `timeoutMs` bounds the
//! run (0: the agent's configured timeout), `offset` pages back through the
//! transcript. Fields about features this node has no counterpart for
//! (`thinking`, `fastMode`, `attachments`, channel routing ...) are accepted
//! and ignored; the README lists them.

use super::params::Params;
use super::target;
use crate::node::Node;
use crate::protocol::frames::ErrorShape;
use crate::protocol::handshake::Client;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// The longest idempotency key kept: it is stored with every run.
const MAX_IDEMPOTENCY_KEY: usize = 200;
/// The most transcript messages `offset` may skip: bounds one read's work.
const MAX_OFFSET: u64 = 100_000;

pub async fn send(node: &Arc<Node>, client: &Client, params: &Value) -> Result<Value, ErrorShape> {
    let p = Params::new("chat.send", params)?;
    let key = target::session(node, &p, "sessionKey")?;
    let message = p.string("message")?.to_string();
    let idempotency_key = p.string("idempotencyKey")?.to_string();
    if idempotency_key.len() > MAX_IDEMPOTENCY_KEY {
        return Err(p.error(&format!(
            "at /idempotencyKey: at most {MAX_IDEMPOTENCY_KEY} characters"
        )));
    }
    let timeout = p
        .opt_u64("timeoutMs", u64::MAX)
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis);
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
    let run = crate::agent::run::RunRequest {
        key,
        message,
        idempotency_key,
        client_id,
        timeout,
    };
    crate::agent::run::start(node, run).await
}

pub async fn history(node: &Node, params: &Value) -> Result<Value, ErrorShape> {
    history_as("chat.history", node, params).await
}

/// `chat.startup`: what the Control UI opens a conversation with. Given a
/// `sessionKey` the official gateway answers it as `chat.history` with the
/// session's row (`sessionInfo`, as `sessions.describe` has it); so does this
/// node. Without one the official gateway resolves a `shortId` or
/// `slugHint` (a session's short link), which this node has not.
pub async fn startup(node: &Node, params: &Value) -> Result<Value, ErrorShape> {
    if params.get("sessionKey").is_none() {
        return Err(ErrorShape::invalid(
            "invalid chat.startup params: this node opens a conversation by sessionKey only (no shortId or slugHint links)",
        ));
    }
    let mut page = history_as("chat.startup", node, params).await?;
    let key = page["sessionKey"].as_str().unwrap_or_default().to_string();
    let row = crate::methods::sessions::find(node, &key)
        .await?
        .map(|m| m.to_json());
    page["sessionInfo"] = row.unwrap_or(Value::Null);
    Ok(page)
}

async fn history_as(
    method: &'static str,
    node: &Node,
    params: &Value,
) -> Result<Value, ErrorShape> {
    let p = Params::new(method, params)?;
    let key = target::session(node, &p, "sessionKey")?;
    let limit = p.opt_u64("limit", 1000).unwrap_or(200) as usize;
    let offset = p.opt_u64("offset", MAX_OFFSET);
    let skip = offset.unwrap_or(0) as usize;
    let history = node
        .timed("history", node.store.history(&key.key, limit + skip))
        .await
        .map_err(|e| ErrorShape::unavailable(format!("session store unavailable: {e}")))?;
    let mut page = match history {
        Some(mut h) => {
            let keep = h.messages.len().saturating_sub(skip);
            h.messages.truncate(keep);
            let older = (h.meta.message_count as usize).saturating_sub(skip + keep);
            json!({
                "sessionKey": key.key,
                "sessionId": h.meta.session_id,
                "messages": h.messages,
                "hasMore": older > 0,
                "totalMessages": h.meta.message_count,
                "version": h.meta.version,
            })
        }
        None => json!({
            "sessionKey": key.key, "messages": [], "hasMore": false, "totalMessages": 0,
        }),
    };
    if let Some(offset) = offset {
        page["offset"] = json!(offset);
    }
    if page["hasMore"] == true {
        let shown = page["messages"].as_array().map_or(0, Vec::len);
        page["nextOffset"] = json!(skip + shown);
    }
    Ok(page)
}

//! `sessions.list`, `sessions.describe`, `sessions.subscribe`,
//! `sessions.reset` and `sessions.delete`, with the official schemas' params
//! and the official semantics: resetting a key with no session yet starts a
//! fresh one (`/new`, `/reset`), an agent's main session cannot be deleted,
//! and describing a key with no session answers `session: null`.

use super::params::Params;
use super::target;
use crate::clock::now_ms;
use crate::node::Node;
use crate::protocol::frames::ErrorShape;
use crate::sessions::{ListQuery, SessionMeta};
use serde_json::{json, Value};

fn store_down(e: crate::sessions::StoreError) -> ErrorShape {
    ErrorShape::unavailable(format!("session store unavailable: {e}"))
}

/// The session stored under the canonical `key`, if there is one.
pub(super) async fn find(node: &Node, key: &str) -> Result<Option<SessionMeta>, ErrorShape> {
    let history = node
        .timed("history", node.store.history(key, 1))
        .await
        .map_err(store_down)?;
    Ok(history.map(|h| h.meta))
}

/// The main session's name under every agent (`agent:<id>:main`).
const MAIN_KEY: &str = "main";

/// The most rows one `sessions.list` returns (the official gateway has no cap).
const MAX_LIMIT: u64 = 1000;

pub async fn list(node: &Node, params: &Value) -> Result<Value, ErrorShape> {
    list_as("sessions.list", node, params).await
}

/// `sessions.list` answered for `method`, which takes its params.
async fn list_as(method: &'static str, node: &Node, params: &Value) -> Result<Value, ErrorShape> {
    let p = Params::new(method, params)?;
    let query = ListQuery {
        limit: p.opt_u64("limit", MAX_LIMIT).unwrap_or(100) as usize,
        offset: p.opt_u64("offset", u32::MAX as u64).unwrap_or(0) as usize,
        search: p.opt_string("search").map(str::to_string),
        agent_id: p.opt_string("agentId").map(str::to_lowercase),
        active_minutes: p.opt_u64("activeMinutes", u64::MAX / 60_000),
    };
    let (rows, total) = node
        .timed("list", node.store.list(&query))
        .await
        .map_err(store_down)?;
    let next = query.offset + rows.len();
    Ok(json!({
        "ts": now_ms(),
        "path": node.store.location(),
        "count": rows.len(),
        "totalCount": total,
        "limitApplied": query.limit,
        "nextOffset": if next < total { json!(next) } else { Value::Null },
        "hasMore": next < total,
        "defaults": {"defaultAgentId": "main", "mainSessionKey": "agent:main:main"},
        "sessions": rows.iter().map(|m| m.to_json()).collect::<Vec<_>>(),
    }))
}

/// One session's row, as `sessions.list` gives it (the TUI reads the current
/// session's with it after every run), or `null` for a key with no session.
pub async fn describe(node: &Node, params: &Value) -> Result<Value, ErrorShape> {
    let p = Params::new("sessions.describe", params)?;
    if let Some(raw) = p.opt_string("agentId") {
        if target::known_agent(node, raw).is_none() {
            return Err(ErrorShape::invalid(format!(
                "Unknown agent id \"{}\"",
                raw.trim()
            )));
        }
    }
    let key = target::session(node, &p, "key")?;
    let row = find(node, &key.key).await?.map(|m| m.to_json());
    Ok(json!({"session": row}))
}

/// `sessions.subscribe` takes `sessions.list`'s params: with none it answers
/// `subscribed`, with some it also answers that list (`list`), as the
/// official gateway does. Here every client receives `sessions.changed`
/// whether it subscribed or not (the official gateway sends it to
/// subscribers only), so subscribing changes nothing about delivery.
pub async fn subscribe(node: &Node, params: &Value) -> Result<Value, ErrorShape> {
    let empty = params.as_object().is_some_and(|o| o.is_empty());
    if empty {
        Params::new("sessions.subscribe", params)?;
        return Ok(json!({"subscribed": true}));
    }
    let list = list_as("sessions.subscribe", node, params).await?;
    Ok(json!({"subscribed": true, "list": list}))
}

pub async fn reset(node: &Node, params: &Value) -> Result<Value, ErrorShape> {
    let p = Params::new("sessions.reset", params)?;
    let key = target::session(node, &p, "key")?;
    let meta = node
        .timed("reset", node.store.reset(&key.key, &key.agent_id))
        .await
        .map_err(store_down)?;
    let reason = p.opt_string("reason").unwrap_or("reset");
    node.bus.emit(
        "sessions.changed",
        &json!({"sessionKey": key.key, "reason": reason, "version": meta.version, "ts": now_ms()}),
    );
    Ok(json!({"ok": true, "key": key.key, "entry": meta.to_json()}))
}

pub async fn delete(node: &Node, params: &Value) -> Result<Value, ErrorShape> {
    let p = Params::new("sessions.delete", params)?;
    let key = target::session(node, &p, "key")?;
    if key.key == format!("agent:{}:{MAIN_KEY}", key.agent_id) {
        return Err(ErrorShape::invalid(format!(
            "Cannot delete the main session ({}).",
            key.key
        )));
    }
    let raw = p.string("key")?;
    if p.opt_bool("archivedOnly") == Some(true) {
        // Nothing is archived here (no `sessions.archive`).
        return Err(ErrorShape::invalid(format!(
            "Session {raw} is not archived. Archive it first, then delete it."
        )));
    }
    if let Some(expected) = p.opt_string("expectedSessionId").map(str::trim) {
        // `openclaw sessions delete` sends the id it listed: a session reset
        // since then is not deleted. (Checked just before the delete; the
        // stores have no compare-and-delete, so a reset in between wins.)
        let current = node
            .timed("history", node.store.history(&key.key, 1))
            .await
            .map_err(store_down)?;
        if current.as_ref().map(|h| h.meta.session_id.as_str()) != Some(expected) {
            return Err(ErrorShape::invalid(format!(
                "Session {raw} changed before deletion. Retry."
            ))
            .with_details(json!({"reason": "session-changed"})));
        }
    }
    let deleted = node
        .timed("delete", node.store.delete(&key.key))
        .await
        .map_err(store_down)?;
    if deleted {
        node.bus.emit(
            "sessions.changed",
            &json!({"sessionKey": key.key, "reason": "delete", "ts": now_ms()}),
        );
    }
    Ok(json!({"ok": true, "key": key.key, "deleted": deleted, "archived": []}))
}

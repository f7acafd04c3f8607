//! `sessions.list`, `sessions.reset` and `sessions.delete`.

use super::params::Params;
use crate::clock::now_ms;
use crate::node::Node;
use crate::protocol::frames::ErrorShape;
use crate::sessions::{key, ListQuery};
use serde_json::{json, Value};

fn store_down(e: crate::sessions::StoreError) -> ErrorShape {
    ErrorShape::unavailable(format!("session store unavailable: {e}"))
}

pub async fn list(node: &Node, params: &Value) -> Result<Value, ErrorShape> {
    let p = Params::new(
        "sessions.list",
        params,
        &["limit", "offset", "search", "agentId", "activeMinutes"],
    )?;
    let query = ListQuery {
        limit: p.opt_int("limit", 1, 1000)?.unwrap_or(100) as usize,
        offset: p.opt_int("offset", 0, u32::MAX as u64)?.unwrap_or(0) as usize,
        search: p.opt_string("search")?.map(str::to_string),
        agent_id: p.opt_string("agentId")?.map(str::to_lowercase),
        active_minutes: p.opt_int("activeMinutes", 1, 525_600)?,
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

fn session_key(p: &Params) -> Result<key::SessionKey, ErrorShape> {
    key::parse(p.string("key")?).map_err(|e| p.error(&e))
}

pub async fn reset(node: &Node, params: &Value) -> Result<Value, ErrorShape> {
    let p = Params::new("sessions.reset", params, &["key", "reason"])?;
    let key = session_key(&p)?;
    match node
        .timed("reset", node.store.reset(&key.key))
        .await
        .map_err(store_down)?
    {
        Some(meta) => {
            node.bus.emit(
                "sessions.changed",
                &json!({"sessionKey": key.key, "reason": "reset", "version": meta.version, "ts": now_ms()}),
            );
            Ok(json!({"ok": true, "key": key.key, "entry": meta.to_json()}))
        }
        None => Err(p.error(&format!("no session `{}`", key.key))),
    }
}

pub async fn delete(node: &Node, params: &Value) -> Result<Value, ErrorShape> {
    let p = Params::new("sessions.delete", params, &["key", "deleteTranscript"])?;
    let key = session_key(&p)?;
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
    Ok(json!({"ok": true, "key": key.key, "deleted": deleted}))
}

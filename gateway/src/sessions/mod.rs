//! Sessions: a transcript and metadata per session key, behind one trait with a
//! `local` (SQLite in the state dir) and a `redis` (shared between nodes) store.

pub mod key;
pub mod local;
pub mod redis;

use async_trait::async_trait;
use serde_json::{json, Value};

/// A session's metadata, as `sessions.list` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionMeta {
    pub key: String,
    pub session_id: String,
    pub agent_id: String,
    pub created_at: u64,
    pub updated_at: u64,
    /// Grows with every change; lets clients tell a stale copy from a fresh one.
    pub version: u64,
    pub message_count: u64,
    /// The start of the last message, for lists.
    pub last_message: Option<String>,
}

impl SessionMeta {
    /// The row `sessions.list` returns.
    pub fn to_json(&self) -> Value {
        json!({
            "key": self.key,
            "sessionId": self.session_id,
            "agentId": self.agent_id,
            "kind": "direct",
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "version": self.version,
            "messageCount": self.message_count,
            "lastMessagePreview": self.last_message,
        })
    }
}

/// The tail of a transcript.
#[derive(Debug, Clone)]
pub struct History {
    pub meta: SessionMeta,
    /// Oldest first; each carries `__openclaw.seq`, its 1-based position.
    pub messages: Vec<Value>,
}

/// What `sessions.list` asks for.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub limit: usize,
    pub offset: usize,
    pub search: Option<String>,
    pub agent_id: Option<String>,
    /// Only sessions updated within this many minutes.
    pub active_minutes: Option<u64>,
}

impl ListQuery {
    /// Whether a session passes the filters (offset and limit aside).
    pub fn matches(&self, meta: &SessionMeta, now_ms: u64) -> bool {
        self.agent_id.as_ref().is_none_or(|a| *a == meta.agent_id)
            && self
                .search
                .as_ref()
                .is_none_or(|s| meta.key.to_lowercase().contains(&s.to_lowercase()))
            && self
                .active_minutes
                .is_none_or(|m| meta.updated_at + m * 60_000 >= now_ms)
    }
}

/// A failed store operation; the client sees `UNAVAILABLE` and may retry.
#[derive(Debug, Clone)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where sessions live. Every write bumps the session's version.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// `local` or `redis`, for status and metrics.
    fn kind(&self) -> &'static str;
    /// The file or URL and prefix, for status.
    fn location(&self) -> String;
    /// Appends a message, creating the session (for `agent_id`) if needed.
    async fn append(
        &self,
        key: &str,
        agent_id: &str,
        message: &Value,
    ) -> Result<SessionMeta, StoreError>;
    /// The last `limit` messages and the metadata; `None` if there is no such session.
    async fn history(&self, key: &str, limit: usize) -> Result<Option<History>, StoreError>;
    /// The sessions matching `query`, newest first, and how many matched in all.
    async fn list(&self, query: &ListQuery) -> Result<(Vec<SessionMeta>, usize), StoreError>;
    /// Empties the transcript under a new session id, creating the session
    /// (for `agent_id`) if there is none: `/new` and `/reset` start fresh.
    async fn reset(&self, key: &str, agent_id: &str) -> Result<SessionMeta, StoreError>;
    /// Removes the session; whether it existed.
    async fn delete(&self, key: &str) -> Result<bool, StoreError>;
    /// Records that a run with this idempotency key started. `Ok(None)`: this caller
    /// owns the run. `Ok(Some(status))`: it already ran or runs, with that status.
    async fn claim_run(&self, idempotency_key: &str) -> Result<Option<String>, StoreError>;
    /// Records a claimed run's outcome (`ok` or `error`).
    async fn finish_run(&self, idempotency_key: &str, status: &str) -> Result<(), StoreError>;
    /// How many sessions there are.
    async fn count(&self) -> Result<u64, StoreError>;
    /// Whether the store answers now.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Sets `__openclaw.seq` on each message from its position in the transcript.
pub fn number_messages(messages: &mut [Value], first_seq: u64) {
    for (i, m) in messages.iter_mut().enumerate() {
        if let Some(obj) = m.as_object_mut() {
            let meta = obj.entry("__openclaw").or_insert_with(|| json!({}));
            if let Some(meta) = meta.as_object_mut() {
                meta.insert("seq".into(), json!(first_seq + i as u64));
            }
        }
    }
}

/// The first line of a message's text, cut to 120 characters, for lists.
pub fn preview(message: &Value) -> String {
    let text = message
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(120)
        .collect()
}

#[cfg(test)]
pub(crate) mod contract_tests;

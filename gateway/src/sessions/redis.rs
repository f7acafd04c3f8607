//! The `redis` store: sessions shared by every node on one Redis.
//!
//! Keys under the prefix `P`: `P meta:<key>` (hash), `P log:<key>` (list of
//! message JSON), `P index` (sorted set of keys by last use), `P run:<idempotency
//! key>` (run status). Every use slides the session's TTL. Multi-key changes are
//! Lua scripts, so each is atomic and one round trip.

use super::{number_messages, preview, History, ListQuery, SessionMeta, SessionStore, StoreError};
use crate::clock::now_ms;
use crate::redis_link::RedisLink;
use async_trait::async_trait;
use redis::{AsyncCommands, Script};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Sessions on a shared Redis.
pub struct RedisStore {
    link: Arc<RedisLink>,
    prefix: String,
    ttl_ms: u64,
    append: Script,
    reset: Script,
}

const APPEND: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'sessionId', ARGV[4], 'agentId', ARGV[3], 'createdAt', ARGV[1],
             'version', 0, 'messageCount', 0)
  redis.call('DEL', KEYS[2])
end
redis.call('RPUSH', KEYS[2], ARGV[5])
redis.call('HINCRBY', KEYS[1], 'messageCount', 1)
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[1], 'lastMessage', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[6])
return redis.call('HGETALL', KEYS[1])
"#;

const RESET: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'agentId', ARGV[5], 'createdAt', ARGV[1], 'version', 0)
end
redis.call('HSET', KEYS[1], 'sessionId', ARGV[3], 'messageCount', 0, 'updatedAt', ARGV[1], 'lastMessage', '')
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('DEL', KEYS[2])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[4])
return redis.call('HGETALL', KEYS[1])
"#;

impl RedisStore {
    /// A store under `prefix`; sessions live `ttl` after their last use.
    pub fn new(link: Arc<RedisLink>, prefix: &str, ttl: Duration) -> Self {
        RedisStore {
            link,
            prefix: prefix.to_string(),
            ttl_ms: ttl.as_millis() as u64,
            append: Script::new(APPEND),
            reset: Script::new(RESET),
        }
    }

    fn meta_key(&self, key: &str) -> String {
        format!("{}meta:{key}", self.prefix)
    }

    fn log_key(&self, key: &str) -> String {
        format!("{}log:{key}", self.prefix)
    }

    fn index_key(&self) -> String {
        format!("{}index", self.prefix)
    }

    fn run_key(&self, idem: &str) -> String {
        format!("{}run:{idem}", self.prefix)
    }

    /// Drops index entries whose sessions have expired.
    async fn prune_index(&self) -> Result<(), StoreError> {
        let cutoff = now_ms().saturating_sub(self.ttl_ms);
        let index = self.index_key();
        self.link
            .call("session_prune", |mut c| async move {
                c.zrembyscore::<_, _, _, ()>(index, "-inf", cutoff).await
            })
            .await
            .map_err(StoreError)
    }
}

fn parse_meta(key: &str, fields: HashMap<String, String>) -> Option<SessionMeta> {
    if fields.is_empty() {
        return None;
    }
    let num = |f: &str| fields.get(f).and_then(|v| v.parse().ok()).unwrap_or(0);
    Some(SessionMeta {
        key: key.to_string(),
        session_id: fields.get("sessionId").cloned().unwrap_or_default(),
        agent_id: fields.get("agentId").cloned().unwrap_or_default(),
        created_at: num("createdAt"),
        updated_at: num("updatedAt"),
        version: num("version"),
        message_count: num("messageCount"),
        last_message: fields.get("lastMessage").filter(|s| !s.is_empty()).cloned(),
    })
}

#[async_trait]
impl SessionStore for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn location(&self) -> String {
        format!("{} (prefix {})", self.link.url(), self.prefix)
    }

    async fn append(
        &self,
        key: &str,
        agent_id: &str,
        message: &Value,
    ) -> Result<SessionMeta, StoreError> {
        let mut inv = self.append.prepare_invoke();
        inv.key(self.meta_key(key))
            .key(self.log_key(key))
            .key(self.index_key())
            .arg(now_ms())
            .arg(self.ttl_ms)
            .arg(agent_id)
            .arg(uuid::Uuid::new_v4().to_string())
            .arg(message.to_string())
            .arg(key)
            .arg(preview(message));
        let fields: HashMap<String, String> = self
            .link
            .script("session_append", crate::redis_link::CALL_TIMEOUT, inv)
            .await
            .map_err(StoreError)?;
        parse_meta(key, fields).ok_or_else(|| StoreError("append returned no session".into()))
    }

    async fn history(&self, key: &str, limit: usize) -> Result<Option<History>, StoreError> {
        let (meta_key, log_key, index, ttl) = (
            self.meta_key(key),
            self.log_key(key),
            self.index_key(),
            self.ttl_ms,
        );
        let owned_key = key.to_string();
        let (fields, raw): (HashMap<String, String>, Vec<String>) = self
            .link
            .call("session_history", |mut c| async move {
                let mut p = redis::pipe();
                p.hgetall(&meta_key)
                    .lrange(&log_key, -(limit as isize), -1)
                    .pexpire(&meta_key, ttl as i64)
                    .ignore()
                    .pexpire(&log_key, ttl as i64)
                    .ignore()
                    .cmd("ZADD")
                    .arg(&index)
                    .arg("XX")
                    .arg(now_ms())
                    .arg(&owned_key)
                    .ignore();
                p.query_async(&mut c).await
            })
            .await
            .map_err(StoreError)?;
        let Some(meta) = parse_meta(key, fields) else {
            return Ok(None);
        };
        let mut messages: Vec<Value> = raw
            .iter()
            .filter_map(|m| serde_json::from_str(m).ok())
            .collect();
        let first = (meta.message_count + 1).saturating_sub(messages.len() as u64);
        number_messages(&mut messages, first);
        Ok(Some(History { meta, messages }))
    }

    async fn list(&self, query: &ListQuery) -> Result<(Vec<SessionMeta>, usize), StoreError> {
        self.prune_index().await?;
        let index = self.index_key();
        let keys: Vec<String> = self
            .link
            .call("session_list", |mut c| async move {
                c.zrevrange(index, 0, -1).await
            })
            .await
            .map_err(StoreError)?;
        if keys.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let meta_keys: Vec<String> = keys.iter().map(|k| self.meta_key(k)).collect();
        let rows: Vec<HashMap<String, String>> = self
            .link
            .call("session_list", |mut c| async move {
                let mut p = redis::pipe();
                for k in &meta_keys {
                    p.hgetall(k);
                }
                p.query_async(&mut c).await
            })
            .await
            .map_err(StoreError)?;
        let now = now_ms();
        let mut all: Vec<SessionMeta> = keys
            .iter()
            .zip(rows)
            .filter_map(|(k, f)| parse_meta(k, f))
            .filter(|m| query.matches(m, now))
            .collect();
        all.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.key.cmp(&b.key)));
        let total = all.len();
        Ok((
            all.into_iter()
                .skip(query.offset)
                .take(query.limit)
                .collect(),
            total,
        ))
    }

    async fn reset(&self, key: &str, agent_id: &str) -> Result<SessionMeta, StoreError> {
        let mut inv = self.reset.prepare_invoke();
        inv.key(self.meta_key(key))
            .key(self.log_key(key))
            .key(self.index_key())
            .arg(now_ms())
            .arg(self.ttl_ms)
            .arg(uuid::Uuid::new_v4().to_string())
            .arg(key)
            .arg(agent_id);
        let fields: HashMap<String, String> = self
            .link
            .script("session_reset", crate::redis_link::CALL_TIMEOUT, inv)
            .await
            .map_err(StoreError)?;
        parse_meta(key, fields)
            .ok_or_else(|| StoreError(format!("reset of {key}: the script returned no session")))
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let (meta_key, log_key, index, key) = (
            self.meta_key(key),
            self.log_key(key),
            self.index_key(),
            key.to_string(),
        );
        let (deleted,): (u64,) = self
            .link
            .call("session_delete", |mut c| async move {
                redis::pipe()
                    .del(&[meta_key, log_key])
                    .zrem(index, key)
                    .ignore()
                    .query_async(&mut c)
                    .await
            })
            .await
            .map_err(StoreError)?;
        Ok(deleted > 0)
    }

    async fn claim_run(&self, idempotency_key: &str) -> Result<Option<String>, StoreError> {
        let (run_key, ttl) = (self.run_key(idempotency_key), self.ttl_ms);
        let (claimed, status): (Option<String>, Option<String>) = self
            .link
            .call("run_claim", |mut c| async move {
                redis::pipe()
                    .cmd("SET")
                    .arg(&run_key)
                    .arg("running")
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl)
                    .get(&run_key)
                    .query_async(&mut c)
                    .await
            })
            .await
            .map_err(StoreError)?;
        Ok(match claimed {
            Some(_) => None,
            None => Some(status.unwrap_or_else(|| "running".into())),
        })
    }

    async fn finish_run(&self, idempotency_key: &str, status: &str) -> Result<(), StoreError> {
        let (run_key, ttl, status) = (
            self.run_key(idempotency_key),
            self.ttl_ms,
            status.to_string(),
        );
        self.link
            .call("run_finish", |mut c| async move {
                redis::cmd("SET")
                    .arg(run_key)
                    .arg(status)
                    .arg("XX")
                    .arg("PX")
                    .arg(ttl)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
            .map_err(StoreError)
    }

    async fn count(&self) -> Result<u64, StoreError> {
        self.prune_index().await?;
        let index = self.index_key();
        self.link
            .call("session_count", |mut c| async move { c.zcard(index).await })
            .await
            .map_err(StoreError)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.link
            .call("ping", |mut c| async move {
                redis::cmd("PING").query_async::<()>(&mut c).await
            })
            .await
            .map_err(StoreError)
    }
}

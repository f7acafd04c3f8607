//! The `local` store: SQLite in the state dir, so sessions survive a restart.
//! SQLite calls block, so each runs on tokio's blocking pool.

use super::{number_messages, preview, History, ListQuery, SessionMeta, SessionStore, StoreError};
use crate::clock::now_ms;
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Sessions in one SQLite file.
pub struct LocalStore {
    path: PathBuf,
    db: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS sessions (
    key TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL,
    message_count INTEGER NOT NULL,
    last_message TEXT
);
CREATE TABLE IF NOT EXISTS messages (
    session_key TEXT NOT NULL,
    pos INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (session_key, pos)
);
CREATE TABLE IF NOT EXISTS runs (
    idempotency_key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
";

impl LocalStore {
    /// Opens (or creates) the store file.
    pub fn open(path: &Path) -> Result<Self, String> {
        let db = Connection::open(path)
            .and_then(|db| db.execute_batch(SCHEMA).map(|_| db))
            .map_err(|e| format!("cannot open the session store {}: {e}", path.display()))?;
        Ok(LocalStore {
            path: path.to_path_buf(),
            db: Arc::new(Mutex::new(db)),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut db = db.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut db)
        })
        .await
        .map_err(|e| StoreError(format!("session store task failed: {e}")))?
        .map_err(|e| StoreError(format!("session store: {e}")))
    }
}

fn meta(db: &Connection, key: &str) -> rusqlite::Result<Option<SessionMeta>> {
    db.query_row(
        "SELECT key, session_id, agent_id, created_at, updated_at, version, message_count, last_message
         FROM sessions WHERE key = ?1",
        [key],
        row_meta,
    )
    .optional()
}

fn row_meta(r: &rusqlite::Row) -> rusqlite::Result<SessionMeta> {
    Ok(SessionMeta {
        key: r.get(0)?,
        session_id: r.get(1)?,
        agent_id: r.get(2)?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
        version: r.get(5)?,
        message_count: r.get(6)?,
        last_message: r.get(7)?,
    })
}

#[async_trait]
impl SessionStore for LocalStore {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    async fn append(
        &self,
        key: &str,
        agent_id: &str,
        message: &Value,
    ) -> Result<SessionMeta, StoreError> {
        let (key, agent_id) = (key.to_string(), agent_id.to_string());
        let (body, last) = (message.to_string(), preview(message));
        self.with(move |db| {
            let tx = db.transaction()?;
            let now = now_ms();
            tx.execute(
                "INSERT INTO sessions (key, session_id, agent_id, created_at, updated_at, version, message_count)
                 VALUES (?1, ?2, ?3, ?4, ?4, 0, 0) ON CONFLICT(key) DO NOTHING",
                params![key, uuid::Uuid::new_v4().to_string(), agent_id, now],
            )?;
            tx.execute(
                "UPDATE sessions SET message_count = message_count + 1, version = version + 1,
                 updated_at = ?2, last_message = ?3 WHERE key = ?1",
                params![key, now, last],
            )?;
            let m = meta(&tx, &key)?.expect("row just written");
            tx.execute(
                "INSERT INTO messages (session_key, pos, body) VALUES (?1, ?2, ?3)",
                params![key, m.message_count, body],
            )?;
            tx.commit()?;
            Ok(m)
        })
        .await
    }

    async fn history(&self, key: &str, limit: usize) -> Result<Option<History>, StoreError> {
        let key = key.to_string();
        self.with(move |db| {
            let Some(m) = meta(db, &key)? else {
                return Ok(None);
            };
            let first = m.message_count.saturating_sub(limit as u64) + 1;
            let mut stmt = db.prepare_cached(
                "SELECT body FROM messages WHERE session_key = ?1 AND pos >= ?2 ORDER BY pos",
            )?;
            let mut messages: Vec<Value> = stmt
                .query_map(params![key, first], |r| r.get::<_, String>(0))?
                .filter_map(|b| b.ok().and_then(|b| serde_json::from_str(&b).ok()))
                .collect();
            number_messages(&mut messages, first);
            Ok(Some(History { meta: m, messages }))
        })
        .await
    }

    async fn list(&self, query: &ListQuery) -> Result<(Vec<SessionMeta>, usize), StoreError> {
        let query = query.clone();
        self.with(move |db| {
            let mut stmt = db.prepare_cached(
                "SELECT key, session_id, agent_id, created_at, updated_at, version, message_count, last_message
                 FROM sessions ORDER BY updated_at DESC, key",
            )?;
            let now = now_ms();
            let all: Vec<SessionMeta> = stmt
                .query_map([], row_meta)?
                .filter_map(Result::ok)
                .filter(|m| query.matches(m, now))
                .collect();
            let total = all.len();
            Ok((all.into_iter().skip(query.offset).take(query.limit).collect(), total))
        })
        .await
    }

    async fn reset(&self, key: &str, agent_id: &str) -> Result<SessionMeta, StoreError> {
        let (key, agent_id) = (key.to_string(), agent_id.to_string());
        self.with(move |db| {
            let tx = db.transaction()?;
            let now = now_ms();
            tx.execute(
                "INSERT INTO sessions (key, session_id, agent_id, created_at, updated_at, version, message_count)
                 VALUES (?1, '', ?2, ?3, ?3, 0, 0) ON CONFLICT(key) DO NOTHING",
                params![key, agent_id, now],
            )?;
            tx.execute(
                "UPDATE sessions SET session_id = ?2, message_count = 0, version = version + 1,
                 updated_at = ?3, last_message = NULL WHERE key = ?1",
                params![key, uuid::Uuid::new_v4().to_string(), now],
            )?;
            tx.execute("DELETE FROM messages WHERE session_key = ?1", [&key])?;
            let m = meta(&tx, &key)?.expect("row just written");
            tx.commit()?;
            Ok(m)
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let key = key.to_string();
        self.with(move |db| {
            let tx = db.transaction()?;
            let n = tx.execute("DELETE FROM sessions WHERE key = ?1", [&key])?;
            tx.execute("DELETE FROM messages WHERE session_key = ?1", [&key])?;
            tx.commit()?;
            Ok(n > 0)
        })
        .await
    }

    async fn claim_run(&self, idempotency_key: &str) -> Result<Option<String>, StoreError> {
        let idem = idempotency_key.to_string();
        self.with(move |db| {
            let n = db.execute(
                "INSERT INTO runs (idempotency_key, status, created_at) VALUES (?1, 'running', ?2)
                 ON CONFLICT(idempotency_key) DO NOTHING",
                params![idem, now_ms()],
            )?;
            if n == 1 {
                return Ok(None);
            }
            db.query_row(
                "SELECT status FROM runs WHERE idempotency_key = ?1",
                [&idem],
                |r| r.get(0),
            )
            .map(Some)
        })
        .await
    }

    async fn finish_run(&self, idempotency_key: &str, status: &str) -> Result<(), StoreError> {
        let (idem, status) = (idempotency_key.to_string(), status.to_string());
        self.with(move |db| {
            db.execute(
                "UPDATE runs SET status = ?2 WHERE idempotency_key = ?1",
                params![idem, status],
            )
            .map(drop)
        })
        .await
    }

    async fn count(&self) -> Result<u64, StoreError> {
        self.with(|db| db.query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0)))
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with(|db| db.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }
}

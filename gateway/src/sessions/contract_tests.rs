//! One contract, both stores: the `local` SQLite file and a real `redis-server`.

use super::local::LocalStore;
use super::redis::RedisStore;
use super::{ListQuery, SessionStore};
use crate::redis_link::RedisLink;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A private redis-server on a unix socket in a temp dir, killed on drop.
pub(crate) struct TestRedis {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl TestRedis {
    pub(crate) fn start() -> TestRedis {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("redis.sock");
        let child = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--save",
                "",
                "--appendonly",
                "no",
                "--unixsocket",
            ])
            .arg(&sock)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sock.exists() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not create {sock:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        TestRedis {
            child,
            url: format!("redis+unix://{}", sock.display()),
            _dir: dir,
        }
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn contract(store: &dyn SessionStore) {
    let m = store
        .append(
            "agent:main:a",
            "main",
            &json!({"role": "user", "content": "hello\nworld"}),
        )
        .await
        .unwrap();
    assert_eq!(
        (m.message_count, m.version, m.agent_id.as_str()),
        (1, 1, "main")
    );
    assert_eq!(m.last_message.as_deref(), Some("hello"));
    let first_id = m.session_id.clone();
    for i in 0..4 {
        store
            .append(
                "agent:main:a",
                "main",
                &json!({"role": "assistant", "content": format!("r{i}")}),
            )
            .await
            .unwrap();
    }
    store
        .append(
            "agent:ops:b",
            "ops",
            &json!({"role": "user", "content": "x"}),
        )
        .await
        .unwrap();

    let h = store.history("agent:main:a", 2).await.unwrap().unwrap();
    assert_eq!(h.meta.message_count, 5);
    assert_eq!(h.meta.session_id, first_id);
    let seqs: Vec<u64> = h
        .messages
        .iter()
        .map(|m| m["__openclaw"]["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [4, 5]);
    assert_eq!(h.messages[1]["content"], "r3");
    assert!(store
        .history("agent:main:none", 10)
        .await
        .unwrap()
        .is_none());

    let all = ListQuery {
        limit: 10,
        ..Default::default()
    };
    let (rows, total) = store.list(&all).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(rows.len(), 2);
    let ops = ListQuery {
        limit: 10,
        agent_id: Some("ops".into()),
        ..Default::default()
    };
    assert_eq!(store.list(&ops).await.unwrap().1, 1);
    let page = ListQuery {
        limit: 1,
        offset: 1,
        ..Default::default()
    };
    let (rows, total) = store.list(&page).await.unwrap();
    assert_eq!((rows.len(), total), (1, 2));
    assert_eq!(store.count().await.unwrap(), 2);

    let r = store.reset("agent:main:a", "main").await.unwrap();
    assert_ne!(r.session_id, first_id);
    assert_eq!(r.message_count, 0);
    assert!(r.version > 5);
    assert!(store
        .history("agent:main:a", 10)
        .await
        .unwrap()
        .unwrap()
        .messages
        .is_empty());
    let fresh = store.reset("agent:ops:new", "ops").await.unwrap();
    assert_eq!((fresh.message_count, fresh.agent_id.as_str()), (0, "ops"));
    assert!(store.history("agent:ops:new", 10).await.unwrap().is_some());
    assert!(store.delete("agent:ops:new").await.unwrap());

    assert!(store.delete("agent:ops:b").await.unwrap());
    assert!(!store.delete("agent:ops:b").await.unwrap());
    assert_eq!(store.count().await.unwrap(), 1);

    assert_eq!(store.claim_run("k1").await.unwrap(), None);
    assert_eq!(
        store.claim_run("k1").await.unwrap().as_deref(),
        Some("running")
    );
    store.finish_run("k1", "ok").await.unwrap();
    assert_eq!(store.claim_run("k1").await.unwrap().as_deref(), Some("ok"));
    store.ping().await.unwrap();
}

#[tokio::test]
async fn local_store_keeps_the_contract_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    contract(&LocalStore::open(&path).unwrap()).await;
    let again = LocalStore::open(&path).unwrap();
    assert_eq!(again.count().await.unwrap(), 1);
    assert_eq!(again.claim_run("k1").await.unwrap().as_deref(), Some("ok"));
}

#[tokio::test]
async fn redis_store_keeps_the_contract_and_expires_idle_sessions() {
    let redis = TestRedis::start();
    let link = Arc::new(RedisLink::new(&redis.url).unwrap());
    contract(&RedisStore::new(
        link.clone(),
        "t:",
        Duration::from_secs(60),
    ))
    .await;

    let short = RedisStore::new(link, "short:", Duration::from_millis(300));
    short
        .append(
            "agent:main:x",
            "main",
            &json!({"role": "user", "content": "x"}),
        )
        .await
        .unwrap();
    assert_eq!(short.count().await.unwrap(), 1);
    let deadline = Instant::now() + Duration::from_secs(5);
    // Counting does not count as use, so it does not slide the TTL.
    while short.count().await.unwrap() != 0 {
        assert!(Instant::now() < deadline, "session never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(short.history("agent:main:x", 1).await.unwrap().is_none());
}

//! The Redis lease (DESIGN, "Redis lease"): one key holds the holder's record
//! with a PX expiry; `<key>:epoch` is the fencing counter, bumped by every
//! grant and every forced clear. Every step is one Lua script, so each check
//! and its write are atomic, and times come from Redis `TIME` (one clock for
//! the whole cluster).
//!
//! Keys beside the lease, all under `<key>:`: `epoch`, `jobs` (hash: job id ->
//! last recorded tick), `runs` (list: the last 10,000 recorded job runs).

use super::{Claim, Fenced, Lease, LeaseError, LeaseRecord, LeaseView};
use crate::redis_link::RedisLink;
use async_trait::async_trait;
use redis::Script;
use std::sync::Arc;
use std::time::Duration;

/// Grants the lease if free: a new epoch, the record built here so `since`
/// is Redis's own time. Returns the stored value, or nil when held.
const ACQUIRE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local epoch = redis.call('INCR', KEYS[2])
local t = redis.call('TIME')
local since = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local c = cjson.decode(ARGV[1])
local value = string.format('{"node":%s,"role":%s,"priority":%d,"epoch":%d,"address":%s,"since":%d}',
  cjson.encode(c.node), cjson.encode(c.role), c.priority, epoch, cjson.encode(c.address), since)
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return value
"#;

/// Compare-and-PEXPIRE.
const RENEW: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;

/// Compare-and-DEL; with ARGV[2] = "bump" the epoch grows too (force-unlock).
const CLEAR: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  if ARGV[2] == 'bump' then redis.call('INCR', KEYS[2]) end
  return 1
end
return 0
"#;

/// Holder, PTTL, epoch counter and Redis time, read at one instant.
const READ: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return {redis.call('GET', KEYS[1]) or '', redis.call('PTTL', KEYS[1]),
        redis.call('GET', KEYS[2]) or '0', now}
"#;

/// A fenced job record: only the current holder at the current epoch, only
/// a tick newer than the last one. 1 recorded, 0 duplicate, -1 stale.
const RECORD_RUN: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return -1 end
local last = tonumber(redis.call('HGET', KEYS[3], ARGV[3]) or '-1')
if last >= tonumber(ARGV[4]) then return 0 end
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
local t = redis.call('TIME')
local at = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('RPUSH', KEYS[4], string.format('{"job":%s,"tick":%s,"epoch":%s,"node":%s,"at":%d}',
  cjson.encode(ARGV[3]), ARGV[4], ARGV[2], cjson.encode(ARGV[5]), at))
redis.call('LTRIM', KEYS[4], -10000, -1)
return 1
"#;

/// The lease at `key` on one Redis.
pub struct RedisLease {
    link: Arc<RedisLink>,
    key: String,
    /// Bound on each call: a lease answer that comes later is of no use.
    timeout: Duration,
    acquire: Script,
    renew: Script,
    clear: Script,
    read: Script,
    record_run: Script,
}

impl RedisLease {
    /// A lease at `key`; each call is bounded by `timeout`.
    pub fn new(link: Arc<RedisLink>, key: &str, timeout: Duration) -> Self {
        RedisLease {
            link,
            key: key.to_string(),
            timeout,
            acquire: Script::new(ACQUIRE),
            renew: Script::new(RENEW),
            clear: Script::new(CLEAR),
            read: Script::new(READ),
            record_run: Script::new(RECORD_RUN),
        }
    }

    /// A key beside the lease: `<key>:<name>`.
    pub fn sibling(&self, name: &str) -> String {
        format!("{}:{name}", self.key)
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        inv: redis::ScriptInvocation<'_>,
    ) -> Result<T, LeaseError> {
        self.link
            .script(op, self.timeout, inv)
            .await
            .map_err(LeaseError)
    }
}

#[async_trait]
impl Lease for RedisLease {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn location(&self) -> String {
        format!("{} key {}", self.link.url(), self.key)
    }

    async fn acquire(
        &self,
        claim: &Claim,
        ttl: Duration,
    ) -> Result<Option<LeaseRecord>, LeaseError> {
        let mut inv = self.acquire.prepare_invoke();
        inv.key(&self.key)
            .key(self.sibling("epoch"))
            .arg(serde_json::to_string(claim).expect("a claim serialises"))
            .arg(ttl.as_millis() as u64);
        let value: Option<String> = self.run("lease_acquire", inv).await?;
        value
            .map(|v| LeaseRecord::parse(&v).map_err(LeaseError))
            .transpose()
    }

    async fn renew(&self, held: &LeaseRecord, ttl: Duration) -> Result<bool, LeaseError> {
        let mut inv = self.renew.prepare_invoke();
        inv.key(&self.key)
            .arg(&held.raw)
            .arg(ttl.as_millis() as u64);
        Ok(self.run::<i64>("lease_renew", inv).await? == 1)
    }

    async fn release(&self, held: &LeaseRecord) -> Result<bool, LeaseError> {
        let mut inv = self.clear.prepare_invoke();
        inv.key(&self.key)
            .key(self.sibling("epoch"))
            .arg(&held.raw)
            .arg("keep");
        Ok(self.run::<i64>("lease_release", inv).await? == 1)
    }

    async fn read(&self) -> Result<LeaseView, LeaseError> {
        let mut inv = self.read.prepare_invoke();
        inv.key(&self.key).key(self.sibling("epoch"));
        let (value, pttl, epoch, now_ms): (String, i64, String, u64) =
            self.run("lease_read", inv).await?;
        let holder = if value.is_empty() {
            None
        } else {
            Some(LeaseRecord::parse(&value).map_err(LeaseError)?)
        };
        Ok(LeaseView {
            ttl_left: (holder.is_some() && pttl >= 0).then(|| Duration::from_millis(pttl as u64)),
            holder,
            epoch: epoch.parse().unwrap_or(0),
            now_ms,
        })
    }

    async fn force_clear(&self, seen: &LeaseRecord) -> Result<bool, LeaseError> {
        let mut inv = self.clear.prepare_invoke();
        inv.key(&self.key)
            .key(self.sibling("epoch"))
            .arg(&seen.raw)
            .arg("bump");
        Ok(self.run::<i64>("lease_force_clear", inv).await? == 1)
    }

    async fn record_run(
        &self,
        held: &LeaseRecord,
        job: &str,
        tick: u64,
    ) -> Result<Fenced, LeaseError> {
        let mut inv = self.record_run.prepare_invoke();
        inv.key(&self.key)
            .key(self.sibling("epoch"))
            .key(self.sibling("jobs"))
            .key(self.sibling("runs"))
            .arg(&held.raw)
            .arg(held.epoch)
            .arg(job)
            .arg(tick)
            .arg(&held.node);
        Ok(match self.run::<i64>("job_record", inv).await? {
            1 => Fenced::Done,
            0 => Fenced::Duplicate,
            _ => Fenced::Stale,
        })
    }
}

//! The leader lease: one holder at a time, and a fencing epoch that only grows.
//!
//! Two kinds behind one trait: [`redis::RedisLease`] for nodes on several
//! machines (the seed's `lock.type: redis`) and [`local::LocalLease`], a file
//! lock for nodes on one machine. The elector ([`super::elector`]) decides
//! when to call what; a lease only answers whether a call took effect.

pub mod local;
pub mod redis;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Who asks for the lease: what the holder's record will say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claim {
    pub node: String,
    pub role: String,
    pub priority: u32,
    /// Where clients and other nodes reach this node (`host:port`).
    pub address: String,
}

/// The lease's value as stored: readable with `redis-cli GET <key>`.
///
/// `raw` is the exact stored text; renew and release compare against it, so a
/// node can only ever extend or drop the very lease it was granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub node: String,
    pub role: String,
    pub priority: u32,
    pub epoch: u64,
    pub address: String,
    /// When it was granted, milliseconds since the epoch on the lease's clock
    /// (Redis `TIME` for the Redis lease).
    pub since: u64,
    #[serde(skip)]
    pub raw: String,
}

impl LeaseRecord {
    /// Parses a stored value, keeping its exact text.
    pub fn parse(raw: &str) -> Result<LeaseRecord, String> {
        let mut r: LeaseRecord = serde_json::from_str(raw)
            .map_err(|e| format!("the lease value is not a lease record ({e}): {raw}"))?;
        r.raw = raw.to_string();
        Ok(r)
    }
}

/// What `read` sees.
#[derive(Debug, Clone, Default)]
pub struct LeaseView {
    /// The holder, if the lease is held.
    pub holder: Option<LeaseRecord>,
    /// Time left before the lease expires unless renewed.
    pub ttl_left: Option<Duration>,
    /// The fencing counter: the epoch the next grant will exceed.
    pub epoch: u64,
    /// The lease's clock now, milliseconds since the Unix epoch.
    pub now_ms: u64,
}

/// A lease call that could not be made (the backing store is unreachable or
/// answered with an error). "Not granted" is not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseError(pub String);

impl std::fmt::Display for LeaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What happened to a leader-only write checked against the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fenced {
    /// Recorded: the writer holds the lease at the current epoch.
    Done,
    /// Already recorded by this or an earlier leader.
    Duplicate,
    /// Refused: the writer's lease or epoch is no longer current.
    Stale,
}

/// A leader lease with fencing.
#[async_trait]
pub trait Lease: Send + Sync {
    /// `redis` or `local`, for messages.
    fn kind(&self) -> &'static str;

    /// Where the lease lives (URL and key, or file), for messages.
    fn location(&self) -> String;

    /// Takes the lease if nobody holds it, with a new epoch; `None` if held.
    async fn acquire(
        &self,
        claim: &Claim,
        ttl: Duration,
    ) -> Result<Option<LeaseRecord>, LeaseError>;

    /// Extends the lease for `ttl` if `held` is still the stored value;
    /// `false` when it is not (expired, cleared, or taken by another).
    async fn renew(&self, held: &LeaseRecord, ttl: Duration) -> Result<bool, LeaseError>;

    /// Gives the lease up if `held` is still the stored value.
    async fn release(&self, held: &LeaseRecord) -> Result<bool, LeaseError>;

    /// The holder, time left and epoch counter.
    async fn read(&self) -> Result<LeaseView, LeaseError>;

    /// Clears the lease if it still holds exactly `seen`, and bumps the epoch
    /// so the old holder's fenced writes are refused from now on.
    async fn force_clear(&self, seen: &LeaseRecord) -> Result<bool, LeaseError>;

    /// Records that leader-only job `job` ran for `tick`, if `held` is the
    /// current lease at the current epoch and `tick` is newer than the last
    /// recorded one. The check and the write are one atomic step.
    async fn record_run(
        &self,
        held: &LeaseRecord,
        job: &str,
        tick: u64,
    ) -> Result<Fenced, LeaseError>;
}

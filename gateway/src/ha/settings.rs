//! `gateway.ha` and `gateway.lock` resolved: defaults applied and checked.

use crate::config::file::{Backoff, HaMode, HaRole, HaSection};
use std::path::PathBuf;
use std::time::Duration;

/// Where the lease lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockPlace {
    /// `lock.type: redis`: `url` and `key` (and the keys beside it).
    Redis { url: String, key: String },
    /// `lock.type: local`: a lock file nodes on one machine share.
    Local { path: PathBuf },
}

/// The secondary's watch on the primary (`ha.primaryCheck` + `ha.failover`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryWatch {
    pub url: String,
    pub interval: Duration,
    /// Failed checks in a row before the primary counts as down.
    pub retries: u32,
    pub backoff: Backoff,
    /// Bound on the whole retry sequence.
    pub timeout: Duration,
}

/// Everything the HA layer runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaSettings {
    pub enabled: bool,
    pub mode: HaMode,
    /// `primary`, `secondary` or `node` (no role given).
    pub role: &'static str,
    pub priority: u32,
    pub preempt: bool,
    pub ttl: Duration,
    pub renew: Duration,
    /// A leader stops acting at `sent + ttl - margin` without a renewal.
    pub margin: Duration,
    pub lock: LockPlace,
    pub watch: Option<PrimaryWatch>,
    /// `ha.failover.enabled`: whether this node takes a free lease by itself.
    pub failover: bool,
}

/// Lease TTL unless `ha.lease.ttl` says otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5);

impl HaSettings {
    /// Resolves `ha` with the lock place already chosen; `at(key)` names a key
    /// in the config file for errors.
    pub fn resolve(
        ha: &HaSection,
        lock: LockPlace,
        at: &dyn Fn(&str) -> String,
    ) -> Result<HaSettings, String> {
        let role = match ha.role {
            Some(HaRole::Primary) => "primary",
            Some(HaRole::Secondary) => "secondary",
            None => "node",
        };
        let priority = ha.priority.unwrap_or(match role {
            "primary" => 100,
            "secondary" => 50,
            _ => 10,
        });
        let timing = ha.lease.clone().unwrap_or_default();
        let ttl = timing.ttl.map(|d| d.0).unwrap_or(DEFAULT_TTL);
        if ttl < Duration::from_millis(500) || ttl > Duration::from_secs(300) {
            return Err(format!(
                "{}: {ttl:?}; use between 500ms and 300s (default 5s)",
                at("gateway.ha.lease.ttl")
            ));
        }
        let margin = (ttl / 10).max(Duration::from_millis(100));
        let renew = timing.renew_interval.map(|d| d.0).unwrap_or(ttl / 3);
        if renew.is_zero() || renew + margin >= ttl {
            return Err(format!(
                "{}: {renew:?} leaves no time to renew a {ttl:?} lease; use at most a third of the ttl",
                at("gateway.ha.lease.renewInterval")
            ));
        }
        let failover = ha.failover.as_ref();
        let failover_enabled = failover.and_then(|f| f.enabled).unwrap_or(true);
        let watch = match &ha.primary_check {
            Some(check) => {
                if !(check.url.starts_with("http://")) {
                    return Err(format!(
                        "{}: `{}`; use an http:// URL like http://gateway-primary:18789/health",
                        at("gateway.ha.primaryCheck.url"),
                        check.url
                    ));
                }
                Some(PrimaryWatch {
                    url: check.url.clone(),
                    interval: check
                        .interval
                        .map(|d| d.0)
                        .unwrap_or(Duration::from_secs(10)),
                    retries: failover.and_then(|f| f.retries).unwrap_or(3).max(1),
                    backoff: failover
                        .and_then(|f| f.backoff)
                        .unwrap_or(Backoff::Exponential),
                    timeout: failover
                        .and_then(|f| f.timeout)
                        .map(|d| d.0)
                        .unwrap_or(Duration::from_secs(30)),
                })
            }
            None => None,
        };
        Ok(HaSettings {
            enabled: ha.enabled,
            mode: ha.mode.unwrap_or(HaMode::ActiveStandby),
            role,
            priority,
            preempt: ha.preempt.unwrap_or(false),
            ttl,
            renew,
            margin,
            lock,
            watch,
            failover: failover_enabled,
        })
    }

    /// `active-standby` or `active-active`.
    pub fn mode_name(&self) -> &'static str {
        match self.mode {
            HaMode::ActiveStandby => "active-standby",
            HaMode::ActiveActive => "active-active",
        }
    }
}

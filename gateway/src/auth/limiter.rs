//! Failed-auth limits, with the official gateway's semantics
//! (`auth-rate-limit.ts` of openclaw 2026.9.6): per client, `maxAttempts`
//! failures within a sliding `window` lock the client out for `lockout`;
//! a success clears its count. The lock is checked before the secret is, so
//! a locked client is refused even with the right one.
//!
//! Loopback clients (when `exemptLoopback`) are never locked out: each
//! failure is answered after a growing delay instead (250 ms doubling to
//! 5 s), which slows a local guesser without locking the operator out of
//! their own machine.
//!
//! With sessions on Redis the counts live there, so a client cannot spread
//! its guesses over the cluster's nodes; if Redis does not answer, this
//! node counts on its own until it does.

use crate::config::auth::RateLimit;
use crate::redis_link::RedisLink;
use redis::Script;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a loopback client waits after its first failure; doubled per failure.
const FIRST_DELAY: Duration = Duration::from_millis(250);
/// The longest a loopback client waits.
const MAX_DELAY: Duration = Duration::from_secs(5);
/// Failures remembered for a loopback client: enough to reach [`MAX_DELAY`].
const EXEMPT_HISTORY: usize = 6;
/// Clients remembered at most; the oldest entries are dropped past it.
const MAX_ENTRIES: usize = 10_000;
/// How long a Redis round trip may take before this node counts alone.
const REDIS_LIMIT: Duration = Duration::from_millis(500);

/// Whom failures are counted for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject {
    /// `shared-secret:<ip>`, or `browser:<ip or origin>` for connects from
    /// web pages, which are counted apart and never exempt.
    key: String,
    exempt: bool,
}

impl Subject {
    /// A client proving a token or password, by its attributed address.
    pub fn client(ip: std::net::IpAddr, limits: &RateLimit) -> Subject {
        Subject {
            key: format!("shared-secret:{ip}"),
            exempt: limits.exempt_loopback && crate::ingress::address::is_loopback(ip),
        }
    }

    /// A web page's connect: by the page's origin when the browser is on
    /// this machine (every local page is one address), else by address.
    pub fn browser(ip: std::net::IpAddr, origin: &str) -> Subject {
        let key = if crate::ingress::address::is_loopback(ip) {
            format!("browser:origin:{}", origin.trim().to_lowercase())
        } else {
            format!("browser:{ip}")
        };
        Subject { key, exempt: false }
    }
}

/// The answer to "may this client try?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Locked out for this much longer.
    Locked(Duration),
}

#[derive(Default)]
struct Entry {
    failures: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

/// Lua, one step for a client: forgets failures older than the window,
/// records one when ARGV[4] names it (none while locked), and locks a client
/// whose window holds `max` failures, as the official check does. The lock's
/// time left in ms, or 0.
const STEP: &str = r"
local ttl = redis.call('PTTL', KEYS[2])
if ttl > 0 then return ttl end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  redis.call('DEL', KEYS[1])
  return tonumber(ARGV[3])
end
return 0
";

/// The cluster's shared counts.
struct Shared {
    link: Arc<RedisLink>,
    prefix: String,
    step: Script,
    /// Whether the last call failed (to log a loss and a recovery once).
    down: AtomicBool,
}

/// The node's failed-auth limiter.
pub struct Limiter {
    limits: RateLimit,
    local: Mutex<HashMap<Subject, Entry>>,
    shared: Option<Shared>,
}

impl Limiter {
    /// Counts on this node only.
    pub fn local(limits: RateLimit) -> Limiter {
        Limiter {
            limits,
            local: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// Counts in Redis under `prefix` (the sessions' key prefix), shared by
    /// every node that uses it.
    pub fn shared(limits: RateLimit, link: Arc<RedisLink>, prefix: &str) -> Limiter {
        Limiter {
            shared: Some(Shared {
                link,
                prefix: prefix.to_string(),
                step: Script::new(STEP),
                down: AtomicBool::new(false),
            }),
            ..Limiter::local(limits)
        }
    }

    /// The limits counted against.
    pub fn limits(&self) -> &RateLimit {
        &self.limits
    }

    /// Whether `who` may try a secret now.
    pub async fn check(&self, who: &Subject) -> Verdict {
        if let (Some(shared), false) = (&self.shared, who.exempt) {
            if let Some(left) = shared.step(who, &self.limits, None).await {
                return if left.is_zero() {
                    Verdict::Allowed
                } else {
                    Verdict::Locked(left)
                };
            }
        }
        self.check_local(who, Instant::now())
    }

    /// Records a wrong secret from `who`; the delay to wait before answering
    /// (only loopback clients get one).
    pub async fn failed(&self, who: &Subject) -> Duration {
        if let (Some(shared), false) = (&self.shared, who.exempt) {
            let failure = uuid::Uuid::new_v4().to_string();
            if shared
                .step(who, &self.limits, Some(failure))
                .await
                .is_some()
            {
                return Duration::ZERO;
            }
        }
        self.failed_local(who, Instant::now())
    }

    /// A right secret from `who`: its count starts over.
    pub async fn succeeded(&self, who: &Subject) {
        self.local.lock().expect("limiter lock").remove(who);
        if let (Some(shared), false) = (&self.shared, who.exempt) {
            let (failures, lock) = shared.keys(who);
            let mut del = redis::cmd("DEL");
            del.arg(failures).arg(lock);
            let _ = shared.answer::<u64>(
                shared
                    .link
                    .command("auth_limit_reset", REDIS_LIMIT, del)
                    .await,
            );
        }
    }

    fn check_local(&self, who: &Subject, now: Instant) -> Verdict {
        if who.exempt {
            return Verdict::Allowed;
        }
        let mut map = self.local.lock().expect("limiter lock");
        let Some(entry) = map.get_mut(who) else {
            return Verdict::Allowed;
        };
        self.refresh(entry, now);
        if entry.locked_until.is_none() && entry.failures.len() >= self.limits.max_attempts as usize
        {
            entry.locked_until = Some(now + self.limits.lockout);
        }
        match entry.locked_until {
            Some(until) if until > now => Verdict::Locked(until - now),
            _ => Verdict::Allowed,
        }
    }

    fn failed_local(&self, who: &Subject, now: Instant) -> Duration {
        let mut map = self.local.lock().expect("limiter lock");
        if map.len() >= MAX_ENTRIES && !map.contains_key(who) {
            let oldest = map
                .iter()
                .min_by_key(|(_, e)| e.failures.back().copied())
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        let entry = map.entry(who.clone()).or_default();
        self.refresh(entry, now);
        if entry.locked_until.is_some() {
            return Duration::ZERO;
        }
        entry.failures.push_back(now);
        if who.exempt {
            while entry.failures.len() > EXEMPT_HISTORY {
                entry.failures.pop_front();
            }
            let doublings = entry.failures.len().saturating_sub(1).min(5) as u32;
            return (FIRST_DELAY * 2u32.pow(doublings)).min(MAX_DELAY);
        }
        if entry.failures.len() >= self.limits.max_attempts as usize {
            entry.locked_until = Some(now + self.limits.lockout);
        }
        Duration::ZERO
    }

    /// Ends an expired lock (with the failures that led to it) and forgets
    /// failures older than the window.
    fn refresh(&self, entry: &mut Entry, now: Instant) {
        if entry.locked_until.is_some_and(|until| now >= until) {
            entry.locked_until = None;
            entry.failures.clear();
        }
        while entry
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.limits.window)
        {
            entry.failures.pop_front();
        }
    }
}

impl Shared {
    /// One [`STEP`] for `who`, recording `failure` (a unique member) if
    /// given: the lock's time left (zero: not locked), or `None` when Redis
    /// did not answer.
    async fn step(
        &self,
        who: &Subject,
        limits: &RateLimit,
        failure: Option<String>,
    ) -> Option<Duration> {
        let (failures, lock) = self.keys(who);
        let op = if failure.is_some() {
            "auth_limit_fail"
        } else {
            "auth_limit_check"
        };
        let mut inv = self.step.key(failures);
        inv.key(lock)
            .arg(limits.window.as_millis() as u64)
            .arg(limits.max_attempts)
            .arg(limits.lockout.as_millis() as u64)
            .arg(failure.unwrap_or_default());
        let ms = self.answer::<u64>(self.link.script(op, REDIS_LIMIT, inv).await)?;
        Some(Duration::from_millis(ms))
    }

    fn keys(&self, who: &Subject) -> (String, String) {
        (
            format!("{}authfail:{}", self.prefix, who.key),
            format!("{}authlock:{}", self.prefix, who.key),
        )
    }

    /// The value of a Redis answer; `None` (logged once per outage) when
    /// Redis did not answer, so the caller counts locally.
    fn answer<T>(&self, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!(
                        "failed-auth limits: Redis answers again; counting cluster-wide"
                    );
                }
                Some(v)
            }
            Err(e) => {
                if !self.down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "failed-auth limits: Redis does not answer; this node counts on its own until it does");
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: u32, window_s: u64, lockout_s: u64) -> RateLimit {
        RateLimit {
            max_attempts: max,
            window: Duration::from_secs(window_s),
            lockout: Duration::from_secs(lockout_s),
            exempt_loopback: true,
        }
    }

    fn remote() -> Subject {
        Subject::client("203.0.113.50".parse().unwrap(), &RateLimit::default())
    }

    #[test]
    fn ten_failures_are_allowed_and_the_eleventh_attempt_is_refused() {
        let l = Limiter::local(limits(10, 60, 300));
        let t0 = Instant::now();
        for i in 0..10 {
            assert_eq!(
                l.check_local(&remote(), t0),
                Verdict::Allowed,
                "attempt {}",
                i + 1
            );
            assert_eq!(l.failed_local(&remote(), t0), Duration::ZERO);
        }
        let t = t0 + Duration::from_millis(1200);
        assert_eq!(
            l.check_local(&remote(), t),
            Verdict::Locked(Duration::from_millis(298_800))
        );
        // Another client is not affected; the lock ends with the lockout.
        let other = Subject::client("203.0.113.51".parse().unwrap(), &RateLimit::default());
        assert_eq!(l.check_local(&other, t), Verdict::Allowed);
        assert_eq!(
            l.check_local(&remote(), t0 + Duration::from_secs(300)),
            Verdict::Allowed
        );
        assert_eq!(
            l.check_local(&remote(), t0 + Duration::from_secs(301)),
            Verdict::Allowed
        );
    }

    #[test]
    fn the_window_slides_and_a_success_starts_over() {
        let l = Limiter::local(limits(3, 10, 60));
        let t0 = Instant::now();
        l.failed_local(&remote(), t0);
        l.failed_local(&remote(), t0 + Duration::from_secs(5));
        // The first failure has left the window: two in it, still allowed.
        l.failed_local(&remote(), t0 + Duration::from_secs(11));
        assert_eq!(
            l.check_local(&remote(), t0 + Duration::from_secs(11)),
            Verdict::Allowed
        );
        l.local.lock().unwrap().remove(&remote());
        l.failed_local(&remote(), t0 + Duration::from_secs(12));
        assert_eq!(
            l.check_local(&remote(), t0 + Duration::from_secs(12)),
            Verdict::Allowed
        );
    }

    #[test]
    fn loopback_is_slowed_down_never_locked() {
        let l = Limiter::local(limits(3, 60, 300));
        let local = Subject::client("127.0.0.1".parse().unwrap(), &l.limits);
        let t0 = Instant::now();
        let delays: Vec<u128> = (0..8)
            .map(|_| l.failed_local(&local, t0).as_millis())
            .collect();
        assert_eq!(delays, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
        assert_eq!(l.check_local(&local, t0), Verdict::Allowed);
        // A web page on this machine is counted by origin, and locked.
        let page = Subject::browser("127.0.0.1".parse().unwrap(), "http://127.0.0.1:8080");
        for _ in 0..3 {
            assert_eq!(l.failed_local(&page, t0), Duration::ZERO);
        }
        assert!(matches!(l.check_local(&page, t0), Verdict::Locked(_)));
        let strict = RateLimit {
            exempt_loopback: false,
            ..l.limits
        };
        assert!(!Subject::client("127.0.0.1".parse().unwrap(), &strict).exempt);
    }
}

//! The per-upstream state every method reads and writes: nginx's peer list.

use super::{Pick, TierKind, Tried};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Milliseconds on a monotonic clock. It starts far from zero so that "never"
/// (0) compares like nginx's epoch-0 timestamps: long ago.
pub fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    const OFFSET: u64 = 1 << 40;
    OFFSET + START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// One server's static parameters, as configured.
#[derive(Debug, Clone)]
pub struct ServerConf {
    /// The server as written (`host:port`); consistent hash points derive from it.
    pub name: String,
    /// nginx `weight`.
    pub weight: i64,
    /// nginx `max_fails` (0 = never out).
    pub max_fails: u32,
    /// nginx `fail_timeout`, in ms.
    pub fail_timeout: u64,
    /// nginx `max_conns` (0 = unlimited).
    pub max_conns: u32,
    /// nginx `down`.
    pub down: bool,
}

impl ServerConf {
    /// A server with nginx's defaults (weight 1, max_fails 1, fail_timeout 10s).
    pub fn new(name: impl Into<String>, weight: i64) -> Self {
        ServerConf {
            name: name.into(),
            weight,
            max_fails: 1,
            fail_timeout: Duration::from_secs(10).as_millis() as u64,
            max_conns: 0,
            down: false,
        }
    }
}

/// One server's changing state (nginx's peer fields).
#[derive(Debug, Clone, Default)]
pub struct ServerState {
    /// Smooth round robin's running weight.
    pub current_weight: i64,
    /// Weight lowered by failures, recovering by one per pick.
    pub effective_weight: i64,
    /// Failures counted since the last success after a check.
    pub fails: u32,
    /// When the last failure happened (ms, [`now_ms`]).
    pub accessed: u64,
    /// When the server was last chosen after its fail window (ms).
    pub checked: u64,
    /// Requests (and WebSocket tunnels) in flight. Shared with the same
    /// server in the tables before and after a reload, so requests started
    /// under old tables keep counting (and are released) where they run.
    pub inflight: Arc<AtomicU32>,
    /// Out because active health checks failed (or have not passed yet).
    pub check_down: bool,
    /// Passed checks in a row.
    pub check_rises: u32,
    /// Failed checks in a row.
    pub check_falls: u32,
    /// Runtime changes made through the admin API.
    pub overrides: super::Overrides,
    /// Check results and time out of rotation, for the status page.
    pub history: crate::health::History,
}

impl ServerState {
    /// Requests and tunnels in flight now.
    pub fn conns(&self) -> u32 {
        self.inflight.load(Ordering::Relaxed)
    }

    /// Counts one more request in flight.
    pub fn add_conn(&self) {
        self.inflight.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one request as finished.
    pub fn drop_conn(&self) {
        let _ = self
            .inflight
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

/// The primary or backup servers of an upstream.
#[derive(Debug, Clone)]
pub struct Tier {
    /// Parameters, in config order.
    pub conf: Vec<ServerConf>,
    /// State, parallel to `conf`.
    pub state: Vec<ServerState>,
    /// Sum of weights, `down` servers included (as nginx).
    pub total_weight: i64,
}

impl Tier {
    /// A tier of `conf` servers, all fresh.
    pub fn new(conf: Vec<ServerConf>) -> Self {
        Self::with_checks(conf, false)
    }

    /// A tier whose servers start out of rotation until health checks pass
    /// (`default_down`) when `start_down`.
    pub fn with_checks(conf: Vec<ServerConf>, start_down: bool) -> Self {
        let state = conf
            .iter()
            .map(|c| ServerState {
                effective_weight: c.weight,
                check_down: start_down,
                history: crate::health::History::starting(c.down || start_down, now_ms()),
                ..Default::default()
            })
            .collect();
        let total_weight = conf.iter().map(|c| c.weight).sum();
        Tier {
            conf,
            state,
            total_weight,
        }
    }

    /// Number of servers.
    pub fn len(&self) -> usize {
        self.conf.len()
    }

    /// True when the tier has no server.
    pub fn is_empty(&self) -> bool {
        self.conf.is_empty()
    }

    /// Whether server `i` is out because of recent failures (nginx's
    /// `fails >= max_fails && now - checked <= fail_timeout`).
    pub fn failed(&self, i: usize, now: u64) -> bool {
        let (c, s) = (&self.conf[i], &self.state[i]);
        c.max_fails > 0 && s.fails >= c.max_fails && now.saturating_sub(s.checked) <= c.fail_timeout
    }

    /// Whether server `i` may take a request now: not down, not out by
    /// health checks, not draining, not failed, under max_conns.
    pub fn usable(&self, i: usize, now: u64) -> bool {
        !self.state[i].check_down && self.usable_unchecked(i, now)
    }

    /// [`Tier::usable`] without the health checks' verdict: for a leader
    /// lease holder, which the lease names before checks can notice (a
    /// drained holder still gets nothing).
    pub fn usable_unchecked(&self, i: usize, now: u64) -> bool {
        let (c, s) = (&self.conf[i], &self.state[i]);
        let full = c.max_conns > 0 && s.conns() >= c.max_conns;
        !(c.down || s.overrides.drain || full || self.failed(i, now))
    }

    /// Records the choice of server `i`: nginx's `checked` update, `conns++`, tried bit.
    pub fn take(&mut self, i: usize, tried: &mut Tried, now: u64) {
        let fail_timeout = self.conf[i].fail_timeout;
        let s = &mut self.state[i];
        if now.saturating_sub(s.checked) > fail_timeout {
            s.checked = now;
        }
        s.add_conn();
        tried.mark(i);
    }

    /// Smooth weighted round robin among the usable, untried servers for which
    /// `also` holds (nginx's `ngx_http_upstream_get_peer` loop). Returns the
    /// winner without taking it.
    pub fn smooth_pick(
        &mut self,
        tried: &Tried,
        now: u64,
        start: usize,
        also: impl Fn(&Tier, usize) -> bool,
    ) -> Option<usize> {
        let mut best: Option<usize> = None;
        let mut total = 0i64;
        for i in start..self.len() {
            if tried.has(i) || !self.usable(i, now) || !also(self, i) {
                continue;
            }
            let weight = self.conf[i].weight;
            let s = &mut self.state[i];
            s.current_weight += s.effective_weight;
            total += s.effective_weight;
            if s.effective_weight < weight {
                s.effective_weight += 1;
            }
            if best.is_none_or(|b| self.state[i].current_weight > self.state[b].current_weight) {
                best = Some(i);
            }
        }
        let b = best?;
        self.state[b].current_weight -= total;
        Some(b)
    }
}

/// An upstream's servers: primaries, then backups.
#[derive(Debug, Clone)]
pub struct Pool {
    /// Primary servers.
    pub primary: Tier,
    /// Backup servers.
    pub backup: Tier,
    /// The leader lease epoch whose holder's earlier failures were last
    /// forgotten (leader-aware upstreams; 0: none yet).
    pub leader_epoch: u64,
}

impl Pool {
    /// A pool of `primary` and `backup` servers.
    pub fn new(primary: Vec<ServerConf>, backup: Vec<ServerConf>) -> Self {
        Self::with_checks(primary, backup, false)
    }

    /// A pool whose servers start out until checked healthy when `start_down`.
    pub fn with_checks(
        primary: Vec<ServerConf>,
        backup: Vec<ServerConf>,
        start_down: bool,
    ) -> Self {
        Pool {
            primary: Tier::with_checks(primary, start_down),
            backup: Tier::with_checks(backup, start_down),
            leader_epoch: 0,
        }
    }

    /// nginx's `peers->single`: one primary and no backup. Such a server is
    /// never marked failed.
    pub fn single(&self) -> bool {
        self.primary.len() == 1 && self.backup.is_empty()
    }

    /// The tier a pick refers to.
    pub fn tier(&self, kind: TierKind) -> &Tier {
        match kind {
            TierKind::Primary => &self.primary,
            TierKind::Backup => &self.backup,
        }
    }

    /// Mutable access to the tier a pick refers to.
    pub fn tier_mut(&mut self, kind: TierKind) -> &mut Tier {
        match kind {
            TierKind::Primary => &mut self.primary,
            TierKind::Backup => &mut self.backup,
        }
    }

    /// The state of a picked server.
    pub fn state(&self, pick: Pick) -> &ServerState {
        &self.tier(pick.tier).state[pick.index]
    }
}

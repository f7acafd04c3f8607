//! A live upstream group: its servers, their shared state under one lock, and
//! the balancing method. A [`Lease`] is one request's hold on a server; it
//! gives the server back (counting success or failure) when dropped.

use crate::admin::{CodeCounters, UpstreamMeters};
use crate::balance::{now_ms, Balancer, Pick, PickInput, Pool, TierKind, Tried};
use crate::config::Balance;
use crate::health::{forget_failures, release, CheckPlan, Outcome};
use crate::leader::LeaderRoute;
use crate::sticky::Sticky;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tracing::warn;

/// One server of an upstream.
#[derive(Debug)]
pub struct Server {
    /// As written in the config (`host:port`); the metrics' `server` label.
    pub name: String,
    /// Resolved address.
    pub addr: SocketAddr,
    /// `openclaw_edge_requests_total` for this server.
    pub codes: CodeCounters,
    /// `openclaw_edge_upstream_server_websocket_tunnels` for this server.
    pub tunnels: prometheus::IntGauge,
    /// The sticky cookie value naming this server.
    pub cookie: String,
    /// Idle keep-alive connections to it.
    pub idle: super::IdlePool,
}

/// An upstream group.
#[derive(Debug)]
pub struct Upstream {
    /// Name (`proxy_pass http://NAME`), or `host:port` for an implicit one.
    pub name: String,
    /// Balancing method, for its hash key.
    pub balance: Balance,
    /// Primary servers, parallel to the pool's primary tier.
    pub primary: Vec<Server>,
    /// Backup servers, parallel to the pool's backup tier.
    pub backup: Vec<Server>,
    /// Idle connections kept per server for reuse (`keepalive`; 0 = none).
    pub keepalive: usize,
    /// How long an idle upstream connection is kept.
    pub keepalive_timeout: std::time::Duration,
    /// Requests that reached no server (no live server).
    pub unserved: CodeCounters,
    /// `openclaw_edge_request_duration_seconds` for this upstream.
    pub duration: prometheus::Histogram,
    /// Its bytes, connect times, retries and tunnel lifetimes.
    pub meters: UpstreamMeters,
    /// Active health checks, if configured.
    pub check: Option<CheckPlan>,
    /// Sticky cookie, if configured.
    pub sticky: Option<Sticky>,
    /// The gateway cluster whose lease holder gets new requests, if configured.
    pub leader: Option<LeaderRoute>,
    /// Server state under one lock (built by the table builder).
    pub(super) pool: Mutex<Pool>,
    /// The balancing method over `pool`.
    pub(super) balancer: Box<dyn Balancer>,
}

impl Upstream {
    /// The server a pick refers to.
    pub fn server(&self, pick: Pick) -> &Server {
        match pick.tier {
            TierKind::Primary => &self.primary[pick.index],
            TierKind::Backup => &self.backup[pick.index],
        }
    }

    /// How many servers one request may try at most (nginx: every server once).
    pub fn max_tries(&self) -> usize {
        self.primary.len() + self.backup.len()
    }

    /// The shared state, for status pages. Hold it briefly.
    pub fn pool(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the primary server a sticky cookie names, if it may take a
    /// request now and this request has not tried it.
    pub fn pick_exact(self: &Arc<Self>, pick: Pick, tried: &mut Tried) -> Option<Lease> {
        if pick.tier != TierKind::Primary || tried.on_backup || tried.has(pick.index) {
            return None;
        }
        let now = now_ms();
        let mut pool = self.pool();
        if !pool.primary.usable(pick.index, now) {
            return None;
        }
        pool.primary.take(pick.index, tried, now);
        Some(Lease {
            upstream: self.clone(),
            pick,
            outcome: Outcome::Answered,
        })
    }

    /// With a followed cluster that answers: takes the lease holder if it
    /// may take a request (health checks aside, and failures counted before
    /// its term began: the lease is newer than they are), even while it
    /// stops (it serves until its successor is known). Otherwise keeps this
    /// request off nodes that are stopping and returns `None`: the sticky
    /// cookie and the balancer choose.
    pub fn pick_leader(self: &Arc<Self>, tried: &mut Tried) -> Option<Lease> {
        let view = self.leader.as_ref()?.follower.current()?;
        if tried.on_backup {
            return None;
        }
        let now = now_ms();
        let mut pool = self.pool();
        let target = self
            .primary
            .iter()
            .position(|s| view.is_target(&s.name, s.addr));
        if let (Some(i), Some((_, epoch))) = (target, &view.holder) {
            if pool.leader_epoch != *epoch {
                pool.leader_epoch = *epoch;
                forget_failures(&mut pool, i);
            }
        }
        let target = target.filter(|&i| !tried.has(i) && pool.primary.usable_unchecked(i, now));
        let Some(i) = target else {
            for (i, s) in self.primary.iter().enumerate() {
                if view.is_out(&s.name, s.addr) {
                    tried.mark(i);
                }
            }
            return None;
        };
        pool.primary.take(i, tried, now);
        Some(Lease {
            upstream: self.clone(),
            pick: Pick {
                tier: TierKind::Primary,
                index: i,
            },
            outcome: Outcome::Answered,
        })
    }

    /// Chooses a server for one try of a request; the lease gives it back.
    pub fn pick(self: &Arc<Self>, input: &PickInput, tried: &mut Tried) -> Option<Lease> {
        let pick = self
            .balancer
            .pick(&mut self.pool(), input, tried, now_ms())?;
        Some(Lease {
            upstream: self.clone(),
            pick,
            outcome: Outcome::Answered,
        })
    }
}

/// One request's hold on a server: counted in flight until dropped, and
/// then counted as a success or (after [`Lease::fail`]) a failure.
#[derive(Debug)]
pub struct Lease {
    upstream: Arc<Upstream>,
    /// Which server.
    pub pick: Pick,
    outcome: Outcome,
}

impl Lease {
    /// The server held.
    pub fn server(&self) -> &Server {
        self.upstream.server(self.pick)
    }

    /// Ends the hold as a failure (connect error or timeout before a response).
    pub fn fail(mut self) {
        self.outcome = Outcome::Failed;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let disabled = release(&mut self.upstream.pool(), self.pick, self.outcome, now_ms());
        if disabled {
            let s = self.upstream.server(self.pick);
            warn!(upstream = %self.upstream.name, server = %s.name, "upstream server temporarily disabled after max_fails failures");
        }
    }
}

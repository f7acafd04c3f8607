//! A point-in-time view of every upstream and server, shared by `/metrics`
//! (gauges), `/api/status` and `/api/upstreams` (JSON), which the `/status`
//! page polls. Reading it locks each pool briefly, one at a time; nothing
//! here touches the request path.

use crate::balance::{now_ms, Tier, TierKind};
use crate::health::LastCheck;
use crate::runtime::{Runtime, Server, Upstream};
use serde::Serialize;
use std::collections::BTreeMap;

/// A server's settings as the config file gives them (the runtime API may
/// have overridden them; see [`crate::balance::Overrides`]).
#[derive(Debug, Serialize)]
pub struct Configured {
    /// The file's `weight`.
    pub weight: i64,
    /// The file's `down`.
    pub down: bool,
}

/// The latest active check, as JSON shows it.
#[derive(Debug, Serialize)]
pub struct CheckStatus {
    /// When it finished (Unix ms).
    pub at_unix_ms: u64,
    /// `alive` or `dead`.
    pub result: &'static str,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<&LastCheck> for CheckStatus {
    fn from(c: &LastCheck) -> Self {
        CheckStatus {
            at_unix_ms: c.at_unix_ms,
            result: if c.alive { "alive" } else { "dead" },
            reason: c.reason.clone(),
        }
    }
}

/// A server's active health checks.
#[derive(Debug, Serialize)]
pub struct HealthStatus {
    /// Checks run.
    pub checks: u64,
    /// Checks failed.
    pub fails: u64,
    /// Passed checks in a row now.
    pub rises: u32,
    /// Failed checks in a row now.
    pub falls: u32,
    /// The latest one.
    pub last: Option<CheckStatus>,
}

/// One server's state now.
#[derive(Debug, Serialize)]
pub struct ServerStatus {
    /// Its id in the runtime API: the index among the upstream's servers,
    /// primaries then backups, in config order.
    pub id: usize,
    /// As written in the config.
    pub server: String,
    /// Resolved address.
    pub address: String,
    /// `up`; `draining` (runtime API: no new requests); `down` (config or
    /// runtime API); `unhealthy` (active checks); `failed` (out after
    /// max_fails). A server in several shows the first of down, unhealthy,
    /// failed, draining (`drain` tells a drain apart).
    pub state: &'static str,
    /// Whether it is a backup server.
    pub backup: bool,
    /// Weight now (the file's, or the runtime API's).
    pub weight: i64,
    /// Weight after failure penalties.
    pub effective_weight: i64,
    /// `down` now (the file's, or the runtime API's).
    pub down: bool,
    /// Draining (runtime API).
    pub drain: bool,
    /// What the config file says.
    pub config: Configured,
    /// Requests and tunnels in flight.
    pub inflight: u32,
    /// WebSocket tunnels open now.
    pub tunnels: i64,
    /// Failures counted in the current window.
    pub fails: u32,
    /// `max_fails` / `fail_timeout` (ms) / `max_conns`.
    pub max_fails: u32,
    /// See `max_fails`.
    pub fail_timeout_ms: u64,
    /// See `max_fails`.
    pub max_conns: u32,
    /// Responses sent for requests it served, since start.
    pub requests: u64,
    /// Those responses by status class (`1xx` ... `5xx`).
    pub responses: BTreeMap<&'static str, u64>,
    /// Active health checks, when configured.
    pub health: Option<HealthStatus>,
    /// When health checks or the runtime API last moved it in or out of
    /// rotation (Unix ms).
    pub last_change_unix_ms: Option<u64>,
    /// Time out of rotation (down or unhealthy) since start, in ms.
    pub downtime_ms: u64,
}

/// One upstream's state now.
#[derive(Debug, Serialize)]
pub struct UpstreamStatus {
    /// Name.
    pub name: String,
    /// Balancing method.
    pub balance: String,
    /// The sticky cookie's name, when configured.
    pub sticky: Option<String>,
    /// Bytes sent to its servers since start.
    pub sent_bytes: u64,
    /// Bytes received from its servers since start.
    pub received_bytes: u64,
    /// Requests that found no server to take them, since start.
    pub unserved: u64,
    /// Its servers, primaries first; `servers[id].id == id`.
    pub servers: Vec<ServerStatus>,
}

/// The state of server `i` of `tier` (`server` is its runtime half).
fn server_status(
    id: usize,
    tier: &Tier,
    i: usize,
    server: &Server,
    backup: bool,
    checked: bool,
    now: u64,
) -> ServerStatus {
    let (c, st) = (&tier.conf[i], &tier.state[i]);
    let state = if c.down {
        "down"
    } else if st.check_down {
        "unhealthy"
    } else if tier.failed(i, now) {
        "failed"
    } else if st.overrides.drain {
        "draining"
    } else {
        "up"
    };
    let ov = &st.overrides;
    let counts = server.codes.counts();
    let h = &st.history;
    ServerStatus {
        id,
        server: server.name.clone(),
        address: server.addr.to_string(),
        state,
        backup,
        weight: c.weight,
        effective_weight: st.effective_weight,
        down: c.down,
        drain: ov.drain,
        config: Configured {
            weight: ov.weight.map_or(c.weight, |w| w.configured),
            down: ov.down.map_or(c.down, |d| d.configured),
        },
        inflight: st.conns(),
        tunnels: server.tunnels.get(),
        fails: st.fails,
        max_fails: c.max_fails,
        fail_timeout_ms: c.fail_timeout,
        max_conns: c.max_conns,
        requests: counts.iter().sum(),
        responses: ["1xx", "2xx", "3xx", "4xx", "5xx"]
            .into_iter()
            .zip(counts)
            .collect(),
        health: checked.then(|| HealthStatus {
            checks: h.checks,
            fails: h.check_fails,
            rises: st.check_rises,
            falls: st.check_falls,
            last: h.last_check.as_ref().map(CheckStatus::from),
        }),
        last_change_unix_ms: h.last_change_unix_ms,
        downtime_ms: h.downtime_ms(now),
    }
}

/// One upstream's state (its pool locked while read).
pub fn upstream_status(u: &Upstream) -> UpstreamStatus {
    let now = now_ms();
    let pool = u.pool();
    let mut servers = Vec::with_capacity(u.max_tries());
    for (kind, list) in [
        (TierKind::Primary, &u.primary),
        (TierKind::Backup, &u.backup),
    ] {
        let tier = pool.tier(kind);
        for (i, s) in list.iter().enumerate() {
            let backup = kind == TierKind::Backup;
            let id = servers.len();
            servers.push(server_status(
                id,
                tier,
                i,
                s,
                backup,
                u.check.is_some(),
                now,
            ));
        }
    }
    UpstreamStatus {
        name: u.name.clone(),
        balance: u.balance.to_string(),
        sticky: u.sticky.as_ref().map(|s| s.name.clone()),
        sent_bytes: u.meters.sent.get(),
        received_bytes: u.meters.received.get(),
        unserved: u.unserved.counts().iter().sum(),
        servers,
    }
}

/// Every upstream's state, in name order.
pub fn snapshot(rt: &Runtime) -> Vec<UpstreamStatus> {
    rt.upstreams.iter().map(|u| upstream_status(u)).collect()
}

/// The edge itself, at the top of `/api/status`.
#[derive(Debug, Serialize)]
pub struct EdgeStatus {
    /// The binary's version.
    pub version: &'static str,
    /// Its process id.
    pub pid: u32,
    /// When it started (Unix ms).
    pub started_unix_ms: u64,
    /// Seconds since then.
    pub uptime_seconds: u64,
    /// Configurations loaded: 1 at start, one more per reload that went through.
    pub generation: i64,
    /// Whether the last load (start or reload) went through.
    pub last_reload_ok: bool,
}

/// `/api/status`: the edge, every upstream, and `cluster`: each gateway
/// cluster a `leader:` upstream follows (leader, epoch, nodes, drift).
#[derive(Debug, Serialize)]
pub struct Status {
    /// The edge.
    pub edge: EdgeStatus,
    /// Every upstream, in name order.
    pub upstreams: Vec<UpstreamStatus>,
    /// The followed gateway clusters (none without `leader:` upstreams).
    pub cluster: Vec<crate::leader::ClusterStatus>,
}

/// Each cluster followed by the current tables, once.
fn clusters(rt: &Runtime) -> Vec<crate::leader::ClusterStatus> {
    let mut seen: Vec<*const crate::leader::Follower> = Vec::new();
    let mut out = Vec::new();
    for u in &rt.upstreams {
        if let Some(l) = &u.leader {
            let p = std::sync::Arc::as_ptr(&l.follower);
            if !seen.contains(&p) {
                seen.push(p);
                out.push(l.follower.status());
            }
        }
    }
    out
}

/// The whole status now; the edge started at `started_unix_ms`.
pub fn status(rt: &Runtime, started_unix_ms: u64) -> Status {
    let m = super::metrics();
    Status {
        edge: EdgeStatus {
            version: env!("CARGO_PKG_VERSION"),
            pid: std::process::id(),
            started_unix_ms,
            uptime_seconds: crate::health::unix_ms().saturating_sub(started_unix_ms) / 1000,
            generation: m.generation(),
            last_reload_ok: m.last_reload_ok(),
        },
        upstreams: snapshot(rt),
        cluster: clusters(rt),
    }
}

//! Leader-aware upstreams: the edge reads an OpenClaw gateway cluster's
//! leader lease in Redis (read-only) and sends new requests and tunnels of
//! the upstream to the holder the moment the lease changes hands. No proxy
//! knows about a leader lease; health checks alone learn of a new leader
//! only after `interval x rise`.
//!
//! What the cluster keeps (gateway `ha/lease/redis.rs`, `ha/cluster/`):
//! - `KEY`: the holder's record, JSON with `node`, `epoch` and `address`
//!   (the node's `host:port`).
//! - `KEY:nodes`: a hash of every node's heartbeat, with `address` and
//!   `state` (`running`, or `stopped` once a graceful stop began).
//! - `KEY:control`: a pub/sub channel; nodes announce `leader`, `released`
//!   and `stopping` there, so the edge reads at once instead of waiting for
//!   its periodic read.
//!
//! One [`Follower`] per (Redis, key, refresh) is shared by every upstream
//! and every config generation naming it, on a thread of its own, so a
//! reload neither forgets the leader nor reconnects.

mod follow;
mod frames;

pub use frames::{FrameCursor, CLOSE_LEADER_CHANGED};

use crate::config::{LeaderConf, OnLeaderChange};
use arc_swap::ArcSwapOption;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A node as the cluster names it: its address as written, and what that
/// resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The node's name.
    pub node: String,
    /// `host:port` from its record.
    pub address: String,
    /// What `address` resolved to (empty if it did not).
    pub addrs: Vec<SocketAddr>,
}

impl Member {
    /// Whether an upstream server (as written, and resolved) is this node.
    pub fn is(&self, name: &str, addr: SocketAddr) -> bool {
        self.address == name || self.addrs.contains(&addr)
    }
}

/// One node's heartbeat record, as the status page shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeInfo {
    /// Its name.
    pub node: String,
    /// `host:port`.
    pub address: String,
    /// `primary`, `secondary` or `none`.
    pub role: String,
    /// Election priority.
    pub priority: u64,
    /// `running` or `stopped`.
    pub state: String,
    /// Whether it beat within two of its intervals.
    pub live: bool,
    /// Whether it says it leads.
    pub leader: bool,
    /// Whether its `/ready` is 200.
    pub ready: bool,
    /// Hash of the settings nodes should share; differing ones are drift.
    pub config_hash: String,
    /// Its version.
    pub version: String,
    /// Milliseconds since its last beat (Redis time).
    pub seen_ms_ago: u64,
}

/// What one read of the cluster found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// The lease holder and its epoch; `None` while the lease is free.
    pub holder: Option<(Member, u64)>,
    /// While the lease is free: the last holder. A graceful hand-over frees
    /// the lease for milliseconds while the old leader still serves, so new
    /// requests keep going there until the next holder is known.
    pub was: Option<Member>,
    /// Nodes that said they are stopping (and no running node shares their
    /// address): no new connection goes to them.
    pub out: Vec<Member>,
    /// Every node's record, by name.
    pub nodes: Vec<NodeInfo>,
}

impl View {
    /// Whether the server is the lease holder.
    pub fn is_holder(&self, name: &str, addr: SocketAddr) -> bool {
        self.holder.as_ref().is_some_and(|(m, _)| m.is(name, addr))
    }

    /// Whether the server is where new requests go: the holder, or the
    /// last one while the lease is free.
    pub fn is_target(&self, name: &str, addr: SocketAddr) -> bool {
        match &self.holder {
            Some((m, _)) => m.is(name, addr),
            None => self.was.as_ref().is_some_and(|m| m.is(name, addr)),
        }
    }

    /// Whether the live, running nodes disagree on the shared settings.
    pub fn drift(&self) -> bool {
        let mut hashes = self
            .nodes
            .iter()
            .filter(|n| n.live && n.state == "running")
            .map(|n| &n.config_hash);
        let first = hashes.next();
        hashes.any(|h| Some(h) != first)
    }

    /// Whether the server is a node that is stopping.
    pub fn is_out(&self, name: &str, addr: SocketAddr) -> bool {
        self.out.iter().any(|m| m.is(name, addr))
    }
}

/// A view and when it was read.
#[derive(Debug)]
struct Read {
    /// Shared with the requests that route on it (no copy per request).
    view: Arc<View>,
    at: Instant,
}

impl Read {
    /// Recent enough to route on: not older than three refresh periods.
    fn fresh(&self, refresh: Duration) -> bool {
        self.at.elapsed() <= refresh * 3
    }
}

/// Follows one cluster; read by the request path without locks.
#[derive(Debug)]
pub struct Follower {
    /// `redis://host:port/db KEY`, password hidden: for logs and status.
    pub source: String,
    /// Besides messages, how often the lease is read.
    refresh: Duration,
    last: ArcSwapOption<Read>,
    /// Bumped whenever the holder changes.
    changes: watch::Sender<u64>,
}

impl Follower {
    /// What the last read found, unless it is older than three refresh
    /// periods (Redis unreachable): then `None`, and the upstream balances
    /// on health checks alone.
    pub fn current(&self) -> Option<Arc<View>> {
        let last = self.last.load();
        let r = last.as_ref()?;
        r.fresh(self.refresh).then(|| r.view.clone())
    }

    /// What the status page shows of this cluster.
    pub fn status(&self) -> ClusterStatus {
        let last = self.last.load_full();
        let fresh = last.as_ref().filter(|r| r.fresh(self.refresh));
        let holder = fresh.and_then(|r| r.view.holder.as_ref());
        ClusterStatus {
            source: self.source.clone(),
            reachable: fresh.is_some(),
            read_ms_ago: last.as_ref().map(|r| r.at.elapsed().as_millis() as u64),
            leader: holder.map(|(m, _)| m.node.clone()),
            leader_address: holder.map(|(m, _)| m.address.clone()),
            epoch: holder.map(|(_, e)| *e),
            drift: fresh.is_some_and(|r| r.view.drift()),
            nodes: last.map(|r| r.view.nodes.clone()).unwrap_or_default(),
        }
    }

    /// Resolves once a fresh read names a holder other than this server
    /// (a tunnel to it is then closed, with `on_change: close`).
    pub async fn moved_away(self: Arc<Self>, name: String, addr: SocketAddr) {
        let mut rx = self.changes.subscribe();
        loop {
            if rx.changed().await.is_err() {
                return std::future::pending().await;
            }
            if self
                .current()
                .is_some_and(|v| v.holder.is_some() && !v.is_holder(&name, addr))
            {
                return;
            }
        }
    }

    /// Stores a read (remembering the last holder while the lease is
    /// free); says whether the holder changed.
    fn store(&self, mut view: View) -> bool {
        let before = self.last.load();
        let changed = before.as_ref().map(|r| &r.view.holder) != Some(&view.holder);
        if view.holder.is_none() {
            view.was = before.as_ref().and_then(|r| {
                r.view
                    .holder
                    .as_ref()
                    .map(|(m, _)| m.clone())
                    .or(r.view.was.clone())
            });
        }
        self.last.store(Some(Arc::new(Read {
            view: Arc::new(view),
            at: Instant::now(),
        })));
        if changed {
            self.changes.send_modify(|n| *n += 1);
        }
        changed
    }
}

/// A followed cluster, for `/api/status` and the status page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClusterStatus {
    /// `redis://host:port/db KEY` (password hidden).
    pub source: String,
    /// Whether the last read is recent enough to route on.
    pub reachable: bool,
    /// How old the last successful read is (none yet: `None`).
    pub read_ms_ago: Option<u64>,
    /// The lease holder's name (`None`: lease free or cluster unreachable).
    pub leader: Option<String>,
    /// Its `host:port`.
    pub leader_address: Option<String>,
    /// The lease epoch.
    pub epoch: Option<u64>,
    /// Whether live nodes disagree on shared settings.
    pub drift: bool,
    /// Every node's record (as last read).
    pub nodes: Vec<NodeInfo>,
}

/// One upstream's link to the cluster it follows.
#[derive(Debug, Clone)]
pub struct LeaderRoute {
    /// The shared follower.
    pub follower: Arc<Follower>,
    /// What happens to tunnels to a node that stops leading.
    pub on_change: OnLeaderChange,
}

/// Every follower alive, so that upstreams (and config generations) naming
/// the same cluster share one.
static FOLLOWERS: Mutex<Vec<Weak<Follower>>> = Mutex::new(Vec::new());

/// The route for `conf`: an existing follower of that cluster, or a new one
/// (its thread starts now and ends when no upstream holds it any more).
pub fn route(conf: &LeaderConf) -> LeaderRoute {
    let source = format!("{} {}", redact(&conf.redis), conf.key);
    let refresh = conf.refresh.0;
    let mut all = FOLLOWERS.lock().unwrap_or_else(|p| p.into_inner());
    all.retain(|w| w.strong_count() > 0);
    let existing = all
        .iter()
        .filter_map(Weak::upgrade)
        .find(|f| f.source == source && f.refresh == refresh);
    let follower = existing.unwrap_or_else(|| {
        let f = Arc::new(Follower {
            source,
            refresh,
            last: ArcSwapOption::empty(),
            changes: watch::channel(0).0,
        });
        all.push(Arc::downgrade(&f));
        follow::spawn(&f, conf.redis.clone(), conf.key.clone());
        f
    });
    LeaderRoute {
        follower,
        on_change: conf.on_change,
    }
}

/// A Redis URL with its password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((auth, host)) if auth.contains(':') => {
            let user = auth.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(address: &str, addrs: &[&str]) -> Member {
        Member {
            node: "n".into(),
            address: address.into(),
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn a_server_is_a_member_by_name_or_by_address() {
        let m = member("gw1:18789", &["10.0.0.5:18789"]);
        assert!(m.is("gw1:18789", "10.9.9.9:1".parse().unwrap()));
        assert!(m.is("10.0.0.5:18789", "10.0.0.5:18789".parse().unwrap()));
        assert!(!m.is("gw2:18789", "10.0.0.6:18789".parse().unwrap()));
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(redact("redis://:pw@h:6379/0"), "redis://:***@h:6379/0");
        assert_eq!(redact("redis://u:pw@h:6379"), "redis://u:***@h:6379");
        assert_eq!(redact("redis://h:6379"), "redis://h:6379");
    }

    #[test]
    fn a_stale_read_is_not_trusted() {
        let f = Follower {
            source: "s".into(),
            refresh: Duration::from_millis(10),
            last: ArcSwapOption::empty(),
            changes: watch::channel(0).0,
        };
        assert!(f.current().is_none());
        let view = View {
            holder: Some((member("a:1", &[]), 3)),
            was: None,
            out: vec![],
            nodes: vec![],
        };
        assert!(f.store(view.clone()), "first holder is a change");
        assert!(!f.store(view.clone()), "same holder, no change");
        assert_eq!(f.current().as_deref(), Some(&view));
        let free = View {
            holder: None,
            was: None,
            out: vec![],
            nodes: vec![],
        };
        assert!(f.store(free.clone()), "a free lease is a change");
        let now = f.current().unwrap();
        assert!(
            now.is_target("a:1", "10.0.0.1:1".parse().unwrap()),
            "the last holder, while free"
        );
        assert!(!now.is_holder("a:1", "10.0.0.1:1".parse().unwrap()));
        f.store(free);
        assert!(
            f.current()
                .unwrap()
                .is_target("a:1", "10.0.0.1:1".parse().unwrap()),
            "kept while free"
        );
        std::thread::sleep(Duration::from_millis(40));
        assert!(f.current().is_none());
    }
}

//! High availability: who leads the cluster, decided by a lease with a
//! fencing epoch (DESIGN, "Redis lease").
//!
//! - [`lease`]: the lease itself (`redis`, `local`).
//! - [`cluster`]: heartbeats, the promote marker, control messages.
//! - [`elector`]: the state machine that takes, renews and gives up the lease.
//! - [`leadership`]: whether this node leads *now* (deadline-checked).
//! - [`primary_check`]: a secondary's watch on its primary.
//! - [`heartbeat`]: this node's record for the others and the operator
//!   (written by the elector every renew interval).
//! - [`control`]: messages from other nodes and operator commands.
//! - [`jobs`]: leader-only scheduled jobs, each run fenced by the epoch.
//!
//! Roles and priority decide who *should* lead; the lease decides who does.

pub mod cluster;
pub mod control;
pub mod elector;
pub mod heartbeat;
pub mod jobs;
pub mod leadership;
pub mod lease;
pub mod primary_check;
pub mod settings;

use crate::redis_link::RedisLink;
use cluster::Cluster;
use leadership::Leadership;
use lease::Lease;
use primary_check::Primary;
use settings::{HaSettings, LockPlace};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// A lease and the cluster beside it.
pub struct Backends {
    pub lease: Arc<dyn Lease>,
    pub cluster: Arc<dyn Cluster>,
    /// The Redis they use (`None` for the local kind), for the control channel.
    pub redis: Option<Arc<RedisLink>>,
}

/// Opens the lease and cluster the lock settings name. Every call is
/// bounded by `timeout`.
pub fn open(lock: &LockPlace, timeout: Duration) -> Result<Backends, String> {
    Ok(match lock {
        LockPlace::Redis { url, key } => {
            let link = Arc::new(RedisLink::new(url)?);
            Backends {
                lease: Arc::new(lease::redis::RedisLease::new(link.clone(), key, timeout)),
                cluster: Arc::new(cluster::redis::RedisCluster::new(
                    link.clone(),
                    key,
                    timeout,
                )),
                redis: Some(link),
            }
        }
        LockPlace::Local { path } => Backends {
            lease: Arc::new(lease::local::LocalLease::new(path)),
            cluster: Arc::new(cluster::local::LocalCluster::new(path)),
            redis: None,
        },
    })
}

/// A node's HA state, shared by the elector, the probes and the methods.
pub struct Ha {
    pub settings: HaSettings,
    pub leadership: Arc<Leadership>,
    pub lease: Arc<dyn Lease>,
    pub cluster: Arc<dyn Cluster>,
    /// The lease's Redis, for the control channel (`None`: local lock).
    pub redis: Option<Arc<RedisLink>>,
    /// Wakes the elector at once (a control message or a stop).
    pub wake: Notify,
    /// Control messages for the elector, taken at its next step.
    inbox: std::sync::Mutex<Vec<cluster::Control>>,
    /// Set when an operator asked this node to stop (`stop --node`).
    pub stop_requested: watch::Sender<bool>,
    /// Set when a graceful stop begins: the elector says `stopped` and gives
    /// the lease up while the node still serves (see `server::serve`).
    pub leaving: watch::Sender<bool>,
    /// Set once the elector has given the lease up at a stop.
    resigned: watch::Sender<bool>,
    /// What the primary watch concludes (stays `Unknown` without one).
    pub primary: watch::Sender<Primary>,
    /// Hash of the settings every node should share, for drift.
    pub config_hash: String,
    /// Where others reach this node.
    pub address: String,
}

impl Ha {
    /// The HA state for a node with these settings (nothing runs yet).
    pub fn new(s: &crate::config::Settings) -> Result<Ha, String> {
        let Backends {
            lease,
            cluster,
            redis,
        } = open(&s.ha.lock, s.ha.renew)?;
        let host = crate::config::resolve::hostname();
        let address = if s.bind.value.is_unspecified() {
            format!("{host}:{}", s.port.value)
        } else {
            std::net::SocketAddr::new(s.bind.value, s.port.value).to_string()
        };
        Ok(Ha {
            settings: s.ha.clone(),
            leadership: Arc::default(),
            lease,
            cluster,
            redis,
            wake: Notify::new(),
            inbox: std::sync::Mutex::default(),
            stop_requested: watch::channel(false).0,
            leaving: watch::channel(false).0,
            resigned: watch::channel(!s.ha.enabled).0,
            primary: watch::channel(Primary::Unknown).0,
            config_hash: heartbeat::config_hash(s),
            address,
        })
    }

    /// Starts the elector and everything around it (HA enabled), and the
    /// scheduled jobs (always: without HA the node runs them alone).
    pub fn start(node: &Arc<crate::node::Node>) {
        let ha = &node.ha;
        if ha.settings.enabled {
            if ha.settings.mode == crate::config::file::HaMode::ActiveStandby {
                // Asked at every read: a term ends at its deadline, even while
                // the elector waits on an unreachable Redis.
                let leadership = ha.leadership.clone();
                node.readiness.set_gate(Box::new(move || {
                    if leadership.is_leader() {
                        return None;
                    }
                    let leader = leadership
                        .known_leader()
                        .map(|l| format!("the leader is {} (epoch {})", l.node, l.epoch))
                        .unwrap_or_else(|| "no leader yet".to_string());
                    Some(("ha", format!("standby in active-standby mode; {leader}")))
                }));
            }
            if let Some(w) = &ha.settings.watch {
                tokio::spawn(primary_check::watch(
                    w.clone(),
                    ha.primary.clone(),
                    node.stopping.subscribe(),
                ));
            }
            tokio::spawn(control::run(node.clone()));
            let elector_node = node.clone();
            tokio::spawn(async move {
                elector::run(elector_node.clone()).await;
                let _ = elector_node.ha.resigned.send(true);
            });
        }
        for job in &node.settings.jobs {
            tokio::spawn(jobs::run(node.clone(), job.clone()));
        }
    }

    /// Hands a control message to the elector and wakes it.
    pub fn deliver(&self, message: cluster::Control) {
        self.inbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(message);
        self.wake.notify_one();
    }

    fn take_inbox(&self) -> Vec<cluster::Control> {
        std::mem::take(&mut *self.inbox.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether edges may follow this cluster (a Redis lease): they learn of
    /// a stop by message and need a moment to stop sending connections here.
    pub fn followed_by_edges(&self) -> bool {
        self.settings.enabled && self.redis.is_some()
    }

    /// Waits (at most `limit`) until a stopping node has released its lease
    /// and said it stopped; at once without HA.
    pub async fn resigned(&self, limit: Duration) {
        let mut rx = self.resigned.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|done| *done)).await;
    }

    /// Whether this node may do leader-only work now. Without HA a node is
    /// alone and always may.
    pub fn may_lead(&self) -> bool {
        !self.settings.enabled || self.leadership.is_leader()
    }
}

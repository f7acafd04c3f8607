//! The node: everything a connection or a request needs, built once at start.

use crate::auth::limiter::Limiter;
use crate::config::{SessionStorage, Settings};
use crate::events::{self, Bus};
use crate::metrics::Metrics;
use crate::presence::Presence;
use crate::readiness::Readiness;
use crate::redis_link::RedisLink;
use crate::sessions::{local::LocalStore, redis::RedisStore, SessionStore, StoreError};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

/// The version this node reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Shared state of a running node.
pub struct Node {
    pub settings: Settings,
    pub store: Arc<dyn SessionStore>,
    pub bus: Arc<Bus>,
    pub readiness: Arc<Readiness>,
    pub metrics: Metrics,
    pub presence: Presence,
    /// Failed-auth limits, shared through Redis with the sessions.
    pub limiter: crate::auth::limiter::Limiter,
    /// Leadership and the cluster (see [`crate::ha`]).
    pub ha: crate::ha::Ha,
    /// A fresh id per process start, so clients can tell a restart.
    pub boot_id: String,
    pub started: Instant,
    pub started_ms: u64,
    /// Set to `true` when the node begins a graceful stop.
    pub stopping: watch::Sender<bool>,
    runs: AtomicUsize,
    runs_done: Notify,
}

impl Node {
    /// Opens the session store and, with Redis, starts the event link and the
    /// store's readiness probe.
    pub fn start(settings: Settings) -> Result<Arc<Node>, String> {
        let readiness = Arc::new(Readiness::default());
        let ha = crate::ha::Ha::new(&settings)?;
        let metrics = Metrics::new();
        metrics
            .config_info
            .with_label_values(&[&ha.config_hash])
            .set(1);
        if let Some(link) = &ha.redis {
            link.report_to(&metrics, "lock");
        }
        let (stopping, _) = watch::channel(false);
        let boot_id = uuid::Uuid::new_v4().to_string();
        let (store, bus, redis): (Arc<dyn SessionStore>, Arc<Bus>, _) = match &settings.sessions {
            SessionStorage::Local { path } => (
                Arc::new(LocalStore::open(path)?),
                Arc::new(Bus::local()),
                None,
            ),
            SessionStorage::Redis { url, prefix, ttl } => {
                let link = Arc::new(RedisLink::new(url)?);
                link.report_to(&metrics, "sessions");
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                let store = Arc::new(RedisStore::new(link.clone(), prefix, *ttl));
                (
                    store,
                    Arc::new(Bus::with_remote(tx)),
                    Some((link, prefix.clone(), rx)),
                )
            }
        };
        let limits = settings.auth.rate_limit;
        let limiter = match &redis {
            Some((link, prefix, _)) => Limiter::shared(limits, link.clone(), prefix),
            None => Limiter::local(limits),
        };
        let host = crate::config::resolve::hostname();
        let ip = settings.bind.value.to_string();
        let presence = Presence::new(&host, &ip, VERSION, &boot_id, &settings.node);
        let node = Arc::new(Node {
            settings,
            store,
            bus,
            readiness,
            metrics,
            presence,
            limiter,
            ha,
            boot_id,
            started: Instant::now(),
            started_ms: crate::clock::now_ms(),
            stopping,
            runs: AtomicUsize::new(0),
            runs_done: Notify::new(),
        });
        tokio::spawn(health_events(node.clone()));
        tokio::spawn(crate::presence::announce(node.clone()));
        crate::ha::Ha::start(&node);
        if let Some((link, prefix, rx)) = redis {
            // Not ready until Redis has answered once.
            node.readiness.fail(
                "sessions",
                format!("redis {}: not connected yet", link.url()),
            );
            node.readiness.fail(
                "events",
                format!("redis {}: not subscribed yet", link.url()),
            );
            let channel = events::redis::channel(&prefix);
            let origin = node.boot_id.clone();
            tokio::spawn(events::redis::publish(
                link.clone(),
                channel.clone(),
                origin.clone(),
                rx,
            ));
            tokio::spawn(events::redis::subscribe(
                link,
                channel,
                origin,
                node.bus.clone(),
                node.readiness.clone(),
                node.stopping.subscribe(),
            ));
            tokio::spawn(probe_store(node.clone()));
        }
        Ok(node)
    }

    /// Runs a store operation, timing it under `op`.
    pub async fn timed<T>(
        &self,
        op: &'static str,
        f: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let t = Instant::now();
        let r = f.await;
        self.metrics
            .store_seconds
            .with_label_values(&[op])
            .observe(t.elapsed().as_secs_f64());
        r
    }

    /// Counts an agent run in; the guard counts it out.
    pub fn run_started(self: &Arc<Self>) -> RunGuard {
        self.runs.fetch_add(1, Ordering::SeqCst);
        self.metrics.runs_active.inc();
        RunGuard(self.clone())
    }

    /// Waits until no run is going on, or `limit` passes; whether all finished.
    pub async fn runs_finished(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.runs_done.notified();
                if self.runs.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }

    /// Whether a graceful stop has begun.
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }
}

/// Held while an agent run goes on.
pub struct RunGuard(Arc<Node>);

impl Drop for RunGuard {
    fn drop(&mut self) {
        self.0.runs.fetch_sub(1, Ordering::SeqCst);
        self.0.metrics.runs_active.dec();
        self.0.runs_done.notify_waiters();
    }
}

/// Pings the store every second; readiness follows the answers.
async fn probe_store(node: Arc<Node>) {
    let mut stop = node.stopping.subscribe();
    loop {
        match node.store.ping().await {
            Ok(()) => node.readiness.clear("sessions"),
            Err(e) => node.readiness.fail("sessions", e.0),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// How often clients get a `health` event when nothing changes.
const HEALTH_EVERY: Duration = Duration::from_secs(60);

/// Sends this node's clients a `health` event when readiness changes, and
/// every minute otherwise.
async fn health_events(node: Arc<Node>) {
    let mut changes = node.readiness.subscribe();
    let mut stop = node.stopping.subscribe();
    loop {
        tokio::select! {
            r = changes.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(HEALTH_EVERY) => {}
            _ = stop.changed() => return,
        }
        let health = crate::methods::health_payload(&node).await;
        node.bus.emit_here("health", &health);
    }
}

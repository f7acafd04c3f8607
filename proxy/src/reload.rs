//! Hot reload on SIGHUP (`openclaw-edge -s reload` sends it): the new file is
//! parsed, validated and built first; a bad one is refused, logged with its
//! file:line and counted, and the running tables keep serving. A good one
//! replaces the tables in one atomic swap; requests and tunnels already under
//! way finish on the tables they started with.

use crate::admin::metrics;
use crate::runtime::{carry_over, state_lock, Runtime};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora_core::server::ShutdownWatch;
use pingora_core::services::background::BackgroundService;
use std::sync::Arc;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Notify;
use tracing::{error, info};

/// Reloads `config` into `runtime` on every SIGHUP.
pub struct Reloader {
    /// The config file the edge was started with.
    pub config: crate::source::ConfigSource,
    /// The live tables.
    pub runtime: Arc<ArcSwap<Runtime>>,
    /// Notified after each successful reload (health checks follow it).
    pub reloaded: Arc<Notify>,
}

impl Reloader {
    /// Loads the file again and swaps it in; returns what went wrong, if anything.
    pub fn reload(&self) -> Result<(), String> {
        let (source, new) = crate::server::check(&self.config).map_err(|e| e.to_string())?;
        for w in &source.warnings {
            tracing::warn!("{w}");
        }
        // Runtime API changes wait until the new tables are in place.
        let _held = state_lock();
        let old = self.runtime.load();
        let addrs = |rt: &Runtime| rt.listeners.iter().map(|l| l.addr).collect::<Vec<_>>();
        if addrs(&old) != addrs(&new) {
            return Err(format!(
                "{}: listen addresses changed from {:?} to {:?}; a reload cannot open or close \
                 listeners: restart, or upgrade the binary (SIGQUIT + --upgrade)",
                self.config.path,
                addrs(&old),
                addrs(&new)
            ));
        }
        carry_over(&old, &new);
        self.runtime.store(Arc::new(new));
        Ok(())
    }
}

#[async_trait]
impl BackgroundService for Reloader {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                error!("cannot listen for SIGHUP, reloads are off: {e}");
                return;
            }
        };
        loop {
            tokio::select! {
                _ = hup.recv() => {}
                _ = shutdown.changed() => return,
            }
            match self.reload() {
                Ok(()) => {
                    metrics().reloaded();
                    self.reloaded.notify_one();
                    info!(config = %self.config.path, "configuration reloaded");
                }
                Err(e) => {
                    metrics().reload_refused();
                    error!("reload refused, the running configuration keeps serving:\n{e}");
                }
            }
        }
    }
}

//! Active health checks: one task per checked server, one check at a time
//! (a slow server never piles checks up), `interval` apart. `fall` failed
//! checks in a row take the server out, `rise` passed ones bring it back;
//! each transition is logged once with its reason. The tasks follow reloads:
//! a task ends when its upstream is gone, new upstreams get new tasks.

use super::probe::{Probe, Verdict};
use crate::admin::metrics;
use crate::balance::{now_ms, Pick, ServerState, TierKind};
use crate::runtime::{Runtime, Upstream};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora_core::server::ShutdownWatch;
use pingora_core::services::background::BackgroundService;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use tracing::{info, warn};

/// An upstream's check schedule.
#[derive(Debug, Clone)]
pub struct CheckPlan {
    /// How to check.
    pub probe: Probe,
    /// Time between checks of a server.
    pub interval: Duration,
    /// Passed checks in a row to come in.
    pub rise: u32,
    /// Failed checks in a row to go out.
    pub fall: u32,
}

/// Applies one check result to a server's state; returns `Some(up)` when the
/// server just changed sides.
pub fn apply(state: &mut ServerState, alive: bool, rise: u32, fall: u32) -> Option<bool> {
    if alive {
        state.check_falls = 0;
        state.check_rises = state.check_rises.saturating_add(1);
        if state.check_down && state.check_rises >= rise {
            state.check_down = false;
            return Some(true);
        }
    } else {
        state.check_rises = 0;
        state.check_falls = state.check_falls.saturating_add(1);
        if !state.check_down && state.check_falls >= fall {
            state.check_down = true;
            return Some(false);
        }
    }
    None
}

/// Runs the checks of the current tables; told of reloads through `reloaded`.
pub struct HealthChecker {
    /// The live tables.
    pub runtime: Arc<ArcSwap<Runtime>>,
    /// Notified after each successful reload.
    pub reloaded: Arc<Notify>,
}

#[async_trait]
impl BackgroundService for HealthChecker {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut watched: Vec<Weak<Upstream>> = Vec::new();
        loop {
            watched.retain(|w| w.strong_count() > 0);
            for u in self
                .runtime
                .load()
                .upstreams
                .iter()
                .filter(|u| u.check.is_some())
            {
                if watched
                    .iter()
                    .any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(u)))
                {
                    continue;
                }
                watched.push(Arc::downgrade(u));
                for (tier, n) in [
                    (TierKind::Primary, u.primary.len()),
                    (TierKind::Backup, u.backup.len()),
                ] {
                    for index in 0..n {
                        tokio::spawn(watch(Arc::downgrade(u), Pick { tier, index }));
                    }
                }
            }
            tokio::select! {
                _ = self.reloaded.notified() => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Checks one server until its upstream is replaced or removed.
async fn watch(upstream: Weak<Upstream>, pick: Pick) {
    loop {
        let Some(u) = upstream.upgrade() else { return };
        let plan = u.check.clone().expect("only checked upstreams are watched");
        let (addr, name, upstream_name) = (
            u.server(pick).addr,
            u.server(pick).name.clone(),
            u.name.clone(),
        );
        drop(u); // do not keep a replaced upstream alive while checking
        let verdict = plan.probe.check(addr).await;
        let Some(u) = upstream.upgrade() else { return };
        let alive = verdict == Verdict::Alive;
        let changed = {
            let mut pool = u.pool();
            let tier = pool.tier_mut(pick.tier);
            let down = tier.conf[pick.index].down;
            let state = &mut tier.state[pick.index];
            let changed = apply(state, alive, plan.rise, plan.fall);
            let reason = match &verdict {
                Verdict::Dead(why) => Some(why.as_str()),
                Verdict::Alive => None,
            };
            state.history.checked(alive, reason);
            state.history.observe(down || state.check_down, now_ms());
            changed
        };
        drop(u);
        metrics().checks(&upstream_name, &name, alive).inc();
        match (changed, &verdict) {
            (Some(true), _) => {
                info!(upstream = %upstream_name, server = %name, "health check: server is up after {} passed checks", plan.rise)
            }
            (Some(false), Verdict::Dead(why)) => {
                warn!(upstream = %upstream_name, server = %name, reason = %why, "health check: server is down after {} failed checks", plan.fall)
            }
            _ => {}
        }
        tokio::time::sleep(plan.interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rise_and_fall_in_a_row() {
        let mut s = ServerState {
            check_down: true,
            ..Default::default()
        };
        assert_eq!(apply(&mut s, true, 2, 3), None);
        assert_eq!(apply(&mut s, true, 2, 3), Some(true));
        assert_eq!(apply(&mut s, false, 2, 3), None);
        assert_eq!(
            apply(&mut s, true, 2, 3),
            None,
            "a pass resets the fall count"
        );
        assert_eq!(apply(&mut s, false, 2, 3), None);
        assert_eq!(apply(&mut s, false, 2, 3), None);
        assert_eq!(apply(&mut s, false, 2, 3), Some(false));
        assert_eq!(apply(&mut s, false, 2, 3), None, "logged once");
    }
}

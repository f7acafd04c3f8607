//! Readiness: ready unless something the node depends on reports a problem or
//! the node is stopping. `/ready` answers 503 with the reasons.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use tokio::sync::watch;

/// A condition asked at every read, for facts that change with the clock
/// rather than with an event (a leader's term ends at its deadline whether or
/// not anything runs then): `Some((component, reason))` when not ready.
pub type Gate = Box<dyn Fn() -> Option<(&'static str, String)> + Send + Sync>;

/// The problems that keep a node from taking traffic, by component.
pub struct Readiness {
    problems: Mutex<BTreeMap<&'static str, String>>,
    draining: AtomicBool,
    /// Bumped at every change, so `health` events can follow readiness.
    changes: watch::Sender<u64>,
    gate: OnceLock<Gate>,
}

impl Default for Readiness {
    fn default() -> Self {
        Readiness {
            problems: Mutex::default(),
            draining: AtomicBool::new(false),
            changes: watch::channel(0).0,
            gate: OnceLock::new(),
        }
    }
}

impl Readiness {
    /// A receiver that sees every change of readiness.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// Installs the gate (once; later calls are ignored).
    pub fn set_gate(&self, gate: Gate) {
        let _ = self.gate.set(gate);
    }

    /// Records (or replaces) a component's problem.
    pub fn fail(&self, component: &'static str, reason: String) {
        let mut p = self.problems.lock().unwrap_or_else(|p| p.into_inner());
        if p.get(component) != Some(&reason) {
            tracing::warn!(component, %reason, "not ready");
            p.insert(component, reason);
            drop(p);
            self.changed();
        }
    }

    /// Clears a component's problem.
    pub fn clear(&self, component: &'static str) {
        let mut p = self.problems.lock().unwrap_or_else(|p| p.into_inner());
        if p.remove(component).is_some() {
            drop(p);
            tracing::info!(component, "recovered");
            self.changed();
        }
    }

    /// Marks the node as stopping: it stays alive but is no longer ready.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.changed();
    }

    /// Whether the node is stopping.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// `Ok` when ready, else each reason as `component: reason`.
    pub fn check(&self) -> Result<(), Vec<String>> {
        let mut reasons: Vec<String> = self
            .problems
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(c, r)| format!("{c}: {r}"))
            .collect();
        if let Some((component, reason)) = self.gate.get().and_then(|g| g()) {
            reasons.push(format!("{component}: {reason}"));
        }
        if self.draining() {
            reasons.insert(0, "node: shutting down".to_string());
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(reasons)
        }
    }
}

//! Whether this node leads right now. The elector grants a term with a
//! deadline (`sent + ttl - margin` of the last renewal that succeeded); every
//! question asked here checks the clock against that deadline, so a node that
//! was paused past it stops acting as leader the instant it runs again, before
//! its elector has had a chance to notice.

use super::lease::LeaseRecord;
use std::sync::Mutex;
use std::time::Instant;
use tokio::sync::watch;

struct Term {
    record: LeaseRecord,
    deadline: Instant,
}

/// This node's leadership and what it knows of the cluster's leader.
pub struct Leadership {
    term: Mutex<Option<Term>>,
    /// The last holder the elector saw (itself included), for status output.
    known: Mutex<Option<LeaseRecord>>,
    /// The epoch this node leads at, `None` when following; changes wake
    /// leader-only work and readiness.
    changes: watch::Sender<Option<u64>>,
}

impl Default for Leadership {
    fn default() -> Self {
        Leadership {
            term: Mutex::new(None),
            known: Mutex::new(None),
            changes: watch::channel(None).0,
        }
    }
}

impl Leadership {
    /// The lease this node leads with, if it leads now (deadline not passed).
    pub fn current(&self) -> Option<LeaseRecord> {
        let term = self.term.lock().unwrap_or_else(|p| p.into_inner());
        term.as_ref()
            .filter(|t| Instant::now() < t.deadline)
            .map(|t| t.record.clone())
    }

    /// Whether this node leads now.
    pub fn is_leader(&self) -> bool {
        self.current().is_some()
    }

    /// When the current term ends unless renewed.
    pub fn deadline(&self) -> Option<Instant> {
        let term = self.term.lock().unwrap_or_else(|p| p.into_inner());
        term.as_ref().map(|t| t.deadline)
    }

    /// Starts or extends a term.
    pub fn lead(&self, record: LeaseRecord, deadline: Instant) {
        let epoch = record.epoch;
        *self.known.lock().unwrap_or_else(|p| p.into_inner()) = Some(record.clone());
        *self.term.lock().unwrap_or_else(|p| p.into_inner()) = Some(Term { record, deadline });
        self.changes.send_if_modified(|e| {
            let changed = *e != Some(epoch);
            *e = Some(epoch);
            changed
        });
    }

    /// Ends the term (lost, released or expired).
    pub fn follow(&self) {
        *self.term.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.changes.send_if_modified(|e| e.take().is_some());
    }

    /// Records the holder seen in the lease (`None`: free).
    pub fn saw(&self, holder: Option<LeaseRecord>) {
        *self.known.lock().unwrap_or_else(|p| p.into_inner()) = holder;
    }

    /// The holder last seen.
    pub fn known_leader(&self) -> Option<LeaseRecord> {
        self.known.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A receiver of the led epoch (`None` while following).
    pub fn subscribe(&self) -> watch::Receiver<Option<u64>> {
        self.changes.subscribe()
    }
}

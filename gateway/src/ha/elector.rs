//! The elector: takes, renews and gives up the lease.
//!
//! Following, it reads the lease every renew interval (sooner when the lease
//! is about to expire or a control message arrives) and takes it once free,
//! if it may: a candidate (see [`candidate`]), no other live node preferred
//! by `promote`, and no live node of higher priority that could win instead
//! (those get one renew interval's head start). A secondary whose primary
//! check says the primary is down asks a primary that still holds the lease
//! to step down.
//!
//! Leading, it renews every renew interval. Each renewal is timed from the
//! instant it was sent: the term ends at `sent + ttl - margin` unless a later
//! renewal succeeds, so the node stops acting as leader before the lease can
//! expire in Redis, whatever happened to the answer. It hands over when
//! `promote` prefers a live other node, or (with `ha.preempt`) when a live
//! candidate of higher priority exists; a stop releases the lease at once.

use super::lease::{Claim, LeaseRecord};
use super::primary_check::Primary;
use super::settings::HaSettings;
use super::Ha;
use crate::node::Node;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Whether a node with these settings takes a free lease by itself: every
/// node but a secondary with `failover.enabled: false`.
pub fn candidate(s: &HaSettings) -> bool {
    s.enabled && (s.role != "secondary" || s.failover)
}

/// How long a step-down or hand-over keeps this node from taking the lease
/// back, so that another node can. It ends early once another node holds
/// the lease, and never holds back a free lease nobody else live can take.
fn cooldown(s: &HaSettings) -> Duration {
    s.ttl * 2
}

/// Runs until the node stops; then releases the lease if held.
pub async fn run(node: Arc<Node>) {
    let ha = &node.ha;
    let s = &ha.settings;
    let claim = Claim {
        node: node.settings.node.clone(),
        role: s.role.to_string(),
        priority: s.priority,
        address: ha.address.clone(),
    };
    let mut stop = ha.leaving.subscribe();
    let mut e = Elector {
        node: node.clone(),
        claim,
        held: None,
        last_sent: Instant::now(),
        free_since: None,
        cooldown_until: None,
        asked_step_down: None,
        last_beat: None,
        last_holder: None,
    };
    loop {
        if *stop.borrow() {
            break;
        }
        e.handle_inbox().await;
        let pause = if e.held.is_some() {
            e.lead_step().await
        } else {
            e.follow_step().await
        };
        e.beat_if_due("running").await;
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = ha.wake.notified() => {}
            _ = stop.changed() => {}
        }
    }
    // Say "stopped" first, so no follower waits for this node to take over
    // and edges that follow the cluster send it no new connection.
    e.last_beat = None;
    e.beat_if_due("stopped").await;
    let _ = ha.cluster.send(&announce("stopping", &e.claim.node)).await;
    e.resign("the node is stopping").await;
}

/// A message to every node (and every edge following the cluster).
fn announce(cmd: &str, from: &str) -> super::cluster::Control {
    super::cluster::Control {
        cmd: cmd.into(),
        to: None,
        from: from.into(),
    }
}

struct Elector {
    node: Arc<Node>,
    claim: Claim,
    /// The lease while this node holds it.
    held: Option<LeaseRecord>,
    /// When the last renewal (or the acquire) was sent.
    last_sent: Instant,
    /// When this node first saw the lease free, in this free spell.
    free_since: Option<Instant>,
    cooldown_until: Option<Instant>,
    /// The epoch this node last asked to step down, so it asks once.
    asked_step_down: Option<u64>,
    /// When this node last wrote its heartbeat (`None`: write at once).
    last_beat: Option<Instant>,
    /// The last holder seen in the lease, to count failovers.
    last_holder: Option<String>,
}

impl Elector {
    fn ha(&self) -> &Ha {
        &self.node.ha
    }

    /// One look at the lease while following; the pause before the next.
    async fn follow_step(&mut self) -> Duration {
        let node = self.node.clone();
        let ha = &node.ha;
        let s = &ha.settings;
        let view = match ha.lease.read().await {
            Ok(v) => v,
            Err(err) => {
                self.lease_problem(&err.0);
                return s.renew / 2;
            }
        };
        self.node.readiness.clear("lease");
        ha.leadership.saw(view.holder.clone());
        if let Some(holder) = view.holder {
            self.free_since = None;
            // Someone took over: the cooldown after a hand-over has done its
            // job, and must not delay taking the lease if that holder dies.
            if holder.node != self.claim.node {
                self.cooldown_until = None;
            }
            self.last_holder = Some(holder.node.clone());
            self.maybe_ask_step_down(&holder).await;
            // Look again just after it would expire unless renewed.
            return view
                .ttl_left
                .map(|t| t + Duration::from_millis(5))
                .unwrap_or(s.renew)
                .min(s.renew);
        }
        let free_since = *self.free_since.get_or_insert_with(Instant::now);
        match self.may_take(free_since).await {
            Ok(()) => {}
            Err(wait) => return wait,
        }
        let sent = Instant::now();
        match ha.lease.acquire(&self.claim, s.ttl).await {
            Ok(Some(record)) => {
                let before = self.last_holder.take();
                self.start_term(record, sent, before);
                s.renew
            }
            Ok(None) => Duration::from_millis(10),
            Err(err) => {
                self.lease_problem(&err.0);
                s.renew / 2
            }
        }
    }

    /// `Ok` when this node may take the free lease now, else how long to wait.
    async fn may_take(&self, free_since: Instant) -> Result<(), Duration> {
        let node = self.node.clone();
        let ha = &node.ha;
        let s = &ha.settings;
        let me = &self.claim.node;
        let preferred = ha.cluster.preferred().await.ok().flatten();
        let (nodes, now) = ha.cluster.nodes().await.unwrap_or_default();
        let live_other = |name: &str| {
            nodes
                .iter()
                .any(|n| n.node == name && n.node != *me && n.live(now))
        };
        if let Some(p) = &preferred {
            if p == me {
                return Ok(());
            }
            if live_other(p) {
                return Err(s.renew / 4);
            }
        }
        if !candidate(s) {
            return Err(s.renew);
        }
        // After a hand-over, leave the free lease to another live candidate;
        // with none left there is nobody to wait for.
        let other_candidate = nodes
            .iter()
            .any(|n| n.node != *me && n.live(now) && n.candidate);
        if self.cooldown_until.is_some_and(|t| Instant::now() < t) && other_candidate {
            return Err(s.renew / 4);
        }
        let primary_down = *ha.primary.borrow() == Primary::Down;
        let better = nodes.iter().any(|n| {
            n.node != *me
                && n.live(now)
                && n.candidate
                && !(primary_down && n.role == "primary")
                && (n.priority, std::cmp::Reverse(&n.node)) > (s.priority, std::cmp::Reverse(me))
        });
        let head_start = s.renew;
        if better && free_since.elapsed() < head_start {
            return Err(head_start - free_since.elapsed());
        }
        Ok(())
    }

    /// A secondary whose primary is down asks a primary still holding the
    /// lease to step down (once per epoch).
    async fn maybe_ask_step_down(&mut self, holder: &LeaseRecord) {
        let node = self.node.clone();
        let ha = &node.ha;
        if ha.settings.watch.is_none()
            || *ha.primary.borrow() != Primary::Down
            || holder.role != "primary"
            || holder.node == self.claim.node
            || self.asked_step_down == Some(holder.epoch)
        {
            return;
        }
        self.asked_step_down = Some(holder.epoch);
        tracing::warn!(holder = %holder.node, epoch = holder.epoch,
            "the primary fails its check but holds the lease: asking it to step down");
        let msg = super::cluster::Control {
            cmd: "step-down".into(),
            to: Some(holder.node.clone()),
            from: self.claim.node.clone(),
        };
        let _ = ha.cluster.send(&msg).await;
    }

    fn start_term(&mut self, record: LeaseRecord, sent: Instant, before: Option<String>) {
        let node = self.node.clone();
        let ha = &node.ha;
        let s = &ha.settings;
        tracing::info!(
            epoch = record.epoch,
            since_ms = record.since,
            until_ms = crate::clock::now_ms() + (s.ttl - s.margin).as_millis() as u64,
            previous = before.as_deref().unwrap_or("none"),
            "became leader"
        );
        if before.is_some_and(|b| b != record.node) {
            self.node.metrics.failovers.inc();
        }
        self.node.metrics.terms.inc();
        self.node.metrics.leader.set(1);
        self.node.metrics.lease_epoch.set(record.epoch as i64);
        self.free_since = None;
        self.last_sent = sent;
        ha.leadership.lead(record.clone(), sent + s.ttl - s.margin);
        self.held = Some(record);
        self.last_beat = None;
        let node = self.node.clone();
        let me = self.claim.node.clone();
        tokio::spawn(async move {
            // Edges that follow the cluster route to the new holder at once.
            let _ = node.ha.cluster.send(&announce("leader", &me)).await;
            let _ = node.ha.cluster.clear_preferred(&me).await;
            node.bus
                .emit_here("health", &crate::methods::health_payload(&node).await);
        });
    }

    /// One renewal while leading; the pause before the next.
    async fn lead_step(&mut self) -> Duration {
        let node = self.node.clone();
        let ha = &node.ha;
        let s = &ha.settings;
        let held = self.held.clone().expect("leading");
        let Some(deadline) = ha.leadership.deadline() else {
            self.step_down("term ended").await;
            return Duration::ZERO;
        };
        let now = Instant::now();
        if now >= deadline {
            self.step_down("no renewal succeeded before the term's deadline")
                .await;
            return Duration::ZERO;
        }
        let due = self.last_sent + s.renew;
        if now < due {
            return (due - now).min(deadline - now);
        }
        let sent = Instant::now();
        // An answer after the deadline is of no use: the term is over then.
        let renewed = tokio::time::timeout(deadline - now, ha.lease.renew(&held, s.ttl)).await;
        match renewed {
            Ok(Ok(true)) => {
                self.node
                    .metrics
                    .lease_renew_seconds
                    .observe(sent.elapsed().as_secs_f64());
                self.last_sent = sent;
                ha.leadership.lead(held, sent + s.ttl - s.margin);
            }
            Ok(Ok(false)) => {
                self.step_down("the lease is no longer ours (expired or cleared)")
                    .await;
                return Duration::ZERO;
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "lease renewal failed; retrying until the term's deadline");
                let left = deadline.saturating_duration_since(Instant::now());
                return (s.renew / 4).min(left);
            }
            Err(_) => return Duration::ZERO,
        }
        // Only with the lease store answering: a hand-over needs it anyway.
        if self.handover_due().await {
            self.hand_over("another node takes over").await;
            return Duration::ZERO;
        }
        s.renew
    }

    /// Whether the leader should hand over now: `promote` prefers a live
    /// other node, or a live candidate of higher priority exists and
    /// `ha.preempt` is on.
    async fn handover_due(&self) -> bool {
        let node = self.node.clone();
        let ha = &node.ha;
        let s = &ha.settings;
        let me = &self.claim.node;
        let preferred = ha.cluster.preferred().await.ok().flatten();
        if preferred.as_deref() == Some(me.as_str()) {
            let _ = ha.cluster.clear_preferred(me).await;
            return false;
        }
        let Ok((nodes, now)) = ha.cluster.nodes().await else {
            return false;
        };
        if let Some(p) = &preferred {
            if nodes.iter().any(|n| &n.node == p && n.live(now)) {
                return true;
            }
        }
        s.preempt
            && nodes
                .iter()
                .any(|n| n.node != *me && n.live(now) && n.candidate && n.priority > s.priority)
    }

    /// Releases the lease for another node and stays out for a while.
    async fn hand_over(&mut self, why: &str) {
        self.cooldown_until = Some(Instant::now() + cooldown(&self.ha().settings));
        self.resign(why).await;
    }

    /// Stops leading without releasing (the lease is gone or unreachable).
    async fn step_down(&mut self, why: &str) {
        let node = self.node.clone();
        let ha = &node.ha;
        if let Some(held) = self.held.take() {
            // The term ended at its deadline if that has passed (a paused
            // node notices late, but acted on no stale term: see Leadership).
            let overdue = ha
                .leadership
                .deadline()
                .map(|d| Instant::now().saturating_duration_since(d))
                .unwrap_or_default();
            let until = crate::clock::now_ms() - overdue.as_millis() as u64;
            tracing::warn!(
                epoch = held.epoch,
                until_ms = until,
                reason = why,
                "stopped leading"
            );
        }
        self.end_term();
    }

    /// Gives the lease up (graceful): released in the store, others told.
    async fn resign(&mut self, why: &str) {
        let node = self.node.clone();
        let ha = &node.ha;
        let Some(held) = self.held.take() else {
            return;
        };
        self.end_term();
        let released = ha.lease.release(&held).await;
        tracing::info!(epoch = held.epoch, until_ms = crate::clock::now_ms(), reason = why,
            released = ?released, "stopped leading");
        let _ = ha
            .cluster
            .send(&announce("released", &self.claim.node))
            .await;
    }

    fn end_term(&mut self) {
        let node = self.node.clone();
        let ha = &node.ha;
        self.last_beat = None;
        ha.leadership.follow();
        self.node.metrics.leader.set(0);
        let node = self.node.clone();
        tokio::spawn(async move {
            node.bus
                .emit_here("health", &crate::methods::health_payload(&node).await);
        });
    }

    /// Writes this node's heartbeat if a renew interval has passed since the
    /// last one (or leadership changed since).
    async fn beat_if_due(&mut self, state: &str) {
        let node = self.node.clone();
        if self
            .last_beat
            .is_some_and(|t| t.elapsed() < node.ha.settings.renew)
        {
            return;
        }
        self.last_beat = Some(Instant::now());
        let record = super::heartbeat::record(&node, state);
        if let Err(e) = node.ha.cluster.beat(&record).await {
            tracing::debug!(error = %e, "heartbeat not written");
        }
    }

    /// Acts on the control messages that arrived since the last step.
    async fn handle_inbox(&mut self) {
        let messages = self.ha().take_inbox();
        for m in messages {
            if self.held.is_none() {
                continue;
            }
            if m.cmd == "step-down" {
                self.hand_over(&format!("asked to step down by {}", m.from))
                    .await;
            } else if m.cmd == "promote" && self.handover_due().await {
                self.hand_over(&format!("promote by {}", m.from)).await;
            }
        }
    }

    fn lease_problem(&self, err: &str) {
        tracing::warn!(error = %err, "lease unreachable");
        if self.ha().settings.mode == crate::config::file::HaMode::ActiveStandby {
            self.node.readiness.fail(
                "lease",
                format!("{} unreachable: {err}", self.ha().lease.kind()),
            );
        }
    }
}

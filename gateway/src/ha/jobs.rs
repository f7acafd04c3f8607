//! Leader-only scheduled jobs (`cron.jobs`). Time is cut into ticks of
//! `every` (tick = Unix ms / every); for each tick the leader records the run
//! through the lease (`record_run`: the same atomic step checks that this
//! node holds the lease at the current epoch and that the tick is new), and
//! only then sends the job's message to its session. A stale leader's record
//! is refused, so a paused and resumed node cannot run a tick again; a new
//! leader runs the tick it took over in if nobody ran it.

use crate::config::JobSpec;
use crate::ha::lease::Fenced;
use crate::node::Node;
use std::sync::Arc;
use std::time::Duration;

/// Runs one job until the node stops.
pub async fn run(node: Arc<Node>, job: JobSpec) {
    let mut stop = node.stopping.subscribe();
    let mut leading = node.ha.leadership.subscribe();
    let every = job.every.as_millis() as u64;
    loop {
        let now = crate::clock::now_ms();
        let tick = now / every;
        if node.ha.may_lead() {
            run_tick(&node, &job, tick).await;
        }
        let next = (tick + 1) * every;
        let pause = Duration::from_millis(next.saturating_sub(crate::clock::now_ms()) + 1);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            // A new term may run the current tick if nobody has.
            r = leading.changed() => if r.is_err() { return },
            _ = stop.changed() => return,
        }
    }
}

async fn run_tick(node: &Arc<Node>, job: &JobSpec, tick: u64) {
    let outcome = match node.ha.leadership.current() {
        Some(held) => node.ha.lease.record_run(&held, &job.id, tick).await,
        // Without HA the node is alone: nothing to fence against.
        None if !node.ha.settings.enabled => Ok(Fenced::Done),
        None => return,
    };
    let epoch = node.ha.leadership.current().map(|h| h.epoch).unwrap_or(0);
    match outcome {
        Ok(Fenced::Done) => {
            tracing::info!(job = %job.id, tick, epoch, "job ran");
            node.metrics.jobs.with_label_values(&["ran"]).inc();
            let Ok(key) = crate::sessions::key::parse(&job.session_key) else {
                return;
            };
            let idem = format!("cron:{}:{tick}", job.id);
            let run = crate::agent::run::RunRequest {
                key,
                message: job.message.clone(),
                idempotency_key: idem,
                client_id: "cron".into(),
                timeout: None,
            };
            if let Err(e) = crate::agent::run::start(node, run).await {
                tracing::warn!(job = %job.id, tick, error = %e.message, "job run failed");
            }
        }
        Ok(Fenced::Duplicate) => {
            node.metrics.jobs.with_label_values(&["duplicate"]).inc();
        }
        Ok(Fenced::Stale) => {
            tracing::warn!(job = %job.id, tick, epoch, "job run refused: this node's lease is stale");
            node.metrics.jobs.with_label_values(&["stale"]).inc();
        }
        Err(e) => {
            tracing::warn!(job = %job.id, tick, error = %e, "job run not recorded");
            node.metrics.jobs.with_label_values(&["error"]).inc();
        }
    }
}

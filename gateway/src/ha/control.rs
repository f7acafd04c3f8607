//! Control messages on the Redis lease's channel `<key>:control`:
//! `stop` (an operator's `stop --node` from any machine), `step-down` (a
//! secondary whose primary check fails, or `promote`), `promote` and
//! `released` (wake the electors so a hand-over takes milliseconds, not a
//! renew interval). Messages name a node in `to`, or every node. Nodes also
//! announce `leader` (a new term) and `stopping` (a graceful stop began):
//! nothing here acts on them, edges that follow the cluster do.

use super::cluster::redis::control_channel;
use super::cluster::Control;
use super::settings::LockPlace;
use crate::node::Node;
use crate::redis_link::Delivery;
use std::sync::Arc;

/// Follows the control channel until the node stops (Redis lease only).
pub async fn run(node: Arc<Node>) {
    let (LockPlace::Redis { key, .. }, Some(link)) = (&node.ha.settings.lock, &node.ha.redis)
    else {
        return;
    };
    let me = node.settings.node.clone();
    let stop = node.stopping.subscribe();
    link.follow(&control_channel(key), stop, |d| match d {
        Delivery::Message(raw) => {
            let Ok(m) = serde_json::from_slice::<Control>(raw) else {
                return;
            };
            if m.to.as_ref().is_some_and(|to| *to != me) || m.from == me {
                return;
            }
            tracing::info!(cmd = %m.cmd, from = %m.from, "control message");
            if m.cmd == "stop" {
                let _ = node.ha.stop_requested.send(true);
            } else {
                node.ha.deliver(m);
            }
        }
        // Messages may have been missed: look at the lease again.
        Delivery::Subscribed { .. } => node.ha.wake.notify_one(),
        Delivery::Lost(reason) => tracing::debug!(%reason, "control channel"),
    })
    .await
}

//! Events between nodes over Redis pub/sub. Each message carries its origin node
//! so a node skips its own. redis-rs does not resubscribe by itself: the
//! subscriber reconnects with backoff, and after a gap tells clients to resync.

use super::{Bus, Event};
use crate::readiness::Readiness;
use crate::redis_link::{Delivery, RedisLink};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// The channel under the session prefix.
pub fn channel(prefix: &str) -> String {
    format!("{prefix}events")
}

/// Publishes this node's events, in order. An event that cannot be published is
/// dropped (and logged): transcripts, not events, are the record.
pub async fn publish(
    link: Arc<RedisLink>,
    channel: String,
    origin: String,
    mut events: mpsc::UnboundedReceiver<Arc<Event>>,
) {
    while let Some(event) = events.recv().await {
        let message = format!(
            r#"{{"origin":{},"event":{},"payload":{}}}"#,
            Value::from(origin.as_str()),
            Value::from(event.name.as_str()),
            event.payload
        );
        let ch = channel.clone();
        let sent = link
            .call("event_publish", |mut c| async move {
                redis::cmd("PUBLISH")
                    .arg(ch)
                    .arg(message)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await;
        if let Err(e) = sent {
            tracing::warn!(event = %event.name, error = %e, "event not shared with other nodes");
        }
    }
}

/// Receives other nodes' events until `stop`, reconnecting after any loss.
pub async fn subscribe(
    link: Arc<RedisLink>,
    channel: String,
    origin: String,
    bus: Arc<Bus>,
    readiness: Arc<Readiness>,
    stop: watch::Receiver<bool>,
) {
    link.follow(&channel, stop, |d| match d {
        Delivery::Subscribed { again } => {
            readiness.clear("events");
            if again {
                // Events published while we were away are gone: clients refetch.
                bus.emit_here("sessions.changed", &json!({"reason": "resync"}));
            }
        }
        Delivery::Message(raw) => deliver(&bus, &origin, raw),
        Delivery::Lost(reason) => readiness.fail("events", reason),
    })
    .await
}

fn deliver(bus: &Bus, origin: &str, raw: &[u8]) {
    let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(raw) else {
        return;
    };
    if m.get("origin").and_then(Value::as_str) == Some(origin) {
        return;
    }
    let (Some(Value::String(name)), Some(payload)) = (m.remove("event"), m.remove("payload"))
    else {
        return;
    };
    bus.forward(Event::new(&name, &payload));
}

//! Events between nodes over Redis pub/sub. Each message carries its origin node
//! so a node skips its own. redis-rs does not resubscribe by itself: the
//! subscriber reconnects with backoff, and after a gap tells clients to resync.

use super::{Bus, Event};
use crate::readiness::Readiness;
use crate::redis_link::RedisLink;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
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
            .call(|mut c| async move {
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
    mut stop: watch::Receiver<bool>,
) {
    let mut delay = Duration::from_millis(100);
    let mut connected_before = false;
    loop {
        let attempt = async {
            let mut pubsub =
                tokio::time::timeout(Duration::from_secs(2), link.client().get_async_pubsub())
                    .await
                    .map_err(|_| "timed out connecting".to_string())?
                    .map_err(|e| e.to_string())?;
            pubsub
                .subscribe(&channel)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(pubsub)
        };
        let pubsub = tokio::select! {
            r = attempt => r,
            _ = stop.changed() => return,
        };
        match pubsub {
            Ok(pubsub) => {
                readiness.clear("events");
                delay = Duration::from_millis(100);
                if connected_before {
                    // Events published while we were away are gone: clients refetch.
                    bus.emit_here(Arc::new(Event {
                        name: "sessions.changed".into(),
                        payload: json!({"reason": "resync"}).to_string().into_boxed_str(),
                    }));
                }
                connected_before = true;
                let mut messages = pubsub.into_on_message();
                loop {
                    tokio::select! {
                        m = messages.next() => match m {
                            Some(m) => deliver(&bus, &origin, m.get_payload_bytes()),
                            None => break,
                        },
                        _ = stop.changed() => return,
                    }
                }
                readiness.fail(
                    "events",
                    format!("redis {}: subscription lost, reconnecting", link.url()),
                );
            }
            Err(e) => readiness.fail("events", format!("redis {}: {e}", link.url())),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return,
        }
        delay = (delay * 2).min(Duration::from_secs(2));
    }
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
    bus.emit_here(Arc::new(Event {
        name,
        payload: payload.to_string().into_boxed_str(),
    }));
}

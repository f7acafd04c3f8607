//! Events to clients. Every event goes to this node's connections at once and,
//! with Redis sessions, to the other nodes through Redis pub/sub, so a client on
//! any node sees chats driven through another.

pub mod redis;

use serde_json::Value;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};

/// One event, serialised once for every connection that sends it.
#[derive(Debug)]
pub struct Event {
    pub name: String,
    /// The payload as JSON text.
    pub payload: Box<str>,
    /// Whether a client that has fallen behind may miss it: progress that a
    /// later event supersedes (`chat` deltas, `agent` stream events) and
    /// periodic facts (`tick`, `presence`, `health`), as the reference
    /// gateway's `dropIfSlow`. Final answers and `sessions.changed` are never
    /// dropped: a client that cannot take them is closed instead.
    pub droppable: bool,
}

impl Event {
    /// An event with its payload.
    pub fn new(name: &str, payload: &Value) -> Arc<Event> {
        Arc::new(Event {
            name: name.to_string(),
            payload: payload.to_string().into_boxed_str(),
            droppable: droppable(name, payload),
        })
    }
}

/// See [`Event::droppable`].
pub fn droppable(name: &str, payload: &Value) -> bool {
    match name {
        "tick" | "presence" | "health" | "agent" => true,
        "chat" => payload.get("state").and_then(Value::as_str) == Some("delta"),
        _ => false,
    }
}

/// How many events a connection may fall behind before it is dropped as too slow.
const BACKLOG: usize = 4096;

/// Fans events out to this node's connections and, if set, to other nodes.
pub struct Bus {
    local: broadcast::Sender<Arc<Event>>,
    remote: Option<mpsc::UnboundedSender<Arc<Event>>>,
}

impl Bus {
    /// A bus for this node only.
    pub fn local() -> Self {
        Bus {
            local: broadcast::channel(BACKLOG).0,
            remote: None,
        }
    }

    /// A bus that also hands each event to `remote` for other nodes.
    pub fn with_remote(remote: mpsc::UnboundedSender<Arc<Event>>) -> Self {
        Bus {
            local: broadcast::channel(BACKLOG).0,
            remote: Some(remote),
        }
    }

    /// Sends an event to every connection on every node.
    pub fn emit(&self, name: &str, payload: &Value) {
        let event = Event::new(name, payload);
        if let Some(remote) = &self.remote {
            let _ = remote.send(event.clone());
        }
        let _ = self.local.send(event);
    }

    /// Sends an event to this node's connections only: facts about this node
    /// (`presence`, `health`) and events that came from other nodes.
    pub fn emit_here(&self, name: &str, payload: &Value) {
        self.forward(Event::new(name, payload));
    }

    /// Hands an already-serialised event to this node's connections.
    pub fn forward(&self, event: Arc<Event>) {
        let _ = self.local.send(event);
    }

    /// A receiver for a new connection.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.local.subscribe()
    }
}

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
        let event = Arc::new(Event {
            name: name.to_string(),
            payload: payload.to_string().into_boxed_str(),
        });
        if let Some(remote) = &self.remote {
            let _ = remote.send(event.clone());
        }
        let _ = self.local.send(event);
    }

    /// Sends an event to this node's connections only (events from other nodes,
    /// and per-node facts like `tick` and `shutdown`).
    pub fn emit_here(&self, event: Arc<Event>) {
        let _ = self.local.send(event);
    }

    /// A receiver for a new connection.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.local.subscribe()
    }
}

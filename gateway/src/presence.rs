//! Presence: this node and the clients connected to it, as `system-presence`
//! lists them and `presence` events announce them.

use crate::clock::now_ms;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;
use tokio::sync::Notify;

/// At most this many entries are listed, the newest first (the reference
/// gateway's cap): a `presence` event goes to every client, so its size must
/// not grow with the number of clients.
pub const MAX_ENTRIES: usize = 200;

/// Who is here.
pub struct Presence {
    own: Value,
    clients: Mutex<BTreeMap<String, Value>>,
    /// Signalled at every join and leave; see [`announce`].
    changed: Notify,
}

impl Presence {
    /// The node's own entry (`mode: gateway`, `reason: self`).
    pub fn new(host: &str, ip: &str, version: &str, instance_id: &str, node: &str) -> Self {
        Presence {
            own: json!({
                "host": host, "ip": ip, "version": version, "platform": std::env::consts::OS,
                "mode": "gateway", "reason": "self", "instanceId": instance_id, "node": node,
                "text": format!("Gateway: {host} ({ip}) · app {version} · mode gateway · node {node}"),
            }),
            clients: Mutex::new(BTreeMap::new()),
            changed: Notify::new(),
        }
    }

    /// Whether a client appears in presence. As in the official gateway,
    /// ephemeral control-plane connections (`cli`, `backend` and `probe`
    /// modes: one `openclaw gateway call`, a health probe) do not: listing
    /// them would announce a presence change to every client for each call.
    pub fn tracks(client: &Value) -> bool {
        let mode = client
            .get("mode")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_lowercase();
        !matches!(mode.as_str(), "cli" | "backend" | "probe")
    }

    /// Records a connected client from its `connect.client` block, with its
    /// address unless it is on this machine (as officially) and the user a
    /// trusted proxy named.
    pub fn join(&self, conn_id: &str, client: &Value, ip: Option<IpAddr>, user: Option<&str>) {
        let s = |k: &str| {
            client
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let mut entry = json!({
            "host": s("displayName").chars().take(64).collect::<String>(),
            "version": s("version"), "platform": s("platform"),
            "deviceFamily": s("deviceFamily"), "mode": s("mode"), "reason": "connect",
            "instanceId": s("instanceId"), "clientId": s("id"), "connId": conn_id, "ts": now_ms(),
        });
        if let Some(ip) = ip {
            entry["ip"] = json!(ip.to_string());
        }
        if let Some(user) = user {
            entry["user"] = json!({"email": user, "name": user});
        }
        self.lock().insert(conn_id.to_string(), entry);
        self.changed.notify_one();
    }

    /// Forgets a client; whether it was known.
    pub fn leave(&self, conn_id: &str) -> bool {
        let known = self.lock().remove(conn_id).is_some();
        self.changed.notify_one();
        known
    }

    /// The node first, then its newest clients, [`MAX_ENTRIES`] in all.
    pub fn list(&self) -> Vec<Value> {
        let mut own = self.own.clone();
        own["ts"] = json!(now_ms());
        let mut clients: Vec<Value> = self.lock().values().cloned().collect();
        clients.sort_by_key(|c| std::cmp::Reverse(c["ts"].as_u64().unwrap_or(0)));
        clients.truncate(MAX_ENTRIES - 1);
        std::iter::once(own).chain(clients).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Value>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How long joins and leaves are gathered into one `presence` event: a burst
/// of connections makes a few events, not one per connection to every client.
const COALESCE: std::time::Duration = std::time::Duration::from_millis(500);

/// Announces presence changes to this node's clients until the node stops.
pub async fn announce(node: std::sync::Arc<crate::node::Node>) {
    let mut stop = node.stopping.subscribe();
    loop {
        tokio::select! {
            _ = node.presence.changed.notified() => {}
            _ = stop.changed() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(COALESCE) => {}
            _ = stop.changed() => return,
        }
        node.bus
            .emit_here("presence", &json!({"presence": node.presence.list()}));
    }
}

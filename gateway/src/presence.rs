//! Presence: this node and the clients connected to it, as `system-presence`
//! lists them and `presence` events announce them.

use crate::clock::now_ms;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Who is here.
pub struct Presence {
    own: Value,
    clients: Mutex<BTreeMap<String, Value>>,
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
        }
    }

    /// Records a connected client from its `connect.client` block.
    pub fn join(&self, conn_id: &str, client: &Value, ip: &str) {
        let s = |k: &str| {
            client
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let entry = json!({
            "host": s("displayName").chars().take(64).collect::<String>(),
            "ip": ip, "version": s("version"), "platform": s("platform"),
            "deviceFamily": s("deviceFamily"), "mode": s("mode"), "reason": "connect",
            "instanceId": s("instanceId"), "clientId": s("id"), "connId": conn_id, "ts": now_ms(),
        });
        self.lock().insert(conn_id.to_string(), entry);
    }

    /// Forgets a client; whether it was known.
    pub fn leave(&self, conn_id: &str) -> bool {
        self.lock().remove(conn_id).is_some()
    }

    /// Every entry, the node first.
    pub fn list(&self) -> Vec<Value> {
        let mut own = self.own.clone();
        own["ts"] = json!(now_ms());
        std::iter::once(own)
            .chain(self.lock().values().cloned())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Value>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }
}

//! The method table: what each method needs (scope) and where it is answered.

mod agents;
mod catalog;
mod chat;
mod params;
mod pending;
mod sessions;
mod status;
mod system;
mod target;

use crate::node::Node;
use crate::protocol::frames::ErrorShape;
use crate::protocol::handshake::{allows, Client, Scope};
use serde_json::Value;
use std::sync::Arc;

/// Every method this node answers and the scope it needs, as `hello-ok` lists them.
pub const METHODS: &[(&str, Scope)] = &[
    ("health", Scope::Read),
    ("status", Scope::Read),
    ("system-presence", Scope::Read),
    ("sessions.list", Scope::Read),
    ("sessions.describe", Scope::Read),
    ("sessions.subscribe", Scope::Read),
    ("sessions.reset", Scope::Admin),
    ("sessions.delete", Scope::Admin),
    ("chat.send", Scope::Write),
    ("chat.history", Scope::Read),
    ("chat.startup", Scope::Read),
    ("agents.list", Scope::Read),
    ("commands.list", Scope::Read),
    ("models.list", Scope::Read),
    ("question.list", Scope::Questions),
    ("plugin.approval.list", Scope::Approvals),
];

/// Every event this node emits.
pub const EVENTS: &[&str] = &[
    "connect.challenge",
    "tick",
    "chat",
    "agent",
    "sessions.changed",
    "presence",
    "health",
    "shutdown",
];

/// The method names, for `hello-ok`.
pub fn names() -> Vec<&'static str> {
    METHODS.iter().map(|(m, _)| *m).collect()
}

/// The label a method is counted under: unknown names share one label so a
/// client cannot grow the metric without bound.
pub fn metric_label(method: &str) -> &str {
    METHODS
        .iter()
        .find(|(m, _)| *m == method)
        .map(|(m, _)| *m)
        .unwrap_or("unknown")
}

/// Answers one request from a connected client.
pub async fn call(
    node: &Arc<Node>,
    client: &Client,
    method: &str,
    params: Value,
) -> Result<Value, ErrorShape> {
    let Some((_, scope)) = METHODS.iter().find(|(m, _)| *m == method) else {
        return Err(ErrorShape::invalid(format!("unknown method: {method}")));
    };
    if !allows(client, *scope) {
        return Err(ErrorShape::missing_scope(scope.name()));
    }
    match method {
        "health" => system::health(node, &params).await,
        "status" => system::status(node, &params).await,
        "system-presence" => system::presence(node, &params),
        "sessions.list" => sessions::list(node, &params).await,
        "sessions.describe" => sessions::describe(node, &params).await,
        "sessions.subscribe" => sessions::subscribe(node, &params).await,
        "sessions.reset" => sessions::reset(node, &params).await,
        "sessions.delete" => sessions::delete(node, &params).await,
        "chat.send" => chat::send(node, client, &params).await,
        "chat.history" => chat::history(node, &params).await,
        "chat.startup" => chat::startup(node, &params).await,
        "agents.list" => agents::list(node, &params),
        "commands.list" => catalog::commands(node, &params).await,
        "models.list" => catalog::models(node, &params),
        "question.list" => pending::questions(&params),
        "plugin.approval.list" => pending::plugin_approvals(&params),
        _ => unreachable!("every method in METHODS has an arm"),
    }
}

/// The node's health, for the `health` method, `hello-ok` and `health` events.
pub async fn health_payload(node: &Node) -> Value {
    system::health_snapshot(node).await
}

//! `/health` (live), `/ready` (ready or 503 with the reasons) and `/metrics`.

use crate::node::Node;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Liveness: the process answers.
pub async fn live() -> impl IntoResponse {
    Json(json!({"ok": true, "status": "live"}))
}

/// Readiness: 200 when the node should take traffic, else 503 with why.
pub async fn ready(State(node): State<Arc<Node>>) -> impl IntoResponse {
    match node.readiness.check() {
        Ok(()) => (StatusCode::OK, Json(json!({"ready": true}))),
        Err(reasons) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": reasons.join("; "), "reasons": reasons})),
        ),
    }
}

/// Prometheus text; the session count is read from the store at scrape time.
pub async fn metrics(State(node): State<Arc<Node>>) -> impl IntoResponse {
    // Leadership ends at a deadline, not at an event: read it now.
    node.metrics
        .leader
        .set(node.ha.leadership.is_leader() as i64);
    if let Ok(Ok(n)) = tokio::time::timeout(
        Duration::from_millis(250),
        node.timed("count", node.store.count()),
    )
    .await
    {
        node.metrics.sessions.set(n as i64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        node.metrics.render(),
    )
}

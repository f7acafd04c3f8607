//! The gateway port: HTTP probes and metrics, and the WebSocket protocol on `/`.

mod ingress;
mod probes;
mod ws;

use crate::node::Node;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a stopping node waits for agent runs to finish.
const RUN_GRACE: Duration = Duration::from_secs(10);
/// How long a stopping leader may take to release its lease.
const RESIGN_GRACE: Duration = Duration::from_secs(2);
/// How long a stopping node of a Redis cluster keeps serving after it said
/// so: edges following the cluster (`leader:` upstreams) stop sending it new
/// connections on the `stopping` message within milliseconds, and within
/// their periodic read (1 s by default) if a message was lost.
const EDGE_GRACE: Duration = Duration::from_millis(1200);
/// How long a stopping node waits for its connections to take the `shutdown` event.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// Every route on the gateway port. All but the liveness probes (which
/// must answer whatever a balancer sends) first attribute the request.
pub fn router(node: Arc<Node>) -> Router {
    let attributed = Router::new()
        .route("/", get(ws::upgrade))
        .route("/ready", get(probes::ready))
        .route("/readyz", get(probes::ready))
        .route("/metrics", get(probes::metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            node.clone(),
            ingress::attribute,
        ));
    Router::new()
        .route("/health", get(probes::live))
        .route("/healthz", get(probes::live))
        .merge(attributed)
        .with_state(node)
}

/// Serves until `stop` resolves, then stops gracefully: not ready, out of
/// the cluster (lease released, `stopped` said, edges given time to look
/// elsewhere) while still serving, then `shutdown` to every client, no new
/// connections, agent runs finished (bounded).
pub async fn serve(
    node: Arc<Node>,
    listener: std::net::TcpListener,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    // TCP_NODELAY: a response and the events after it are small writes in a
    // row; Nagle would hold each behind the client's delayed ACK (40 ms).
    let listener =
        axum::serve::ListenerExt::tap_io(tokio::net::TcpListener::from_std(listener)?, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
    let app = router(node.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let draining = node.clone();
    let signal = async move {
        stop.await;
        tracing::info!("stopping: draining connections");
        draining.readiness.drain();
        // A leader releases its lease before anything else, so a follower
        // takes over while this node still serves; a client that reaches
        // it meanwhile is served, not refused.
        let _ = draining.ha.leaving.send(true);
        draining.ha.resigned(RESIGN_GRACE).await;
        if draining.ha.followed_by_edges() {
            tokio::time::sleep(EDGE_GRACE).await;
        }
        let _ = draining.stopping.send(true);
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(signal)
        .await?;
    let deadline = Instant::now() + CLOSE_GRACE;
    while node.metrics.connections.get() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !node.runs_finished(RUN_GRACE).await {
        tracing::warn!(
            active = node.metrics.runs_active.get(),
            "stopping with agent runs unfinished"
        );
    }
    tracing::info!("stopped");
    Ok(())
}

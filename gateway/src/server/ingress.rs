//! Every route but the liveness probes first decides who the request comes
//! from ([`crate::ingress`]); proxy traffic it cannot attribute gets the
//! official 403 before anything else (for `/`, before the WebSocket upgrade,
//! so no frame is ever sent). The attribution rides on the request for the
//! handlers.

use crate::ingress::Attribution;
use crate::node::Node;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The one log line per process about unattributable traffic (as the
/// official gateway logs it once): a misconfigured proxy sends it on every
/// request.
static REPORTED: AtomicBool = AtomicBool::new(false);

/// The middleware: attributes the request or refuses it.
pub async fn attribute(
    State(node): State<Arc<Node>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let attribution = node.settings.ingress.classify(peer.ip(), request.headers());
    node.metrics
        .ingress
        .with_label_values(&[attribution.kind()])
        .inc();
    if let Attribution::Unattributable { peer } = attribution {
        if !REPORTED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                %peer,
                "observed unattributable proxy-shaped traffic; it is refused (403 proxy_attribution_required). {}",
                crate::ingress::GUIDANCE
            );
        }
        let upgrade = request.headers().contains_key(header::UPGRADE);
        return refused(upgrade);
    }
    request.extensions_mut().insert(attribution);
    next.run(request).await
}

/// The official 403: for an upgrade a bare response that closes the
/// connection, for plain HTTP the JSON with the default security headers.
fn refused(upgrade: bool) -> Response {
    let mut response = (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        crate::ingress::refused_body(),
    )
        .into_response();
    let headers = response.headers_mut();
    if upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    } else {
        for (name, value) in [
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            (
                "permissions-policy",
                "camera=(), microphone=(self), geolocation=()",
            ),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}

//! The admin HTTP app (Pingora `ServeHttp`), on its own listener and thread.

use super::metrics::metrics;
use super::status::{html, snapshot};
use crate::runtime::Runtime;
use arc_swap::ArcSwap;
use async_trait::async_trait;
use http::Response;
use pingora_core::apps::http_app::ServeHttp;
use pingora_core::protocols::http::ServerSession;
use prometheus::{Encoder, TextEncoder};
use std::sync::Arc;

/// Serves `/metrics`, `/status`, `/api/status`.
pub struct AdminApp {
    /// The live tables.
    pub runtime: Arc<ArcSwap<Runtime>>,
    /// Required as `Authorization: Bearer TOKEN` when set.
    pub token: Option<String>,
}

fn reply(status: u16, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::CONTENT_LENGTH, body.len())
        .body(body)
        .expect("valid response")
}

impl AdminApp {
    fn authorized(&self, session: &ServerSession) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let given = session
            .req_header()
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Compare in constant time: the token guards drain/disable.
        given.len() == token.len()
            && given
                .bytes()
                .zip(token.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    fn render_metrics(&self) -> Vec<u8> {
        let m = metrics();
        let rt = self.runtime.load();
        // Servers removed by a reload must not linger with their last value.
        m.server_up.reset();
        m.inflight.reset();
        for u in snapshot(&rt) {
            for s in u.servers {
                m.server_up
                    .with_label_values(&[&u.name, &s.server])
                    .set((s.state == "up") as i64);
                m.inflight
                    .with_label_values(&[&u.name, &s.server])
                    .set(s.inflight as i64);
            }
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&m.gather(), &mut out)
            .expect("text encoding cannot fail");
        out
    }
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        if !self.authorized(session) {
            return reply(
                401,
                "text/plain",
                b"401 Unauthorized: send Authorization: Bearer <admin.token>\n".to_vec(),
            );
        }
        match session.req_header().uri.path() {
            "/metrics" => reply(200, "text/plain; version=0.0.4", self.render_metrics()),
            "/api/status" => {
                let body = serde_json::to_vec_pretty(
                    &serde_json::json!({ "upstreams": snapshot(&self.runtime.load()) }),
                )
                .expect("serializable");
                reply(200, "application/json", body)
            }
            "/status" | "/" => reply(
                200,
                "text/html; charset=utf-8",
                html(&snapshot(&self.runtime.load())).into_bytes(),
            ),
            _ => reply(
                404,
                "text/plain",
                b"404 Not Found: try /status, /api/status or /metrics\n".to_vec(),
            ),
        }
    }
}

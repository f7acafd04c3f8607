//! The admin HTTP app (Pingora `ServeHttp`), on its own listener and thread:
//! routing, the token, and turning answers into responses.

use super::api::{self, ApiError, ApiRequest};
use super::metrics::metrics;
use super::status::{snapshot, status};
use crate::runtime::Runtime;
use arc_swap::ArcSwap;
use async_trait::async_trait;
use base64::Engine;
use http::Response;
use pingora_core::apps::http_app::ServeHttp;
use pingora_core::protocols::http::ServerSession;
use prometheus::{Encoder, TextEncoder};
use std::sync::Arc;

/// The largest request body the admin listener reads (a PATCH is a few bytes).
const MAX_BODY: usize = 64 * 1024;

/// What a browser shows when it asks for the token (HTTP Basic: the page's
/// own requests to the JSON API then carry it too).
const CHALLENGE: &str =
    "Basic realm=\"openclaw-edge admin: any user name, the admin token as password\"";

/// Serves `/metrics`, `/status`, `/api/status` and the runtime API
/// (`/api/upstreams...`).
pub struct AdminApp {
    /// The live tables.
    pub runtime: Arc<ArcSwap<Runtime>>,
    /// Required on every request when set, as `Authorization: Bearer TOKEN`
    /// or HTTP Basic with the token as password. The config refuses an
    /// admin listener off loopback without one.
    pub token: Option<String>,
    /// When the edge started (Unix ms), for the uptime.
    pub started_unix_ms: u64,
}

fn reply(status: u16, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::CONTENT_LENGTH, body.len())
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(body)
        .expect("valid response")
}

fn json_reply(status: u16, value: &serde_json::Value) -> Response<Vec<u8>> {
    let mut body = serde_json::to_vec_pretty(value).expect("serializable");
    body.push(b'\n');
    reply(status, "application/json", body)
}

fn error_reply(e: &ApiError) -> Response<Vec<u8>> {
    let mut r = json_reply(e.status, &e.body());
    if let Some(allow) = e.allow {
        r.headers_mut()
            .insert(http::header::ALLOW, http::HeaderValue::from_static(allow));
    }
    r
}

/// Whether `given` equals `token`, in time that does not depend on where
/// they differ (the token guards drain and down).
fn same(given: &[u8], token: &str) -> bool {
    given.len() == token.len()
        && given
            .iter()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
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
            .unwrap_or("");
        if let Some(bearer) = given.strip_prefix("Bearer ") {
            return same(bearer.as_bytes(), token);
        }
        let Some(encoded) = given.strip_prefix("Basic ") else {
            return false;
        };
        let Ok(pair) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        // `user:password`; the user name is not checked.
        pair.iter()
            .position(|c| *c == b':')
            .is_some_and(|colon| same(&pair[colon + 1..], token))
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

    /// The request body, up to [`MAX_BODY`].
    async fn body(session: &mut ServerSession) -> Result<Vec<u8>, ApiError> {
        let mut body = Vec::new();
        loop {
            match session.read_request_body().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => return Ok(body),
                Err(e) => {
                    return Err(ApiError::new(
                        400,
                        "BodyReadError",
                        format!("cannot read the body: {e}"),
                    ))
                }
            }
            if body.len() > MAX_BODY {
                return Err(ApiError::new(
                    413,
                    "BodyTooLarge",
                    format!("the body is over {MAX_BODY} bytes"),
                ));
            }
        }
    }
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let path = session.req_header().uri.path().to_string();
        if !self.authorized(session) {
            let mut r = if path.starts_with("/api/") {
                error_reply(&ApiError::new(
                    401,
                    "Unauthorized",
                    "send Authorization: Bearer <admin.token>",
                ))
            } else {
                reply(
                    401,
                    "text/plain",
                    b"401 Unauthorized: send Authorization: Bearer <admin.token>\n".to_vec(),
                )
            };
            r.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static(CHALLENGE),
            );
            return r;
        }
        let method = session.req_header().method.clone();
        match path.as_str() {
            "/metrics" => reply(200, "text/plain; version=0.0.4", self.render_metrics()),
            "/api/status" => json_reply(
                200,
                &serde_json::to_value(status(&self.runtime.load(), self.started_unix_ms))
                    .expect("serializable"),
            ),
            "/status" | "/" => reply(
                200,
                "text/html; charset=utf-8",
                super::page::PAGE.as_bytes().to_vec(),
            ),
            p if p == "/api/upstreams" || p.starts_with("/api/upstreams/") => {
                let body = if method == http::Method::PATCH {
                    match Self::body(session).await {
                        Ok(b) => b,
                        Err(e) => return error_reply(&e),
                    }
                } else {
                    Vec::new()
                };
                let req = ApiRequest {
                    method: &method,
                    rest: &p["/api/upstreams".len()..],
                    body: &body,
                };
                let answer = {
                    // Not while a reload swaps the tables (see `state_lock`).
                    let _held = crate::runtime::state_lock();
                    api::handle(&self.runtime.load(), &req)
                };
                match answer {
                    Ok(v) => json_reply(200, &v),
                    Err(e) => error_reply(&e),
                }
            }
            p if p.starts_with("/api/") => error_reply(&ApiError::new(
                404,
                "PathNotFound",
                "no such path: try /api/status or /api/upstreams",
            )),
            _ => reply(
                404,
                "text/plain",
                b"404 Not Found: try /status, /api/status, /api/upstreams or /metrics\n".to_vec(),
            ),
        }
    }
}

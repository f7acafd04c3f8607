//! The edge's runtime API (`/api/upstreams`, NGINX Plus style) and its
//! shell client `openclaw-edge ctl`, as tests drive them: PATCH a server,
//! read one back, run `ctl` to its end.

use crate::client::{Request, Response};
use crate::edge::binary;
use serde_json::Value;
use std::net::SocketAddr;
use std::process::Output;
use std::time::Duration;

/// `PATCH /api/upstreams/UPSTREAM/servers/SERVER` with `body` (and the
/// token as a Bearer, if given); the answer, whatever its status.
pub async fn patch(
    admin: SocketAddr,
    upstream: &str,
    server: &str,
    body: &str,
    token: Option<&str>,
) -> Response {
    let path = format!("/api/upstreams/{upstream}/servers/{server}");
    let mut req = Request::get(admin, &path)
        .method("PATCH")
        .header("Content-Type", "application/json");
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    req.body(body.as_bytes())
        .send()
        .await
        .unwrap_or_else(|e| panic!("PATCH {path}: {e}"))
}

/// [`patch`] without a token, which must answer 200; the server after it.
pub async fn patch_ok(admin: SocketAddr, upstream: &str, server: &str, body: &str) -> Value {
    let r = patch(admin, upstream, server, body, None).await;
    assert_eq!(
        r.status,
        200,
        "PATCH {upstream}/{server} {body}: {}",
        r.text()
    );
    r.json()
}

/// `GET /api/upstreams/UPSTREAM/servers/SERVER`, which must answer 200.
pub async fn server(admin: SocketAddr, upstream: &str, server: &str) -> Value {
    let path = format!("/api/upstreams/{upstream}/servers/{server}");
    let r = Request::get(admin, &path)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json()
}

/// The `{"error": {...}}` of an answer, after checking its status and code.
pub fn expect_error(r: &Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status, status, "expected {status} {code}: {}", r.text());
    let body = r.json();
    let e = &body["error"];
    assert_eq!(e["status"], status, "{body}");
    assert_eq!(e["code"], code, "{body}");
    assert!(e["text"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
    body
}

/// Runs `openclaw-edge ctl ARGS` to its end (bounded) with `env` set and
/// `OPENCLAW_EDGE_ADMIN_TOKEN` cleared unless `env` sets it.
pub async fn ctl(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(binary());
    cmd.arg("ctl")
        .args(args)
        .env_remove("OPENCLAW_EDGE_ADMIN_TOKEN")
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::time::timeout(Duration::from_secs(20), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("openclaw-edge ctl {args:?} did not exit within 20s"))
        .unwrap_or_else(|e| panic!("cannot run openclaw-edge ctl {args:?}: {e}"))
}

/// Stdout and stderr of `out`, labelled, for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "status {}\n--- stdout ---\n{}--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

//! One access-log line per request: nginx's `combined` format followed by the
//! upstream address, upstream status and times (`upstream_addr=...`), or the
//! same fields as one JSON object per line with `--log-format json`.
//!
//! Lines are tracing events with target `access`; [`crate::logging`] sends
//! that target to the configured access-log destination without blocking the
//! request path.

use crate::http1::RequestHead;
use crate::proxy::RequestCtx;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

static ON: AtomicBool = AtomicBool::new(false);
static JSON: AtomicBool = AtomicBool::new(false);

/// Turns access logging on or off, in JSON lines or the combined format.
/// Checked first on every request, so `access_log: off` costs nothing.
pub fn configure(on: bool, json: bool) {
    ON.store(on, Ordering::Relaxed);
    JSON.store(json, Ordering::Relaxed);
}

fn header<'a>(req: &'a RequestHead, name: &str) -> &'a str {
    req.fields.get_str(name).unwrap_or("-")
}

/// Logs the request `req` from `client` that just ended with `status`.
pub fn log(req: &RequestHead, client: Option<SocketAddr>, ctx: &RequestCtx, status: u16) {
    if !ON.load(Ordering::Relaxed) {
        return;
    }
    let remote = client
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "-".into());
    let upstream_addr = match (ctx.lease.as_ref(), ctx.last_pick, ctx.route.as_deref()) {
        (Some(l), _, _) => l.server().addr.to_string(),
        (None, Some(p), Some(r)) => match &r.action {
            crate::runtime::Action::Proxy { upstream, .. } => upstream.server(p).addr.to_string(),
            _ => "-".into(),
        },
        _ => "-".into(),
    };
    let upstream_status = ctx
        .upstream_status
        .map(|s| s.to_string())
        .unwrap_or_else(|| "-".into());
    let request_time = ctx.start.elapsed().as_secs_f64();
    let upstream_time = ctx
        .try_start
        .map(|t| format!("{:.3}", t.elapsed().as_secs_f64()))
        .unwrap_or_else(|| "-".into());
    let uri = req.target();
    let bytes = ctx.body_sent;
    if JSON.load(Ordering::Relaxed) {
        tracing::info!(
            target: "access",
            remote_addr = %remote,
            method = req.method(),
            uri,
            protocol = req.version(),
            status,
            body_bytes_sent = bytes,
            referer = header(req, "referer"),
            user_agent = header(req, "user-agent"),
            upstream_addr = %upstream_addr,
            upstream_status = %upstream_status,
            request_time = format_args!("{request_time:.3}"),
            upstream_response_time = %upstream_time,
        );
    } else {
        let mut line = String::with_capacity(256);
        let now = chrono::Local::now().format("%d/%b/%Y:%H:%M:%S %z");
        let _ = write!(
            line,
            "{remote} - - [{now}] \"{} {uri} {}\" {status} {bytes} \"{}\" \"{}\" upstream_addr={upstream_addr} \
             upstream_status={upstream_status} request_time={request_time:.3} upstream_response_time={upstream_time}",
            req.method(),
            req.version(),
            header(req, "referer"),
            header(req, "user-agent"),
        );
        tracing::info!(target: "access", "{line}");
    }
}

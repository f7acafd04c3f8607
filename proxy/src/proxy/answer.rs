//! The edge's own answers: nginx's status codes, with short bodies that
//! say what went wrong and where, so an operator reading one knows where
//! to look.

use super::ctx::TryFailure;
use crate::http1::RequestHead;
use std::net::SocketAddr;

/// Body of a 404.
pub const NOT_FOUND: &[u8] = b"404 Not Found\n";

/// nginx's `auto_redirect` target: `SCHEME://HOST[:PORT]PATH/[?ARGS]`, the
/// port being the listener's unless it is the scheme's own (80, 443).
pub fn add_slash_location(
    head: &RequestHead,
    host: &str,
    path: &str,
    local: Option<SocketAddr>,
    https: bool,
) -> String {
    let (scheme, default_port) = if https { ("https", 443) } else { ("http", 80) };
    let port = local
        .map(|a| a.port())
        .filter(|p| *p != default_port)
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let query = head.query().map(|q| format!("?{q}")).unwrap_or_default();
    format!("{scheme}://{host}{port}{path}/{query}")
}

/// Status and body after the last try at `upstream` failed (`failure`:
/// its kind and what happened), or when no server could be tried at all.
pub fn upstream_failed(
    upstream: &str,
    server: &str,
    failure: Option<(TryFailure, &str)>,
) -> (u16, String) {
    match failure {
        None => (
            502,
            format!("502 Bad Gateway: no live server in upstream \"{upstream}\"\n"),
        ),
        Some((TryFailure::Timeout, what)) => (
            504,
            format!(
                "504 Gateway Timeout: upstream \"{upstream}\" (last server {server}): {what}\n"
            ),
        ),
        Some((TryFailure::Error | TryFailure::Invalid, what)) => (
            502,
            format!("502 Bad Gateway: upstream \"{upstream}\" (last server {server}): {what}\n"),
        ),
    }
}

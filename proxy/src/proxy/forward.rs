//! The request head sent upstream: nginx's rules for the request line
//! (`proxy_pass` URI replacement, `proxy_http_version`) and headers (the
//! location's `proxy_set_header`s first, then the client's fields that
//! none of them names). The body's framing is the edge's own: exactly one
//! `Content-Length` or `Transfer-Encoding: chunked`, never the client's.

use super::vars::RequestView;
use crate::routing::uri;
use crate::runtime::{Route, Upstream};

/// How the body sent upstream is framed (the edge re-frames every body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding: chunked`, chunks written by the edge.
    Chunked,
}

/// Client fields never copied upstream: the framing (the edge writes its
/// own) and `Expect` (the edge answers `100-continue` itself, as nginx).
fn framing_field(name: &str) -> bool {
    ["content-length", "transfer-encoding", "expect"]
        .iter()
        .any(|f| name.eq_ignore_ascii_case(f))
}

/// Appends the upstream request head for the request of `vars` to `out`.
/// `normalized` is the normalized path when it differs from the one sent.
pub fn write_head(
    out: &mut Vec<u8>,
    vars: &RequestView,
    route: &Route,
    upstream: &Upstream,
    uri_part: Option<&str>,
    normalized: Option<&str>,
    body: BodyFraming,
) {
    let head = vars.head;
    out.extend_from_slice(head.method().as_bytes());
    out.push(b' ');
    match (uri_part, &route.prefix) {
        (Some(uri_part), Some(prefix)) => {
            // nginx swaps the prefix inside the normalized path, escapes the
            // result, and appends the arguments when there are any.
            let path = normalized.unwrap_or(head.path());
            out.extend_from_slice(uri_part.as_bytes());
            out.extend_from_slice(uri::escape(path.get(prefix.len()..).unwrap_or("")).as_bytes());
            if let Some(q) = head.query().filter(|q| !q.is_empty()) {
                out.push(b'?');
                out.extend_from_slice(q.as_bytes());
            }
        }
        _ => out.extend_from_slice(head.path_and_query().as_bytes()),
    }
    out.extend_from_slice(if route.http10 {
        b" HTTP/1.0\r\n"
    } else {
        b" HTTP/1.1\r\n"
    });

    let mut value = String::new();
    let mut connection_set = false;
    for (name, template) in &route.headers {
        value.clear();
        template.expand_into(vars, &mut value);
        if !value.is_empty() && !framing_field(name.as_str()) {
            connection_set |= name == http::header::CONNECTION;
            field(out, name.as_str(), value.as_bytes());
        }
    }
    for (name, value) in head.fields.iter() {
        let named = route
            .headers
            .iter()
            .any(|(n, _)| n.as_str().eq_ignore_ascii_case(name));
        if !(named || framing_field(name)) {
            field(out, name, value);
        }
    }
    match body {
        BodyFraming::None => {}
        BodyFraming::Length(n) => field(out, "content-length", n.to_string().as_bytes()),
        BodyFraming::Chunked => field(out, "transfer-encoding", b"chunked"),
    }
    // Without keep-alive, ask the server to close, unless the location set
    // Connection itself (nginx sends what the config says).
    if upstream.keepalive == 0 && !head.is_upgrade() && !connection_set {
        field(out, "connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `name: value`.
pub fn field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

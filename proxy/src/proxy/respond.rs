//! What goes back to the client: the upstream's response relayed (head
//! rewritten for this connection, body streamed as it arrives), or an
//! answer the edge gives itself.

use super::downstream::Downstream;
use super::forward::field;
use super::upstream::UpConn;
use crate::http1::chunked::{write_chunk, LAST_CHUNK};
use crate::http1::{BodyMeter, Framing, ResponseHead};
use bytes::Buf;
use std::time::Duration;

/// Hop-by-hop fields the edge sets itself for the client's connection.
fn hop_by_hop(name: &str) -> bool {
    ["connection", "keep-alive", "proxy-connection"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// The status line.
fn status_line(out: &mut Vec<u8>, status: u16, reason: &str) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.to_string().as_bytes());
    out.push(b' ');
    let reason = match reason {
        "" => http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or(""),
        r => r,
    };
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `Connection` for the client: `close`, or `keep-alive` for an HTTP/1.0
/// client that keeps it (HTTP/1.1 keeps by default).
fn connection(out: &mut Vec<u8>, keep: bool, client_minor: u8) {
    if !keep {
        field(out, "connection", b"close");
    } else if client_minor == 0 {
        field(out, "connection", b"keep-alive");
    }
}

/// Appends the head of an upstream response as the client gets it, with
/// the edge's own framing for the body the server framed as `framing`:
/// one `Content-Length`, chunks for an HTTP/1.1 client, or none (a chunked
/// body unwrapped for an HTTP/1.0 client, ended by close). Bodiless
/// answers (HEAD, 204, 304, 1xx) keep the server's fields as they are.
/// `extra` holds field lines the edge adds (a sticky `Set-Cookie`,
/// `add_header`s).
pub fn write_head(
    out: &mut Vec<u8>,
    resp: &ResponseHead,
    keep: bool,
    client_minor: u8,
    framing: Framing,
    extra: &[u8],
) {
    status_line(out, resp.status, resp.reason());
    let upgrade = resp.status == 101;
    let reframed = framing != Framing::Empty;
    for (name, value) in resp.fields.iter() {
        let skip = (!upgrade && hop_by_hop(name))
            || (reframed
                && (name.eq_ignore_ascii_case("transfer-encoding")
                    || name.eq_ignore_ascii_case("content-length")));
        if !skip {
            field(out, name, value);
        }
    }
    match framing {
        Framing::Length(n) => field(out, "content-length", n.to_string().as_bytes()),
        Framing::Chunked | Framing::UntilClose if client_minor == 1 => {
            field(out, "transfer-encoding", b"chunked")
        }
        _ => {}
    }
    out.extend_from_slice(extra);
    if !upgrade {
        connection(out, keep, client_minor);
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends a whole answer of the edge's own: `text/plain` with `body`, or
/// for a redirect, `Location: body` and no body; `extra` holds field lines
/// to add (`add_header`s).
pub fn write_local(
    out: &mut Vec<u8>,
    status: u16,
    body: &[u8],
    keep: bool,
    client_minor: u8,
    extra: &[u8],
) {
    status_line(out, status, "");
    let redirect = (301..=308).contains(&status);
    if redirect {
        field(out, "location", body);
        field(out, "content-length", b"0");
    } else {
        field(out, "content-type", b"text/plain");
        field(out, "content-length", body.len().to_string().as_bytes());
    }
    out.extend_from_slice(extra);
    connection(out, keep, client_minor);
    out.extend_from_slice(b"\r\n");
    if !redirect {
        out.extend_from_slice(body);
    }
}

/// Where relaying a response body stopped early.
#[derive(Debug)]
pub enum RelayFail {
    /// The client is gone.
    Client,
    /// The server failed mid-body (the client's response is cut short).
    Upstream(String),
}

/// Sends `out` (the response head) followed by the response body read
/// from `up`: the head and the body bytes that came with it in one write,
/// then the rest as it arrives. A chunked or close-delimited body goes to
/// an HTTP/1.1 client in the edge's own chunks (to an HTTP/1.0 client as
/// plain bytes), so the client never sees the server's chunk lines. Counts
/// the body bytes sent in `sent`.
pub async fn relay_body(
    down: &mut Downstream,
    up: &mut UpConn<'_>,
    mut out: Vec<u8>,
    framing: Framing,
    client_minor: u8,
    read_timeout: Duration,
    sent: &mut u64,
) -> Result<(), RelayFail> {
    let mut meter = BodyMeter::new(framing);
    let rechunk = client_minor == 1 && matches!(framing, Framing::Chunked | Framing::UntilClose);
    let mut payload = Vec::new();
    loop {
        let before = out.len();
        let into = if rechunk { &mut payload } else { &mut out };
        let n = meter
            .take(&up.buf, Some(into))
            .map_err(|_| RelayFail::Upstream("invalid chunked response body".into()))?;
        up.buf.advance(n);
        if rechunk {
            write_chunk(&mut out, &payload);
            payload.clear();
            if meter.done() {
                out.extend_from_slice(LAST_CHUNK);
            }
        }
        *sent += (out.len() - before) as u64;
        // Whatever is ready goes out before waiting for more.
        if !out.is_empty() {
            down.write(&out).await.map_err(|_| RelayFail::Client)?;
            out.clear();
        }
        if meter.done() {
            return Ok(());
        }
        match up.read_more(read_timeout).await {
            Ok(0) if meter.close() => {}
            Ok(0) => {
                return Err(RelayFail::Upstream(
                    "server closed the connection mid-body".into(),
                ))
            }
            Ok(_) => {}
            Err(f) => return Err(RelayFail::Upstream(format!("reading the body: {f}"))),
        }
    }
}

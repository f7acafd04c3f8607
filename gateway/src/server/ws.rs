//! One WebSocket connection: challenge, handshake, then requests in order,
//! events with the connection's own `seq`, `tick`s, and `shutdown` before a
//! graceful stop. A writer task owns the socket's sending half; what it has not
//! sent yet is counted against `maxBufferedBytes`.

use crate::ingress::Attribution;
use crate::methods;
use crate::node::Node;
use crate::protocol::frames::{self, ErrorShape, ParseError};
use crate::protocol::handshake::{self, Client};
use crate::protocol::origin::RequestOrigin;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::stream::{SplitStream, StreamExt};
use futures_util::SinkExt;
use prometheus::IntCounter;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};

/// Bytes read from a client socket at a time (frames larger than this are
/// read in several steps).
const READ_BUFFER: usize = 8 * 1024;

/// `GET /`: a WebSocket upgrade, or a line saying what this port is.
pub async fn upgrade(
    State(node): State<Arc<Node>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Extension(attribution): Extension<Attribution>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match ws {
        Ok(ws) => {
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
            let origin =
                RequestOrigin::new(header("origin"), header("host"), attribution.is_local());
            let from = Caller {
                peer,
                attribution,
                headers,
            };
            let max = node.settings.limits.max_payload;
            // Small buffers: most clients are idle most of the time, and the
            // 128 KiB defaults made a thousand idle clients cost 200 MB.
            ws.max_message_size(max)
                .max_frame_size(max)
                .read_buffer_size(READ_BUFFER)
                .write_buffer_size(0)
                .on_upgrade(move |socket| connection(node, socket, from, origin))
        }
        Err(_) => format!(
            "OpenClaw gateway node {}: connect with a WebSocket (protocol {})\n",
            node.settings.node,
            frames::PROTOCOL_VERSION
        )
        .into_response(),
    }
}

/// Where a connection comes from: the socket peer, who it is on behalf of,
/// and the upgrade's headers (a trusted proxy's user header is read at
/// `connect`).
struct Caller {
    peer: SocketAddr,
    attribution: Attribution,
    headers: HeaderMap,
}

enum Out {
    Text(String),
    Close(u16, String),
}

/// The sending side: a queue to the writer task and the bytes still in it.
///
/// A client is *behind* while more than `maxBufferedBytes` is unsent. Then
/// droppable events are skipped, and other frames are still queued as long
/// as the writer keeps finishing frames: one reply larger than the limit is
/// fine for a client that reads. A client that is behind and whose writer has
/// finished nothing for [`STALL`] is a slow consumer and is closed.
struct Outbox {
    tx: mpsc::UnboundedSender<Out>,
    queued: Arc<AtomicUsize>,
    limit: usize,
    /// When the writer last finished (or started) a frame.
    progress: Arc<Progress>,
    /// Set when the client's unread bytes must not reset the connection before
    /// it has read our close (see [`LINGER`]).
    linger: AtomicBool,
}

/// How long an oversized frame's connection stays open after our close frame.
/// The rest of that frame is never read, and closing a socket with unread
/// input sends a TCP reset that can overtake the error and close frames we
/// queued; nginx lingers on close for the same reason.
const LINGER: std::time::Duration = std::time::Duration::from_millis(500);

/// How long a client that is behind may go without taking a frame.
const STALL: std::time::Duration = std::time::Duration::from_secs(2);

/// The writer's last sign of life, as milliseconds since the connection began.
struct Progress {
    start: std::time::Instant,
    last_ms: std::sync::atomic::AtomicU64,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            start: std::time::Instant::now(),
            last_ms: 0.into(),
        }
    }

    fn mark(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::SeqCst);
    }

    fn idle(&self) -> std::time::Duration {
        let ms = self.start.elapsed().as_millis() as u64;
        std::time::Duration::from_millis(ms.saturating_sub(self.last_ms.load(Ordering::SeqCst)))
    }
}

impl Outbox {
    fn behind(&self) -> bool {
        self.queued.load(Ordering::SeqCst) > self.limit
    }

    /// Behind, and nothing taken for [`STALL`]: a slow consumer.
    fn stalled(&self) -> bool {
        self.behind() && self.progress.idle() >= STALL
    }

    /// Queues a frame that must arrive; `false` for a slow consumer.
    fn send(&self, text: String) -> bool {
        if self.stalled() {
            return false;
        }
        self.queued.fetch_add(text.len(), Ordering::SeqCst);
        let _ = self.tx.send(Out::Text(text));
        true
    }

    /// Queues an event, skipping a droppable one while the client is behind;
    /// `false` for a slow consumer.
    fn send_event(&self, text: String, droppable: bool) -> bool {
        if droppable && self.behind() {
            return !self.stalled();
        }
        self.send(text)
    }

    fn close(&self, code: u16, reason: &str) {
        let _ = self
            .tx
            .send(Out::Close(code, handshake::close_reason(reason)));
    }

    fn error(&self, id: &str, error: &ErrorShape) -> bool {
        self.send(frames::error_frame(id, error))
    }
}

/// Counts the connection in the gauge for as long as it lives.
struct Counted(Arc<Node>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.metrics.connections.dec();
    }
}

/// What a read from the client gave.
enum Incoming {
    Text(String),
    TooBig,
    Binary,
    /// The client sent a Close frame: answered with a Close (the WebSocket
    /// library echoes the client's code), as the official gateway does.
    Closed,
    Gone,
}

/// The largest frame a client may send before `connect` succeeds (the
/// official gateway's `MAX_PREAUTH_PAYLOAD_BYTES`): an unauthenticated peer
/// cannot make the node buffer `maxPayload` bytes.
const MAX_PREAUTH_PAYLOAD: usize = 64 * 1024;

/// The next frame from the client (data frames counted in `frames_in`).
async fn next(stream: &mut SplitStream<WebSocket>, frames_in: &IntCounter) -> Incoming {
    loop {
        let message = stream.next().await;
        if let Some(Ok(Message::Text(_) | Message::Binary(_))) = &message {
            frames_in.inc();
        }
        return match message {
            Some(Ok(Message::Text(t))) => Incoming::Text(t.as_str().to_string()),
            Some(Ok(Message::Binary(_))) => Incoming::Binary,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) => Incoming::Closed,
            None => Incoming::Gone,
            Some(Err(e)) if e.to_string().contains("Message too long") => Incoming::TooBig,
            Some(Err(_)) => Incoming::Gone,
        };
    }
}

async fn connection(node: Arc<Node>, socket: WebSocket, from: Caller, origin: RequestOrigin) {
    node.metrics.connections.inc();
    let _counted = Counted(node.clone());
    let conn_id = uuid::Uuid::new_v4().to_string();
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(Progress::new());
    let out = Outbox {
        tx,
        queued: queued.clone(),
        limit: node.settings.limits.max_buffered_bytes,
        progress: progress.clone(),
        linger: AtomicBool::new(false),
    };
    let frames_out = node.metrics.frames_out.clone();
    let mut writer = tokio::spawn(async move {
        while let Some(item) = rx.recv().await {
            match item {
                Out::Text(text) => {
                    let n = text.len();
                    progress.mark();
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                    frames_out.inc();
                    queued.fetch_sub(n, Ordering::SeqCst);
                    progress.mark();
                }
                Out::Close(code, reason) => {
                    let frame = CloseFrame {
                        code,
                        reason: reason.into(),
                    };
                    // After the client's own Close the library refuses a second
                    // one (it has queued the echo of the client's code): flushing
                    // sends that echo.
                    if sink.send(Message::Close(Some(frame))).await.is_err() {
                        let _ = sink.flush().await;
                    }
                    break;
                }
            }
        }
    });
    let client = handshake(&node, &conn_id, &mut stream, &out, &from, &origin).await;
    // The upgrade's headers are needed only for `connect`: an idle client
    // must not hold them for hours.
    drop((from, origin));
    if let Some(client) = client {
        let tracked = crate::presence::Presence::tracks(&client.info);
        if tracked {
            let user = client.user.as_deref();
            node.presence.join(&conn_id, &client.info, client.ip, user);
        }
        serve(&node, &client, &mut stream, &out).await;
        if tracked {
            node.presence.leave(&conn_id);
        }
    }
    let linger = out.linger.load(Ordering::SeqCst);
    drop(out);
    // The writer ends once it has sent what was queued; a client that does not
    // read gets two seconds more and then its socket is dropped.
    if tokio::time::timeout(std::time::Duration::from_secs(2), &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    } else if linger {
        tokio::time::sleep(LINGER).await;
    }
    drop(stream);
}

/// Sends the challenge and checks the first request; `None` if the client was
/// refused (the error, if any, is sent and the close queued). As in the
/// official gateway, a first frame that is not a request gets no answer, only
/// a close (1000 for one that is not JSON, 1008 for other JSON), and a frame
/// over [`MAX_PREAUTH_PAYLOAD`] closes with 1009.
async fn handshake(
    node: &Arc<Node>,
    conn_id: &str,
    stream: &mut SplitStream<WebSocket>,
    out: &Outbox,
    from: &Caller,
    origin: &RequestOrigin,
) -> Option<Client> {
    let peer = from.peer;
    // Logs name the socket peer and, for a proxied client, who it is.
    let client_ip = from
        .attribution
        .client()
        .filter(|_| !from.attribution.is_local());
    let challenge = handshake::challenge().to_string();
    out.send(frames::event_frame("connect.challenge", &challenge, None));
    let count = |metric: &str| node.metrics.handshakes.with_label_values(&[metric]).inc();
    let close = |metric: &str, code: u16, reason: &str| {
        count(metric);
        tracing::info!(%peer, client = ?client_ip, conn_id, reason, "handshake refused");
        out.close(code, reason);
        None
    };
    let refuse = |metric: &str, id: &str, error: ErrorShape, code: u16, reason: &str| {
        count(metric);
        tracing::info!(%peer, client = ?client_ip, conn_id, reason, message = %error.message, "handshake refused");
        out.error(id, &error);
        out.close(code, reason);
        None
    };
    let read = next(stream, &node.metrics.frames_in);
    let first = match tokio::time::timeout(node.settings.limits.handshake_timeout, read).await {
        Err(_) => return close("timeout", 1008, "handshake timeout"),
        Ok(Incoming::Gone) => return None,
        Ok(Incoming::Closed) => {
            out.close(1000, "");
            return None;
        }
        Ok(Incoming::TooBig) => {
            out.linger.store(true, Ordering::SeqCst);
            return close("too_big", 1009, "preauth payload too large");
        }
        Ok(Incoming::Binary) => return close("invalid", 1008, "invalid request frame"),
        Ok(Incoming::Text(text)) if text.len() > MAX_PREAUTH_PAYLOAD => {
            return close("too_big", 1009, "preauth payload too large");
        }
        Ok(Incoming::Text(text)) => text,
    };
    let request = match frames::parse_request(&first) {
        Ok(r) => r,
        // Not JSON at all: the official gateway just closes (1000).
        Err(ParseError::NotJson(_)) => return close("invalid", 1000, ""),
        Err(ParseError::NotRequest { .. }) => {
            return close("invalid", 1008, "invalid request frame")
        }
    };
    if request.method != "connect" {
        let message = "invalid handshake: first request must be connect";
        return refuse(
            "invalid",
            &request.id,
            ErrorShape::invalid(message),
            1008,
            message,
        );
    }
    let ingress = handshake::Ingress {
        attribution: from.attribution,
        peer: peer.ip(),
        headers: &from.headers,
    };
    match handshake::accept(node, conn_id, &request.params, origin, &ingress).await {
        Err(r) => refuse(
            r.metric,
            &request.id,
            r.error,
            r.close_code,
            &r.close_reason,
        ),
        Ok(client) => {
            count("ok");
            let health = methods::health_payload(node).await;
            let hello = handshake::hello(node, &client, &methods::names(), methods::EVENTS, health);
            out.send(frames::ok_frame(&request.id, &hello));
            Some(client)
        }
    }
}

fn too_big<T>(node: &Node, out: &Outbox, metric: &str) -> Option<T> {
    node.metrics.handshakes.with_label_values(&[metric]).inc();
    let limit = node.settings.limits.max_payload;
    out.error(
        "invalid",
        &ErrorShape::invalid(format!(
            "frame too large: the limit is maxPayload = {limit} bytes"
        ))
        .with_details(json!({"code": "PAYLOAD_TOO_LARGE", "maxPayload": limit})),
    );
    out.close(1009, "frame too large");
    out.linger.store(true, Ordering::SeqCst);
    None
}

/// Requests, events, ticks and the stop, until the client leaves.
async fn serve(
    node: &Arc<Node>,
    client: &Client,
    stream: &mut SplitStream<WebSocket>,
    out: &Outbox,
) {
    let mut events = node.bus.subscribe();
    let mut stopping = node.stopping.subscribe();
    let period = node.settings.limits.tick_interval;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let mut seq = 0u64;
    let mut event = |name: &str, payload: &str, droppable: bool| {
        seq += 1;
        out.send_event(frames::event_frame(name, payload, Some(seq)), droppable)
    };
    // A client that only ever gets droppable events is still found out.
    let mut watchdog = tokio::time::interval(STALL / 4);
    let sent = loop {
        tokio::select! {
            incoming = next(stream, &node.metrics.frames_in) => match incoming {
                Incoming::Text(text) => {
                    if !request(node, client, &text, out).await {
                        break true;
                    }
                }
                Incoming::TooBig => {
                    too_big::<()>(node, out, "too_big");
                    break true;
                }
                Incoming::Binary => {
                    out.error("invalid", &ErrorShape::invalid("binary frames are not part of the protocol"));
                    out.close(1003, "binary frame");
                    break true;
                }
                Incoming::Closed => {
                    out.close(1000, "");
                    break true;
                }
                Incoming::Gone => break true,
            },
            e = events.recv() => match e {
                Ok(e) => {
                    if !event(&e.name, &e.payload, e.droppable) {
                        break false;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => break false,
                Err(broadcast::error::RecvError::Closed) => break true,
            },
            _ = tick.tick() => {
                if !event("tick", &json!({"ts": crate::clock::now_ms()}).to_string(), true) {
                    break false;
                }
            }
            _ = watchdog.tick() => {
                if out.stalled() {
                    break false;
                }
            }
            _ = stopping.changed() => {
                let bye = json!({"reason": "gateway stopping", "restartExpectedMs": null}).to_string();
                event("shutdown", &bye, false);
                out.close(1012, "service restart");
                break true;
            }
        }
    };
    if !sent {
        node.metrics.slow_consumers.inc();
        tracing::warn!(conn_id = %client.conn_id, "closing a client that fell behind (maxBufferedBytes)");
        out.close(1008, "slow consumer");
    }
}

/// Answers one frame after the handshake; `false` closes the connection.
/// As in the official gateway, a frame that is not JSON is ignored (it may be
/// a stray line from a broken client; the connection stays usable) and one
/// that is not a valid request is answered with the schema's message.
async fn request(node: &Arc<Node>, client: &Client, text: &str, out: &Outbox) -> bool {
    let request = match frames::parse_request(text) {
        Ok(r) => r,
        Err(ParseError::NotJson(e)) => {
            tracing::debug!(conn_id = %client.conn_id, error = %e, "ignored a frame that is not JSON");
            return true;
        }
        Err(ParseError::NotRequest { id, why }) => {
            let id = id.unwrap_or_else(|| "invalid".into());
            return out.error(
                &id,
                &ErrorShape::invalid(format!("invalid request frame: {why}")),
            );
        }
    };
    let label = methods::metric_label(&request.method);
    let result = if request.method == "connect" {
        Err(ErrorShape::invalid(
            "connect is only valid as the first request",
        ))
    } else {
        methods::call(node, client, &request.method, request.params).await
    };
    let (frame, outcome) = match &result {
        Ok(payload) => (frames::ok_frame(&request.id, payload), "ok"),
        Err(error) => (frames::error_frame(&request.id, error), "error"),
    };
    node.metrics
        .requests
        .with_label_values(&[label, outcome])
        .inc();
    out.send(frame)
}

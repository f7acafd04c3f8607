//! One WebSocket connection: challenge, handshake, then requests in order,
//! events with the connection's own `seq`, `tick`s, and `shutdown` before a
//! graceful stop. A writer task owns the socket's sending half; what it has not
//! sent yet is counted against `maxBufferedBytes`.

use crate::methods;
use crate::node::Node;
use crate::protocol::frames::{self, ErrorShape, ParseError};
use crate::protocol::handshake::{self, Client};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{SplitStream, StreamExt};
use futures_util::SinkExt;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};

/// `GET /`: a WebSocket upgrade, or a line saying what this port is.
pub async fn upgrade(
    State(node): State<Arc<Node>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match ws {
        Ok(ws) => {
            let max = node.settings.limits.max_payload;
            ws.max_message_size(max)
                .max_frame_size(max)
                .on_upgrade(move |socket| connection(node, socket, peer))
        }
        Err(_) => format!(
            "OpenClaw gateway node {}: connect with a WebSocket (protocol {})\n",
            node.settings.node,
            frames::PROTOCOL_VERSION
        )
        .into_response(),
    }
}

enum Out {
    Text(String),
    Close(u16, &'static str),
}

/// The sending side: a queue to the writer task and the bytes still in it.
struct Outbox {
    tx: mpsc::UnboundedSender<Out>,
    queued: Arc<AtomicUsize>,
    limit: usize,
}

impl Outbox {
    /// Queues a frame; `false` when the client has fallen too far behind.
    fn send(&self, text: String) -> bool {
        let n = text.len();
        if self.queued.fetch_add(n, Ordering::SeqCst) + n > self.limit {
            return false;
        }
        let _ = self.tx.send(Out::Text(text));
        true
    }

    fn close(&self, code: u16, reason: &'static str) {
        let _ = self.tx.send(Out::Close(code, reason));
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
    Gone,
}

async fn next(stream: &mut SplitStream<WebSocket>) -> Incoming {
    loop {
        return match stream.next().await {
            Some(Ok(Message::Text(t))) => Incoming::Text(t.as_str().to_string()),
            Some(Ok(Message::Binary(_))) => Incoming::Binary,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) | None => Incoming::Gone,
            Some(Err(e)) if e.to_string().contains("Message too long") => Incoming::TooBig,
            Some(Err(_)) => Incoming::Gone,
        };
    }
}

async fn connection(node: Arc<Node>, socket: WebSocket, peer: SocketAddr) {
    node.metrics.connections.inc();
    let _counted = Counted(node.clone());
    let conn_id = uuid::Uuid::new_v4().to_string();
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let out = Outbox {
        tx,
        queued: queued.clone(),
        limit: node.settings.limits.max_buffered_bytes,
    };
    let mut writer = tokio::spawn(async move {
        while let Some(item) = rx.recv().await {
            match item {
                Out::Text(text) => {
                    let n = text.len();
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                    queued.fetch_sub(n, Ordering::SeqCst);
                }
                Out::Close(code, reason) => {
                    let frame = CloseFrame {
                        code,
                        reason: reason.into(),
                    };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    break;
                }
            }
        }
    });
    if let Some(client) = handshake(&node, &conn_id, &mut stream, &out, peer).await {
        node.presence
            .join(&conn_id, &client.info, &peer.ip().to_string());
        announce_presence(&node);
        serve(&node, &client, &mut stream, &out).await;
        node.presence.leave(&conn_id);
        announce_presence(&node);
    }
    drop(out);
    // The writer ends once it has sent what was queued; a client that does not
    // read gets two seconds more and then its socket is dropped.
    if tokio::time::timeout(std::time::Duration::from_secs(2), &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

fn announce_presence(node: &Node) {
    let payload = json!({"presence": node.presence.list()}).to_string();
    node.bus.emit_here(Arc::new(crate::events::Event {
        name: "presence".into(),
        payload: payload.into_boxed_str(),
    }));
}

/// Sends the challenge and checks the first request; `None` if the client was
/// refused (the error is sent and the close queued).
async fn handshake(
    node: &Arc<Node>,
    conn_id: &str,
    stream: &mut SplitStream<WebSocket>,
    out: &Outbox,
    peer: SocketAddr,
) -> Option<Client> {
    let challenge = handshake::challenge().to_string();
    out.send(frames::event_frame("connect.challenge", &challenge, None));
    let refuse = |metric: &str, id: &str, error: ErrorShape, code: u16, reason: &'static str| {
        node.metrics.handshakes.with_label_values(&[metric]).inc();
        tracing::info!(%peer, conn_id, reason, message = %error.message, "handshake refused");
        out.error(id, &error);
        out.close(code, reason);
        None
    };
    let first =
        match tokio::time::timeout(node.settings.limits.handshake_timeout, next(stream)).await {
            Err(_) => {
                node.metrics
                    .handshakes
                    .with_label_values(&["timeout"])
                    .inc();
                out.close(1008, "handshake timeout");
                return None;
            }
            Ok(Incoming::Gone) => return None,
            Ok(Incoming::TooBig) => return too_big(node, out, "invalid"),
            Ok(Incoming::Binary) => {
                return refuse(
                    "invalid",
                    "invalid",
                    ErrorShape::invalid("binary frames are not part of the protocol"),
                    1003,
                    "binary frame",
                )
            }
            Ok(Incoming::Text(text)) => text,
        };
    let request = match frames::parse_request(&first) {
        Ok(r) => r,
        Err(ParseError::NotJson(e)) => {
            return refuse(
                "invalid",
                "invalid",
                ErrorShape::invalid(format!("invalid request frame: not JSON: {e}")),
                1008,
                "invalid request frame",
            )
        }
        Err(ParseError::NotRequest { id, why }) => {
            let id = id
                .filter(|i| !i.is_empty())
                .unwrap_or_else(|| "invalid".into());
            return refuse(
                "invalid",
                &id,
                ErrorShape::invalid(format!("invalid request frame: {why}")),
                1008,
                "invalid request frame",
            );
        }
    };
    if request.method != "connect" {
        let error = ErrorShape::invalid(format!(
            "invalid handshake: first request must be connect, not {}",
            request.method
        ));
        return refuse("invalid", &request.id, error, 1008, "invalid handshake");
    }
    match handshake::accept(node, conn_id, &request.params) {
        Err(r) => refuse(r.metric, &request.id, r.error, r.close_code, r.close_reason),
        Ok(client) => {
            node.metrics.handshakes.with_label_values(&["ok"]).inc();
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
    let mut event = |name: &str, payload: &str| {
        seq += 1;
        out.send(frames::event_frame(name, payload, Some(seq)))
    };
    let sent = loop {
        tokio::select! {
            incoming = next(stream) => match incoming {
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
                Incoming::Gone => break true,
            },
            e = events.recv() => match e {
                Ok(e) => {
                    if !event(&e.name, &e.payload) {
                        break false;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => break false,
                Err(broadcast::error::RecvError::Closed) => break true,
            },
            _ = tick.tick() => {
                if !event("tick", &json!({"ts": crate::clock::now_ms()}).to_string()) {
                    break false;
                }
            }
            _ = stopping.changed() => {
                let bye = json!({"reason": "gateway stopping", "restartExpectedMs": null}).to_string();
                event("shutdown", &bye);
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
async fn request(node: &Arc<Node>, client: &Client, text: &str, out: &Outbox) -> bool {
    let request = match frames::parse_request(text) {
        Ok(r) => r,
        Err(ParseError::NotJson(e)) => {
            out.error(
                "invalid",
                &ErrorShape::invalid(format!("invalid request frame: not JSON: {e}")),
            );
            out.close(1008, "invalid request frame");
            return false;
        }
        Err(ParseError::NotRequest { id, why }) => {
            let id = id
                .filter(|i| !i.is_empty())
                .unwrap_or_else(|| "invalid".into());
            return out.error(
                &id,
                &ErrorShape::invalid(format!("invalid request frame: {why}")),
            );
        }
    };
    let label = methods::metric_label(&request.method);
    let result = if request.method == "connect" {
        Err(ErrorShape::invalid(
            "already connected: connect is only the first request",
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

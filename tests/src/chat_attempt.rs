//! One attempt of a gateway client, as its user sees the service: open a
//! WebSocket, do the protocol handshake (`connect.challenge`, `connect`,
//! `hello-ok`), send one `chat.send` and wait for its run's final `chat`
//! event, close. It never panics and is bounded as a whole: a failure is a
//! value naming the step and what went wrong, so a benchmark can count the
//! failures clients see while a cluster fails over.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<TcpStream>;

/// The steps of an attempt, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The TCP connect.
    Connect,
    /// The WebSocket upgrade (a proxy's 502/503 shows here).
    Upgrade,
    /// The `connect.challenge` event.
    Challenge,
    /// `connect` and its `hello-ok`.
    Hello,
    /// `chat.send`, its ack and its run's final `chat` event.
    Chat,
}

impl Step {
    const ALL: [Step; 5] = [
        Step::Connect,
        Step::Upgrade,
        Step::Challenge,
        Step::Hello,
        Step::Chat,
    ];

    fn name(self) -> &'static str {
        match self {
            Step::Connect => "connect",
            Step::Upgrade => "upgrade",
            Step::Challenge => "challenge",
            Step::Hello => "hello",
            Step::Chat => "chat",
        }
    }
}

/// How an attempt failed.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The step that failed (or was under way at the time limit).
    pub step: Step,
    /// A short class for counting: `refused`, `HTTP 502`, `closed`, `timeout`...
    pub class: String,
    /// What exactly happened.
    pub detail: String,
}

impl Failure {
    fn new(step: Step, class: &str, detail: impl Into<String>) -> Failure {
        Failure {
            step,
            class: class.to_string(),
            detail: detail.into(),
        }
    }

    /// `step: class`, e.g. `upgrade: HTTP 502`, `connect: refused`.
    pub fn kind(&self) -> String {
        format!("{}: {}", self.step.name(), self.class)
    }
}

/// What a successful attempt learnt.
#[derive(Debug, Clone)]
pub struct Served {
    /// The node that answered (`hello-ok`'s `server.node`).
    pub node: String,
}

/// What an attempt sends.
#[derive(Debug, Clone)]
pub struct AttemptSpec<'a> {
    /// Where to connect (a proxy, or a node).
    pub addr: SocketAddr,
    /// The gateway token.
    pub token: &'a str,
    /// The session of the `chat.send`.
    pub session_key: &'a str,
    /// The `chat.send`'s `idempotencyKey` (fresh per attempt) and the client's instance id.
    pub id: &'a str,
    /// Bound on the whole attempt, from the TCP connect to the final event.
    pub limit: Duration,
}

/// Runs one attempt: `Ok` with the node that served it, or how it failed.
pub async fn attempt(spec: &AttemptSpec<'_>) -> Result<Served, Failure> {
    let step = AtomicU8::new(0);
    match tokio::time::timeout(spec.limit, steps(spec, &step)).await {
        Ok(result) => result,
        Err(_) => Err(Failure::new(
            Step::ALL[step.load(Ordering::Relaxed) as usize],
            "timeout",
            format!("the attempt took over {} ms", spec.limit.as_millis()),
        )),
    }
}

/// The steps; `step` says which one is under way (for a timeout's report).
async fn steps(spec: &AttemptSpec<'_>, step: &AtomicU8) -> Result<Served, Failure> {
    let at = |s: Step| step.store(s as u8, Ordering::Relaxed);
    at(Step::Connect);
    let tcp = TcpStream::connect(spec.addr).await.map_err(|e| {
        let class = match e.kind() {
            std::io::ErrorKind::ConnectionRefused => "refused",
            std::io::ErrorKind::ConnectionReset => "reset",
            _ => "error",
        };
        Failure::new(Step::Connect, class, e.to_string())
    })?;
    let _ = tcp.set_nodelay(true);

    at(Step::Upgrade);
    let url = format!("ws://{}/", spec.addr);
    let (mut ws, _) = tokio_tungstenite::client_async(url.as_str(), tcp)
        .await
        .map_err(|e| match &e {
            WsError::Http(resp) => Failure::new(
                Step::Upgrade,
                &format!("HTTP {}", resp.status().as_u16()),
                e.to_string(),
            ),
            _ => transport(Step::Upgrade, &e),
        })?;

    at(Step::Challenge);
    let challenge = next_json(&mut ws, Step::Challenge).await?;
    if challenge["event"] != "connect.challenge" {
        return Err(Failure::new(
            Step::Challenge,
            "unexpected",
            format!("first frame: {challenge}"),
        ));
    }

    at(Step::Hello);
    let connect = json!({
        "type": "req", "id": "hello", "method": "connect",
        "params": {
            "minProtocol": 4, "maxProtocol": 4,
            "client": {"id": "cli", "version": "failover_bench", "platform": "linux",
                       "mode": "cli", "instanceId": spec.id},
            "caps": [], "role": "operator",
            "scopes": ["operator.read", "operator.write"],
            "auth": {"token": spec.token},
        },
    });
    send_json(&mut ws, Step::Hello, &connect).await?;
    let hello = response(&mut ws, Step::Hello, "hello", &mut Vec::new()).await?;
    let node = hello["server"]["node"].as_str().unwrap_or("").to_string();
    if hello["type"] != "hello-ok" {
        return Err(Failure::new(
            Step::Hello,
            "unexpected",
            format!("connect answered {hello}"),
        ));
    }

    at(Step::Chat);
    let chat = json!({
        "type": "req", "id": "chat", "method": "chat.send",
        "params": {"sessionKey": spec.session_key, "message": "failover probe",
                   "idempotencyKey": spec.id},
    });
    send_json(&mut ws, Step::Chat, &chat).await?;
    // The run's final event may come before the ack: keep what comes first.
    let mut early = Vec::new();
    let ack = response(&mut ws, Step::Chat, "chat", &mut early).await?;
    let run = ack["runId"].clone();
    if run.is_null() {
        return Err(Failure::new(
            Step::Chat,
            "unexpected",
            format!("ack without runId: {ack}"),
        ));
    }
    let mut early = early.into_iter();
    loop {
        let f = match early.next() {
            Some(f) => f,
            None => next_json(&mut ws, Step::Chat).await?,
        };
        if f["event"] != "chat" || f["payload"]["runId"] != run {
            continue;
        }
        match f["payload"]["state"].as_str() {
            Some("final") => break,
            Some(state @ ("error" | "aborted")) => {
                return Err(Failure::new(Step::Chat, state, f.to_string()));
            }
            _ => continue,
        }
    }
    // A polite close, briefly; the attempt has succeeded whatever happens now.
    let _ = tokio::time::timeout(Duration::from_millis(200), ws.close(None)).await;
    Ok(Served { node })
}

/// A transport error at `step`, classed.
fn transport(step: Step, e: &WsError) -> Failure {
    let class = match e {
        WsError::ConnectionClosed | WsError::AlreadyClosed => "closed",
        WsError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionReset => "reset",
        WsError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => "closed",
        WsError::Protocol(_) => "closed",
        _ => "error",
    };
    Failure::new(step, class, e.to_string())
}

/// The next text frame as JSON; other frames are skipped.
async fn next_json(ws: &mut Ws, step: Step) -> Result<Value, Failure> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                return serde_json::from_str(t.as_str())
                    .map_err(|e| Failure::new(step, "unexpected", format!("non-JSON frame: {e}")));
            }
            Some(Ok(Message::Close(f))) => {
                return Err(Failure::new(step, "closed", format!("close frame {f:?}")));
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(transport(step, &e)),
            None => return Err(Failure::new(step, "closed", "end of stream")),
        }
    }
}

/// Sends a text frame.
async fn send_json(ws: &mut Ws, step: Step, value: &Value) -> Result<(), Failure> {
    ws.send(Message::text(value.to_string()))
        .await
        .map_err(|e| transport(step, &e))
}

/// Reads frames until the response to `id`: its payload, or its error as a
/// failure. Events read meanwhile go to `events`.
async fn response(
    ws: &mut Ws,
    step: Step,
    id: &str,
    events: &mut Vec<Value>,
) -> Result<Value, Failure> {
    loop {
        let f = next_json(ws, step).await?;
        if f["type"] == "res" && f["id"] == id {
            return if f["ok"] == true {
                Ok(f["payload"].clone())
            } else {
                Err(Failure::new(step, "refused", f["error"].to_string()))
            };
        }
        if f["type"] == "event" {
            events.push(f);
        }
    }
}

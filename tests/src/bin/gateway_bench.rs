//! `gateway_bench`: a load client for an OpenClaw protocol v4 gateway
//! (`benches/gateway.sh` drives it against our node and the official one).
//!
//! Three measurements, each enabled by a count above zero, run in this order:
//!
//! 1. `hello`: `--hellos N` sequential fresh connections; each is timed from the
//!    start of the TCP connect to the `hello-ok` response (TCP handshake,
//!    WebSocket upgrade, `connect.challenge`, `connect` request and response).
//! 2. `chat`: on one connected client, `--chats N` sequential `chat.send`s
//!    (a fresh `idempotencyKey` each); each is timed from sending the request to
//!    the first `chat` event of its run whose `state` is terminal (`final`,
//!    `error` or `aborted`). The time to the `res` (the ack) is reported too.
//! 3. `connections`: `--connections N` clients connected at once (each completes
//!    its hello), held for `--hold` seconds after the last one is open, then
//!    closed. Each reads from the moment its hello completes (events are
//!    consumed, pings answered), as a real client does. `--ready-file` is
//!    created once all are open, so a script can sample the gateway's memory
//!    while they are held.
//!
//! Every measurement first runs `--warmup` untimed iterations. It prints one
//! JSON line on stdout; progress and errors go to stderr. Every wait is bounded
//! by `--timeout-ms`. A failed `hello` or `chat` iteration ends that measurement
//! (its line then carries `error`) and makes the exit status 1.
//!
//! ```text
//! gateway_bench --url ws://127.0.0.1:18789 --token T --hellos 1000 --chats 1000 \
//!     --connections 1000 --hold 5 --ready-file /tmp/ready
//! ```

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

const USAGE: &str = "\
Usage: gateway_bench --url ws://127.0.0.1:PORT --token TOKEN [options]

Options (defaults in brackets):
  --hellos N          sequential connect-to-hello-ok timings [0]
  --chats N           sequential chat.send-to-terminal-chat-event timings [0]
  --connections N     concurrent connected clients to open and hold [0]
  --warmup N          untimed iterations before the hello and chat timings [20]
  --open-concurrency N  connections being opened at once for --connections [50]
  --hold SECS         how long to hold the --connections clients [5]
  --ready-file PATH   created once all --connections clients are connected
  --session-key KEY   session for chat.send [agent:main:main]
  --message TEXT      message for chat.send [hello from gateway_bench]
  --timeout-ms MS     bound on every single wait (connect, frame, response) [10000]
  -h, --help          this text

Prints one JSON line per measurement (latencies in ms, percentiles by nearest rank).";

/// Command-line options.
struct Options {
    url: String,
    token: String,
    hellos: usize,
    chats: usize,
    connections: usize,
    warmup: usize,
    open_concurrency: usize,
    hold: Duration,
    ready_file: Option<PathBuf>,
    session_key: String,
    message: String,
    timeout: Duration,
}

impl Options {
    /// Parses `args` (without the program name).
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut o = Options {
            url: String::new(),
            token: String::new(),
            hellos: 0,
            chats: 0,
            connections: 0,
            warmup: 20,
            open_concurrency: 50,
            hold: Duration::from_secs(5),
            ready_file: None,
            session_key: "agent:main:main".into(),
            message: "hello from gateway_bench".into(),
            timeout: Duration::from_secs(10),
        };
        while let Some(flag) = args.next() {
            if flag == "-h" || flag == "--help" {
                println!("{USAGE}");
                std::process::exit(0);
            }
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let count = || {
                value
                    .parse::<usize>()
                    .map_err(|e| format!("{flag} {value}: {e}"))
            };
            match flag.as_str() {
                "--url" => o.url = value.clone(),
                "--token" => o.token = value.clone(),
                "--hellos" => o.hellos = count()?,
                "--chats" => o.chats = count()?,
                "--connections" => o.connections = count()?,
                "--warmup" => o.warmup = count()?,
                "--open-concurrency" => o.open_concurrency = count()?.max(1),
                "--hold" => o.hold = Duration::from_secs(count()? as u64),
                "--ready-file" => o.ready_file = Some(PathBuf::from(&value)),
                "--session-key" => o.session_key = value.clone(),
                "--message" => o.message = value.clone(),
                "--timeout-ms" => o.timeout = Duration::from_millis(count()? as u64),
                _ => return Err(format!("unknown option {flag}\n\n{USAGE}")),
            }
        }
        if !o.url.starts_with("ws://127.")
            && !o.url.starts_with("ws://localhost")
            && !o.url.starts_with("ws://[::1]")
        {
            return Err(format!(
                "--url must be a loopback ws:// URL, got {:?}\n\n{USAGE}",
                o.url
            ));
        }
        if o.token.is_empty() {
            return Err(format!("--token is required\n\n{USAGE}"));
        }
        Ok(o)
    }
}

/// A connected protocol client.
type Ws = WebSocketStream<TcpStream>;

/// `fut`, or an error naming `what` when it takes longer than `limit`.
async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| format!("timed out after {} ms awaiting {what}", limit.as_millis()))
}

/// The next text frame as JSON; control frames are skipped (tungstenite answers pings).
async fn next_json(ws: &mut Ws, limit: Duration, what: &str) -> Result<Value, String> {
    loop {
        match within(limit, what, ws.next()).await? {
            Some(Ok(Message::Text(t))) => {
                return serde_json::from_str(t.as_str())
                    .map_err(|e| format!("non-JSON frame while awaiting {what}: {e}"));
            }
            Some(Ok(Message::Close(f))) => {
                return Err(format!("closed while awaiting {what}: {f:?}"))
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("WebSocket error while awaiting {what}: {e}")),
            None => return Err(format!("connection ended while awaiting {what}")),
        }
    }
}

/// Sends `value` as a text frame.
async fn send_json(ws: &mut Ws, limit: Duration, value: &Value) -> Result<(), String> {
    within(limit, "send", ws.send(Message::text(value.to_string())))
        .await?
        .map_err(|e| format!("WebSocket send: {e}"))
}

/// Reads frames until the response to request `id`: its payload, or its error as an `Err`.
/// Events read meanwhile are passed to `on_event`.
async fn response(
    ws: &mut Ws,
    limit: Duration,
    id: &str,
    mut on_event: impl FnMut(&Value),
) -> Result<Value, String> {
    loop {
        let f = next_json(ws, limit, &format!("the response to {id}")).await?;
        if f["type"] == "res" && f["id"] == id {
            return if f["ok"] == true {
                Ok(f["payload"].clone())
            } else {
                Err(format!("request {id} refused: {}", f["error"]))
            };
        }
        if f["type"] == "event" {
            on_event(&f);
        }
    }
}

/// A UUID-shaped instance id, distinct per connection of this process.
fn instance_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{:08x}-{:04x}-4000-8000-{n:012x}",
        std::process::id(),
        nanos & 0xffff
    )
}

/// Opens a fresh connection and completes the protocol handshake with `token`.
async fn hello(o: &Options) -> Result<Ws, String> {
    let addr = o
        .url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let tcp = within(o.timeout, "TCP connect", TcpStream::connect(&addr))
        .await?
        .map_err(|e| format!("TCP connect to {addr}: {e}"))?;
    tcp.set_nodelay(true)
        .map_err(|e| format!("TCP_NODELAY: {e}"))?;
    let request = o
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("--url {}: {e}", o.url))?;
    let (mut ws, _) = within(
        o.timeout,
        "WebSocket upgrade",
        tokio_tungstenite::client_async(request, tcp),
    )
    .await?
    .map_err(|e| format!("WebSocket upgrade: {e}"))?;
    let challenge = next_json(&mut ws, o.timeout, "connect.challenge").await?;
    if challenge["event"] != "connect.challenge" {
        return Err(format!("first frame is not connect.challenge: {challenge}"));
    }
    let connect = json!({
        "type": "req", "id": "1", "method": "connect",
        "params": {
            "minProtocol": 4, "maxProtocol": 4,
            "client": {"id": "cli", "version": "gateway_bench", "platform": "linux", "mode": "cli",
                       "instanceId": instance_id()},
            "caps": [], "role": "operator",
            "scopes": ["operator.admin", "operator.read", "operator.write"],
            "auth": {"token": o.token},
        },
    });
    send_json(&mut ws, o.timeout, &connect).await?;
    let payload = response(&mut ws, o.timeout, "1", |_| {}).await?;
    if payload["type"] != "hello-ok" {
        return Err(format!("connect answered without hello-ok: {payload}"));
    }
    Ok(ws)
}

/// Closes `ws` politely, bounded by `limit`; errors do not matter any more.
async fn close(mut ws: Ws, limit: Duration) {
    let _ = within(limit, "close", ws.close(None)).await;
}

/// Latencies summarised: count, p50, p99, max, mean (ms).
fn summary(mut samples: Vec<Duration>) -> Value {
    samples.sort();
    let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    let rank = |p: f64| {
        let i = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
        ms(samples[i - 1])
    };
    if samples.is_empty() {
        return json!({"n": 0});
    }
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    json!({
        "n": samples.len(), "p50_ms": rank(0.50), "p99_ms": rank(0.99),
        "max_ms": ms(*samples.last().unwrap_or(&Duration::ZERO)), "mean_ms": ms(mean),
    })
}

/// Adds `key: value` to a JSON object.
fn with(mut line: Value, key: &str, value: Value) -> Value {
    line[key] = value;
    line
}

/// Measurement 1: `count` sequential fresh connections, TCP connect to `hello-ok`.
async fn measure_hellos(o: &Options, count: usize) -> Result<Value, (Value, String)> {
    let mut samples = Vec::with_capacity(count);
    for i in 0..o.warmup + count {
        let start = Instant::now();
        let ws = hello(o).await.map_err(|e| (summary(samples.clone()), e))?;
        let took = start.elapsed();
        if i >= o.warmup {
            samples.push(took);
        }
        close(ws, o.timeout).await;
    }
    Ok(summary(samples))
}

/// One `chat.send`: the time to its ack and to its run's terminal `chat` event, and that state.
async fn chat_once(
    o: &Options,
    ws: &mut Ws,
    n: usize,
) -> Result<(Duration, Duration, String, String), String> {
    let id = format!("chat-{n}");
    let req = json!({
        "type": "req", "id": id, "method": "chat.send",
        "params": {"sessionKey": o.session_key, "message": o.message,
                   "idempotencyKey": format!("gateway-bench-{}-{n}", instance_id())},
    });
    // Terminal chat events seen before the ack told us the runId: (runId, state, error message).
    let mut early: Vec<(Value, String, String)> = Vec::new();
    let terminal = |f: &Value| -> Option<(Value, String, String)> {
        let state = f["payload"]["state"].as_str()?;
        let done = f["event"] == "chat" && matches!(state, "final" | "error" | "aborted");
        done.then(|| {
            let message = f["payload"]["errorMessage"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (f["payload"]["runId"].clone(), state.to_string(), message)
        })
    };
    let start = Instant::now();
    send_json(ws, o.timeout, &req).await?;
    let ack = response(ws, o.timeout, &id, |f| early.extend(terminal(f))).await?;
    let acked = start.elapsed();
    let run_id = ack["runId"].clone();
    if run_id.is_null() {
        return Err(format!("chat.send ack without runId: {ack}"));
    }
    if let Some((_, state, message)) = early.into_iter().find(|(r, _, _)| *r == run_id) {
        return Ok((acked, start.elapsed(), state, message));
    }
    loop {
        let f = next_json(
            ws,
            o.timeout,
            &format!("the terminal chat event of run {run_id}"),
        )
        .await?;
        if let Some((r, state, message)) = terminal(&f) {
            if r == run_id {
                return Ok((acked, start.elapsed(), state, message));
            }
        }
    }
}

/// Measurement 2: `count` sequential `chat.send`s on one connection.
async fn measure_chats(o: &Options, count: usize) -> Result<Value, (Value, String)> {
    let mut ws = hello(o).await.map_err(|e| (json!({}), e))?;
    let (mut round_trips, mut acks) = (Vec::with_capacity(count), Vec::with_capacity(count));
    let mut states = serde_json::Map::new();
    let mut first_error = String::new();
    for i in 0..o.warmup + count {
        let (acked, done, state, message) = match chat_once(o, &mut ws, i).await {
            Ok(r) => r,
            Err(e) => return Err((summary(round_trips), e)),
        };
        if i < o.warmup {
            continue;
        }
        round_trips.push(done);
        acks.push(acked);
        let seen = states.get(&state).and_then(Value::as_u64).unwrap_or(0);
        states.insert(state, json!(seen + 1));
        if first_error.is_empty() && !message.is_empty() {
            first_error = message;
        }
    }
    close(ws, o.timeout).await;
    let ack = summary(acks);
    let mut line = summary(round_trips);
    line["ack_p50_ms"] = ack["p50_ms"].clone();
    line["ack_p99_ms"] = ack["p99_ms"].clone();
    line["terminal_states"] = Value::Object(states);
    if !first_error.is_empty() {
        line["first_error_message"] = json!(first_error);
    }
    Ok(line)
}

/// Reads frames from `ws` (tungstenite answers pings) until `release` says when
/// the hold ends and that time has come; then closes. `true` when the
/// connection was still open at the end.
async fn hold(
    mut ws: Ws,
    mut release: watch::Receiver<Option<tokio::time::Instant>>,
    limit: Duration,
) -> bool {
    loop {
        let deadline = *release.borrow_and_update();
        let until_deadline = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return false,
                Some(Ok(_)) => continue,
            },
            _ = until_deadline => break,
            changed = release.changed(), if deadline.is_none() => {
                if changed.is_err() {
                    break;
                }
            }
        }
    }
    close(ws, limit).await;
    true
}

/// Measurement 3: `count` clients connected at once, held for `o.hold`.
///
/// Every client keeps reading from the moment its hello completes, as a real
/// client does: the events the gateway sends meanwhile (presence, ticks) are
/// consumed at once rather than piling up in its send buffers.
async fn measure_connections(o: Arc<Options>, count: usize) -> Value {
    let start = Instant::now();
    let gate = Arc::new(Semaphore::new(o.open_concurrency));
    let (release_tx, release_rx) = watch::channel(None);
    let (opened_tx, mut opened_rx) = mpsc::unbounded_channel::<Result<(), String>>();
    let clients: Vec<_> = (0..count)
        .map(|_| {
            let (o, gate, release, opened) = (
                o.clone(),
                gate.clone(),
                release_rx.clone(),
                opened_tx.clone(),
            );
            tokio::spawn(async move {
                let permit = gate.acquire_owned().await.map_err(|e| e.to_string());
                let ws = match permit {
                    Ok(_permit) => hello(&o).await,
                    Err(e) => Err(e),
                };
                match ws {
                    Ok(ws) => {
                        let _ = opened.send(Ok(()));
                        hold(ws, release, o.timeout).await
                    }
                    Err(e) => {
                        let _ = opened.send(Err(e));
                        false
                    }
                }
            })
        })
        .collect();
    drop(opened_tx);
    let (mut opened, mut first_error) = (0, None);
    // Each client reports once, then (when connected) keeps its sender while it
    // holds: count the reports, do not wait for the channel to close. It ends
    // early only when every task has ended (one that panicked reports nothing).
    for _ in 0..count {
        match opened_rx.recv().await {
            Some(Ok(())) => opened += 1,
            Some(Err(e)) => {
                first_error.get_or_insert(e);
            }
            None => break,
        }
    }
    let open_ms = start.elapsed().as_millis() as u64;
    eprintln!(
        "gateway_bench: {opened}/{count} clients connected in {open_ms} ms; holding {:?}",
        o.hold
    );
    if let Some(path) = &o.ready_file {
        if let Err(e) = std::fs::write(path, format!("{opened}\n")) {
            eprintln!("gateway_bench: cannot write {}: {e}", path.display());
        }
    }
    let _ = release_tx.send(Some(tokio::time::Instant::now() + o.hold));
    let mut held = 0;
    for client in clients {
        held += usize::from(matches!(client.await, Ok(true)));
    }
    let mut line = json!({
        "target": count, "open": opened, "failed": count - opened, "open_ms": open_ms,
        "held_s": o.hold.as_secs(), "still_open_after_hold": held,
    });
    if let Some(e) = first_error {
        line["first_error"] = json!(e);
    }
    line
}

/// Prints one measurement's JSON line; `Err` lines carry the error. Returns whether it succeeded.
fn report(measure: &str, o: &Options, result: Result<Value, (Value, String)>) -> bool {
    let (line, ok) = match result {
        Ok(line) => (line, true),
        Err((partial, e)) => {
            eprintln!("gateway_bench: {measure}: {e}");
            (with(partial, "error", json!(e)), false)
        }
    };
    let mut out = json!({"measure": measure, "url": o.url});
    if let (Value::Object(out), Value::Object(fields)) = (&mut out, line) {
        out.extend(fields);
    }
    println!("{out}");
    ok
}

#[tokio::main]
async fn main() {
    let o = match Options::parse(std::env::args().skip(1)) {
        Ok(o) => Arc::new(o),
        Err(e) => {
            eprintln!("gateway_bench: {e}");
            std::process::exit(2);
        }
    };
    let mut ok = true;
    if o.hellos > 0 {
        ok &= report("hello", &o, measure_hellos(&o, o.hellos).await);
    }
    if o.chats > 0 {
        ok &= report("chat", &o, measure_chats(&o, o.chats).await);
    }
    if o.connections > 0 {
        let line = measure_connections(o.clone(), o.connections).await;
        ok &= line["failed"] == 0;
        report("connections", &o, Ok(line));
    }
    std::process::exit(if ok { 0 } else { 1 });
}

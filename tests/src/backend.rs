//! In-process test backends: HTTP and WebSocket servers on loopback that
//! report what reached them, so a test can see the proxy's choices from the
//! far side.
//!
//! Every backend
//! - answers any request with JSON naming itself and the request it got
//!   (`{"name", "method", "path", "version", "headers": [[name, value], ...],
//!   "body_len", "body"}`, `version` being the request line's, e.g.
//!   `HTTP/1.0`), header lines kept in order and unmerged so a test can see
//!   duplicates, the body read whole (de-chunked) and given as its length
//!   and as lossy UTF-8; a body that cannot be read whole gets a 400;
//! - holds `/hold` requests open until [`Backend::release_held`], counting
//!   them in flight (for least_conn);
//! - upgrades `/ws` to a WebSocket that first says `hello NAME`, then echoes
//!   every message (for tunnels);
//! - answers `/health` with a status the test sets ([`Backend::set_health`],
//!   200 at start), counting those checks apart from other requests (for
//!   active health checks);
//! - counts requests and records when each TCP connection was accepted;
//! - can be stopped (listener closed, connections dropped) and restarted
//!   on the same port, or switched to [`Mode::Drop`], where it accepts and
//!   immediately closes connections (a failing server whose attempts can be
//!   counted, which a closed port cannot show).

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// What a backend does with an accepted connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Serve HTTP and WebSocket.
    Serve,
    /// Record the connection, then close it without reading or writing.
    Drop,
}

/// State shared by a backend's handle and its server tasks.
#[derive(Debug)]
struct Shared {
    name: String,
    requests: AtomicUsize,
    inflight: AtomicUsize,
    websockets: AtomicUsize,
    /// `/health` requests answered.
    checks: AtomicUsize,
    /// The status `/health` answers.
    health_status: AtomicU16,
    accepts: Mutex<Vec<Instant>>,
    dropping: AtomicBool,
    /// Bumped to let every held request answer.
    release: watch::Sender<u64>,
    /// Bumped on stop: open WebSockets end (axum runs them outside the
    /// connection tasks, so aborting those does not reach them).
    stopped: watch::Sender<u64>,
}

/// Counts one unit in a gauge of [`Shared`] for as long as it lives, so a
/// request that the proxy abandons is uncounted too.
struct Gauge {
    shared: Arc<Shared>,
    which: fn(&Shared) -> &AtomicUsize,
}

impl Gauge {
    fn enter(shared: &Arc<Shared>, which: fn(&Shared) -> &AtomicUsize) -> Gauge {
        which(shared).fetch_add(1, Ordering::SeqCst);
        Gauge {
            shared: shared.clone(),
            which,
        }
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        (self.which)(&self.shared).fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running (or stopped) backend.
#[derive(Debug)]
pub struct Backend {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Option<JoinHandle<()>>,
}

impl Backend {
    /// Starts a backend named `name` on a new port of 127.0.0.1.
    pub async fn start(name: &str) -> Backend {
        let shared = Arc::new(Shared {
            name: name.to_string(),
            requests: AtomicUsize::new(0),
            inflight: AtomicUsize::new(0),
            websockets: AtomicUsize::new(0),
            checks: AtomicUsize::new(0),
            health_status: AtomicU16::new(200),
            accepts: Mutex::new(Vec::new()),
            dropping: AtomicBool::new(false),
            release: watch::Sender::new(0),
            stopped: watch::Sender::new(0),
        });
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0)));
        let addr = listener.local_addr().expect("local addr");
        let server = Some(tokio::spawn(serve(listener, shared.clone())));
        Backend {
            shared,
            addr,
            server,
        }
    }

    /// Starts `n` backends named `s0`, `s1`, ...
    pub async fn start_n(n: usize) -> Vec<Backend> {
        let mut all = Vec::with_capacity(n);
        for i in 0..n {
            all.push(Backend::start(&format!("s{i}")).await);
        }
        all
    }

    /// Its name, as it reports it.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests (WebSocket upgrades included, `/health` checks not) it has
    /// answered or is holding.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// HTTP requests in progress (held ones included).
    pub fn inflight(&self) -> usize {
        self.shared.inflight.load(Ordering::SeqCst)
    }

    /// WebSocket connections open now.
    pub fn websockets(&self) -> usize {
        self.shared.websockets.load(Ordering::SeqCst)
    }

    /// When each TCP connection was accepted, in order.
    pub fn accepts(&self) -> Vec<Instant> {
        self.shared
            .accepts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `/health` requests answered so far.
    pub fn checks(&self) -> usize {
        self.shared.checks.load(Ordering::SeqCst)
    }

    /// Makes `/health` answer `status` from now on.
    pub fn set_health(&self, status: u16) {
        self.shared.health_status.store(status, Ordering::SeqCst);
    }

    /// Lets every request held on `/hold` now answer.
    pub fn release_held(&self) {
        self.shared.release.send_modify(|g| *g += 1);
    }

    /// Switches what happens to connections accepted from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.shared
            .dropping
            .store(mode == Mode::Drop, Ordering::SeqCst);
    }

    /// Closes the listener and drops every connection; the port refuses
    /// connections until [`Backend::restart`].
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
        self.shared.stopped.send_modify(|g| *g += 1);
    }

    /// Listens again on the same port, keeping its counters.
    pub async fn restart(&mut self) {
        self.stop().await;
        let listener = listen(self.addr);
        self.server = Some(tokio::spawn(serve(listener, self.shared.clone())));
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
        self.shared.stopped.send_modify(|g| *g += 1);
    }
}

/// A listener on `addr` with SO_REUSEADDR, so a restart can take the same
/// port back while old connections linger in TIME_WAIT.
fn listen(addr: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_reuseaddr(true).expect("SO_REUSEADDR");
    socket
        .bind(addr)
        .unwrap_or_else(|e| panic!("backend cannot bind {addr}: {e}"));
    socket.listen(1024).expect("listen")
}

/// The accept loop. Connection tasks live in a JoinSet owned by this task,
/// so aborting it drops every connection.
async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let app = Router::new()
        .route("/hold", any(hold))
        .route("/ws", any(websocket))
        .route("/health", any(health))
        .fallback(report)
        .with_state(shared.clone());
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        shared
            .accepts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Instant::now());
        if shared.dropping.load(Ordering::SeqCst) {
            drop(stream);
            continue;
        }
        let service = TowerToHyperService::new(app.clone());
        connections.spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

/// The JSON every answer carries: the request's head and its `body`.
fn describe(shared: &Shared, head: &Parts, body: &[u8]) -> Response {
    let headers: Vec<[String; 2]> = head
        .headers
        .iter()
        .map(|(k, v)| {
            [
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            ]
        })
        .collect();
    Json(json!({
        "name": shared.name,
        "method": head.method.as_str(),
        "path": head.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"),
        "version": format!("{:?}", head.version),
        "headers": headers,
        "body_len": body.len(),
        "body": String::from_utf8_lossy(body),
    }))
    .into_response()
}

/// Splits `req` into its head and its whole body; a body that breaks off
/// (or is malformed) is answered with a 400 naming the error.
async fn read_whole(req: Request) -> Result<(Parts, Vec<u8>), Response> {
    let (head, body) = req.into_parts();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => Ok((head, bytes.to_vec())),
        Err(e) => Err((
            StatusCode::BAD_REQUEST,
            format!("the backend could not read the request body: {e}\n"),
        )
            .into_response()),
    }
}

async fn report(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let _inflight = Gauge::enter(&shared, |s| &s.inflight);
    match read_whole(req).await {
        Ok((head, body)) => describe(&shared, &head, &body),
        Err(refused) => refused,
    }
}

async fn health(State(shared): State<Arc<Shared>>) -> Response {
    shared.checks.fetch_add(1, Ordering::SeqCst);
    let code = StatusCode::from_u16(shared.health_status.load(Ordering::SeqCst))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, "health\n").into_response()
}

async fn hold(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    // Subscribe before being counted: a release seen after the count
    // reaches the test must reach this request too.
    let mut released = shared.release.subscribe();
    let _inflight = Gauge::enter(&shared, |s| &s.inflight);
    let whole = read_whole(req).await;
    let _ = released.changed().await;
    match whole {
        Ok((head, body)) => describe(&shared, &head, &body),
        Err(refused) => refused,
    }
}

async fn websocket(State(shared): State<Arc<Shared>>, upgrade: WebSocketUpgrade) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    upgrade
        .on_upgrade(move |socket| echo(shared, socket))
        .into_response()
}

async fn echo(shared: Arc<Shared>, mut socket: WebSocket) {
    let _open = Gauge::enter(&shared, |s| &s.websockets);
    let mut stopped = shared.stopped.subscribe();
    let hello = format!("hello {}", shared.name);
    if socket.send(Message::Text(hello.into())).await.is_err() {
        return;
    }
    loop {
        let msg = tokio::select! {
            msg = socket.recv() => msg,
            _ = stopped.changed() => return,
        };
        let reply = match msg {
            Some(Ok(Message::Text(t))) => Message::Text(t),
            Some(Ok(Message::Binary(b))) => Message::Binary(b),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            _ => return,
        };
        if socket.send(reply).await.is_err() {
            return;
        }
    }
}

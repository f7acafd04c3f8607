//! Raw recording backends for the request-smuggling suite: TCP servers that
//! frame HTTP/1 requests themselves (no hyper) and record every request they
//! frame, so that a test can compare the request boundaries a backend saw
//! with the answers the proxy in front of it gave.
//!
//! Request smuggling is a disagreement about where a message ends. A proxy
//! that forwards ambiguous bytes unchanged makes a backend that reads them
//! differently see other requests than the proxy answered. Two readers make
//! that visible:
//!
//! - [`Strictness::Strict`] follows RFC 9112 to the letter; on anything
//!   ambiguous (bare LF, obs-fold, TE with CL, a chunk line out of grammar,
//!   a framing field in the trailers, NUL/CR/LF in a field value...) it
//!   answers 400, records a [`Seen::Rejected`] and closes: a proxy should
//!   never send it that. (Other control bytes in field values are let
//!   through: they are outside the grammar but frame nothing.)
//! - [`Strictness::Lenient`] reads like sloppy real servers: bare LF line
//!   ends, a chunk size made of the leading hex digits with anything after
//!   ignored, any extension, trailers up to an empty line, Content-Length
//!   preferred over Transfer-Encoding, the first of duplicate headers wins,
//!   obs-fold joined. Bytes a proxy passes on raw make it frame other
//!   requests than the proxy did.
//!
//! Every framed request gets a process-wide number, answered as `X-Seen: N`
//! so the client side can match the answers it got to the backend's
//! records. Targets under `/resp/` choose broken or unusual responses (see
//! `fault` in the source: `/resp/te-cl`, `/resp/101-no-upgrade`...) to test
//! the response side of a proxy.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// The number of the next event that answers with `X-Seen`, shared by all
/// backends of the process so that a number names one event everywhere.
static NEXT_SEEN: AtomicU64 = AtomicU64::new(1);
/// The id of the next accepted connection, process-wide.
static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// Bodies above this are refused even by the lenient reader, so that a
/// sloppy size cannot make it buffer without end.
const MAX_BODY: u64 = 64 << 20;
/// How long a closing connection keeps reading (and discarding) after its
/// last answer, so that closing with unread bytes does not reset the
/// answer away.
const LINGER: Duration = Duration::from_secs(2);

/// How a backend reads requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// RFC 9112 exactly; 400 and close on anything ambiguous.
    Strict,
    /// As sloppy real servers read (see the module documentation).
    Lenient,
}

impl fmt::Display for Strictness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strictness::Strict => "strict",
            Strictness::Lenient => "lenient",
        })
    }
}

/// A request as a backend framed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framed {
    /// The method as sent.
    pub method: String,
    /// The request target as sent (bytes >= 0x80 shown lossily).
    pub target: String,
    /// The version token (`HTTP/0.9` when the lenient reader found none).
    pub version: String,
    /// Header lines in order, as (name, value).
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// Trailer field lines of a chunked body, as (name, value).
    pub trailers: Vec<(String, String)>,
}

impl Framed {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Something a backend saw on one of its connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A request framed and answered with `X-Seen: number`.
    Request {
        /// The number answered in `X-Seen`.
        number: u64,
        /// The backend connection it came on.
        conn: u64,
        /// The request.
        request: Framed,
    },
    /// Bytes the backend refused (answered 400 with `X-Seen: number`, then
    /// closed): for the strict backend, a message a proxy must not send.
    Rejected {
        /// The number answered in `X-Seen`.
        number: u64,
        /// The backend connection.
        conn: u64,
        /// What was wrong.
        reason: String,
        /// The start of the bytes refused.
        bytes: Vec<u8>,
    },
    /// Unframed bytes still waiting on an open connection when the harness
    /// asked the backend to settle ([`RawBackend::settle`]); the connection
    /// was then closed. A proxy that thinks the connection idle while the
    /// backend waits for the rest of a message is out of step with it.
    Stuck {
        /// The backend connection.
        conn: u64,
        /// The bytes waiting.
        bytes: Vec<u8>,
    },
    /// The peer closed a connection in the middle of a message (a proxy
    /// abandoning a request whose client went away).
    Aborted {
        /// The backend connection.
        conn: u64,
        /// The bytes of the unfinished message.
        bytes: Vec<u8>,
    },
}

impl Seen {
    /// The `X-Seen` number answered for this event, if any.
    pub fn number(&self) -> Option<u64> {
        match self {
            Seen::Request { number, .. } | Seen::Rejected { number, .. } => Some(*number),
            Seen::Stuck { .. } | Seen::Aborted { .. } => None,
        }
    }

    /// The target of a framed request.
    pub fn target(&self) -> Option<&str> {
        match self {
            Seen::Request { request, .. } => Some(&request.target),
            _ => None,
        }
    }
}

/// `bytes` shown as an escaped string, cut after `max` bytes.
pub fn show(bytes: &[u8], max: usize) -> String {
    let mut out: String = bytes
        .iter()
        .take(max)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if bytes.len() > max {
        out.push_str(&format!("...({} bytes)", bytes.len()));
    }
    out
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seen::Request {
                number,
                conn,
                request: r,
            } => {
                write!(f, "#{number}@c{conn} {} {}", r.method, r.target)?;
                if r.version != "HTTP/1.1" {
                    write!(f, " {}", r.version)?;
                }
                if !r.body.is_empty() {
                    write!(f, " body[{}]\"{}\"", r.body.len(), show(&r.body, 24))?;
                }
                if !r.trailers.is_empty() {
                    write!(f, " trailers{:?}", r.trailers)?;
                }
                Ok(())
            }
            Seen::Rejected {
                number,
                conn,
                reason,
                bytes,
            } => write!(
                f,
                "#{number}@c{conn} REJECTED ({reason}): \"{}\"",
                show(bytes, 48)
            ),
            Seen::Stuck { conn, bytes } => {
                write!(f, "STUCK@c{conn} \"{}\"", show(bytes, 48))
            }
            Seen::Aborted { conn, bytes } => {
                write!(f, "aborted@c{conn} \"{}\"", show(bytes, 32))
            }
        }
    }
}

/// What the backend knows of one open connection.
#[derive(Debug)]
struct ConnState {
    /// Bytes received and not yet framed (leading empty lines aside).
    pending: Vec<u8>,
    /// Ends the connection's task.
    abort: AbortHandle,
}

#[derive(Debug, Default)]
struct Shared {
    events: Vec<Seen>,
    conns: HashMap<u64, ConnState>,
}

type SharedRef = Arc<Mutex<Shared>>;

fn lock(shared: &SharedRef) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// A recording backend on a loopback port; stops when dropped.
#[derive(Debug)]
pub struct RawBackend {
    addr: SocketAddr,
    strictness: Strictness,
    shared: SharedRef,
    accept: AbortHandle,
}

impl Drop for RawBackend {
    fn drop(&mut self) {
        self.accept.abort();
        for (_, conn) in lock(&self.shared).conns.drain() {
            conn.abort.abort();
        }
    }
}

impl RawBackend {
    /// Starts a backend reading requests as `strictness` says, on a free
    /// loopback port.
    pub async fn start(strictness: Strictness) -> RawBackend {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local addr");
        let shared: SharedRef = Arc::default();
        let accept = {
            let shared = shared.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let _ = stream.set_nodelay(true);
                    let conn = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
                    // Registered before the task runs, so that `settle`
                    // never misses a connection that was accepted.
                    let mut guard = lock(&shared);
                    let task = tokio::spawn(serve(stream, conn, strictness, shared.clone()));
                    guard.conns.insert(
                        conn,
                        ConnState {
                            pending: Vec::new(),
                            abort: task.abort_handle(),
                        },
                    );
                }
            })
            .abort_handle()
        };
        RawBackend {
            addr,
            strictness,
            shared,
            accept,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How it reads requests.
    pub fn strictness(&self) -> Strictness {
        self.strictness
    }

    /// A mark in the record: [`RawBackend::since`] gives what came after.
    pub fn mark(&self) -> usize {
        lock(&self.shared).events.len()
    }

    /// The events recorded after `mark`.
    pub fn since(&self, mark: usize) -> Vec<Seen> {
        lock(&self.shared).events[mark..].to_vec()
    }

    /// Waits until no open connection holds unframed bytes, seen twice in a
    /// row 10 ms apart (bytes may still be on their way). Connections still
    /// holding bytes after `limit` are closed and recorded as
    /// [`Seen::Stuck`]: the sender thinks they are idle, the backend waits
    /// for the rest of a message.
    pub async fn settle(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut quiet_before = false;
        loop {
            let busy = lock(&self.shared)
                .conns
                .values()
                .any(|c| !c.pending.is_empty());
            if !busy && quiet_before {
                return;
            }
            quiet_before = !busy;
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut shared = lock(&self.shared);
        let stuck: Vec<u64> = shared
            .conns
            .iter()
            .filter(|(_, c)| !c.pending.is_empty())
            .map(|(id, _)| *id)
            .collect();
        for id in stuck {
            if let Some(conn) = shared.conns.remove(&id) {
                conn.abort.abort();
                shared.events.push(Seen::Stuck {
                    conn: id,
                    bytes: conn.pending,
                });
            }
        }
    }
}

/// Bytes a request's leading empty lines are made of.
fn blank_prefix(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count()
}

fn set_pending(shared: &SharedRef, conn: u64, buf: &[u8]) {
    if let Some(state) = lock(shared).conns.get_mut(&conn) {
        let rest = &buf[blank_prefix(buf)..];
        state.pending = rest.to_vec();
    }
}

fn record(shared: &SharedRef, event: Seen) {
    lock(shared).events.push(event);
}

/// Serves one connection: frames requests, records them, answers them.
async fn serve(mut stream: TcpStream, conn: u64, strictness: Strictness, shared: SharedRef) {
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut continued = false;
    loop {
        loop {
            match frame(strictness, &buf) {
                Framing::Incomplete { expects_continue } => {
                    if expects_continue && !continued {
                        continued = true;
                        if write(&mut stream, b"HTTP/1.1 100 Continue\r\n\r\n")
                            .await
                            .is_err()
                        {
                            return finish(&shared, conn);
                        }
                    }
                    break;
                }
                Framing::Reject(reason) => {
                    let number = NEXT_SEEN.fetch_add(1, Ordering::Relaxed);
                    record(
                        &shared,
                        Seen::Rejected {
                            number,
                            conn,
                            reason: reason.clone(),
                            bytes: buf[..buf.len().min(512)].to_vec(),
                        },
                    );
                    let body = format!("rejected: {reason}\n");
                    let answer = format!(
                        "HTTP/1.1 400 Bad Request\r\nX-Seen: {number}\r\nX-Backend-Reject: {}\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        reason.replace(['\r', '\n'], " "),
                        body.len()
                    );
                    set_pending(&shared, conn, &[]);
                    let _ = write(&mut stream, answer.as_bytes()).await;
                    return linger(stream, &shared, conn).await;
                }
                Framing::Done(request, used) => {
                    buf.drain(..used);
                    continued = false;
                    let number = NEXT_SEEN.fetch_add(1, Ordering::Relaxed);
                    let answer = answer(number, &request);
                    record(
                        &shared,
                        Seen::Request {
                            number,
                            conn,
                            request,
                        },
                    );
                    set_pending(&shared, conn, &buf);
                    if write(&mut stream, &answer.bytes).await.is_err() {
                        return finish(&shared, conn);
                    }
                    match answer.after {
                        After::KeepAlive => {}
                        After::Close => return linger(stream, &shared, conn).await,
                        After::Tunnel => return tunnel(stream, buf, &shared, conn).await,
                    }
                }
            }
        }
        set_pending(&shared, conn, &buf);
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => {
                let rest = &buf[blank_prefix(&buf)..];
                if !rest.is_empty() {
                    record(
                        &shared,
                        Seen::Aborted {
                            conn,
                            bytes: rest[..rest.len().min(512)].to_vec(),
                        },
                    );
                }
                return finish(&shared, conn);
            }
            Ok(_) => {}
        }
    }
}

async fn write(stream: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}

/// Forgets a connection that ended.
fn finish(shared: &SharedRef, conn: u64) {
    lock(shared).conns.remove(&conn);
}

/// Closes after a last answer: half-close, then read and discard until the
/// peer closes (bounded), so the answer is not lost to a reset.
async fn linger(mut stream: TcpStream, shared: &SharedRef, conn: u64) {
    set_pending(shared, conn, &[]);
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 16 * 1024];
    let deadline = tokio::time::Instant::now() + LINGER;
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, stream.read(&mut sink)).await {
        if n == 0 {
            break;
        }
    }
    finish(shared, conn);
}

/// After a proper `101`: echoes every byte back until the peer closes.
async fn tunnel(mut stream: TcpStream, mut buf: Vec<u8>, shared: &SharedRef, conn: u64) {
    set_pending(shared, conn, &[]);
    loop {
        if !buf.is_empty() && write(&mut stream, &buf).await.is_err() {
            break;
        }
        buf.clear();
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    finish(shared, conn);
}

// ------------------------------------------------------------------ answers

/// What a connection does after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    KeepAlive,
    Close,
    Tunnel,
}

struct Answer {
    bytes: Vec<u8>,
    after: After,
}

/// Whether the client asked to close after this request.
fn wants_close(request: &Framed) -> bool {
    let connection = request
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("connection"))
        .map(|(_, v)| v.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(",");
    let has = |token: &str| connection.split(',').any(|t| t.trim() == token);
    if request.version == "HTTP/1.1" {
        has("close")
    } else {
        !has("keep-alive")
    }
}

/// The answer to `request`: `200` with `X-Seen`, or the fault its `/resp/`
/// target asks for.
fn answer(number: u64, request: &Framed) -> Answer {
    let path = request.target.split('?').next().unwrap_or_default();
    if let Some(fault) = path
        .strip_prefix("/resp/")
        .and_then(|name| fault(name, number))
    {
        return fault;
    }
    let close = wants_close(request);
    let body = format!("{number} {} {}\n", request.method, request.target);
    let mut head = format!(
        "HTTP/1.1 200 OK\r\nX-Seen: {number}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n",
        body.len()
    );
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    if request.method != "HEAD" {
        bytes.extend_from_slice(body.as_bytes());
    }
    Answer {
        bytes,
        after: if close {
            After::Close
        } else {
            After::KeepAlive
        },
    }
}

/// The response-side faults, by the name after `/resp/` in the target:
/// answers whose framing is broken or ambiguous (a proxy should answer 502
/// rather than relay them), and the unusual but valid ones around them.
/// `None` for an unknown name (an ordinary answer).
fn fault(name: &str, number: u64) -> Option<Answer> {
    let s = |text: String| text.into_bytes();
    let (bytes, after) = match name {
        // A switch nobody asked for, without Upgrade; then keeps reading
        // requests, so that a proxy that tunnels shows what it let through.
        "101-no-upgrade" => (
            s(format!(
                "HTTP/1.1 101 Switching Protocols\r\nX-Seen: {number}\r\n\r\n"
            )),
            After::KeepAlive,
        ),
        // A proper WebSocket switch; then echoes.
        "101" => (
            s(format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nX-Seen: {number}\r\n\r\n"
            )),
            After::Tunnel,
        ),
        "te-cl" => (
            s(format!(
                "HTTP/1.1 200 OK\r\nX-Seen: {number}\r\nTransfer-Encoding: chunked\r\n\
                 Content-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
            )),
            After::Close,
        ),
        "cl-cl" => (
            s(format!(
                "HTTP/1.1 200 OK\r\nX-Seen: {number}\r\nContent-Length: 5\r\n\
                 Content-Length: 6\r\n\r\nhello!"
            )),
            After::Close,
        ),
        "cl-list" => (
            s(format!(
                "HTTP/1.1 200 OK\r\nX-Seen: {number}\r\nContent-Length: 5, 6\r\n\r\nhello!"
            )),
            After::Close,
        ),
        "cl-plus" => (
            s(format!(
                "HTTP/1.1 200 OK\r\nX-Seen: {number}\r\nContent-Length: +5\r\n\r\nhello"
            )),
            After::Close,
        ),
        "cl-space-colon" => (
            s(format!(
                "HTTP/1.1 200 OK\r\nX-Seen: {number}\r\nContent-Length : 5\r\n\r\nhello"
            )),
            After::Close,
        ),
        "bad-chunk" => (
            s(format!(
                "HTTP/1.1 200 OK\r\nX-Seen: {number}\r\nTransfer-Encoding: chunked\r\n\r\n\
                 5\nhello\r\n0\r\n\r\n"
            )),
            After::Close,
        ),
        "chunk-junk" => (
            s(format!(
                "HTTP/1.1 200 OK\r\nX-Seen: {number}\r\nTransfer-Encoding: chunked\r\n\r\n\
                 5 zz\r\nhello\r\n0\r\n\r\n"
            )),
            After::Close,
        ),
        "chunk-huge" => (
            s(format!(
                "HTTP/1.1 200 OK\r\nX-Seen: {number}\r\nTransfer-Encoding: chunked\r\n\r\n\
                 fffffffffffffffffff5\r\nhello\r\n0\r\n\r\n"
            )),
            After::Close,
        ),
        "chunk-no-crlf" => (
            s(format!(
                "HTTP/1.1 200 OK\r\nX-Seen: {number}\r\nTransfer-Encoding: chunked\r\n\r\n\
                 5\r\nhelloXX0\r\n\r\n"
            )),
            After::Close,
        ),
        // The "funky chunks" pattern on the response side: a reader that
        // takes the bare LF for a line end sees a second response.
        "smuggle-in-chunk" => (
            s(format!(
                "HTTP/1.1 200 OK\r\nX-Seen: {number}\r\nTransfer-Encoding: chunked\r\n\r\n\
                 2;\nxx\r\n47\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nX-Smuggled: yes\r\nContent-Length: 0\r\n\r\n\r\n0\r\n\r\n"
            )),
            After::Close,
        ),
        "te-gzip" => (
            s(format!(
                "HTTP/1.1 200 OK\r\nX-Seen: {number}\r\nTransfer-Encoding: gzip\r\n\r\nhello"
            )),
            After::Close,
        ),
        "te-chunked-chunked" => (
            s(format!(
                "HTTP/1.1 200 OK\r\nX-Seen: {number}\r\nTransfer-Encoding: chunked, chunked\r\n\r\n\
                 5\r\nhello\r\n0\r\n\r\n"
            )),
            After::Close,
        ),
        "http10-te" => (
            s(format!(
                "HTTP/1.0 200 OK\r\nX-Seen: {number}\r\nTransfer-Encoding: chunked\r\n\r\n\
                 5\r\nhello\r\n0\r\n\r\n"
            )),
            After::Close,
        ),
        "obs-fold" => (
            s(format!(
                "HTTP/1.1 200 OK\r\nX-Seen: {number}\r\nX-Folded: a\r\n b\r\nContent-Length: 5\r\n\r\nhello"
            )),
            After::Close,
        ),
        "nul-header" => (
            s(format!(
                "HTTP/1.1 200 OK\r\nX-Seen: {number}\r\nX-Nul: a\0b\r\nContent-Length: 5\r\n\r\nhello"
            )),
            After::Close,
        ),
        "bare-lf" => (
            s(format!(
                "HTTP/1.1 200 OK\nX-Seen: {number}\nContent-Length: 5\n\nhello"
            )),
            After::Close,
        ),
        "100-then-200" => (
            s(format!(
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-Seen: {number}\r\n\
                 Content-Length: 5\r\n\r\nhello"
            )),
            After::Close,
        ),
        "102-then-200" => (
            s(format!(
                "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nX-Seen: {number}\r\n\
                 Content-Length: 5\r\n\r\nhello"
            )),
            After::Close,
        ),
        "204-body" => (
            s(format!(
                "HTTP/1.1 204 No Content\r\nX-Seen: {number}\r\nContent-Length: 5\r\n\r\nhello"
            )),
            After::Close,
        ),
        "no-length" => (
            s(format!("HTTP/1.1 200 OK\r\nX-Seen: {number}\r\n\r\nhello")),
            After::Close,
        ),
        "cl-short" => (
            s(format!(
                "HTTP/1.1 200 OK\r\nX-Seen: {number}\r\nContent-Length: 10\r\n\r\nhello"
            )),
            After::Close,
        ),
        "status-junk" => (
            s(format!(
                "HTTP/1.1 2000 OK\r\nX-Seen: {number}\r\nContent-Length: 5\r\n\r\nhello"
            )),
            After::Close,
        ),
        "garbage" => (b"FOO BAR\r\n\r\n".to_vec(), After::Close),
        "close" => (Vec::new(), After::Close),
        _ => return None,
    };
    Some(Answer { bytes, after })
}

// ------------------------------------------------------------------ framing

/// The outcome of framing the start of a buffer.
#[derive(Debug)]
enum Framing {
    /// More bytes are needed; `expects_continue` once a complete head asked
    /// for `100 Continue`.
    Incomplete { expects_continue: bool },
    /// A request and the bytes it took.
    Done(Framed, usize),
    /// Bytes the reader refuses.
    Reject(String),
}

/// A step that needs more bytes, or refuses them.
enum Stop {
    More,
    Bad(String),
}

fn bad<T>(why: impl Into<String>) -> Result<T, Stop> {
    Err(Stop::Bad(why.into()))
}

/// Frames one request at the start of `buf`.
fn frame(strictness: Strictness, buf: &[u8]) -> Framing {
    let mut reader = Lines {
        buf,
        pos: 0,
        strict: strictness == Strictness::Strict,
    };
    let head = match reader.head() {
        Ok(head) => head,
        Err(Stop::More) => {
            return Framing::Incomplete {
                expects_continue: false,
            }
        }
        Err(Stop::Bad(why)) => return Framing::Reject(why),
    };
    let expects_continue = head
        .request
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let mut request = head.request;
    let body = match head.body {
        Body::None => Ok((Vec::new(), Vec::new())),
        Body::Length(n) => reader.take(n as usize).map(|b| (b.to_vec(), Vec::new())),
        Body::Chunked => reader.chunked(),
    };
    match body {
        Ok((body, trailers)) => {
            request.body = body;
            request.trailers = trailers;
            Framing::Done(request, reader.pos)
        }
        Err(Stop::More) => Framing::Incomplete { expects_continue },
        Err(Stop::Bad(why)) => Framing::Reject(why),
    }
}

/// How a request's body is delimited.
enum Body {
    None,
    Length(u64),
    Chunked,
}

struct Head {
    request: Framed,
    body: Body,
}

/// Field lines as (name, value).
type Fields = Vec<(String, String)>;

/// A cursor over a buffer of lines, strict or lenient about line ends.
struct Lines<'a> {
    buf: &'a [u8],
    pos: usize,
    strict: bool,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|b| is_tchar(*b))
}

fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Field-value bytes the strict reader takes: all but NUL, CR and LF,
/// which RFC 9110 5.5 says a recipient must refuse (or replace) because
/// readers split lines on them. Other control bytes are outside the
/// grammar too but frame nothing, and nginx passes them on: refusing them
/// here would fault a proxy for what no reader misframes.
fn valid_value(value: &[u8]) -> bool {
    !value.iter().any(|b| matches!(b, b'\0' | b'\r' | b'\n'))
}

/// RFC 3986 `uri-host [":" port]`, as RFC 9112 requires of `Host`.
fn valid_host(value: &[u8]) -> bool {
    let (host, port) = if value.first() == Some(&b'[') {
        let Some(end) = value.iter().position(|b| *b == b']') else {
            return false;
        };
        let literal = &value[1..end];
        if literal.is_empty()
            || !literal
                .iter()
                .all(|b| b.is_ascii_hexdigit() || b":.vV".contains(b))
        {
            return false;
        }
        (&value[..0], &value[end + 1..])
    } else {
        match value.iter().rposition(|b| *b == b':') {
            Some(i) => (&value[..i], &value[i..]),
            None => (value, &value[value.len()..]),
        }
    };
    let mut i = 0;
    while i < host.len() {
        let b = host[i];
        if b == b'%' {
            let escaped = i + 2 < host.len()
                && host[i + 1].is_ascii_hexdigit()
                && host[i + 2].is_ascii_hexdigit();
            if !escaped {
                return false;
            }
            i += 3;
            continue;
        }
        if !(b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b)) {
            return false;
        }
        i += 1;
    }
    match port {
        [] => true,
        [b':', digits @ ..] => digits.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

impl<'a> Lines<'a> {
    /// The next line without its end; strict: CRLF only, no other CR.
    fn line(&mut self) -> Result<&'a [u8], Stop> {
        let rest = &self.buf[self.pos..];
        let Some(lf) = rest.iter().position(|b| *b == b'\n') else {
            // A CR is only the start of a line end if it comes last.
            let cr = rest.iter().position(|b| *b == b'\r');
            if self.strict && cr.is_some_and(|cr| cr + 1 < rest.len()) {
                return bad("bare CR");
            }
            return Err(Stop::More);
        };
        let line = &rest[..lf];
        self.pos += lf + 1;
        if self.strict {
            let Some(line) = line.strip_suffix(b"\r") else {
                return bad("bare LF as a line end");
            };
            if line.contains(&b'\r') {
                return bad("bare CR");
            }
            Ok(line)
        } else {
            Ok(line.strip_suffix(b"\r").unwrap_or(line))
        }
    }

    /// `n` bytes.
    fn take(&mut self, n: usize) -> Result<&'a [u8], Stop> {
        if self.buf.len() - self.pos < n {
            return Err(Stop::More);
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    /// Field lines up to an empty line.
    fn fields(&mut self) -> Result<Fields, Stop> {
        let mut fields: Vec<(String, String)> = Vec::new();
        loop {
            let line = self.line()?;
            if line.is_empty() {
                return Ok(fields);
            }
            if self.strict {
                if matches!(line[0], b' ' | b'\t') {
                    return bad("obs-fold");
                }
                let Some(colon) = line.iter().position(|b| *b == b':') else {
                    return bad("field line without a colon");
                };
                let name = &line[..colon];
                if !is_token(name) {
                    return bad(format!("field name {:?}", text(name)));
                }
                let value = trim_ows(&line[colon + 1..]);
                if !valid_value(value) {
                    return bad(format!("NUL, CR or LF in the value of {}", text(name)));
                }
                fields.push((text(name), text(value)));
            } else if matches!(line[0], b' ' | b'\t') {
                if let Some((_, value)) = fields.last_mut() {
                    value.push(' ');
                    value.push_str(&text(trim_ows(line)));
                }
            } else if let Some(colon) = line.iter().position(|b| *b == b':') {
                let name = trim_ows(&line[..colon]);
                fields.push((text(name), text(trim_ows(&line[colon + 1..]))));
            }
        }
    }

    /// The request line and header section, and how the body is delimited.
    fn head(&mut self) -> Result<Head, Stop> {
        // Empty lines before a request line are ignored (RFC 9112 2.2).
        loop {
            let rest = &self.buf[self.pos..];
            if self.strict && rest.starts_with(b"\r\n") {
                self.pos += 2;
            } else if !self.strict && matches!(rest.first(), Some(b'\r' | b'\n')) {
                self.pos += 1;
            } else {
                break;
            }
        }
        if self.pos == self.buf.len() || (self.strict && &self.buf[self.pos..] == b"\r") {
            return Err(Stop::More);
        }
        let line = self.line()?;
        let (method, target, version) = if self.strict {
            let parts: Vec<&[u8]> = line.split(|b| *b == b' ').collect();
            let [method, target, version] = parts[..] else {
                return bad("request line not METHOD SP TARGET SP VERSION");
            };
            if !is_token(method) {
                return bad("method not a token");
            }
            if target.is_empty() || target.iter().any(|b| *b < 0x21 || *b == 0x7f) {
                return bad("request target with a control byte");
            }
            let v = version;
            if !(v.len() == 8
                && v.starts_with(b"HTTP/")
                && v[5].is_ascii_digit()
                && v[6] == b'.'
                && v[7].is_ascii_digit())
            {
                return bad("malformed HTTP version");
            }
            if v[5] != b'1' {
                return bad("HTTP major version not 1");
            }
            (text(method), text(target), text(version))
        } else {
            let parts: Vec<&[u8]> = line
                .split(|b| *b == b' ' || *b == b'\t')
                .filter(|p| !p.is_empty())
                .collect();
            if parts.len() < 2 {
                return bad("no request line");
            }
            let version = parts.get(2).map_or("HTTP/0.9".to_string(), |v| text(v));
            (text(parts[0]), text(parts[1]), version)
        };
        let headers = self.fields()?;
        let request = Framed {
            method,
            target,
            version,
            headers,
            body: Vec::new(),
            trailers: Vec::new(),
        };
        let body = if self.strict {
            strict_body(&request)?
        } else {
            lenient_body(&request)?
        };
        Ok(Head { request, body })
    }

    /// A chunked body: its bytes and trailer fields.
    fn chunked(&mut self) -> Result<(Vec<u8>, Fields), Stop> {
        let mut body = Vec::new();
        loop {
            let line = self.line()?;
            let size = if self.strict {
                strict_chunk_size(line)?
            } else {
                lenient_chunk_size(line)?
            };
            if size == 0 {
                let trailers = self.fields()?;
                if self.strict {
                    if let Some((name, _)) = trailers.iter().find(|(k, _)| {
                        ["content-length", "transfer-encoding", "host"]
                            .contains(&k.to_ascii_lowercase().as_str())
                    }) {
                        return bad(format!("{name} in the trailers"));
                    }
                }
                return Ok((body, trailers));
            }
            if body.len() as u64 + size > MAX_BODY {
                return bad("chunked body too large");
            }
            body.extend_from_slice(self.take(size as usize)?);
            if self.strict {
                if self.take(2)? != b"\r\n" {
                    return bad("chunk data not followed by CRLF");
                }
            } else {
                // Whatever follows the data, up to a line end, is skipped.
                self.line()?;
            }
        }
    }
}

/// `chunk-size [ chunk-ext ]` by the grammar of RFC 9112 7.1.
fn strict_chunk_size(line: &[u8]) -> Result<u64, Stop> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return bad("chunk size not hex");
    }
    if digits > 15 {
        return bad("chunk size too long");
    }
    let Ok(size) = u64::from_str_radix(&text(&line[..digits]), 16) else {
        return bad("chunk size");
    };
    let mut ext = &line[digits..];
    // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
    loop {
        ext = trim_start_ows(ext);
        if ext.is_empty() {
            break;
        }
        let [b';', rest @ ..] = ext else {
            return bad("junk after the chunk size");
        };
        ext = trim_start_ows(rest);
        let name_len = ext.iter().take_while(|b| is_tchar(**b)).count();
        if name_len == 0 {
            return bad("chunk extension without a name");
        }
        ext = trim_start_ows(&ext[name_len..]);
        if let [b'=', rest @ ..] = ext {
            ext = trim_start_ows(rest);
            if let [b'"', rest @ ..] = ext {
                let mut i = 0;
                loop {
                    match rest.get(i) {
                        None => return bad("unterminated quoted chunk extension"),
                        Some(b'"') => break,
                        Some(b'\\') => {
                            match rest.get(i + 1) {
                                Some(b) if *b == b'\t' || *b >= 0x20 && *b != 0x7f => {}
                                _ => return bad("bad quoted-pair in a chunk extension"),
                            }
                            i += 2;
                        }
                        Some(b) if *b == b'\t' || *b >= 0x20 && *b != 0x7f => i += 1,
                        Some(_) => return bad("control byte in a chunk extension"),
                    }
                }
                ext = &rest[i + 1..];
            } else {
                let len = ext.iter().take_while(|b| is_tchar(**b)).count();
                if len == 0 {
                    return bad("chunk extension without a value");
                }
                ext = &ext[len..];
            }
        }
    }
    Ok(size)
}

fn trim_start_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    bytes
}

/// The leading hex digits of the line (after blanks); the rest is ignored.
fn lenient_chunk_size(line: &[u8]) -> Result<u64, Stop> {
    let line = trim_start_ows(line);
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return bad("no chunk size");
    }
    let mut size: u64 = 0;
    for b in &line[..digits] {
        let d = (*b as char).to_digit(16).unwrap_or(0) as u64;
        size = size.saturating_mul(16).saturating_add(d);
    }
    if size > MAX_BODY {
        return bad("chunk too large");
    }
    Ok(size)
}

/// Header field lines named `name` (case-insensitive).
fn field_lines<'r>(request: &'r Framed, name: &str) -> Vec<&'r str> {
    request
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// RFC 9112 section 6 and 3.2, read strictly: one valid `Host` (HTTP/1.1),
/// one `chunked` coding or one all-digits `Content-Length`, never both.
fn strict_body(request: &Framed) -> Result<Body, Stop> {
    let hosts = field_lines(request, "host");
    if hosts.len() > 1 {
        return bad("more than one Host");
    }
    if hosts.is_empty() && request.version == "HTTP/1.1" {
        return bad("no Host in an HTTP/1.1 request");
    }
    if let Some(host) = hosts.first() {
        if !valid_host(host.as_bytes()) {
            return bad(format!("invalid Host {host:?}"));
        }
    }
    let te = field_lines(request, "transfer-encoding");
    let cl = field_lines(request, "content-length");
    if !te.is_empty() {
        if request.version != "HTTP/1.1" {
            return bad("Transfer-Encoding in an HTTP/1.0 request");
        }
        if !cl.is_empty() {
            return bad("both Transfer-Encoding and Content-Length");
        }
        if te.len() != 1 || !te[0].eq_ignore_ascii_case("chunked") {
            return bad(format!("transfer coding {te:?}"));
        }
        return Ok(Body::Chunked);
    }
    match cl[..] {
        [] => Ok(Body::None),
        [value] => {
            if value.is_empty() || value.len() > 15 || !value.bytes().all(|b| b.is_ascii_digit()) {
                return bad(format!("Content-Length {value:?}"));
            }
            let n: u64 = value
                .parse()
                .map_err(|_| Stop::Bad("Content-Length".into()))?;
            if n > MAX_BODY {
                return bad("body too large");
            }
            Ok(Body::Length(n))
        }
        _ => bad("more than one Content-Length"),
    }
}

/// As sloppy servers do: the first `Content-Length` wins over any
/// `Transfer-Encoding` and is read like `atoi`; else a `Transfer-Encoding`
/// mentioning `chunked` anywhere means chunked.
fn lenient_body(request: &Framed) -> Result<Body, Stop> {
    if let Some(value) = request.header("content-length") {
        let value = value.trim_start();
        let value = value.strip_prefix('+').unwrap_or(value);
        let mut n: u64 = 0;
        for b in value.bytes().take_while(u8::is_ascii_digit) {
            n = n.saturating_mul(10).saturating_add(u64::from(b - b'0'));
        }
        if n > MAX_BODY {
            return bad("body too large");
        }
        return Ok(if n == 0 { Body::None } else { Body::Length(n) });
    }
    if let Some(te) = request.header("transfer-encoding") {
        if te.to_ascii_lowercase().contains("chunked") {
            return Ok(Body::Chunked);
        }
    }
    Ok(Body::None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(strictness: Strictness, bytes: &[u8]) -> Result<(Framed, usize), String> {
        match frame(strictness, bytes) {
            Framing::Done(r, n) => Ok((r, n)),
            Framing::Incomplete { .. } => Err("incomplete".into()),
            Framing::Reject(why) => Err(why),
        }
    }

    #[test]
    fn both_frame_a_clean_chunked_request() {
        let bytes = b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                      5;a=b;c=\"d\\\"e\"\r\nhello\r\n0\r\nX-T: 1\r\n\r\nGET";
        for s in [Strictness::Strict, Strictness::Lenient] {
            let (r, n) = framed(s, bytes).unwrap();
            assert_eq!(r.body, b"hello");
            assert_eq!(r.trailers, vec![("X-T".to_string(), "1".to_string())]);
            assert_eq!(&bytes[n..], b"GET");
        }
    }

    #[test]
    fn funky_chunks_split_the_readers() {
        let bytes = b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                      2;\nAB\r\n30\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(framed(Strictness::Strict, bytes).is_err());
        // A reader of CRLF lines ends the body at `0\r\n\r\n`; the lenient
        // one reads `2` (data `AB`), then `30`: 48 bytes that swallow the
        // end and the next request, and waits for more.
        assert!(matches!(
            frame(Strictness::Lenient, bytes),
            Framing::Incomplete { .. }
        ));
    }

    #[test]
    fn lenient_prefers_content_length() {
        let bytes = b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
                      Content-Length: 3\r\n\r\n0\r\n\r\n";
        let (r, _) = framed(Strictness::Lenient, bytes).unwrap();
        assert_eq!(r.body, b"0\r\n");
        assert!(framed(Strictness::Strict, bytes).is_err());
    }

    #[test]
    fn hosts() {
        for ok in ["x", "a.b:80", "[::1]:8080", "", "a%20b", "s11_strict_0"] {
            assert!(valid_host(ok.as_bytes()), "{ok}");
        }
        for no in ["local host", "a/b", "a:b", "a%2", "[::1"] {
            assert!(!valid_host(no.as_bytes()), "{no}");
        }
    }
}

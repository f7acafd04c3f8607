//! HTTP/1.x on the wire through the edge, as nginx speaks it: request
//! bodies (chunked, long, after `100 Continue`), pipelining, HTTP/1.0
//! clients, responses delimited by close or by chunks, idle upstream
//! connections that their server closed, oversized heads, and HEAD.
//!
//! Clients are raw sockets ([`Conn`]), so what happens between requests on
//! one connection is visible. Responses the axum backend cannot give
//! (close-delimited, chunked, a short keep-alive) come from [`RawBackend`].

use openclaw_e2e::client::Conn;
use openclaw_e2e::wait::until;
use openclaw_e2e::{bounded, Backend, Edge, EdgeConfig, Request, Response, Server, Upstream};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Time bound of each test.
const LIMIT: Duration = Duration::from_secs(30);

/// An edge proxying `/` to the one server at `addr`.
async fn edge_to(addr: SocketAddr) -> Edge {
    let upstream = Upstream::new("app", "round_robin", vec![Server::new(addr)]);
    Edge::start(EdgeConfig::new(upstream)).await
}

/// A reporting backend behind an edge.
async fn one_backend() -> (Backend, Edge) {
    let backend = Backend::start("s0").await;
    let edge = edge_to(backend.addr()).await;
    (backend, edge)
}

/// `n` bytes of numbered lines (`0000000\n0000001\n...`): a lost, repeated
/// or moved piece shows in the content, not only in the length.
fn pattern(n: usize) -> Vec<u8> {
    (0..)
        .flat_map(|i: u32| format!("{i:07}\n").into_bytes())
        .take(n)
        .collect()
}

/// `body` in chunked encoding, cut into chunks of `sizes` (cycled). Size
/// lines vary in spelling: lowercase hex, uppercase hex, and with a chunk
/// extension.
fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    for (i, size) in sizes.iter().cycle().enumerate() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at((*size).min(rest.len()));
        let line = match i % 3 {
            0 => format!("{:x}\r\n", chunk.len()),
            1 => format!("{:X}\r\n", chunk.len()),
            _ => format!("{:x};name=value\r\n", chunk.len()),
        };
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
        rest = tail;
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Where `got` and `want` first differ, with a little of each from there.
fn first_difference(got: &[u8], want: &[u8]) -> String {
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let around = |b: &[u8]| {
        String::from_utf8_lossy(&b[at.min(b.len())..(at + 40).min(b.len())]).into_owned()
    };
    format!(
        "{} bytes, expected {}; first difference at byte {at}: got {:?}, expected {:?}",
        got.len(),
        want.len(),
        around(got),
        around(want)
    )
}

/// The start of a response's body, for messages.
fn excerpt(resp: &Response) -> String {
    let text = resp.text();
    match text.char_indices().nth(600) {
        Some((i, _)) => format!("{}... ({} bytes)", &text[..i], resp.body.len()),
        None => text,
    }
}

/// Asserts a 200 from the reporting backend for `method path`, and returns
/// its report.
fn report_of(resp: &Response, method: &str, path: &str) -> serde_json::Value {
    assert_eq!(
        resp.status,
        200,
        "{method} {path}: headers {:?}, body {}",
        resp.headers,
        excerpt(resp)
    );
    let report = resp.json();
    assert_eq!(
        report["method"],
        method,
        "{method} {path}: {}",
        excerpt(resp)
    );
    assert_eq!(report["path"], path, "{method} {path}: {}", excerpt(resp));
    report
}

/// Asserts that the reporting backend got exactly `want` as the body.
fn assert_body_received(resp: &Response, want: &[u8], what: &str) {
    let report = resp.json();
    assert_eq!(
        report["body_len"].as_u64(),
        Some(want.len() as u64),
        "{what}: body length the backend received"
    );
    let got = report["body"].as_str().unwrap_or_default().as_bytes();
    assert!(
        got == want,
        "{what}: the body the backend received differs: {}",
        first_difference(got, want)
    );
}

/// Asserts that the edge closes `conn` next, sending nothing more.
async fn assert_closed(conn: &mut Conn, after: &str) {
    match conn.closed().await {
        Ok(rest) => assert!(
            rest.is_empty(),
            "after {after}: {} more bytes before the close: {:?}",
            rest.len(),
            String::from_utf8_lossy(&rest)
        ),
        Err(e) => panic!("after {after} the edge should close the connection: {e}"),
    }
}

/// Connects to the edge.
async fn conn(edge: &Edge) -> Conn {
    Conn::open(edge.addr()).await.expect("connect to the edge")
}

/// Sends `bytes` on `conn` and reads a response, panicking with `what`.
async fn exchange(conn: &mut Conn, bytes: &[u8], what: &str) -> Response {
    conn.send(bytes)
        .await
        .unwrap_or_else(|e| panic!("sending {what}: {e}"));
    conn.response()
        .await
        .unwrap_or_else(|e| panic!("the response to {what}: {e}"))
}

// ---------------------------------------------------------------------------
// Raw backends

/// A backend on a raw socket, for responses the reporting backend cannot
/// give: it runs `serve` on each accepted connection and counts the
/// connections it has accepted. Stopped when dropped.
struct RawBackend {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl RawBackend {
    /// Listens on a new port of 127.0.0.1. `serve` owns the connection:
    /// when it returns, the socket is closed.
    async fn start<F, Fut>(serve: F) -> RawBackend
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("raw backend bind");
        let addr = listener.local_addr().expect("local addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let a = accepted.clone();
        let task = tokio::spawn(async move {
            // Connection tasks belong to this task: aborting it ends them.
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                a.fetch_add(1, Ordering::SeqCst);
                connections.spawn(serve(stream));
                while connections.try_join_next().is_some() {}
            }
        });
        RawBackend {
            addr,
            accepted,
            task,
        }
    }

    /// Connections accepted so far.
    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for RawBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request (its head, and a Content-Length body) from `stream`,
/// keeping bytes past it in `buf`. `Ok(false)` when the connection ends
/// before a request starts.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    loop {
        if !buf.is_empty() {
            let mut slots = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut slots);
            let parsed = req.parse(buf).map_err(|e| bad(e.to_string()))?;
            if let httparse::Status::Complete(n) = parsed {
                let length = req
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .map(|h| String::from_utf8_lossy(h.value).trim().parse::<usize>())
                    .transpose()
                    .map_err(|e| bad(format!("content-length: {e}")))?
                    .unwrap_or(0);
                buf.drain(..n);
                while buf.len() < length {
                    if stream.read_buf(buf).await? == 0 {
                        return Err(bad("the request body ended early".into()));
                    }
                }
                buf.drain(..length);
                return Ok(true);
            }
        }
        if stream.read_buf(buf).await? == 0 {
            if buf.is_empty() {
                return Ok(false);
            }
            return Err(bad("the connection ended inside a request head".into()));
        }
    }
}

/// Body of the close-delimited response: more than one read's worth.
const CLOSE_DELIMITED_LEN: usize = 200_000;

/// Answers one request HTTP/1.0-style: no length, the end of the body is
/// the end of the connection.
async fn close_delimited(mut stream: TcpStream) {
    let mut buf = Vec::new();
    if !matches!(read_request(&mut stream, &mut buf).await, Ok(true)) {
        return;
    }
    let head = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nX-Raw: close-delimited\r\n\r\n";
    if stream.write_all(head).await.is_err() {
        return;
    }
    for piece in pattern(CLOSE_DELIMITED_LEN).chunks(16 * 1024) {
        if stream.write_all(piece).await.is_err() {
            return;
        }
    }
    let _ = stream.shutdown().await;
}

/// Body of the chunked response.
const CHUNKED_LEN: usize = 70_000;

/// Chunk sizes of the chunked response.
const CHUNK_SIZES: [usize; 6] = [1, 10, 4096, 255, 16 * 1024, 3000];

/// Answers every request on the connection with a chunked 200, the
/// encoded body written in a few pieces (cutting through size lines).
async fn chunked_responses(mut stream: TcpStream) {
    let mut buf = Vec::new();
    let encoded = chunked(&pattern(CHUNKED_LEN), &CHUNK_SIZES);
    while let Ok(true) = read_request(&mut stream, &mut buf).await {
        let head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nX-Raw: chunked\r\n\r\n";
        if stream.write_all(head).await.is_err() {
            return;
        }
        for piece in encoded.chunks(7_777) {
            if stream.write_all(piece).await.is_err() {
                return;
            }
        }
    }
}

/// How long the short keep-alive server keeps an idle connection.
const SHORT_KEEPALIVE: Duration = Duration::from_millis(50);

/// Answers each request with `200 ok` (keep-alive implied by HTTP/1.1),
/// and closes the connection once it has been idle for
/// [`SHORT_KEEPALIVE`], counting such closes in `idle_closes` (a
/// connection the proxy closes first is not counted).
async fn short_keepalive(mut stream: TcpStream, idle_closes: Arc<AtomicUsize>) {
    let mut buf = Vec::new();
    let mut first = true;
    loop {
        let next = read_request(&mut stream, &mut buf);
        let got = if first {
            next.await
        } else {
            match tokio::time::timeout(SHORT_KEEPALIVE, next).await {
                Ok(got) => got,
                Err(_) => {
                    idle_closes.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            }
        };
        if !matches!(got, Ok(true)) {
            return;
        }
        first = false;
        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        if stream.write_all(answer).await.is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------
// Request bodies

/// Chunked request bodies reach the backend whole: a short one (held for
/// retries) and a long one (streamed), one after the other on one
/// keep-alive connection, each sent in pieces that cut through chunks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_request_body_reaches_the_backend() {
    bounded(LIMIT, async {
        let (_backend, edge) = one_backend().await;
        let mut conn = conn(&edge).await;
        let cases = [
            ("/short", pattern(3_000), &[1, 15, 16, 255, 256][..], ""),
            ("/long", pattern(300_000), &[8192, 1, 10_000, 4095][..], "Connection: close\r\n"),
        ];
        for (path, body, sizes, extra) in cases {
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n{extra}\r\n"
            );
            let encoded = chunked(&body, sizes);
            let what = format!("a chunked POST of {} bytes to {path}", body.len());
            conn.send(head.as_bytes())
                .await
                .unwrap_or_else(|e| panic!("sending the head of {what}: {e}"));
            let (first, second) = encoded.split_at(encoded.len() / 2 + 1);
            conn.send(first)
                .await
                .unwrap_or_else(|e| panic!("sending {what}: {e}"));
            let resp = exchange(&mut conn, second, &what).await;
            report_of(&resp, "POST", path);
            assert_body_received(&resp, &body, &what);
        }
        assert_closed(&mut conn, "a request with Connection: close").await;
    })
    .await;
}

/// A 1 MiB Content-Length body, far over the edge's 64 KiB retry buffer,
/// streams to the backend whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_content_length_body_streams_to_the_backend() {
    bounded(LIMIT, async {
        let (_backend, edge) = one_backend().await;
        let body = pattern(1024 * 1024);
        let mut request = format!(
            "POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        let mut conn = conn(&edge).await;
        let resp = exchange(&mut conn, &request, "a 1 MiB POST").await;
        report_of(&resp, "POST", "/upload");
        assert_body_received(&resp, &body, "a 1 MiB POST");
    })
    .await;
}

/// `Expect: 100-continue`: the edge says `100 Continue` before the client
/// sends the body, then the request goes through with the body and
/// without `Expect`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_100_continue() {
    bounded(LIMIT, async {
        let (_backend, edge) = one_backend().await;
        let body = pattern(5_000);
        let head = format!(
            "POST /expect HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let mut conn = conn(&edge).await;
        let interim = exchange(&mut conn, head.as_bytes(), "a head with Expect: 100-continue").await;
        assert_eq!(
            interim.status,
            100,
            "the answer to the head alone should be 100 Continue; got headers {:?}, body {}",
            interim.headers,
            excerpt(&interim)
        );
        let resp = exchange(&mut conn, &body, "the body after 100 Continue").await;
        report_of(&resp, "POST", "/expect");
        assert_body_received(&resp, &body, "the body after 100 Continue");
        assert_eq!(
            resp.received_header("expect"),
            Vec::<String>::new(),
            "the backend should not see Expect: the edge answered it"
        );
        assert_closed(&mut conn, "a request with Connection: close").await;
    })
    .await;
}

// ---------------------------------------------------------------------------
// Connections

/// Two GETs written at once on one connection are answered, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_gets_are_answered_in_order() {
    bounded(LIMIT, async {
        let (backend, edge) = one_backend().await;
        let mut conn = conn(&edge).await;
        conn.send(
            b"GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n\
              GET /b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await
        .expect("send two requests");
        for path in ["/a", "/b"] {
            let resp = conn
                .response()
                .await
                .unwrap_or_else(|e| panic!("the response for {path}: {e}"));
            report_of(&resp, "GET", path);
        }
        assert_closed(&mut conn, "the second request, with Connection: close").await;
        assert_eq!(backend.requests(), 2);
    })
    .await;
}

/// A POST with a body, then a GET, written at once: the body ends where
/// its Content-Length says and the GET after it is a request of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_post_then_get() {
    bounded(LIMIT, async {
        let (_backend, edge) = one_backend().await;
        let mut conn = conn(&edge).await;
        conn.send(
            b"POST /p HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n\r\nhello world\
              GET /q HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await
        .expect("send two requests");
        let post = conn.response().await.expect("the response to the POST");
        report_of(&post, "POST", "/p");
        assert_body_received(&post, b"hello world", "the pipelined POST");
        let get = conn.response().await.expect("the response to the GET");
        report_of(&get, "GET", "/q");
        assert_body_received(&get, b"", "the GET after the POST");
        assert_closed(&mut conn, "the GET with Connection: close").await;
    })
    .await;
}

/// An HTTP/1.0 client without keep-alive gets its answer, then the close;
/// with `Connection: keep-alive` it is told `Connection: keep-alive` and
/// its connection carries further requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http10_clients_close_or_keep_alive() {
    bounded(LIMIT, async {
        let (_backend, edge) = one_backend().await;

        let mut plain = conn(&edge).await;
        let resp = exchange(&mut plain, b"GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.0").await;
        report_of(&resp, "GET", "/");
        assert!(
            resp.header("connection")
                .is_none_or(|v| v.eq_ignore_ascii_case("close")),
            "an HTTP/1.0 answer without keep-alive: Connection {:?}",
            resp.header("connection")
        );
        assert_closed(&mut plain, "an HTTP/1.0 request without keep-alive").await;

        let mut kept = conn(&edge).await;
        for path in ["/first", "/second"] {
            let request =
                format!("GET {path} HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n");
            let what = format!("HTTP/1.0 GET {path} with keep-alive");
            let resp = exchange(&mut kept, request.as_bytes(), &what).await;
            report_of(&resp, "GET", path);
            assert!(
                resp.header("connection")
                    .is_some_and(|v| v.eq_ignore_ascii_case("keep-alive")),
                "{what}: Connection {:?}, headers {:?}",
                resp.header("connection"),
                resp.headers
            );
        }
        let last = b"GET /last HTTP/1.0\r\nHost: localhost\r\n\r\n";
        let resp = exchange(&mut kept, last, "HTTP/1.0 GET /last without keep-alive").await;
        report_of(&resp, "GET", "/last");
        assert_closed(&mut kept, "an HTTP/1.0 request without keep-alive").await;
    })
    .await;
}

// ---------------------------------------------------------------------------
// Response bodies

/// A response whose end is the server's close reaches an HTTP/1.1 client
/// whole, in the edge's own chunks, so the client's connection stays
/// usable (as behind nginx).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_delimited_response_reaches_the_client() {
    bounded(LIMIT, async {
        let raw = RawBackend::start(close_delimited).await;
        let edge = edge_to(raw.addr).await;
        let mut conn = conn(&edge).await;
        let what = "a GET answered by a close-delimited response";
        let resp = exchange(
            &mut conn,
            b"GET /until-close HTTP/1.1\r\nHost: localhost\r\n\r\n",
            what,
        )
        .await;
        assert_eq!(resp.status, 200, "{what}: headers {:?}", resp.headers);
        assert_eq!(
            resp.header("x-raw"),
            Some("close-delimited"),
            "{what}: {:?}",
            resp.headers
        );
        let want = pattern(CLOSE_DELIMITED_LEN);
        assert!(
            resp.body == want,
            "{what}: body {}",
            first_difference(&resp.body, &want)
        );
        // As nginx: the edge re-frames the body in chunks of its own, so the
        // client's connection outlives the server's.
        assert_eq!(
            resp.header("transfer-encoding"),
            Some("chunked"),
            "{what}: {:?}",
            resp.headers
        );
        let again = exchange(
            &mut conn,
            b"GET /until-close HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            "a second request on the same connection",
        )
        .await;
        assert!(
            again.body == want,
            "second body: {}",
            first_difference(&again.body, &want)
        );
        assert_closed(&mut conn, what).await;
        assert_eq!(raw.accepted(), 2);
    })
    .await;
}

/// A chunked response reaches an HTTP/1.1 client whole (and the connection
/// serves another request), and an HTTP/1.0 client gets it de-chunked,
/// without `Transfer-Encoding`, delimited by the close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_response_to_http11_and_http10_clients() {
    bounded(LIMIT, async {
        let raw = RawBackend::start(chunked_responses).await;
        let edge = edge_to(raw.addr).await;
        let want = pattern(CHUNKED_LEN);

        let mut conn11 = conn(&edge).await;
        for path in ["/chunked", "/chunked-again"] {
            let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
            let what = format!("HTTP/1.1 GET {path} answered with chunks");
            let resp = exchange(&mut conn11, request.as_bytes(), &what).await;
            assert_eq!(resp.status, 200, "{what}: headers {:?}", resp.headers);
            assert_eq!(
                resp.header("x-raw"),
                Some("chunked"),
                "{what}: {:?}",
                resp.headers
            );
            assert!(
                resp.body == want,
                "{what}: body {}",
                first_difference(&resp.body, &want)
            );
        }

        let mut conn10 = conn(&edge).await;
        let what = "HTTP/1.0 GET answered with chunks";
        let resp = exchange(&mut conn10, b"GET /chunked HTTP/1.0\r\n\r\n", what).await;
        assert_eq!(resp.status, 200, "{what}: headers {:?}", resp.headers);
        assert_eq!(
            resp.header("transfer-encoding"),
            None,
            "{what}: an HTTP/1.0 client must not get Transfer-Encoding; headers {:?}",
            resp.headers
        );
        assert!(
            resp.body == want,
            "{what}: body {}",
            first_difference(&resp.body, &want)
        );
        assert_closed(&mut conn10, what).await;
    })
    .await;
}

// ---------------------------------------------------------------------------
// Upstream connections

/// A server that closes idle keep-alive connections after 50 ms: once it
/// has closed the edge's idle connection, the next GET and POST still get
/// 200s (the edge sees the close and uses a new connection; a POST, which
/// is never retried, must not be sent on the closed one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_upstream_connection_closed_by_the_server() {
    bounded(LIMIT, async {
        let idle_closes = Arc::new(AtomicUsize::new(0));
        let counter = idle_closes.clone();
        let raw = RawBackend::start(move |s| short_keepalive(s, counter.clone())).await;
        let edge = edge_to(raw.addr).await;
        let requests = ["GET", "GET", "POST", "GET", "POST"];
        for (i, method) in requests.into_iter().enumerate() {
            let what = format!("{method} #{i}");
            let resp = match method {
                "GET" => Request::get(edge.addr(), "/")
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{what}: {e}")),
                _ => {
                    let post = b"POST /form HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
                    exchange(&mut conn(&edge).await, post, &what).await
                }
            };
            assert_eq!(
                (resp.status, resp.text().as_str()),
                (200, "ok"),
                "{what}, after the server closed {} idle connection(s): headers {:?}",
                idle_closes.load(Ordering::SeqCst),
                resp.headers
            );
            // Counted only if the edge kept the connection open, idle.
            until(
                "the server to close the edge's idle connection",
                Duration::from_secs(5),
                || async { idle_closes.load(Ordering::SeqCst) == i + 1 },
            )
            .await;
        }
        assert_eq!(raw.accepted(), requests.len(), "one connection per request");
    })
    .await;
}

// ---------------------------------------------------------------------------
// Heads

/// A head over 32 KiB (one huge header) gets a 400, and the edge serves the
/// next client; a 25 KiB head in 5 KiB lines is still fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_head_gets_400() {
    bounded(LIMIT, async {
        let (backend, edge) = one_backend().await;

        let line = "b".repeat(5 * 1024);
        let mut request = String::from("GET /large HTTP/1.1\r\nHost: localhost\r\n");
        for i in 0..5 {
            request.push_str(&format!("X-Part-{i}: {line}\r\n"));
        }
        request.push_str("Connection: close\r\n\r\n");
        let resp = exchange(&mut conn(&edge).await, request.as_bytes(), "a 25 KiB head").await;
        report_of(&resp, "GET", "/large");
        for i in 0..5 {
            assert_eq!(
                resp.received_header(&format!("x-part-{i}")),
                std::slice::from_ref(&line)
            );
        }

        let huge = format!(
            "GET /huge HTTP/1.1\r\nHost: localhost\r\nX-Huge: {}\r\n\r\n",
            "a".repeat(40 * 1024)
        );
        let mut conn_huge = conn(&edge).await;
        // The edge may answer and close before it has read all of this;
        // what it answers is under test, not whether the write completes.
        let _ = conn_huge.send(huge.as_bytes()).await;
        let resp = conn_huge
            .response()
            .await
            .unwrap_or_else(|e| panic!("no answer to a 40 KiB header: {e}"));
        assert_eq!(
            resp.status,
            400,
            "a 40 KiB header: headers {:?}, body {}",
            resp.headers,
            excerpt(&resp)
        );

        let next = Request::get(edge.addr(), "/next")
            .send()
            .await
            .expect("the next client");
        report_of(&next, "GET", "/next");
        assert_eq!(
            backend.requests(),
            2,
            "the oversized request must not reach the backend"
        );
    })
    .await;
}

/// HEAD gets the backend's headers and no body, and the connection then
/// serves a GET.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_has_headers_and_no_body() {
    bounded(LIMIT, async {
        let (backend, edge) = one_backend().await;
        let head = b"HEAD /h HTTP/1.1\r\nHost: localhost\r\n\r\n";

        let mut direct = Conn::open(backend.addr())
            .await
            .expect("connect to the backend");
        direct.send(head).await.expect("HEAD to the backend");
        let direct = direct
            .head_response()
            .await
            .expect("the backend's HEAD answer");
        assert_eq!(direct.status, 200, "the backend's own HEAD answer");

        let mut conn = conn(&edge).await;
        conn.send(head).await.expect("HEAD through the edge");
        let resp = conn
            .head_response()
            .await
            .expect("the HEAD answer through the edge");
        assert_eq!(
            resp.status, 200,
            "HEAD through the edge: {:?}",
            resp.headers
        );
        assert_eq!(
            resp.header("content-type"),
            direct.header("content-type"),
            "HEAD through the edge: {:?}; the backend's own: {:?}",
            resp.headers,
            direct.headers
        );
        assert_eq!(
            resp.header("content-length").is_some(),
            direct.header("content-length").is_some(),
            "Content-Length through the edge: {:?}; the backend's own: {:?}",
            resp.headers,
            direct.headers
        );

        let get = b"GET /after-head HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        let resp = exchange(&mut conn, get, "a GET after HEAD on the same connection").await;
        report_of(&resp, "GET", "/after-head");
        assert_closed(&mut conn, "a GET with Connection: close").await;
    })
    .await;
}

//! Raw `101 Switching Protocols` backends and clients for tunnel tests and
//! the tunnel benchmark: no WebSocket framing, just bytes after the
//! handshake, so what is measured and checked is the edge's relay alone.
//!
//! The request path picks what the backend does after its 101:
//! - `/echo`: writes back every byte; on the client's FIN it writes `bye`
//!   and closes its side (shows that a half-close is passed on, not taken
//!   for the end of the tunnel);
//! - `/stream`: writes the [`pattern`] without end (until the peer goes) and
//!   counts, without echoing, the bytes it receives.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Byte `i` of the stream a `/stream` backend sends (and bulk clients send):
/// position-dependent, so a lost, repeated or reordered chunk shows.
pub fn pattern(i: u64) -> u8 {
    (i % 251) as u8
}

/// Fills `buf` with [`pattern`] bytes starting at offset `from`.
pub fn fill_pattern(buf: &mut [u8], from: u64) {
    for (k, b) in buf.iter_mut().enumerate() {
        *b = pattern(from + k as u64);
    }
}

/// A raw 101 backend on a free loopback port; stops when dropped.
pub struct RawBackend {
    addr: SocketAddr,
    received: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl RawBackend {
    /// Starts the backend on a free loopback port.
    pub async fn start() -> RawBackend {
        RawBackend::start_on("127.0.0.1:0".parse().expect("address"))
            .await
            .expect("bind")
    }

    /// Starts the backend on `addr`.
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<RawBackend> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr().expect("local addr");
        let received = Arc::new(AtomicU64::new(0));
        let counter = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let _ = conn.set_nodelay(true);
                tokio::spawn(serve(conn, counter.clone()));
            }
        });
        Ok(RawBackend {
            addr,
            received,
            task,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Bytes the `/stream` tunnels received from their clients so far.
    pub fn stream_received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

impl Drop for RawBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The request head of an upgrade, as the backend needs it.
struct Upgrade {
    path: String,
    /// `Sec-WebSocket-Key`, if sent: a WebSocket server must answer it
    /// (HAProxy refuses a 101 without the matching `Sec-WebSocket-Accept`).
    key: Option<String>,
    /// Bytes read past the head.
    early: Vec<u8>,
}

/// Reads a request head from `conn`.
async fn read_head(conn: &mut TcpStream) -> Option<Upgrade> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 16 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let mut lines = std::str::from_utf8(&buf[..end]).ok()?.lines();
            let path = lines.next()?.split(' ').nth(1)?.to_string();
            let key = lines.find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| value.trim().to_string())
            });
            let early = buf[end + 4..].to_vec();
            return Some(Upgrade { path, key, early });
        }
    }
}

async fn serve(mut conn: TcpStream, received: Arc<AtomicU64>) {
    let Some(head) = read_head(&mut conn).await else {
        return;
    };
    let mut reply = String::from(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
    );
    if let Some(key) = &head.key {
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        reply.push_str(&format!("Sec-WebSocket-Accept: {accept}\r\n"));
    }
    reply.push_str("\r\n");
    if conn.write_all(reply.as_bytes()).await.is_err() {
        return;
    }
    match head.path.as_str() {
        "/stream" => stream(conn, received).await,
        _ => echo(conn, head.early).await,
    }
}

async fn echo(mut conn: TcpStream, early: Vec<u8>) {
    if conn.write_all(&early).await.is_err() {
        return;
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match conn.read(&mut buf).await {
            Ok(0) => {
                let _ = conn.write_all(b"bye").await;
                let _ = conn.shutdown().await;
                return;
            }
            Ok(n) => {
                if conn.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

async fn stream(conn: TcpStream, received: Arc<AtomicU64>) {
    let (mut rd, mut wr) = conn.into_split();
    let sink = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = rd.read(&mut buf).await {
            received.fetch_add(n as u64, Ordering::Relaxed);
        }
    });
    let mut sent = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        fill_pattern(&mut buf, sent);
        if wr.write_all(&buf).await.is_err() {
            break;
        }
        sent += buf.len() as u64;
    }
    sink.abort();
}

/// Opens a raw tunnel to `path` through `proxy`: sends the upgrade request
/// and reads the 101 head. Returns the connection and any bytes read past it.
pub async fn connect(proxy: SocketAddr, path: &str) -> std::io::Result<(TcpStream, Vec<u8>)> {
    let mut conn = TcpStream::connect(proxy).await?;
    conn.set_nodelay(true)?;
    let early = upgrade(&mut conn, "tunnel.test", path).await?;
    Ok((conn, early))
}

/// Asks for a tunnel to `path` on `host` over an open connection (clear or
/// TLS) and reads the 101 head; returns any bytes read past it.
pub async fn upgrade<S>(conn: &mut S, host: &str, path: &str) -> std::io::Result<Vec<u8>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    conn.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            if !buf.starts_with(b"HTTP/1.1 101") {
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                return Err(std::io::Error::other(format!("no 101: {head}")));
            }
            return Ok(buf[end + 4..].to_vec());
        }
    }
}

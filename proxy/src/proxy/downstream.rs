//! The client's connection: its read buffer, addresses and how many
//! requests it carried, read and written under nginx's client timeouts.

use super::io::{read_into, timed, Fail};
use crate::admin::metrics;
use crate::http1::{HeadError, HeadLimits, RequestHead};
use crate::runtime::ClientLimits;
use crate::tls::ClientStream;
use bytes::BytesMut;
use pingora_core::protocols::Stream;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// Read buffer size: most requests and their bodies fit one read.
const READ_CHUNK: usize = 8 * 1024;

/// Why no request head could be read.
#[derive(Debug)]
pub enum HeadFail {
    /// The connection ended (or idled out) between requests, or the head
    /// did not arrive within `client_header_timeout`: closed without an
    /// answer, as nginx does.
    Gone,
    /// Bytes that are not an acceptable request head: answer and close.
    Bad(HeadError),
}

/// One client connection.
pub struct Downstream {
    /// The connection, in clear text or after its TLS handshake.
    pub io: ClientStream,
    /// Bytes read and not consumed yet (the next request of a pipeline).
    pub buf: BytesMut,
    /// The client's address (`$remote_addr`).
    pub client: Option<SocketAddr>,
    /// The address the client connected to (`$server_port`).
    pub local: Option<SocketAddr>,
    /// Requests read on this connection so far.
    pub requests: u64,
    /// Time allowed for each write (nginx's `send_timeout`).
    pub send_timeout: Duration,
    /// How far the end of the current head was searched for.
    scanned: usize,
    /// Counted as open while it lives.
    _counted: Counted,
}

/// Counts a client connection in `openclaw_edge_client_connections` from
/// its accept (TLS handshake included) until it closes, wherever it ends:
/// the connection's task or its tunnel's.
pub struct Counted(());

impl Counted {
    /// Counts a connection just accepted.
    pub fn accepted() -> Self {
        let m = metrics();
        m.client_accepted.inc();
        m.client_connections.inc();
        Counted(())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        metrics().client_connections.dec();
    }
}

fn inet(a: Option<&pingora_core::protocols::l4::socket::SocketAddr>) -> Option<SocketAddr> {
    a.and_then(|a| a.as_inet()).copied()
}

/// The client's and the local address of an accepted connection.
pub fn addresses(io: &Stream) -> (Option<SocketAddr>, Option<SocketAddr>) {
    match io.get_socket_digest().as_deref() {
        Some(d) => (inet(d.peer_addr()), inet(d.local_addr())),
        None => (None, None),
    }
}

impl Downstream {
    /// Wraps an accepted connection (its addresses from [`addresses`],
    /// counted since its accept).
    pub fn new(
        io: ClientStream,
        client: Option<SocketAddr>,
        local: Option<SocketAddr>,
        counted: Counted,
    ) -> Self {
        Downstream {
            io,
            buf: BytesMut::with_capacity(READ_CHUNK),
            client,
            local,
            requests: 0,
            send_timeout: ClientLimits::default().send_timeout,
            scanned: 0,
            _counted: counted,
        }
    }

    /// Reads more bytes into the buffer, waiting at most `limit`; `Ok(0)`
    /// when the client closed.
    pub async fn read_more(&mut self, limit: Duration) -> Result<usize, Fail> {
        read_into(&mut self.io, &mut self.buf, READ_CHUNK, limit).await
    }

    /// The next request head: the first byte within `keepalive_timeout`
    /// (after a first request) and the whole head within
    /// `client_header_timeout` of its first byte.
    pub async fn read_head(&mut self, limits: &ClientLimits) -> Result<RequestHead, HeadFail> {
        self.send_timeout = limits.send_timeout;
        let idle = if self.requests == 0 || !self.buf.is_empty() {
            limits.header_timeout
        } else {
            limits.keepalive_timeout
        };
        let mut deadline: Option<Instant> =
            (!self.buf.is_empty()).then(|| Instant::now() + limits.header_timeout);
        loop {
            if !self.buf.is_empty() {
                if let Some(head) = self.parse(&limits.head)? {
                    self.requests += 1;
                    return Ok(head);
                }
            }
            let wait = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => idle,
            };
            match self.read_more(wait).await {
                Ok(0) if self.buf.is_empty() => return Err(HeadFail::Gone),
                Ok(0) => return Err(HeadFail::Bad(HeadError::bad("incomplete request head"))),
                Ok(_) => {}
                Err(_) => return Err(HeadFail::Gone),
            }
            deadline.get_or_insert_with(|| Instant::now() + limits.header_timeout);
        }
    }

    fn parse(&mut self, limits: &HeadLimits) -> Result<Option<RequestHead>, HeadFail> {
        RequestHead::parse(&mut self.buf, limits, &mut self.scanned).map_err(HeadFail::Bad)
    }

    /// Writes `bytes` to the client within `send_timeout`.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), Fail> {
        timed(self.send_timeout, async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        })
        .await
    }
}

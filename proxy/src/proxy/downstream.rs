//! The client's connection: its read buffer, addresses and timeouts.

use super::io::{read_into, timed, Fail};
use crate::http1::{HeadError, RequestHead};
use bytes::BytesMut;
use pingora_core::protocols::Stream;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// How long the client may take to send a head or body part, and to take
/// a write (nginx's `client_header_timeout`, `client_body_timeout` and
/// `send_timeout`, and Pingora's keep-alive wait: 60 s each).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// Read buffer size: most requests and their bodies fit one read.
const READ_CHUNK: usize = 8 * 1024;

/// Why no request head could be read.
#[derive(Debug)]
pub enum HeadFail {
    /// The connection ended (or idled out) between requests: not an error.
    Gone,
    /// Bytes that are not an acceptable request head: answer 400.
    Bad(HeadError),
}

/// One client connection.
pub struct Downstream {
    /// The socket, as Pingora's listener accepted it.
    pub io: Stream,
    /// Bytes read and not consumed yet (the next request of a pipeline).
    pub buf: BytesMut,
    /// The client's address (`$remote_addr`).
    pub client: Option<SocketAddr>,
    /// The address the client connected to (`$server_port`).
    pub local: Option<SocketAddr>,
}

fn inet(a: Option<&pingora_core::protocols::l4::socket::SocketAddr>) -> Option<SocketAddr> {
    a.and_then(|a| a.as_inet()).copied()
}

impl Downstream {
    /// Wraps an accepted connection.
    pub fn new(io: Stream) -> Self {
        let digest = io.get_socket_digest();
        let (client, local) = match digest.as_deref() {
            Some(d) => (inet(d.peer_addr()), inet(d.local_addr())),
            None => (None, None),
        };
        Downstream {
            io,
            buf: BytesMut::with_capacity(READ_CHUNK),
            client,
            local,
        }
    }

    /// Reads more bytes into the buffer; `Ok(0)` when the client closed.
    pub async fn read_more(&mut self) -> Result<usize, Fail> {
        read_into(&mut self.io, &mut self.buf, READ_CHUNK, CLIENT_TIMEOUT).await
    }

    /// The next request head.
    pub async fn read_head(&mut self) -> Result<RequestHead, HeadFail> {
        loop {
            if !self.buf.is_empty() {
                if let Some(head) = RequestHead::parse(&mut self.buf).map_err(HeadFail::Bad)? {
                    return Ok(head);
                }
            }
            match self.read_more().await {
                Ok(0) if self.buf.is_empty() => return Err(HeadFail::Gone),
                Ok(0) => return Err(HeadFail::Bad(HeadError::Malformed)),
                Ok(_) => {}
                Err(_) => return Err(HeadFail::Gone),
            }
        }
    }

    /// Writes `bytes` to the client.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), Fail> {
        timed(CLIENT_TIMEOUT, async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        })
        .await
    }
}

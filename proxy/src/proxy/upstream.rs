//! A connection to an upstream server: taken from the server's idle pool
//! or opened, and given back when its last response left it reusable.

use super::io::{read_into, timed, Fail};
use crate::admin::UpstreamMeters;
use crate::http1::{BadResponse, ResponseHead};
use crate::runtime::Server;
use crate::tls::{MaybeTls, UpStream, UpstreamTls};
use bytes::BytesMut;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const READ_CHUNK: usize = 16 * 1024;

/// A new connection to `server`, with the TLS handshake when `tls` is given;
/// the time it took goes to `meters`' connect histogram.
async fn connect(
    server: &Server,
    limit: Duration,
    tls: Option<&UpstreamTls>,
    meters: &UpstreamMeters,
) -> Result<UpStream, Fail> {
    let start = tokio::time::Instant::now();
    let deadline = start + limit;
    let tcp = timed(limit, TcpStream::connect(server.addr)).await?;
    tcp.set_nodelay(true).map_err(Fail::Io)?;
    let stream = match tls {
        None => MaybeTls::Plain(tcp),
        Some(tls) => {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let stream = timed(left, tls.connector().connect(tls.name.clone(), tcp)).await?;
            MaybeTls::Tls(Box::new(stream))
        }
    };
    meters.connect.observe(start.elapsed().as_secs_f64());
    Ok(stream)
}

/// Why no response head came back.
#[derive(Debug)]
pub enum ResponseFail {
    /// Timed out, closed or broken.
    Io(Fail),
    /// Not a response head the edge will relay.
    Bad(BadResponse),
}

/// One upstream connection in use; the bytes it moves are counted in its
/// upstream's meters.
pub struct UpConn<'a> {
    stream: UpStream,
    meters: &'a UpstreamMeters,
    /// Bytes read and not forwarded yet.
    pub buf: BytesMut,
    /// It came from the idle pool (a failure may just mean it went stale).
    pub reused: bool,
    /// Response bytes received on it for this request.
    pub received: usize,
}

impl<'a> UpConn<'a> {
    /// An idle connection of `server` (unless `fresh`), or a new one,
    /// over TLS when `tls` is given (the handshake within `connect_timeout`).
    pub async fn open(
        server: &Server,
        max_idle: Duration,
        connect_timeout: Duration,
        fresh: bool,
        tls: Option<&UpstreamTls>,
        meters: &'a UpstreamMeters,
    ) -> Result<UpConn<'a>, Fail> {
        let idle = if fresh {
            None
        } else {
            server.idle.take(max_idle)
        };
        let (stream, reused) = match idle {
            Some(s) => (s, true),
            None => (connect(server, connect_timeout, tls, meters).await?, false),
        };
        Ok(UpConn {
            stream,
            meters,
            buf: BytesMut::new(),
            reused,
            received: 0,
        })
    }

    /// Writes `bytes` to the server.
    pub async fn write(&mut self, bytes: &[u8], limit: Duration) -> Result<(), Fail> {
        timed(limit, async {
            self.stream.write_all(bytes).await?;
            // Over TLS, the last record may wait in rustls until flushed.
            self.stream.flush().await
        })
        .await?;
        self.meters.sent.inc_by(bytes.len() as u64);
        Ok(())
    }

    /// Reads more of the response into the buffer; `Ok(0)` when the server closed.
    pub async fn read_more(&mut self, limit: Duration) -> Result<usize, Fail> {
        let n = read_into(&mut self.stream, &mut self.buf, READ_CHUNK, limit).await?;
        self.received += n;
        self.meters.received.inc_by(n as u64);
        Ok(n)
    }

    /// The next response head (1xx included: the caller judges them).
    pub async fn read_head(&mut self, limit: Duration) -> Result<ResponseHead, ResponseFail> {
        loop {
            if !self.buf.is_empty() {
                if let Some(h) = ResponseHead::parse(&mut self.buf).map_err(ResponseFail::Bad)? {
                    return Ok(h);
                }
            }
            match self.read_more(limit).await {
                Ok(0) => return Err(ResponseFail::Io(Fail::Closed)),
                Ok(_) => {}
                Err(f) => return Err(ResponseFail::Io(f)),
            }
        }
    }

    /// The socket, for a tunnel (its buffered bytes were passed on).
    pub fn into_stream(self) -> UpStream {
        self.stream
    }

    /// Parks the connection in `server`'s idle pool.
    pub fn release(self, server: &Server, keep: usize) {
        if self.buf.is_empty() {
            server.idle.put(self.stream, keep);
        }
    }
}

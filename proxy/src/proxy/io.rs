//! Socket operations with a time limit, and what ends them.

use bytes::BytesMut;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// How an operation on a connection ended without success.
#[derive(Debug)]
pub enum Fail {
    /// The time limit passed.
    Timeout,
    /// The peer closed the connection.
    Closed,
    /// A socket error.
    Io(io::Error),
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Fail::Timeout => f.write_str("timed out"),
            Fail::Closed => f.write_str("connection closed"),
            Fail::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Runs `op` for at most `limit`. The timer is only armed when `op` cannot
/// finish at once, so the common write that fits in the socket buffer
/// costs no timer.
pub async fn timed<T>(limit: Duration, op: impl Future<Output = io::Result<T>>) -> Result<T, Fail> {
    let mut op = pin!(op);
    let first = poll_fn(|cx| Poll::Ready(op.as_mut().poll(cx))).await;
    let result = match first {
        Poll::Ready(r) => r,
        Poll::Pending => match tokio::time::timeout(limit, op).await {
            Ok(r) => r,
            Err(_) => return Err(Fail::Timeout),
        },
    };
    result.map_err(Fail::Io)
}

/// Reads what `from` has into `buf` (growing it by `chunk` when less than a
/// quarter of that is free), for at most `limit`; `Ok(0)` when the peer closed.
pub async fn read_into<R: AsyncRead + Unpin>(
    from: &mut R,
    buf: &mut BytesMut,
    chunk: usize,
    limit: Duration,
) -> Result<usize, Fail> {
    if buf.capacity() - buf.len() < chunk / 4 {
        buf.reserve(chunk);
    }
    timed(limit, from.read_buf(buf)).await
}

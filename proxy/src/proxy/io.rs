//! Socket operations with a time limit, and what ends them.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

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

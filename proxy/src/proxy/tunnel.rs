//! A WebSocket (any `101 Switching Protocols`) tunnel: bytes both ways,
//! each direction on its own.
//!
//! Why it is built this way:
//! - Full duplex: each direction reads only when its last bytes were taken
//!   by the other side, so a slow reader holds back only the direction
//!   feeding it (TCP backpressure), never the other one.
//! - Half-close: a FIN read on one side becomes a shutdown of writing on
//!   the other; the tunnel ends when both directions have ended, on the
//!   first error, or after `tunnel_idle_timeout` with no byte either way
//!   (HAProxy's `timeout tunnel`; no separate `client-fin`).
//! - Lean while idle: no buffer is held between bursts. Reads go into one
//!   scratch buffer per worker thread and are written on at once; only the
//!   bytes the other side could not take right now are copied into a buffer
//!   of this tunnel, freed as soon as they are written. At most one read's
//!   worth (16 KiB) waits per direction, so a client that stops reading
//!   cannot make the edge buffer more. The connection's read buffers are
//!   gone by then (heads are copied out of them), and the tunnel runs in a
//!   task of its own holding only the two sockets and the request's record
//!   (`app.rs`): about 4.6 kB of edge memory per idle tunnel.
//! - Closed by the edge ([`Evict`], a leader-aware upstream's
//!   `on_change: close`): the server-to-client bytes are followed frame by
//!   frame, and the edge's close frame goes between two frames, never into
//!   one.

use super::downstream::Downstream;
use crate::admin::UpstreamMeters;
use crate::leader::FrameCursor;
use crate::tls::UpStream;
use prometheus::IntCounter;
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Largest read, and so the most bytes one direction holds back.
const CHUNK: usize = 16 * 1024;

/// Reads per direction in one poll before yielding to other tasks.
const BURST: usize = 16;

thread_local! {
    /// Where every tunnel on this thread reads into; never held across an await.
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0u8; CHUNK].into_boxed_slice());
}

/// Relays between the client and the server until both directions ended,
/// an error, or `idle` passes with no byte either way. Bytes the client
/// sent after its upgrade request go to the server first. The bytes each
/// way are counted in the upstream's `meters` as they move.
pub async fn run(
    down: &mut Downstream,
    server: &mut UpStream,
    idle: Option<Duration>,
    meters: &UpstreamMeters,
    evict: Option<Evict>,
) {
    let early = std::mem::take(&mut down.buf);
    if !early.is_empty() {
        if server.write_all(&early).await.is_err() {
            return;
        }
        meters.sent.inc_by(early.len() as u64);
    }
    drop(early);
    let idle = idle.map(|limit| Idle {
        limit,
        timer: Box::pin(tokio::time::sleep(limit)),
        last: Instant::now(),
    });
    let mut to_client = Direction::default();
    if evict.is_some() {
        to_client.frames = Some(FrameCursor::default());
    }
    Tunnel {
        client: &mut down.io,
        server,
        up: Direction::default(),
        down: to_client,
        idle,
        meters,
        evict: evict.map(|e| Eviction {
            evict: e,
            deadline: None,
        }),
    }
    .await
}

/// How long an evicted tunnel may take to reach a frame boundary and hand
/// the client its close frame before it is simply cut.
const EVICT_LIMIT: Duration = Duration::from_secs(5);

/// The edge closing a WebSocket tunnel by itself.
pub struct Evict {
    /// Resolves when the tunnel must close.
    pub signal: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// The close frame the client gets, at a frame boundary.
    pub frame: &'static [u8],
}

/// An [`Evict`] and, once it fired, its time limit.
struct Eviction {
    evict: Evict,
    deadline: Option<Pin<Box<Sleep>>>,
}

/// The idle limit: a timer checked against the time bytes last moved, so
/// moving bytes does not touch the timer.
struct Idle {
    limit: Duration,
    timer: Pin<Box<Sleep>>,
    last: Instant,
}

/// One direction's state.
#[derive(Default)]
struct Direction {
    /// Bytes read and not yet written on (empty, no allocation, when idle).
    pending: Vec<u8>,
    /// How much of `pending` is written.
    written: usize,
    /// Bytes were written since the last flush.
    dirty: bool,
    /// The source sent FIN.
    eof: bool,
    /// The FIN was passed on: this direction is over.
    done: bool,
    /// Frame boundaries of what passes (server to client, when the edge may
    /// have to close the tunnel itself).
    frames: Option<FrameCursor>,
    /// A close frame to send at the next boundary, and then the FIN.
    closing: Option<&'static [u8]>,
}

impl Direction {
    /// Moves what it can from `src` to `dst`; `Ready(Ok)` once the FIN was
    /// passed on, `Ready(Err)` on an error either side.
    fn poll<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        mut src: Pin<&mut R>,
        mut dst: Pin<&mut W>,
        moved: &mut bool,
        bytes_read: &IntCounter,
    ) -> Poll<io::Result<()>>
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        for _ in 0..BURST {
            while self.written < self.pending.len() {
                let n = ready!(dst.as_mut().poll_write(cx, &self.pending[self.written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.written += n;
                self.dirty = true;
            }
            if !self.pending.is_empty() {
                self.pending = Vec::new();
                self.written = 0;
            }
            if self.eof {
                ready!(dst.as_mut().poll_shutdown(cx))?;
                self.done = true;
                return Poll::Ready(Ok(()));
            }
            // Closing: read no further than the next frame boundary; there,
            // the close frame goes out, then the FIN.
            let mut limit = CHUNK;
            if let Some(frame) = self.closing {
                let left = self.frames.as_ref().map_or(0, FrameCursor::to_boundary);
                if left == 0 {
                    self.pending = frame.to_vec();
                    self.written = 0;
                    self.closing = None;
                    self.eof = true;
                    continue;
                }
                limit = left.min(CHUNK as u64) as usize;
            }
            let read = SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                let mut buf = ReadBuf::new(&mut scratch[..limit]);
                match src.as_mut().poll_read(cx, &mut buf) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                        self.eof = true;
                        Poll::Ready(Ok(()))
                    }
                    Poll::Ready(Ok(())) => {
                        let bytes = buf.filled();
                        if let Some(frames) = &mut self.frames {
                            frames.feed(bytes);
                        }
                        *moved = true;
                        bytes_read.inc_by(bytes.len() as u64);
                        let sent = match dst.as_mut().poll_write(cx, bytes) {
                            Poll::Ready(Ok(0)) => {
                                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()))
                            }
                            Poll::Ready(Ok(n)) => n,
                            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                            Poll::Pending => 0,
                        };
                        self.dirty |= sent > 0;
                        if sent < bytes.len() {
                            self.pending.extend_from_slice(&bytes[sent..]);
                        }
                        Poll::Ready(Ok(()))
                    }
                }
            });
            match read {
                Poll::Ready(r) => r?,
                Poll::Pending => {
                    if self.dirty {
                        ready!(dst.as_mut().poll_flush(cx))?;
                        self.dirty = false;
                    }
                    return Poll::Pending;
                }
            }
        }
        // A long burst: let other tasks run, then go on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Both directions and the idle limit, polled as one small future.
struct Tunnel<'a, C: ?Sized, S: ?Sized> {
    client: &'a mut C,
    server: &'a mut S,
    /// Client to server.
    up: Direction,
    /// Server to client.
    down: Direction,
    idle: Option<Idle>,
    /// Where the bytes read from each side are counted.
    meters: &'a UpstreamMeters,
    /// The edge may close the tunnel itself.
    evict: Option<Eviction>,
}

impl<C, S> Future for Tunnel<'_, C, S>
where
    C: AsyncRead + AsyncWrite + Unpin + ?Sized,
    S: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let t = self.get_mut();
        if let Some(e) = &mut t.evict {
            match &mut e.deadline {
                Some(limit) => {
                    if limit.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(());
                    }
                }
                None => {
                    if e.evict.signal.as_mut().poll(cx).is_ready() {
                        t.down.closing = Some(e.evict.frame);
                        let mut limit = Box::pin(tokio::time::sleep(EVICT_LIMIT));
                        let _ = limit.as_mut().poll(cx);
                        e.deadline = Some(limit);
                    }
                }
            }
        }
        let mut moved = false;
        if !t.up.done {
            let (src, dst) = (Pin::new(&mut *t.client), Pin::new(&mut *t.server));
            let sent = &t.meters.sent;
            if let Poll::Ready(Err(_)) = t.up.poll(cx, src, dst, &mut moved, sent) {
                return Poll::Ready(());
            }
        }
        if !t.down.done {
            let (src, dst) = (Pin::new(&mut *t.server), Pin::new(&mut *t.client));
            let received = &t.meters.received;
            if let Poll::Ready(Err(_)) = t.down.poll(cx, src, dst, &mut moved, received) {
                return Poll::Ready(());
            }
        }
        // After the edge's close frame, the client's answer is not awaited.
        let evicted = t.evict.as_ref().is_some_and(|e| e.deadline.is_some());
        if t.down.done && (t.up.done || evicted) {
            return Poll::Ready(());
        }
        if let Some(idle) = &mut t.idle {
            if moved {
                idle.last = Instant::now();
            }
            while idle.timer.as_mut().poll(cx).is_ready() {
                let deadline = idle.last + idle.limit;
                if Instant::now() >= deadline {
                    return Poll::Ready(());
                }
                idle.timer.as_mut().reset(deadline);
            }
        }
        Poll::Pending
    }
}

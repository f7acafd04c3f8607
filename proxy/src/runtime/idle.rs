//! Idle keep-alive connections to one upstream server, reused newest first.
//!
//! Nothing watches a parked connection: whether its server closed it is
//! read from the reactor's readiness when it is taken (no system call when
//! nothing happened), and a connection that still turns out stale fails
//! before any response byte, which the request path retries elsewhere
//! without blaming the server (nginx's `cached` peer rule).

use crate::tls::UpStream;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

static TOTAL: AtomicUsize = AtomicUsize::new(0);
static CAP: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Caps idle connections across every server (`upstream_keepalive_pool_size`).
pub fn set_total_cap(cap: usize) {
    CAP.store(cap, Ordering::Relaxed);
}

/// One server's idle connections.
#[derive(Debug, Default)]
pub struct IdlePool {
    conns: Mutex<Vec<(UpStream, Instant)>>,
}

impl IdlePool {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(UpStream, Instant)>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The newest idle connection that is younger than `max_idle` and
    /// not closed by its server.
    pub fn take(&self, max_idle: Duration) -> Option<UpStream> {
        let mut conns = self.lock();
        while let Some((s, since)) = conns.pop() {
            TOTAL.fetch_sub(1, Ordering::Relaxed);
            if since.elapsed() >= max_idle {
                // The rest are older still.
                TOTAL.fetch_sub(conns.len(), Ordering::Relaxed);
                conns.clear();
                return None;
            }
            if quiet(s.tcp()) {
                return Some(s);
            }
        }
        None
    }

    /// Parks `s` unless `keep` connections are idle already (the oldest
    /// goes) or the process-wide cap is reached.
    pub fn put(&self, s: UpStream, keep: usize) {
        if keep == 0 || TOTAL.load(Ordering::Relaxed) >= CAP.load(Ordering::Relaxed) {
            return;
        }
        let mut conns = self.lock();
        if conns.len() >= keep {
            conns.remove(0);
        } else {
            TOTAL.fetch_add(1, Ordering::Relaxed);
        }
        conns.push((s, Instant::now()));
    }
}

impl Drop for IdlePool {
    fn drop(&mut self) {
        TOTAL.fetch_sub(self.lock().len(), Ordering::Relaxed);
    }
}

/// No byte and no close arrived on an idle connection. The reactor's
/// readiness answers without a system call; only when it says readable
/// does a non-blocking read tell stale readiness from data or EOF.
fn quiet(s: &TcpStream) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(s.readable()).poll(&mut cx) {
        Poll::Pending => true,
        Poll::Ready(Err(_)) => false,
        Poll::Ready(Ok(())) => matches!(
            s.try_read(&mut [0u8; 1]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
        ),
    }
}

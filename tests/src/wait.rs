//! Waiting without sleeping as synchronisation: every wait polls a condition
//! and gives up at a deadline with a message that says what never happened.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How often conditions are polled.
const POLL: Duration = Duration::from_millis(20);

/// Runs a test body with a time limit. On timeout it panics while the body
/// (and the processes it owns) is still alive, so that their drop handlers
/// see the panic and print the children's logs.
pub async fn bounded<T>(limit: Duration, body: impl Future<Output = T>) -> T {
    let mut body = std::pin::pin!(body);
    match tokio::time::timeout(limit, &mut body).await {
        Ok(v) => v,
        Err(_) => panic!("test did not finish within {limit:?}"),
    }
}

/// Polls `check` until it returns `Some`, or panics after `limit` naming `what`.
pub async fn until_some<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("gave up after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `check` until it is true, or panics after `limit` naming `what`.
pub async fn until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    until_some(what, limit, || {
        let ready = check();
        async move { ready.await.then_some(()) }
    })
    .await
}

/// Whether something accepts TCP connections on `addr` now.
pub async fn accepts(addr: SocketAddr) -> bool {
    tokio::net::TcpStream::connect(addr).await.is_ok()
}

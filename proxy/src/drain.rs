//! Graceful stop (SIGTERM, `-s quit`, and the old process of a binary
//! upgrade): Pingora closes the listeners and then waits the whole
//! `grace_period` before tearing everything down. Like nginx, the edge
//! instead exits as soon as no request or tunnel is left in flight, and at
//! the latest when the grace period ends.

use crate::proxy::in_flight;
use async_trait::async_trait;
use pingora_core::server::ShutdownWatch;
use pingora_core::services::background::BackgroundService;
use std::time::{Duration, Instant};
use tracing::info;

/// Ends the process once a graceful stop has nothing left to wait for.
pub struct Drain {
    /// The longest in-flight requests are waited for.
    pub grace: Duration,
}

#[async_trait]
impl BackgroundService for Drain {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        if shutdown.changed().await.is_err() {
            return;
        }
        let start = Instant::now();
        info!(in_flight = in_flight(), grace = ?self.grace, "stopping: listeners closed, waiting for requests in flight");
        while in_flight() > 0 && start.elapsed() < self.grace {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        info!(left = in_flight(), after = ?start.elapsed(), "stopped");
        crate::logging::flush();
        std::process::exit(0);
    }
}

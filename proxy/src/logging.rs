//! Where log lines go: the error log (everything but access lines) on stderr,
//! access lines to the configured destination through a non-blocking writer,
//! so a slow terminal or disk never stalls a request. Pingora's own `log`
//! records are captured too.

use crate::config::AccessLogTarget;
use std::sync::Mutex;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::prelude::*;

/// Log line format of both logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (access log: nginx's combined format plus upstream fields).
    Text,
    /// One JSON object per line.
    Json,
}

static GUARD: Mutex<Option<WorkerGuard>> = Mutex::new(None);

/// Set once [`init`] installed the subscriber: what is logged before that
/// is lost, so work started while the config is built waits for it.
static READY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether logs go anywhere yet.
pub fn ready() -> bool {
    READY.load(std::sync::atomic::Ordering::Acquire)
}

/// Writes out access-log lines still queued; call before the process exits.
pub fn flush() {
    drop(GUARD.lock().unwrap_or_else(|e| e.into_inner()).take());
}

/// Installs the subscriber; the access-log writer lives until [`flush`].
pub fn init(format: LogFormat, access: &AccessLogTarget) -> std::io::Result<()> {
    crate::access_log::configure(*access != AccessLogTarget::Off, format == LogFormat::Json);
    // rustls warns on every handshake with a harmless client quirk (an IP
    // address sent as SNI by wrk, scripts, probes), which would flood the
    // error log under load; the edge logs failed handshakes itself.
    let filter = || {
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,rustls=error"))
    };
    let errors = filter_fn(|m| m.target() != "access");
    let error_layer = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .with_filter(errors)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(errors)
            .boxed(),
    };
    let (writer, guard) = match access {
        AccessLogTarget::Off => (None, None),
        AccessLogTarget::Stdout => {
            let (w, g) = tracing_appender::non_blocking(std::io::stdout());
            (Some(w), Some(g))
        }
        AccessLogTarget::Stderr => {
            let (w, g) = tracing_appender::non_blocking(std::io::stderr());
            (Some(w), Some(g))
        }
        AccessLogTarget::File(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            let (w, g) = tracing_appender::non_blocking(file);
            (Some(w), Some(g))
        }
    };
    let access_layer = writer.map(|w| {
        let only_access = filter_fn(|m| m.target() == "access");
        match format {
            LogFormat::Text => tracing_subscriber::fmt::layer()
                .with_writer(w)
                .with_ansi(false)
                .without_time()
                .with_level(false)
                .with_target(false)
                .with_filter(only_access)
                .boxed(),
            LogFormat::Json => tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_writer(w)
                .with_filter(only_access)
                .boxed(),
        }
    });
    tracing_subscriber::registry()
        .with(filter())
        .with(error_layer)
        .with(access_layer)
        .init();
    *GUARD.lock().unwrap_or_else(|e| e.into_inner()) = guard;
    READY.store(true, std::sync::atomic::Ordering::Release);
    Ok(())
}

//! The secondary's watch on the primary (`ha.primaryCheck`): a GET of the
//! URL every `interval`; after a failure, retries with the configured backoff
//! until `failover.retries` failures in a row, or `failover.timeout` since the
//! first, make the primary count as down. One success makes it up again.

use super::settings::PrimaryWatch;
use crate::config::file::Backoff;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

/// What the watch concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Primary {
    /// No answer yet.
    Unknown,
    Up,
    Down,
}

/// The wait before retry number `n` (1-based) after a failed check.
pub fn backoff(w: &PrimaryWatch, n: u32) -> Duration {
    let base = w.interval.min(Duration::from_secs(1));
    match w.backoff {
        Backoff::Exponential => base * 2u32.saturating_pow(n.saturating_sub(1).min(16)),
        Backoff::Linear => base * n,
        Backoff::Fixed => base,
    }
}

/// Checks until `stop` changes, publishing each conclusion on `state`.
pub async fn watch(
    w: PrimaryWatch,
    state: watch::Sender<Primary>,
    mut stop: watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    let mut first_failure: Option<Instant> = None;
    loop {
        let limit = w
            .interval
            .clamp(Duration::from_millis(100), Duration::from_secs(2));
        let verdict = match check(&w.url, limit).await {
            Ok(()) => {
                failures = 0;
                first_failure = None;
                Primary::Up
            }
            Err(e) => {
                failures += 1;
                let since = *first_failure.get_or_insert_with(Instant::now);
                tracing::debug!(url = %w.url, failures, error = %e, "primary check failed");
                if failures >= w.retries || since.elapsed() >= w.timeout {
                    Primary::Down
                } else {
                    *state.borrow()
                }
            }
        };
        state.send_if_modified(|s| {
            if *s != verdict {
                tracing::info!(url = %w.url, state = ?verdict, "primary check");
                *s = verdict;
                true
            } else {
                false
            }
        });
        let pause = if failures == 0 || verdict == Primary::Down {
            w.interval
        } else {
            backoff(&w, failures)
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return,
        }
    }
}

/// One `GET`: any 2xx answer is alive.
pub async fn check(url: &str, limit: Duration) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{url}` is not an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let target = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(&target)
            .await
            .map_err(|e| format!("{target}: {e}"))?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n").as_bytes())
            .await
            .map_err(|e| format!("{target}: {e}"))?;
        let mut head = [0u8; 16];
        let mut n = 0;
        while n < 12 {
            let m = s
                .read(&mut head[n..])
                .await
                .map_err(|e| format!("{target}: {e}"))?;
            if m == 0 {
                break;
            }
            n += m;
        }
        let text = String::from_utf8_lossy(&head[..n]);
        match text.split(' ').nth(1).map(|c| c.starts_with('2')) {
            Some(true) => Ok(()),
            Some(false) => Err(format!("{url} answered {}", text.trim())),
            None => Err(format!("{url}: not an HTTP answer")),
        }
    };
    tokio::time::timeout(limit, attempt)
        .await
        .map_err(|_| format!("{url}: no answer within {limit:?}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(backoff: Backoff) -> PrimaryWatch {
        PrimaryWatch {
            url: "http://127.0.0.1:1/health".into(),
            interval: Duration::from_secs(10),
            retries: 3,
            backoff,
            timeout: Duration::from_secs(30),
        }
    }

    #[test]
    fn backoff_kinds() {
        let s = |b, n| backoff(&w(b), n).as_secs();
        assert_eq!(
            [1, 2, 3, 4].map(|n| s(Backoff::Exponential, n)),
            [1, 2, 4, 8]
        );
        assert_eq!([1, 2, 3].map(|n| s(Backoff::Linear, n)), [1, 2, 3]);
        assert_eq!([1, 2, 3].map(|n| s(Backoff::Fixed, n)), [1, 1, 1]);
    }
}

//! One health check of one server: a TCP connect, or a raw HTTP request whose
//! status line is judged against the alive classes. Every step is bounded by
//! the check's timeout and the socket is closed afterwards.

use crate::config::{CheckKind, HealthCheck, StatusClass};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How a check came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The server is alive.
    Alive,
    /// The server is not; the reason as an operator reads it.
    Dead(String),
}

/// What a check needs, resolved from the config.
#[derive(Debug, Clone)]
pub struct Probe {
    /// TCP or HTTP.
    pub kind: CheckKind,
    /// The check's deadline.
    pub timeout: Duration,
    /// Port override (0 = the server's).
    pub port: u16,
    /// Raw request bytes.
    pub send: Vec<u8>,
    /// Status classes counted alive.
    pub alive: Vec<StatusClass>,
}

impl Probe {
    /// From the upstream's `health_check`.
    pub fn new(c: &HealthCheck) -> Self {
        Probe {
            kind: c.kind,
            timeout: c.timeout.0,
            port: c.port,
            send: c.send.clone().into_bytes(),
            alive: c.expect_alive.clone(),
        }
    }

    /// Checks `server` once.
    pub async fn check(&self, mut server: SocketAddr) -> Verdict {
        if self.port != 0 {
            server.set_port(self.port);
        }
        match tokio::time::timeout(self.timeout, self.run(server)).await {
            Ok(v) => v,
            Err(_) => Verdict::Dead(format!("timeout after {} ms", self.timeout.as_millis())),
        }
    }

    async fn run(&self, server: SocketAddr) -> Verdict {
        let mut stream = match TcpStream::connect(server).await {
            Ok(s) => s,
            Err(e) => return Verdict::Dead(format!("connect: {}", reason(&e))),
        };
        if self.kind == CheckKind::Tcp {
            return Verdict::Alive;
        }
        if let Err(e) = stream.write_all(&self.send).await {
            return Verdict::Dead(format!("send: {}", reason(&e)));
        }
        // Enough to hold a status line; nginx's module reads the same.
        let mut buf = [0u8; 1024];
        let mut len = 0;
        loop {
            match stream.read(&mut buf[len..]).await {
                Ok(0) => return Verdict::Dead("closed before a status line".into()),
                Ok(n) => len += n,
                Err(e) => return Verdict::Dead(format!("receive: {}", reason(&e))),
            }
            if let Some(status) = status_of(&buf[..len]) {
                return match status {
                    Some(code) if self.alive.iter().any(|c| c.contains(code)) => Verdict::Alive,
                    Some(code) => Verdict::Dead(format!("status {code}")),
                    None => Verdict::Dead("not an HTTP response".into()),
                };
            }
            if len == buf.len() {
                return Verdict::Dead("status line too long".into());
            }
        }
    }
}

fn reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "refused".into(),
        std::io::ErrorKind::ConnectionReset => "reset".into(),
        _ => e.to_string(),
    }
}

/// The status code once a whole status line is in `buf`: `Some(Some(code))`,
/// `Some(None)` for a line that is not HTTP, `None` to read more.
fn status_of(buf: &[u8]) -> Option<Option<u16>> {
    let end = buf.iter().position(|b| *b == b'\n')?;
    let line = std::str::from_utf8(&buf[..end]).ok();
    Some(line.and_then(|l| {
        let mut parts = l.split_whitespace();
        let version = parts.next()?;
        let code = parts.next()?.parse().ok()?;
        version.starts_with("HTTP/").then_some(code)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_lines() {
        assert_eq!(status_of(b"HTTP/1.1 200 OK\r\n"), Some(Some(200)));
        assert_eq!(
            status_of(b"HTTP/1.0 503 Service Unavailable\r\nx"),
            Some(Some(503))
        );
        assert_eq!(status_of(b"HTTP/1.1 20"), None);
        assert_eq!(status_of(b"SSH-2.0-OpenSSH\r\n"), Some(None));
    }
}

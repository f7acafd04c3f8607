//! The client-side limits the request path applies: a listen address's
//! (head size, header and keep-alive timeouts, from its default server)
//! and a location's (body size and timeouts, from its server).

use crate::config::ClientConfig;
use crate::http1::HeadLimits;
use std::time::Duration;

/// nginx's client-side limits, resolved.
#[derive(Debug, Clone, Copy)]
pub struct ClientLimits {
    /// `large_client_header_buffers` and `underscores_in_headers`.
    pub head: HeadLimits,
    /// `client_header_timeout`.
    pub header_timeout: Duration,
    /// `client_body_timeout`.
    pub body_timeout: Duration,
    /// `send_timeout`.
    pub send_timeout: Duration,
    /// `keepalive_timeout`; zero turns keep-alive off.
    pub keepalive_timeout: Duration,
    /// `keepalive_requests`.
    pub keepalive_requests: u64,
    /// `client_max_body_size`; 0 = no limit.
    pub max_body_size: u64,
}

impl ClientLimits {
    /// The limits a server's `client` section sets.
    pub fn from_config(c: &ClientConfig) -> Self {
        ClientLimits {
            head: HeadLimits {
                line: c.header_buffers.size as usize,
                total: (c.header_buffers.number * c.header_buffers.size) as usize,
                underscores: c.underscores_in_headers,
            },
            header_timeout: c.header_timeout.0,
            body_timeout: c.body_timeout.0,
            send_timeout: c.send_timeout.0,
            keepalive_timeout: c.keepalive_timeout.0,
            keepalive_requests: c.keepalive_requests,
            max_body_size: c.max_body_size.0,
        }
    }

    /// Whether a body of `n` bytes is over `client_max_body_size`.
    pub fn body_too_large(&self, n: u64) -> bool {
        self.max_body_size != 0 && n > self.max_body_size
    }
}

impl Default for ClientLimits {
    fn default() -> Self {
        Self::from_config(&ClientConfig::default())
    }
}

//! The browser `Origin` check of the handshake, as the official gateway does
//! it: a WebSocket opened by a web page carries the page's origin, and only
//! the Control UI's own origins may drive the gateway. Without this, any web
//! page a user visits could connect to a loopback gateway with the user's
//! browser. Clients that are not browsers send no `Origin` and are not checked.
//!
//! Allowed: an origin listed in `gateway.controlUi.allowedOrigins` (or `*`);
//! a page served by the host the request is addressed to (same `Host`) when
//! the client is on this machine; a loopback page (`http://localhost:5173`)
//! for a client on this machine.

use std::net::IpAddr;

/// What the upgrade request said about where it comes from.
#[derive(Debug, Clone, Default)]
pub struct RequestOrigin {
    /// The `Origin` header, if any.
    pub origin: Option<String>,
    /// The `Host` header, if any.
    pub host: Option<String>,
    /// Whether the client is on this machine, straight to the port (not
    /// through a proxy, which may carry anyone's browser).
    pub local: bool,
}

impl RequestOrigin {
    /// From the upgrade's headers and whether the client is local.
    pub fn new(origin: Option<&str>, host: Option<&str>, local: bool) -> Self {
        RequestOrigin {
            origin: origin.map(str::to_string),
            host: host.map(str::to_string),
            local,
        }
    }
}

/// The client ids of the browser Control UI: they always come from a web
/// page, so one without an `Origin` is refused too (as officially).
const BROWSER_UI_CLIENTS: &[&str] = &["openclaw-control-ui", "openclaw-browser-copilot"];

/// `Ok` when the request may connect; `Err(reason)` with the official reason
/// (`origin missing or invalid`, `origin not allowed`). `client_id` is the
/// `connect.client.id`.
pub fn check(
    request: &RequestOrigin,
    client_id: &str,
    allowed: &[String],
) -> Result<(), &'static str> {
    let Some(raw) = request.origin.as_deref() else {
        if BROWSER_UI_CLIENTS.contains(&client_id) {
            return Err("origin missing or invalid");
        }
        return Ok(());
    };
    let Some((origin, host, hostname)) = parse(raw) else {
        return Err("origin missing or invalid");
    };
    if allowed
        .iter()
        .map(|a| a.trim().to_lowercase())
        .any(|a| a == "*" || a == origin)
    {
        return Ok(());
    }
    let request_host = request.host.as_deref().map(|h| h.trim().to_lowercase());
    if request.local && request_host.as_deref() == Some(host.as_str()) {
        return Ok(());
    }
    if request.local && is_loopback_name(&hostname) {
        return Ok(());
    }
    Err("origin not allowed")
}

/// `scheme://host[:port]` lower-cased, its `host[:port]` and its hostname;
/// `None` for `null`, paths, or anything that is not an http(s) origin.
fn parse(raw: &str) -> Option<(String, String, String)> {
    let lower = raw.trim().to_lowercase();
    let (scheme, rest) = lower.split_once("://")?;
    if !matches!(scheme, "http" | "https") || rest.is_empty() {
        return None;
    }
    let host = rest.trim_end_matches('/');
    if host.contains('/') || host.contains('@') || host.is_empty() {
        return None;
    }
    let hostname = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next()?.to_string()
    } else {
        host.rsplit_once(':')
            .map_or(host, |(name, _port)| name)
            .to_string()
    };
    Some((format!("{scheme}://{host}"), host.to_string(), hostname))
}

fn is_loopback_name(hostname: &str) -> bool {
    hostname == "localhost"
        || hostname.ends_with(".localhost")
        || hostname.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(origin: &str, host: &str, local: bool) -> RequestOrigin {
        RequestOrigin {
            origin: Some(origin.into()),
            host: Some(host.into()),
            local,
        }
    }

    #[test]
    fn browsers_from_elsewhere_are_refused() {
        let none: Vec<String> = vec![];
        let check = |r: &RequestOrigin, allowed: &[String]| check(r, "cli", allowed);
        assert_eq!(check(&RequestOrigin::default(), &none), Ok(()));
        assert_eq!(
            super::check(&RequestOrigin::default(), "openclaw-control-ui", &none),
            Err("origin missing or invalid")
        );
        assert_eq!(
            check(
                &req("http://127.0.0.1:18789", "127.0.0.1:18789", true),
                &none
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &req("http://localhost:5173", "127.0.0.1:18789", true),
                &none
            ),
            Ok(())
        );
        assert_eq!(
            check(&req("https://evil.example", "127.0.0.1:18789", true), &none),
            Err("origin not allowed")
        );
        assert_eq!(
            check(&req("null", "127.0.0.1:18789", true), &none),
            Err("origin missing or invalid")
        );
        assert_eq!(
            check(&req("http://localhost:5173", "gw:18789", false), &none),
            Err("origin not allowed")
        );
        let allowed = vec!["https://UI.example".to_string()];
        assert_eq!(
            check(&req("https://ui.example", "gw:18789", false), &allowed),
            Ok(())
        );
        assert_eq!(
            check(&req("https://x.example", "gw", false), &["*".to_string()]),
            Ok(())
        );
    }
}

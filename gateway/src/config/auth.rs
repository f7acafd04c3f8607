//! How clients prove who they are, resolved from `gateway.auth.*`, the
//! environment and flags: the official gateway's modes (`none`, `token`,
//! `password`, `trusted-proxy`) and its failed-auth limits.

use super::file::{AuthModeName, AuthSection, RateLimitSection, TrustedProxySection};
use super::resolve::{Source, Sourced};
use crate::ingress::TrustedProxies;
use std::time::Duration;

/// How a `connect` is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Anyone who reaches the port (loopback-only nodes).
    None,
    /// The shared `gateway.auth.token`.
    Token,
    /// The shared `gateway.auth.password`.
    Password,
    /// A trusted proxy names the user in a header.
    TrustedProxy,
}

impl AuthMode {
    /// The official name, as `hello-ok` reports it.
    pub fn name(self) -> &'static str {
        match self {
            AuthMode::None => "none",
            AuthMode::Token => "token",
            AuthMode::Password => "password",
            AuthMode::TrustedProxy => "trusted-proxy",
        }
    }
}

/// `gateway.auth.trustedProxy`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxyAuth {
    /// The header naming the user, lower-cased.
    pub user_header: String,
    /// Headers that must be present and not blank, as configured.
    pub required_headers: Vec<String>,
    /// When not empty, the only users let in (exact match).
    pub allow_users: Vec<String>,
    /// Whether a proxy on this machine's loopback may vouch.
    pub allow_loopback: bool,
}

/// Failed-auth limits (`gateway.auth.rateLimit`); the official defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Failures allowed within `window`; the next attempt is refused.
    pub max_attempts: u32,
    /// The sliding window failures are counted in.
    pub window: Duration,
    /// How long a client that reached `max_attempts` is refused.
    pub lockout: Duration,
    /// Whether loopback clients are never locked out (they are slowed down
    /// instead).
    pub exempt_loopback: bool,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            max_attempts: 10,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(300),
            exempt_loopback: true,
        }
    }
}

/// The resolved `gateway.auth` (the secrets themselves are in
/// [`super::Settings`], with where they came from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    pub mode: AuthMode,
    pub trusted_proxy: Option<TrustedProxyAuth>,
    pub rate_limit: RateLimit,
}

/// A secret from its flag, its environment variable or the file, in that
/// order; an empty value in the file is an error naming `key`.
pub fn secret(
    flag: (Option<&String>, &'static str),
    env: (Option<String>, &'static str),
    file: Option<&String>,
    key: &str,
) -> Result<Sourced<Option<String>>, String> {
    let sourced = |value: &String, source| Sourced {
        value: Some(value.clone()),
        source,
    };
    if let Some(v) = flag.0 {
        return Ok(sourced(v, Source::Flag(flag.1)));
    }
    if let Some(v) = env.0.filter(|v| !v.trim().is_empty()) {
        return Ok(sourced(&v.trim().to_string(), Source::Env(env.1)));
    }
    match file {
        Some(v) if v.trim().is_empty() => {
            Err(format!("{key}: empty; remove the key or set a value"))
        }
        Some(v) => Ok(sourced(v, Source::File)),
        None => Ok(Sourced {
            value: None,
            source: Source::Default,
        }),
    }
}

impl AuthSettings {
    /// Checks `gateway.auth` against the secrets that resolved and the
    /// trusted proxies. `at(key)` names a key and the file for messages.
    pub fn resolve(
        section: &AuthSection,
        token: Option<&str>,
        password: Option<&str>,
        trusted_proxies: &TrustedProxies,
        at: &dyn Fn(&str) -> String,
    ) -> Result<AuthSettings, String> {
        // Unset: a password wins over a token, as officially.
        let mode = match section.mode {
            Some(AuthModeName::None) => AuthMode::None,
            Some(AuthModeName::Token) => AuthMode::Token,
            Some(AuthModeName::Password) => AuthMode::Password,
            Some(AuthModeName::TrustedProxy) => AuthMode::TrustedProxy,
            None if password.is_some() => AuthMode::Password,
            None if token.is_some() => AuthMode::Token,
            None => AuthMode::None,
        };
        match mode {
            AuthMode::Token if token.is_none() => {
                return Err(format!(
                    "{}: token, but no token was configured: set gateway.auth.token, OPENCLAW_GATEWAY_TOKEN or --token",
                    at("gateway.auth.mode")
                ))
            }
            AuthMode::Password if password.is_none() => {
                return Err(format!(
                    "{}: password, but no password was configured: set gateway.auth.password, OPENCLAW_GATEWAY_PASSWORD or --password",
                    at("gateway.auth.mode")
                ))
            }
            AuthMode::TrustedProxy if token.is_some() => {
                return Err(format!(
                    "{}: trusted-proxy and token auth are mutually exclusive: remove the token (gateway.auth.token, OPENCLAW_GATEWAY_TOKEN, --token)",
                    at("gateway.auth.mode")
                ))
            }
            AuthMode::TrustedProxy if trusted_proxies.is_empty() => {
                return Err(format!(
                    "{}: trusted-proxy needs gateway.trustedProxies: list the proxies' addresses",
                    at("gateway.auth.mode")
                ))
            }
            _ => {}
        }
        let trusted_proxy = match (&section.trusted_proxy, mode) {
            (Some(t), _) => Some(trusted_proxy_auth(t, at)?),
            (None, AuthMode::TrustedProxy) => {
                return Err(format!(
                    "{}: trusted-proxy needs gateway.auth.trustedProxy.userHeader (the header the proxy names the user in)",
                    at("gateway.auth.mode")
                ))
            }
            (None, _) => None,
        };
        Ok(AuthSettings {
            mode,
            trusted_proxy,
            rate_limit: rate_limit(&section.rate_limit, at)?,
        })
    }
}

fn trusted_proxy_auth(
    t: &TrustedProxySection,
    at: &dyn Fn(&str) -> String,
) -> Result<TrustedProxyAuth, String> {
    let user_header = t
        .user_header
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or_else(|| {
            format!(
                "{}: missing or empty: name the header the proxy puts the user in (e.g. X-Forwarded-User)",
                at("gateway.auth.trustedProxy.userHeader")
            )
        })?;
    Ok(TrustedProxyAuth {
        user_header: user_header.to_lowercase(),
        required_headers: t.required_headers.clone().unwrap_or_default(),
        allow_users: t.allow_users.clone().unwrap_or_default(),
        allow_loopback: t.allow_loopback.unwrap_or(false),
    })
}

fn rate_limit(r: &RateLimitSection, at: &dyn Fn(&str) -> String) -> Result<RateLimit, String> {
    let d = RateLimit::default();
    if r.max_attempts == Some(0) {
        return Err(format!(
            "{}: at least 1 (the failures allowed before a lockout)",
            at("gateway.auth.rateLimit.maxAttempts")
        ));
    }
    Ok(RateLimit {
        max_attempts: r.max_attempts.unwrap_or(d.max_attempts),
        window: r.window_ms.map(Duration::from_millis).unwrap_or(d.window),
        lockout: r.lockout_ms.map(Duration::from_millis).unwrap_or(d.lockout),
        exempt_loopback: r.exempt_loopback.unwrap_or(d.exempt_loopback),
    })
}

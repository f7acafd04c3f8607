//! Whether a `connect` may in: the official gateway's shared-secret modes
//! (token, password), its trusted-proxy identity header, and its failed-auth
//! limits ([`limiter`]). The handshake turns a [`Failure`] into the official
//! error frame.

pub mod limiter;
mod trusted_proxy;

use crate::config::auth::AuthMode;
use crate::config::Settings;
use crate::ingress::Attribution;
use axum::http::HeaderMap;
use limiter::{Limiter, Subject, Verdict};
use serde_json::Value;
use std::net::IpAddr;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// What a connect presents, besides its `auth` block.
pub struct Attempt<'a> {
    /// Who the request comes from.
    pub attribution: Attribution,
    /// The socket peer (the proxy, for proxied requests).
    pub peer: IpAddr,
    /// The upgrade request's headers (for the trusted-proxy user).
    pub headers: &'a HeaderMap,
    /// The upgrade's `Origin`, for a web page.
    pub origin: Option<&'a str>,
    /// `connect.params.auth`.
    pub auth: &'a Value,
}

/// A connect that is let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    /// How, as `hello-ok` reports it.
    pub method: &'static str,
    /// The user a trusted proxy named.
    pub user: Option<String>,
}

/// Why a connect is refused, in the official reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No secret at all (and this node pairs no devices).
    DeviceIdentityRequired,
    TokenMismatch,
    PasswordMismatch,
    /// Locked out after too many failures, for this much longer.
    RateLimited(Duration),
    /// A `trusted_proxy_*` reason.
    TrustedProxy(String),
}

/// A secret field of the `auth` block, trimmed; blank is absent.
fn field<'a>(auth: &'a Value, name: &str) -> Option<&'a str> {
    auth.get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn same(given: &str, expected: &str) -> bool {
    bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// Decides a connect; counts failures and waits out a loopback client's
/// delay before answering, as officially.
pub async fn authorize(
    settings: &Settings,
    limiter: &Limiter,
    attempt: &Attempt<'_>,
) -> Result<Granted, Failure> {
    let token = field(attempt.auth, "token");
    let password = field(attempt.auth, "password");
    match settings.auth.mode {
        AuthMode::None => Ok(Granted {
            method: "none",
            user: None,
        }),
        AuthMode::Token => {
            let expected = settings.token.value.as_deref().unwrap_or_default();
            let given = token.or(password);
            shared_secret(limiter, attempt, given, expected, Secret::Token).await
        }
        AuthMode::Password => {
            let expected = settings.password.value.as_deref().unwrap_or_default();
            let given = password.or(token);
            shared_secret(limiter, attempt, given, expected, Secret::Password).await
        }
        AuthMode::TrustedProxy => {
            let rules = settings
                .auth
                .trusted_proxy
                .as_ref()
                .expect("trusted-proxy mode has its settings (checked at load)");
            let reason = match trusted_proxy::user(rules, settings, attempt) {
                Ok(user) if matches!(attempt.attribution, Attribution::TrustedProxy { .. }) => {
                    return Ok(Granted {
                        method: "trusted-proxy",
                        user: Some(user),
                    })
                }
                Ok(_) => "proxy_attribution_required".to_string(),
                Err(reason) => reason,
            };
            // On this machine, the password still opens the door.
            if let (true, Some(expected), Some(given)) = (
                attempt.attribution.is_local(),
                settings.password.value.as_deref(),
                password,
            ) {
                return shared_secret(limiter, attempt, Some(given), expected, Secret::Password)
                    .await;
            }
            if token.is_none() && password.is_none() {
                return Err(Failure::DeviceIdentityRequired);
            }
            Err(Failure::TrustedProxy(reason))
        }
    }
}

/// Which shared secret a mode checks.
#[derive(Debug, Clone, Copy)]
enum Secret {
    Token,
    Password,
}

/// The token or password check: refused while locked out (even with the
/// right secret), a failure counted, a success clearing the count.
async fn shared_secret(
    limiter: &Limiter,
    attempt: &Attempt<'_>,
    given: Option<&str>,
    expected: &str,
    secret: Secret,
) -> Result<Granted, Failure> {
    let Some(given) = given else {
        return Err(Failure::DeviceIdentityRequired);
    };
    let who = subject(limiter, attempt);
    if let Verdict::Locked(left) = limiter.check(&who).await {
        return Err(Failure::RateLimited(left));
    }
    if same(given, expected) {
        limiter.succeeded(&who).await;
        let method = match secret {
            Secret::Token => "token",
            Secret::Password => "password",
        };
        return Ok(Granted { method, user: None });
    }
    let delay = limiter.failed(&who).await;
    tokio::time::sleep(delay).await;
    Err(match secret {
        Secret::Token => Failure::TokenMismatch,
        Secret::Password => Failure::PasswordMismatch,
    })
}

/// Web pages are counted apart from other clients, never exempt.
fn subject(limiter: &Limiter, attempt: &Attempt<'_>) -> Subject {
    let ip = attempt.attribution.client().unwrap_or(attempt.peer);
    match attempt.origin {
        Some(origin) => Subject::browser(ip, origin),
        None => Subject::client(ip, limiter.limits()),
    }
}

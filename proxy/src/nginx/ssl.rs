//! nginx's `ssl_*` directives -> a server's `tls:` section. Like the
//! client directives, each is taken from the nearest level that sets it
//! (http, then server). What rustls cannot do as nginx asks is said once
//! with the directive's file:line; nothing about security is dropped
//! silently.

use super::parse::Directive;
use super::translate::{n_args, nearest, Translator};
use crate::config::{parse_size, ConfigError};

/// The directives read, in the order of [`SslSet`]'s slots.
const SSL: [&str; 8] = [
    "ssl_certificate",
    "ssl_certificate_key",
    "ssl_protocols",
    "ssl_ciphers",
    "ssl_session_cache",
    "ssl_session_timeout",
    "ssl_session_tickets",
    "ssl_prefer_server_ciphers",
];

/// Client-certificate checks: an access control the edge does not do, so
/// a config asking for it is refused rather than served open.
const REFUSED: [&str; 3] = [
    "ssl_verify_client",
    "ssl_client_certificate",
    "ssl_verify_depth",
];

/// Sessions nginx keeps per megabyte of `ssl_session_cache shared:` (its
/// documentation: "one megabyte of the cache contains about 4000 sessions").
const SESSIONS_PER_MB: u64 = 4000;

/// Whether `name` is translated here (at any level).
pub(super) fn is_ssl(name: &str) -> bool {
    SSL.contains(&name) || REFUSED.contains(&name)
}

/// The `ssl_*` directives in force at a level.
#[derive(Clone, Default)]
pub(super) struct SslSet<'a>([Option<&'a Directive>; 8]);

impl<'a> SslSet<'a> {
    /// The set of a level: its own directives where it has them, else `self`'s.
    pub(super) fn merge(&self, level: &'a [Directive]) -> SslSet<'a> {
        SslSet(nearest(&self.0, &SSL, level))
    }
}

impl Translator<'_> {
    /// A TLS server's `tls:` section; `listen` is the directive that made
    /// it TLS (nginx's errors for a missing certificate point there).
    pub(super) fn emit_tls(&mut self, set: &SslSet, listen: &Directive, level: &[Directive]) {
        for d in level.iter().filter(|d| REFUSED.contains(&d.name.as_str())) {
            self.fail(d.error(format!(
                "\"{}\": client certificate checks are not supported by openclaw-edge and cannot \
                 be ignored safely; remove it or check client certificates in front of the edge",
                d.name
            )));
        }
        let [cert, key, protocols, ciphers, cache, timeout, tickets, prefer] = set.0;
        let Some(cert) = cert else {
            self.fail(
                listen.error(
                    "no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive",
                ),
            );
            return;
        };
        let Some(key) = key else {
            self.fail(cert.error(format!(
                "no \"ssl_certificate_key\" is defined for certificate \"{}\"",
                cert.args.first().map_or("", String::as_str)
            )));
            return;
        };
        self.out.line(2, "tls:", Some(cert));
        for (d, k) in [(cert, "certificate"), (key, "certificate_key")] {
            match n_args(d, 1..=1) {
                Ok(()) => self.out.kv(3, k, &d.args[0], Some(d)),
                Err(e) => self.fail(e),
            }
        }
        let certs_here = level.iter().filter(|d| d.name == "ssl_certificate").count();
        if certs_here > 1 {
            self.warn_once(cert, "several ssl_certificate: only the last one (and its key) is served; the edge does not pick between RSA and ECDSA certificates".into());
        }
        if let Some(d) = protocols {
            self.emit_protocols(d);
        }
        if let Some(d) = ciphers {
            self.warn_once(d, "ssl_ciphers is not applied: the edge offers rustls's suites (TLS 1.3: AES-GCM, ChaCha20-Poly1305; TLS 1.2: ECDHE with AES-GCM or ChaCha20-Poly1305), none of them weak".into());
        }
        if let Some(d) = cache {
            match session_cache(d) {
                Ok(n) => self.out.line(3, &format!("session_cache: {n}"), Some(d)),
                Err(e) => self.fail(e),
            }
        }
        if let Some(d) = timeout {
            self.warn_once(d, "ssl_session_timeout is not applied: a session resumes while it is in the cache, and session tickets for 12 hours (rustls's ticket lifetime)".into());
        }
        for (d, key) in [
            (tickets, "session_tickets"),
            (prefer, "prefer_server_ciphers"),
        ] {
            let Some(d) = d else { continue };
            match d.args.as_slice() {
                [v] if v == "on" => self.out.line(3, &format!("{key}: true"), Some(d)),
                [v] if v == "off" => self.out.line(3, &format!("{key}: false"), Some(d)),
                _ => self.fail(d.error(format!("\"{}\": expected on or off", d.name))),
            }
        }
    }

    /// `ssl_protocols`: TLS 1.2 and 1.3 are kept; older ones are dropped
    /// with a warning (rustls does not speak them).
    fn emit_protocols(&mut self, d: &Directive) {
        let mut kept = Vec::new();
        let mut dropped = Vec::new();
        for p in &d.args {
            match p.as_str() {
                "TLSv1.2" | "TLSv1.3" => kept.push(p.as_str()),
                "SSLv2" | "SSLv3" | "TLSv1" | "TLSv1.1" => dropped.push(p.as_str()),
                other => {
                    self.fail(d.error(format!("\"ssl_protocols\": unknown protocol \"{other}\"")));
                    return;
                }
            }
        }
        if kept.is_empty() {
            self.fail(d.error(format!(
                "\"ssl_protocols {}\": the edge speaks TLSv1.2 and TLSv1.3 only; add one of them",
                d.args.join(" ")
            )));
            return;
        }
        if !dropped.is_empty() {
            self.warn_once(
                d,
                format!(
                    "ssl_protocols: {} not offered (insecure, and not implemented by rustls)",
                    dropped.join(", ")
                ),
            );
        }
        self.out
            .line(3, &format!("protocols: [{}]", kept.join(", ")), Some(d));
    }
}

/// `ssl_session_cache off | none | [builtin[:size]] [shared:name:size]` ->
/// sessions kept (0 = none).
fn session_cache(d: &Directive) -> Result<u64, ConfigError> {
    n_args(d, 1..=2)?;
    let mut sessions = 0;
    for a in &d.args {
        sessions += match a.as_str() {
            "off" | "none" => 0,
            "builtin" => 20_480,
            a if a.starts_with("builtin:") => a[8..]
                .parse::<u64>()
                .map_err(|_| d.error(format!("\"ssl_session_cache\": invalid size in \"{a}\"")))?,
            a if a.starts_with("shared:") => {
                let size = a.rsplit(':').next().unwrap_or("");
                let bytes = parse_size(size).map_err(|e| {
                    d.error(format!("\"ssl_session_cache\": invalid size in \"{a}\": {e}"))
                })?;
                (bytes * SESSIONS_PER_MB / (1024 * 1024)).max(1)
            }
            a => {
                return Err(d.error(format!(
                    "\"ssl_session_cache\": invalid value \"{a}\" (expected off, none, builtin[:N] or shared:NAME:SIZE)"
                )))
            }
        };
    }
    Ok(sessions)
}

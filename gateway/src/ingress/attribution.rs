//! Who a request really comes from, decided as the official gateway decides
//! it (`src/gateway/ingress-attribution.ts`, `net.ts` of openclaw 2026.9.6).
//!
//! - *direct-local*: a loopback peer that sent no forwarded headers;
//! - *trusted-proxy*: a peer in `gateway.trustedProxies`; the client is the
//!   rightmost `X-Forwarded-For` entry that is neither loopback nor itself a
//!   trusted proxy (or, with `gateway.allowRealIpFallback`, `X-Real-IP` when
//!   that gives nothing). A proxy that cannot name a non-loopback client is
//!   refused: forwarded headers may not claim "local". One departure: a
//!   trusted proxy *on loopback* whose chain is all loopback is a local
//!   client (the official gateway refuses it, which makes an edge in front
//!   of nodes on one machine unusable from that machine);
//! - *unattributable*: forwarded headers from a peer that is not trusted;
//! - *direct-remote*: any other peer, which is then the client.
//!
//! A request is "proxy-shaped" by header *name* alone: `Forwarded`,
//! `X-Real-IP`, any `X-Forwarded-*`, or a Tailscale identity header, even
//! empty.

use super::address::{is_loopback, parse_literal, unmapped, TrustedProxies};
use axum::http::HeaderMap;
use std::net::IpAddr;

/// Headers Tailscale's proxy adds; they make a request proxy-shaped too.
const TAILSCALE_HEADERS: &[&str] = &[
    "tailscale-funnel-request",
    "tailscale-headers-info",
    "tailscale-user-login",
    "tailscale-user-name",
    "tailscale-user-profile-pic",
];

/// How requests from proxies are judged: `gateway.trustedProxies` and
/// `gateway.allowRealIpFallback`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngressPolicy {
    pub trusted_proxies: TrustedProxies,
    pub allow_real_ip_fallback: bool,
}

/// The outcome for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribution {
    /// A client on this machine, straight to the port.
    DirectLocal(IpAddr),
    /// A client named by a trusted proxy; `proxy` is the socket peer.
    TrustedProxy { client: IpAddr, proxy: IpAddr },
    /// A client elsewhere, straight to the port.
    DirectRemote(IpAddr),
    /// Forwarded headers nobody vouches for: refused before anything else.
    Unattributable { peer: IpAddr },
}

impl Attribution {
    /// The official name of the class, for logs and metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Attribution::DirectLocal(_) => "direct-local",
            Attribution::TrustedProxy { .. } => "trusted-proxy",
            Attribution::DirectRemote(_) => "direct-remote",
            Attribution::Unattributable { .. } => "unattributable-proxy",
        }
    }

    /// The client's address: what rate limits are keyed by.
    pub fn client(&self) -> Option<IpAddr> {
        match *self {
            Attribution::DirectLocal(ip) | Attribution::DirectRemote(ip) => Some(ip),
            Attribution::TrustedProxy { client, .. } => Some(client),
            Attribution::Unattributable { .. } => None,
        }
    }

    /// Whether the client is on this machine, straight to the port.
    pub fn is_local(&self) -> bool {
        matches!(self, Attribution::DirectLocal(_))
    }

    /// The address presence reports: a client that is not on this machine.
    pub fn reported(&self) -> Option<IpAddr> {
        match self {
            Attribution::DirectLocal(_) => None,
            other => other.client().filter(|ip| !is_loopback(*ip)),
        }
    }
}

impl IngressPolicy {
    /// Classifies a request from `peer` with `headers`.
    pub fn classify(&self, peer: IpAddr, headers: &HeaderMap) -> Attribution {
        let peer = unmapped(peer);
        let proxy_shaped = headers.keys().any(|name| {
            let name = name.as_str();
            name == "forwarded"
                || name == "x-real-ip"
                || name.starts_with("x-forwarded-")
                || TAILSCALE_HEADERS.contains(&name)
        });
        if is_loopback(peer) && !proxy_shaped {
            return Attribution::DirectLocal(peer);
        }
        if self.trusted_proxies.contains(peer) {
            let chain = forwarded_for(headers);
            return match self.forwarded_client(&chain, headers) {
                Some(client) if !is_loopback(client) => Attribution::TrustedProxy {
                    client,
                    proxy: peer,
                },
                // Our one departure from the official gateway, which refuses
                // this: a trusted proxy on this machine saying its client is
                // on this machine too (every hop loopback; an appending proxy
                // always adds a remote client's real address last).
                None if is_loopback(peer) && all_loopback(&chain) => Attribution::DirectLocal(peer),
                _ => Attribution::Unattributable { peer },
            };
        }
        if proxy_shaped {
            Attribution::Unattributable { peer }
        } else {
            Attribution::DirectRemote(peer)
        }
    }

    /// The client a trusted proxy names: the `X-Forwarded-For` chain (every
    /// line, in order) from the right, skipping loopback and trusted hops and
    /// entries that are not addresses; then `X-Real-IP` if allowed.
    fn forwarded_client(&self, chain: &[Option<IpAddr>], headers: &HeaderMap) -> Option<IpAddr> {
        let from_chain = chain
            .iter()
            .rev()
            .flatten()
            .copied()
            .find(|hop| !is_loopback(*hop) && !self.trusted_proxies.contains(*hop));
        if from_chain.is_some() || !self.allow_real_ip_fallback {
            return from_chain;
        }
        // Several X-Real-IP lines are one comma-joined value, which is no address.
        let mut lines = headers.get_all("x-real-ip").iter();
        match (lines.next(), lines.next()) {
            (Some(one), None) => one.to_str().ok().and_then(parse_literal),
            _ => None,
        }
    }
}

/// Every `X-Forwarded-For` entry (all lines, in order), parsed: `None` for
/// one that is not an address.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(','))
        .map(parse_literal)
        .collect()
}

/// Whether a chain names at least one hop and only loopback ones (the edge
/// in front of a node on the same machine, for a client on that machine).
fn all_loopback(chain: &[Option<IpAddr>]) -> bool {
    !chain.is_empty() && chain.iter().all(|hop| hop.is_some_and(is_loopback))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn policy(trusted: &[&str], fallback: bool) -> IngressPolicy {
        let list: Vec<String> = trusted.iter().map(|s| s.to_string()).collect();
        IngressPolicy {
            trusted_proxies: TrustedProxies::parse(&list).unwrap(),
            allow_real_ip_fallback: fallback,
        }
    }

    /// The client address (or `None` for a refusal) for headers from a peer.
    fn client(p: &IngressPolicy, peer: &str, pairs: &[(&str, &str)]) -> Option<String> {
        match p.classify(peer.parse().unwrap(), &headers(pairs)) {
            Attribution::Unattributable { .. } => None,
            a => Some(a.client().unwrap().to_string()),
        }
    }

    #[test]
    fn no_trusted_proxies_refuses_any_forwarded_header() {
        let p = policy(&[], false);
        for name in [
            "x-forwarded-for",
            "x-forwarded-proto",
            "x-forwarded-whatever",
            "forwarded",
            "x-real-ip",
            "tailscale-user-login",
        ] {
            assert_eq!(
                client(&p, "127.0.0.1", &[(name, "203.0.113.7")]),
                None,
                "{name}"
            );
        }
        assert_eq!(client(&p, "127.0.0.1", &[("x-forwarded-for", "")]), None);
        for name in ["via", "x-client-ip", "true-client-ip", "cf-connecting-ip"] {
            let c = client(&p, "127.0.0.1", &[(name, "203.0.113.7")]);
            assert_eq!(c.as_deref(), Some("127.0.0.1"), "{name}");
        }
        let direct = p.classify("198.51.100.4".parse().unwrap(), &HeaderMap::new());
        assert_eq!(
            direct,
            Attribution::DirectRemote("198.51.100.4".parse().unwrap())
        );
        assert_eq!(direct.reported().unwrap().to_string(), "198.51.100.4");
    }

    /// The official gateway's answers, recorded live (trustedProxies
    /// 127.0.0.0/8, 10.0.0.0/8, ::ffff:192.168.0.0/112; fallback on unless said).
    #[test]
    fn trusted_proxy_chain_as_officially() {
        let p = policy(
            &["127.0.0.0/8", "10.0.0.0/8", "::ffff:192.168.0.0/112"],
            true,
        );
        type Headers<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(Headers, Option<&str>)] = &[
            (&[("x-real-ip", "203.0.113.9")], Some("203.0.113.9")),
            (
                &[
                    ("x-forwarded-for", "127.0.0.1"),
                    ("x-real-ip", "203.0.113.9"),
                ],
                Some("203.0.113.9"),
            ),
            (
                &[
                    ("x-forwarded-for", "unknown"),
                    ("x-real-ip", "203.0.113.10"),
                ],
                Some("203.0.113.10"),
            ),
            (
                &[
                    ("x-forwarded-for", "203.0.113.7"),
                    ("x-real-ip", "127.0.0.1"),
                ],
                Some("203.0.113.7"),
            ),
            (&[("x-real-ip", "127.0.0.1")], None),
            (
                &[("x-forwarded-for", "198.51.100.1, 10.1.2.3")],
                Some("198.51.100.1"),
            ),
            (&[("x-forwarded-for", "10.1.2.3")], None),
            (
                &[("x-forwarded-for", "[2001:db8::1]:443")],
                Some("2001:db8::1"),
            ),
            (
                &[("x-forwarded-for", "::ffff:203.0.113.12")],
                Some("203.0.113.12"),
            ),
            (&[("x-forwarded-for", "192.168.0.5")], None),
            (
                &[
                    ("x-forwarded-for", "198.51.100.1"),
                    ("x-forwarded-for", "203.0.113.13"),
                ],
                Some("203.0.113.13"),
            ),
            (
                &[("x-forwarded-for", "1.2.3.4, 203.0.113.14")],
                Some("203.0.113.14"),
            ),
            (&[("x-forwarded-for", "203.0.113.015")], None),
            (
                &[("x-forwarded-for", " , 203.0.113.16 ,")],
                Some("203.0.113.16"),
            ),
            (
                &[("x-forwarded-for", "203.0.113.17, garbage")],
                Some("203.0.113.17"),
            ),
            (&[("forwarded", "for=203.0.113.7")], None),
        ];
        for (h, want) in cases {
            assert_eq!(client(&p, "127.0.0.1", h).as_deref(), *want, "{h:?}");
        }
        assert_eq!(
            client(&p, "127.0.0.2", &[("x-forwarded-for", "203.0.113.19")]).as_deref(),
            Some("203.0.113.19")
        );
        assert_eq!(
            client(&p, "::1", &[("x-forwarded-for", "203.0.113.18")]),
            None
        );
        let local = p.classify("127.0.0.2".parse().unwrap(), &HeaderMap::new());
        assert!(local.is_local() && local.reported().is_none());
    }

    #[test]
    fn real_ip_only_with_the_fallback_and_a_loopback_client_never() {
        let off = policy(&["127.0.0.1"], false);
        assert_eq!(
            client(&off, "127.0.0.1", &[("x-real-ip", "203.0.113.7")]),
            None
        );
        let via = |xff: &str| client(&off, "127.0.0.1", &[("x-forwarded-for", xff)]);
        assert_eq!(
            via("203.0.113.7, 127.0.0.1").as_deref(),
            Some("203.0.113.7")
        );
        // The departure: a loopback client through a trusted loopback proxy
        // is local (officially a 403); not with any other hop, nor from a
        // trusted proxy elsewhere.
        for xff in ["127.0.0.1", "::1", "127.0.0.1, ::1"] {
            let local = off.classify(
                "127.0.0.1".parse().unwrap(),
                &headers(&[("x-forwarded-for", xff)]),
            );
            assert!(local.is_local(), "{xff}: {local:?}");
        }
        assert_eq!(via("127.0.0.1, garbage"), None);
        assert_eq!(via(""), None);
        let remote = policy(&["10.0.0.1"], false);
        assert_eq!(
            client(&remote, "10.0.0.1", &[("x-forwarded-for", "127.0.0.1")]),
            None
        );
        let on = policy(&["127.0.0.1"], true);
        let two = [("x-real-ip", "203.0.113.7"), ("x-real-ip", "203.0.113.8")];
        assert_eq!(client(&on, "127.0.0.1", &two), None);
        let via = on.classify(
            "127.0.0.1".parse().unwrap(),
            &headers(&[("x-forwarded-for", "203.0.113.7")]),
        );
        assert_eq!(via.kind(), "trusted-proxy");
        assert_eq!(via.reported().unwrap().to_string(), "203.0.113.7");
    }
}

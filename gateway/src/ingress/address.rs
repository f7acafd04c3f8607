//! Client addresses as the official gateway reads them from forwarded
//! headers, and the `gateway.trustedProxies` ranges they are checked against.
//!
//! Strict on purpose: a header entry is an address only in its canonical
//! form (four decimal parts for IPv4, no leading zeros), optionally in
//! brackets or with a port; anything else is skipped, never guessed at. An
//! IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is its IPv4 address
//! everywhere, so a dual-stack socket cannot dodge an IPv4 range.

use std::net::IpAddr;

/// `ip` with an IPv4-mapped IPv6 address turned into its IPv4 address.
pub fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` is a loopback address (`127.0.0.0/8`, `::1`, or mapped).
pub fn is_loopback(ip: IpAddr) -> bool {
    unmapped(ip).is_loopback()
}

/// One entry of a forwarded header (`X-Forwarded-For`, `X-Real-IP`):
/// `192.0.2.1`, `192.0.2.1:5555`, `2001:db8::1`, `[2001:db8::1]:443`;
/// `None` for anything else.
pub fn parse_literal(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    let bare = if let Some(rest) = text.strip_prefix('[') {
        // `[v6]` or `[v6]:port`
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || port(after.strip_prefix(':')?)) {
            return None;
        }
        inside
    } else {
        match text.split_once(':') {
            // `a.b.c.d:port`: a dotted address with exactly one colon.
            Some((host, p)) if host.contains('.') && !p.contains(':') => {
                if !port(p) {
                    return None;
                }
                host
            }
            _ => text,
        }
    };
    bare.parse::<IpAddr>().ok().map(unmapped)
}

fn port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

/// One `gateway.trustedProxies` entry: an address (`10.0.0.5`) or a range
/// (`10.0.0.0/8`; host bits may be set, as officially: `10.1.2.3/8` is
/// `10.0.0.0/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyRange {
    base: IpAddr,
    /// Leading bits that must match; the whole address when none was given.
    bits: u8,
}

impl ProxyRange {
    /// Parses an entry; `Err` says what is wrong with it.
    pub fn parse(text: &str) -> Result<ProxyRange, String> {
        let text = text.trim();
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let raw: IpAddr = addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| {
                format!("`{text}` is not an IP address or CIDR range (like 10.0.0.0/8)")
            })?;
        let width = if raw.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => width,
            Some(b) => b
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= width)
                .ok_or_else(|| format!("`{text}`: the prefix length must be 0 to {width}"))?,
        };
        // A mapped base (`::ffff:192.168.0.0/112`) is an IPv4 range.
        let base = unmapped(raw);
        let bits = if base != raw {
            bits.saturating_sub(96)
        } else {
            bits
        };
        Ok(ProxyRange { base, bits })
    }

    /// Whether `ip` (mapped or not) is in the range; IPv4 and IPv6 never mix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (a, b, width) = match (self.base, unmapped(ip)) {
            (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a).into(), u32::from(b).into(), 32),
            (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
            _ => return false,
        };
        let host_bits = width - u32::from(self.bits);
        host_bits >= 128 || (a ^ b) >> host_bits == 0
    }
}

/// `gateway.trustedProxies`: the peers whose forwarded headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ProxyRange>);

impl TrustedProxies {
    /// From the config's entries; `Err((index, why))` for the first bad one.
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, (usize, String)> {
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| ProxyRange::parse(e).map_err(|why| (i, why)))
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|r| r.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn literals_as_the_official_gateway_reads_them() {
        // The official gateway's answers (its presence `ip`) for these entries.
        for (entry, want) in [
            ("203.0.113.7", Some("203.0.113.7")),
            (" 203.0.113.7 ", Some("203.0.113.7")),
            ("203.0.113.11:5555", Some("203.0.113.11")),
            ("[2001:db8::1]:443", Some("2001:db8::1")),
            ("[2001:db8::1]", Some("2001:db8::1")),
            ("2001:DB8:0:0:0:0:0:AB", Some("2001:db8::ab")),
            ("::ffff:203.0.113.12", Some("203.0.113.12")),
            ("203.0.113.015", None),
            ("unknown", None),
            ("", None),
            ("203.0.113", None),
            ("203.0.113.7:x", None),
            ("2001:db8::1:443", Some("2001:db8::1:443")),
        ] {
            assert_eq!(parse_literal(entry), want.map(ip), "{entry:?}");
        }
    }

    #[test]
    fn ranges_match_as_officially() {
        let r = |s: &str| ProxyRange::parse(s).unwrap();
        assert!(r("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(r("127.0.0.1").contains(ip("::ffff:127.0.0.1")));
        assert!(r("::ffff:127.0.0.1").contains(ip("127.0.0.1")));
        assert!(!r("127.0.0.1").contains(ip("::1")));
        assert!(!r("127.0.0.0/8").contains(ip("::1")));
        assert!(r("127.0.0.0/8").contains(ip("127.0.0.2")));
        assert!(r("10.1.2.3/8").contains(ip("10.200.0.1")));
        assert!(!r("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(r("::ffff:192.168.0.0/112").contains(ip("192.168.0.5")));
        assert!(!r("::ffff:192.168.0.0/112").contains(ip("192.169.0.5")));
        assert!(r("0.0.0.0/0").contains(ip("198.51.100.1")));
        assert!(r("2001:db8::/32").contains(ip("2001:db8:1::5")));
        assert!(!r("2001:db8::/32").contains(ip("2001:db9::5")));
        assert!(r("::/0").contains(ip("2001:db9::5")));
        for bad in ["", "proxy", "10.0.0.0/33", "::/129", "10.0.0.0/x"] {
            assert!(ProxyRange::parse(bad).is_err(), "{bad:?}");
        }
    }
}

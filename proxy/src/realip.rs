//! nginx's realip module: when a request comes from a trusted proxy
//! (`set_real_ip_from`), the client's address is read from a request header
//! (`real_ip_header`), for everything that uses it: `$remote_addr`,
//! `X-Real-IP`, `$proxy_add_x_forwarded_for`, `ip_hash` and the access log.
//!
//! As nginx does it: the header's comma-separated addresses are read from
//! the right; without `real_ip_recursive` the rightmost one is the client,
//! with it the first one from the right that is not itself trusted (or the
//! leftmost if all are). A value that is not an address leaves the
//! connection's address in place.

use crate::config::RealIpConfig;
use crate::http1::RequestHead;
use std::net::{IpAddr, SocketAddr};

/// An address range: `10.0.0.0/8`, `::1`, `2001:db8::/32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    /// Parses `ADDR` or `ADDR/BITS`.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let net: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{text}` is not an address or CIDR range"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => b
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("`{text}`: the prefix length must be 0 to {max}"))?,
        };
        Ok(Cidr { net, bits })
    }

    /// Whether `ip` is in the range (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (whole, rest) = (usize::from(bits / 8), bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0
}

/// A server's realip settings, ready to apply.
#[derive(Debug)]
pub struct RealIp {
    trusted: Vec<Cidr>,
    /// Lowercase header name.
    header: String,
    recursive: bool,
}

impl RealIp {
    /// From the config (validated: every range parses).
    pub fn from_config(c: &RealIpConfig) -> Result<RealIp, String> {
        Ok(RealIp {
            trusted: c
                .from
                .iter()
                .map(|t| Cidr::parse(t))
                .collect::<Result<_, _>>()?,
            header: c.header.to_ascii_lowercase(),
            recursive: c.recursive,
        })
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|c| c.contains(ip))
    }

    /// The client of a request that came from `peer`.
    pub fn client(&self, peer: SocketAddr, head: &RequestHead) -> SocketAddr {
        if !self.trusted(peer.ip()) {
            return peer;
        }
        let values: Vec<&str> = head
            .fields
            .all(&self.header)
            .filter_map(|v| std::str::from_utf8(v).ok())
            .collect();
        if values.is_empty() {
            return peer;
        }
        let mut found = None;
        for item in values.iter().rev().flat_map(|v| v.rsplit(',')) {
            let Some(ip) = address(item.trim()) else {
                // nginx gives up on a value it cannot read.
                return peer;
            };
            found = Some(ip);
            if !self.recursive || !self.trusted(ip) {
                break;
            }
        }
        found.map_or(peer, |ip| SocketAddr::new(ip, 0))
    }
}

/// `ADDR`, `IPv4:PORT` or `[IPv6]:PORT`, as nginx reads them.
fn address(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_contain_what_they_should() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains("10.1.200.3".parse().unwrap()));
        assert!(!c.contains("10.2.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.1.0.9".parse().unwrap()));
        let c = Cidr::parse("2001:db8::/33").unwrap();
        assert!(c.contains("2001:db8:7fff::1".parse().unwrap()));
        assert!(!c.contains("2001:db8:8000::1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("1.2.3.4/33").is_err());
        assert!(Cidr::parse("example.com").is_err());
    }
}

//! nginx's `ip_hash`, bit for bit: the key is the first three octets of an
//! IPv4 address (all 16 bytes of IPv6), h = 89, h = (h * 113 + byte) % 6271
//! per byte, the server is found by walking weights with h % total_weight;
//! an unusable server means hashing on from h; after 20 tries, round robin.

use super::round_robin::rr_pick;
use super::{Balancer, Pick, PickInput, Pool, TierKind, Tried};
use std::net::IpAddr;

/// Client-address affinity, compatible with nginx's mapping.
#[derive(Debug)]
pub struct IpHash;

/// The bytes nginx hashes for `addr` (no address: three zero bytes, as nginx's pseudo address).
fn key_bytes(addr: Option<IpAddr>) -> ([u8; 16], usize) {
    let mut out = [0u8; 16];
    match addr {
        Some(IpAddr::V4(v4)) => {
            out[..3].copy_from_slice(&v4.octets()[..3]);
            (out, 3)
        }
        Some(IpAddr::V6(v6)) => (v6.octets(), 16),
        None => (out, 3),
    }
}

/// The loop nginx's `ip_hash` and `hash` share: `next` gives the next hash
/// value; the primary server owning slot `hash % total_weight` is taken if
/// usable and not yet tried; after 20 misses, round robin takes over.
pub(super) fn walk_slots(
    pool: &mut Pool,
    tried: &mut Tried,
    now: u64,
    mut next: impl FnMut(&mut Tried) -> u64,
) -> Option<Pick> {
    let p = loop {
        let hash = next(tried);
        let p = by_weight(pool, (hash % pool.primary.total_weight as u64) as i64);
        if !tried.has(p) && pool.primary.usable(p, now) {
            break p;
        }
        tried.hash_tries += 1;
        if tried.hash_tries > 20 {
            return rr_pick(pool, tried, now);
        }
    };
    pool.primary.take(p, tried, now);
    Some(Pick {
        tier: TierKind::Primary,
        index: p,
    })
}

/// Walks weights like nginx: the server owning slot `w` of `total_weight`.
pub(super) fn by_weight(pool: &Pool, mut w: i64) -> usize {
    let mut p = 0;
    while w >= pool.primary.conf[p].weight {
        w -= pool.primary.conf[p].weight;
        p += 1;
    }
    p
}

impl Balancer for IpHash {
    fn pick(
        &self,
        pool: &mut Pool,
        input: &PickInput,
        tried: &mut Tried,
        now: u64,
    ) -> Option<Pick> {
        if tried.hash_tries > 20 || pool.primary.len() < 2 {
            return rr_pick(pool, tried, now);
        }
        let (bytes, len) = key_bytes(input.client);
        walk_slots(pool, tried, now, |tried| {
            let mut hash = tried.hash.unwrap_or(89);
            for b in &bytes[..len] {
                hash = (hash * 113 + *b as u64) % 6271;
            }
            tried.hash = Some(hash);
            hash
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::ServerConf;
    use super::*;

    fn pick_for(p: &mut Pool, ip: &str) -> usize {
        let input = PickInput {
            client: Some(ip.parse().unwrap()),
            key: "",
        };
        let pick = IpHash
            .pick(p, &input, &mut Tried::default(), 1 << 41)
            .unwrap();
        p.primary.state[pick.index].drop_conn();
        pick.index
    }

    #[test]
    fn same_slash_24_same_server() {
        let conf = (0..3)
            .map(|i| ServerConf::new(format!("s{i}"), 1))
            .collect();
        let mut p = Pool::new(conf, vec![]);
        let a = pick_for(&mut p, "127.0.5.1");
        for last in 2..50 {
            assert_eq!(pick_for(&mut p, &format!("127.0.5.{last}")), a);
        }
    }

    #[test]
    fn known_value() {
        // 127.0.0.x: h = 89 -> (89*113+127)%6271 = 3913 -> (3913*113+0)%6271 = 3199
        // -> (3199*113+0)%6271 = 4040, and 4040 % 3 = 2.
        let conf = (0..3)
            .map(|i| ServerConf::new(format!("s{i}"), 1))
            .collect();
        let mut p = Pool::new(conf, vec![]);
        assert_eq!(pick_for(&mut p, "127.0.0.1"), 2);
    }
}

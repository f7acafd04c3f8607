//! nginx's `hash KEY consistent` (ketama as nginx builds it): 160 points per
//! unit of weight, point j of a server is crc32(HOST "\0" PORT prev_hash) with
//! prev_hash the previous point's value (little-endian), HOST and PORT split
//! from the server as written. A key goes to the first point >= crc32(KEY),
//! wrapping; an unusable server means the next point.

use super::round_robin::rr_pick;
use super::{Balancer, Pick, PickInput, Pool, Tier, TierKind, Tried};

/// The ring, built once per config.
#[derive(Debug)]
pub struct ConsistentHash {
    /// (point hash, index of a server with that name), sorted, deduplicated.
    points: Vec<(u32, usize)>,
}

/// nginx's split of `server` into host and port: a trailing `:digits` is the port.
fn host_port(server: &str) -> (&str, &str) {
    if server.len() >= 5 && server[..5].eq_ignore_ascii_case("unix:") {
        return (&server[5..], "");
    }
    let digits = server
        .bytes()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let colon = server.len() - digits;
    if colon > 0 && server.as_bytes()[colon - 1] == b':' {
        (&server[..colon - 1], &server[colon..])
    } else {
        (server, "")
    }
}

impl ConsistentHash {
    /// Builds the ring of `tier` (down servers included, as nginx).
    pub fn new(tier: &Tier) -> Self {
        let mut points = Vec::with_capacity(tier.total_weight as usize * 160);
        for (i, conf) in tier.conf.iter().enumerate() {
            let (host, port) = host_port(&conf.name);
            let mut base = crc32fast::Hasher::new();
            base.update(host.as_bytes());
            base.update(&[0]);
            base.update(port.as_bytes());
            let mut prev = 0u32;
            for _ in 0..conf.weight * 160 {
                let mut h = base.clone();
                h.update(&prev.to_le_bytes());
                prev = h.finalize();
                points.push((prev, i));
            }
        }
        points.sort_by_key(|p| p.0);
        points.dedup_by_key(|p| p.0);
        ConsistentHash { points }
    }

    /// Index of the first point >= `hash` (may be `len`, which wraps to 0).
    fn find(&self, hash: u32) -> usize {
        self.points.partition_point(|p| p.0 < hash)
    }
}

impl Balancer for ConsistentHash {
    fn pick(
        &self,
        pool: &mut Pool,
        input: &PickInput,
        tried: &mut Tried,
        now: u64,
    ) -> Option<Pick> {
        if tried.hash_tries > 20 || pool.single() || input.key.is_empty() {
            return rr_pick(pool, tried, now);
        }
        if self.points.is_empty() {
            return None;
        }
        let mut at = tried
            .hash
            .unwrap_or_else(|| self.find(crc32fast::hash(input.key.as_bytes())) as u64);
        let tier = &mut pool.primary;
        loop {
            let owner = self.points[(at % self.points.len() as u64) as usize].1;
            let best = tier.smooth_pick(tried, now, 0, |t, i| t.conf[i].name == t.conf[owner].name);
            if let Some(b) = best {
                tier.take(b, tried, now);
                tried.hash = Some(at);
                return Some(Pick {
                    tier: TierKind::Primary,
                    index: b,
                });
            }
            at += 1;
            tried.hash_tries += 1;
            if tried.hash_tries > 20 {
                return rr_pick(pool, tried, now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_nginx() {
        assert_eq!(host_port("127.0.0.1:8080"), ("127.0.0.1", "8080"));
        assert_eq!(host_port("backend"), ("backend", ""));
        assert_eq!(host_port("unix:/tmp/s"), ("/tmp/s", ""));
        assert_eq!(host_port("[::1]:80"), ("[::1]", "80"));
    }

    #[test]
    fn ring_has_160_points_per_weight() {
        let tier = Tier::new(vec![
            super::super::ServerConf::new("a:1", 2),
            super::super::ServerConf::new("b:2", 1),
        ]);
        let ring = ConsistentHash::new(&tier);
        assert!(ring.points.len() > 470 && ring.points.len() <= 480);
        assert!(ring.points.windows(2).all(|w| w[0].0 < w[1].0));
    }
}

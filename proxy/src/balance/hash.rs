//! nginx's `hash KEY` (not consistent), compatible with Cache::Memcached:
//! h += (crc32([REHASH] KEY) >> 16) & 0x7fff, server by walking weights with
//! h % total_weight, REHASH counting up from the second try.

use super::ip_hash::walk_slots;
use super::round_robin::rr_pick;
use super::{Balancer, Pick, PickInput, Pool, Tried};

/// Key affinity with nginx's plain hash.
#[derive(Debug)]
pub struct Hash;

impl Balancer for Hash {
    fn pick(
        &self,
        pool: &mut Pool,
        input: &PickInput,
        tried: &mut Tried,
        now: u64,
    ) -> Option<Pick> {
        if tried.hash_tries > 20 || pool.primary.len() < 2 || input.key.is_empty() {
            return rr_pick(pool, tried, now);
        }
        walk_slots(pool, tried, now, |tried| {
            let mut h = crc32fast::Hasher::new();
            if tried.rehash > 0 {
                h.update(tried.rehash.to_string().as_bytes());
            }
            h.update(input.key.as_bytes());
            let acc = tried.hash.unwrap_or(0) + ((h.finalize() >> 16) & 0x7fff) as u64;
            tried.hash = Some(acc);
            tried.rehash += 1;
            acc
        })
    }
}

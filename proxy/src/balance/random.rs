//! nginx's `random` and `random two`: a weighted random server, or the less
//! loaded (in-flight per weight) of two distinct weighted random servers.

use super::round_robin::rr_pick;
use super::{Balancer, Pick, PickInput, Pool, TierKind, Tried};
use rand::Rng;

/// Weighted random choice.
#[derive(Debug)]
pub struct Random {
    /// Power of two choices by least in-flight.
    pub two: bool,
}

fn peek(pool: &Pool) -> usize {
    let x = rand::rng().random_range(0..pool.primary.total_weight);
    super::ip_hash::by_weight(pool, x)
}

impl Balancer for Random {
    fn pick(
        &self,
        pool: &mut Pool,
        _input: &PickInput,
        tried: &mut Tried,
        now: u64,
    ) -> Option<Pick> {
        if tried.hash_tries > 20 || pool.single() {
            return rr_pick(pool, tried, now);
        }
        let mut first: Option<usize> = None;
        let chosen = loop {
            let i = peek(pool);
            let ok = first != Some(i) && !tried.has(i) && pool.primary.usable(i, now);
            if ok {
                if !self.two {
                    break i;
                }
                if let Some(prev) = first {
                    let t = &pool.primary;
                    let (ci, wi) = (t.state[i].conns() as i64, t.conf[i].weight);
                    let (cp, wp) = (t.state[prev].conns() as i64, t.conf[prev].weight);
                    break if ci * wp > cp * wi { prev } else { i };
                }
                first = Some(i);
            }
            tried.hash_tries += 1;
            if tried.hash_tries > 20 {
                match first {
                    Some(prev) => break prev,
                    None => return rr_pick(pool, tried, now),
                }
            }
        };
        pool.primary.take(chosen, tried, now);
        Some(Pick {
            tier: TierKind::Primary,
            index: chosen,
        })
    }
}

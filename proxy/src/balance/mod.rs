//! Server selection with nginx's exact semantics, one file per method behind
//! the [`Balancer`] trait.
//!
//! The shared state ([`Pool`]: weights, failure counts, in-flight counts) is
//! nginx's `ngx_http_upstream_rr_peer_t`, and every method walks it the way
//! the matching nginx module does, so a client reaches the same server here
//! as under nginx. The caller holds the pool's lock for one pick.

mod chash;
mod hash;
mod ip_hash;
mod least_conn;
mod overrides;
mod pool;
mod random;
mod round_robin;

pub use overrides::{Changed, Overrides};
pub use pool::{now_ms, Pool, ServerConf, ServerState, Tier};

use crate::config::Balance;
use std::net::IpAddr;

/// Which tier a pick came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TierKind {
    /// The primary servers.
    Primary,
    /// `backup` servers, used once every primary is out.
    Backup,
}

/// A chosen server: its tier and index in that tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pick {
    /// Tier of the server.
    pub tier: TierKind,
    /// Index in the tier, in config order.
    pub index: usize,
}

/// Servers already tried by one request (nginx `rrp->tried`), and whether the
/// request has fallen over to the backup tier.
#[derive(Debug, Default, Clone)]
pub struct Tried {
    bits: Vec<u64>,
    /// Set once the primaries were exhausted; later picks stay on backups.
    pub on_backup: bool,
    /// Hash state carried between retries (ip_hash, hash, consistent hash).
    pub hash: Option<u64>,
    /// nginx's per-request `tries` for hash methods (fall back to rr after 20).
    pub hash_tries: u32,
    /// `hash`: how many rehashes were done (`hp->rehash`).
    pub rehash: u32,
}

impl Tried {
    /// True if server `i` of the current tier was tried.
    pub fn has(&self, i: usize) -> bool {
        self.bits
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Marks server `i` of the current tier as tried.
    pub fn mark(&mut self, i: usize) {
        if self.bits.len() <= i / 64 {
            self.bits.resize(i / 64 + 1, 0);
        }
        self.bits[i / 64] |= 1 << (i % 64);
    }

    /// Moves to the backup tier with nothing tried there yet.
    fn switch_to_backup(&mut self) {
        self.bits.clear();
        self.on_backup = true;
    }
}

/// What a method may look at to choose.
#[derive(Debug, Clone, Copy)]
pub struct PickInput<'a> {
    /// The client's address (ip_hash).
    pub client: Option<IpAddr>,
    /// The expanded `hash KEY` for this request.
    pub key: &'a str,
}

/// A balancing method. `pick` runs under the pool lock, marks the choice in
/// `tried`, counts it in flight and updates nginx's `checked` time.
pub trait Balancer: Send + Sync + std::fmt::Debug {
    /// Chooses a server, or `None` when no server may take the request.
    fn pick(&self, pool: &mut Pool, input: &PickInput, tried: &mut Tried, now: u64)
        -> Option<Pick>;
}

/// Builds the method for `balance` over `pool` (consistent hash precomputes its ring).
pub fn build(balance: &Balance, pool: &Pool) -> Box<dyn Balancer> {
    match balance {
        Balance::RoundRobin => Box::new(round_robin::RoundRobin),
        Balance::LeastConn => Box::new(least_conn::LeastConn),
        Balance::IpHash => Box::new(ip_hash::IpHash),
        Balance::Hash {
            consistent: false, ..
        } => Box::new(hash::Hash),
        Balance::Hash {
            consistent: true, ..
        } => Box::new(chash::ConsistentHash::new(&pool.primary)),
        Balance::Random { two } => Box::new(random::Random { two: *two }),
    }
}

/// Whether the method can use `backup` servers (nginx refuses `backup` for hash methods).
pub fn supports_backup(balance: &Balance) -> bool {
    matches!(balance, Balance::RoundRobin | Balance::LeastConn)
}

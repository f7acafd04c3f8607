//! Passive health: what a finished request says about its server, exactly as
//! nginx's `ngx_http_upstream_free_round_robin_peer` counts it.
//!
//! A failure (connect error or timeout before a response) counts toward
//! `max_fails` and lowers the server's effective weight; reaching `max_fails`
//! within `fail_timeout` takes it out for `fail_timeout`, after which the
//! balancer lets one trial request through; a success after that trial clears
//! the count. A group of one server is never taken out.

use crate::balance::{Pick, Pool, TierKind};

/// How a request ended, for its server's accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered (whatever the status).
    Answered,
    /// The server could not be reached or timed out before answering.
    Failed,
}

/// Ends one request's use of `pick`; returns true when this failure just took
/// the server out (so the caller logs the transition once).
pub fn release(pool: &mut Pool, pick: Pick, outcome: Outcome, now: u64) -> bool {
    let single = pick.tier == TierKind::Primary && pool.single();
    let tier = pool.tier_mut(pick.tier);
    let conf = &tier.conf[pick.index];
    let s = &mut tier.state[pick.index];
    s.drop_conn();
    if single {
        s.fails = 0;
        return false;
    }
    match outcome {
        Outcome::Failed => {
            s.fails += 1;
            s.accessed = now;
            s.checked = now;
            if conf.max_fails > 0 {
                s.effective_weight -= conf.weight / conf.max_fails as i64;
            }
            s.effective_weight = s.effective_weight.max(0);
            conf.max_fails > 0 && s.fails == conf.max_fails
        }
        Outcome::Answered => {
            if s.accessed < s.checked {
                s.fails = 0;
            }
            false
        }
    }
}

/// Forgets primary server `i`'s failures: the cluster gave it the leader
/// lease after they were counted, which is newer news of it (a node frozen
/// while it led, marked failed, and elected again must not stay out for
/// `fail_timeout`).
pub fn forget_failures(pool: &mut Pool, i: usize) {
    pool.primary.state[i].fails = 0;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::{build, PickInput, ServerConf, Tried};
    use crate::config::Balance;

    #[test]
    fn out_after_max_fails_then_one_trial_then_back() {
        let conf = |n: &str| ServerConf {
            max_fails: 2,
            fail_timeout: 1000,
            ..ServerConf::new(n, 1)
        };
        let mut pool = Pool::new(vec![conf("a"), conf("b")], vec![]);
        let rr = build(&Balance::RoundRobin, &pool);
        let input = PickInput {
            client: None,
            key: "",
        };
        let a = Pick {
            tier: TierKind::Primary,
            index: 0,
        };
        let t0 = 1 << 41;
        // Two failures of `a` within the window take it out.
        for _ in 0..2 {
            pool.primary.state[0].add_conn();
            release(&mut pool, a, Outcome::Failed, t0);
        }
        for _ in 0..4 {
            let p = rr
                .pick(&mut pool, &input, &mut Tried::default(), t0 + 500)
                .unwrap();
            assert_eq!(p.index, 1);
            release(&mut pool, p, Outcome::Answered, t0 + 500);
        }
        // After fail_timeout exactly one trial goes to `a`.
        let picks: Vec<usize> = (0..4)
            .map(|_| {
                let p = rr
                    .pick(&mut pool, &input, &mut Tried::default(), t0 + 1500)
                    .unwrap();
                pool.primary.state[p.index].drop_conn();
                p.index
            })
            .collect();
        assert_eq!(picks.iter().filter(|i| **i == 0).count(), 1, "{picks:?}");
        // The trial succeeds: `a` is back for good.
        pool.primary.state[0].add_conn();
        release(&mut pool, a, Outcome::Answered, t0 + 1600);
        assert_eq!(pool.primary.state[0].fails, 0);
    }

    #[test]
    fn a_group_of_one_is_never_out() {
        let mut pool = Pool::new(vec![ServerConf::new("a", 1)], vec![]);
        let a = Pick {
            tier: TierKind::Primary,
            index: 0,
        };
        for _ in 0..5 {
            pool.primary.state[0].add_conn();
            assert!(!release(&mut pool, a, Outcome::Failed, 1 << 41));
        }
        assert!(pool.primary.usable(0, 1 << 41));
    }
}

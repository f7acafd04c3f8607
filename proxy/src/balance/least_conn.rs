//! nginx's `least_conn`: fewest in-flight requests per weight, compared by
//! cross-multiplication; ties go to smooth weighted round robin among the tied.

use super::round_robin::rr_pick;
use super::{Balancer, Pick, PickInput, Pool, Tier, TierKind, Tried};

/// Least connections, weighted.
#[derive(Debug)]
pub struct LeastConn;

impl Balancer for LeastConn {
    fn pick(
        &self,
        pool: &mut Pool,
        _input: &PickInput,
        tried: &mut Tried,
        now: u64,
    ) -> Option<Pick> {
        if pool.single() {
            return rr_pick(pool, tried, now);
        }
        if !tried.on_backup {
            if let Some(index) = least_in(&mut pool.primary, tried, now) {
                return Some(Pick {
                    tier: TierKind::Primary,
                    index,
                });
            }
            if pool.backup.is_empty() {
                return None;
            }
            tried.switch_to_backup();
        }
        least_in(&mut pool.backup, tried, now).map(|index| Pick {
            tier: TierKind::Backup,
            index,
        })
    }
}

/// nginx's least_conn loop over one tier; takes the winner.
fn least_in(tier: &mut Tier, tried: &mut Tried, now: u64) -> Option<usize> {
    let mut best: Option<usize> = None;
    let mut many = false;
    for i in 0..tier.len() {
        if tried.has(i) || !tier.usable(i, now) {
            continue;
        }
        match best {
            None => best = Some(i),
            Some(b) => {
                let (ci, wi) = (tier.state[i].conns() as i64, tier.conf[i].weight);
                let (cb, wb) = (tier.state[b].conns() as i64, tier.conf[b].weight);
                if ci * wb < cb * wi {
                    best = Some(i);
                    many = false;
                } else if ci * wb == cb * wi {
                    many = true;
                }
            }
        }
    }
    let b = best?;
    let chosen = if many {
        let (cb, wb) = (tier.state[b].conns() as i64, tier.conf[b].weight);
        tier.smooth_pick(tried, now, b, |t, i| {
            t.state[i].conns() as i64 * wb == cb * t.conf[i].weight
        })
        .unwrap_or(b)
    } else {
        b
    };
    tier.take(chosen, tried, now);
    Some(chosen)
}

#[cfg(test)]
mod tests {
    use super::super::ServerConf;
    use super::*;

    #[test]
    fn held_requests_spread_by_weight() {
        let conf = [3, 2, 1]
            .iter()
            .enumerate()
            .map(|(i, w)| ServerConf::new(format!("s{i}"), *w))
            .collect();
        let mut p = Pool::new(conf, vec![]);
        let input = PickInput {
            client: None,
            key: "",
        };
        for _ in 0..60 {
            LeastConn
                .pick(&mut p, &input, &mut Tried::default(), 1 << 41)
                .unwrap();
        }
        let conns: Vec<u32> = p.primary.state.iter().map(|s| s.conns()).collect();
        assert_eq!(conns, vec![30, 20, 10]);
    }

    #[test]
    fn ties_follow_round_robin() {
        let conf = (0..3)
            .map(|i| ServerConf::new(format!("s{i}"), 1))
            .collect();
        let mut p = Pool::new(conf, vec![]);
        let input = PickInput {
            client: None,
            key: "",
        };
        let order: Vec<usize> = (0..6)
            .map(|_| {
                let pick = LeastConn
                    .pick(&mut p, &input, &mut Tried::default(), 1 << 41)
                    .unwrap();
                p.primary.state[pick.index].drop_conn();
                pick.index
            })
            .collect();
        assert_eq!(order, vec![0, 1, 2, 0, 1, 2]);
    }
}

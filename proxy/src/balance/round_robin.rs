//! nginx's default method: smooth weighted round robin
//! (`ngx_http_upstream_get_round_robin_peer`). Also the fallback of the hash
//! methods after 20 unlucky tries.

use super::{Balancer, Pick, PickInput, Pool, TierKind, Tried};

/// Smooth weighted round robin: weights 3:2:1 give a b a c a b, repeating.
#[derive(Debug)]
pub struct RoundRobin;

impl Balancer for RoundRobin {
    fn pick(
        &self,
        pool: &mut Pool,
        _input: &PickInput,
        tried: &mut Tried,
        now: u64,
    ) -> Option<Pick> {
        rr_pick(pool, tried, now)
    }
}

/// nginx's round robin over the current tier, falling over to backups.
pub(super) fn rr_pick(pool: &mut Pool, tried: &mut Tried, now: u64) -> Option<Pick> {
    if pool.single() {
        // A group of one is never marked failed: only `down`, drain, health
        // checks and `max_conns` apply.
        let t = &mut pool.primary;
        let (c, s) = (&t.conf[0], &mut t.state[0]);
        let full = c.max_conns > 0 && s.conns() >= c.max_conns;
        if c.down || s.check_down || s.overrides.drain || full {
            return None;
        }
        s.add_conn();
        tried.mark(0);
        return Some(Pick {
            tier: TierKind::Primary,
            index: 0,
        });
    }
    let kind = if tried.on_backup {
        TierKind::Backup
    } else {
        TierKind::Primary
    };
    let tier = pool.tier_mut(kind);
    if let Some(i) = tier.smooth_pick(tried, now, 0, |_, _| true) {
        tier.take(i, tried, now);
        return Some(Pick {
            tier: kind,
            index: i,
        });
    }
    if kind == TierKind::Primary && !pool.backup.is_empty() {
        tried.switch_to_backup();
        return rr_pick(pool, tried, now);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::{ServerConf, Tried};
    use super::*;

    fn pool(weights: &[i64]) -> Pool {
        let conf = weights
            .iter()
            .enumerate()
            .map(|(i, w)| ServerConf::new(format!("s{i}"), *w))
            .collect();
        Pool::new(conf, vec![])
    }

    fn run(p: &mut Pool, n: usize) -> Vec<usize> {
        let input = PickInput {
            client: None,
            key: "",
        };
        (0..n)
            .map(|_| {
                let pick = RoundRobin
                    .pick(p, &input, &mut Tried::default(), 1 << 41)
                    .unwrap();
                p.primary.state[pick.index].drop_conn();
                pick.index
            })
            .collect()
    }

    #[test]
    fn smooth_order_of_nginx() {
        // nginx's documented sequence for weights 5:1:1 is a a b a c a a.
        assert_eq!(run(&mut pool(&[5, 1, 1]), 7), vec![0, 0, 1, 0, 2, 0, 0]);
        assert_eq!(run(&mut pool(&[3, 2, 1]), 6), vec![0, 1, 0, 2, 1, 0]);
    }

    #[test]
    fn down_servers_are_skipped_and_backups_used_last() {
        let mut p = Pool::new(
            vec![
                ServerConf {
                    down: true,
                    ..ServerConf::new("a", 1)
                },
                ServerConf {
                    down: true,
                    ..ServerConf::new("b", 1)
                },
            ],
            vec![ServerConf::new("c", 1)],
        );
        let pick = RoundRobin.pick(
            &mut p,
            &PickInput {
                client: None,
                key: "",
            },
            &mut Tried::default(),
            1 << 41,
        );
        assert_eq!(
            pick,
            Some(Pick {
                tier: TierKind::Backup,
                index: 0
            })
        );
    }
}

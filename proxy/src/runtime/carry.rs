//! Reload without forgetting: servers present in both the running and the
//! new tables keep their failure counts, health-check state and history,
//! smooth round robin weights, the leader epoch whose earlier failures were
//! forgotten, runtime API overrides (drain, down, weight;
//! unless the file now says otherwise for that setting, see
//! [`crate::balance::Tier::reapply`]) and, shared rather than copied, their
//! in-flight count. Servers the reload removes take their overrides along.

use super::{Runtime, Upstream};
use crate::balance::{now_ms, TierKind};
use std::sync::{Mutex, MutexGuard};
use tracing::info;

/// Held while a reload carries state into its new tables and swaps them in,
/// and while the runtime API changes a server: a change then lands either in
/// the old tables before their state is carried over, or in the new ones,
/// never in tables a reload is leaving behind.
pub fn state_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Moves the state of every server that `old` and `new` have in common
/// (same upstream name, same tier, same name and address) into `new`.
pub fn carry_over(old: &Runtime, new: &Runtime) {
    for n in &new.upstreams {
        if let Some(o) = old.upstreams.iter().find(|o| o.name == n.name) {
            carry_upstream(o, n);
        }
    }
}

fn carry_upstream(old: &Upstream, new: &Upstream) {
    let old_pool = old.pool().clone();
    let mut new_pool = new.pool();
    // The follower outlives reloads, so its epochs stay comparable: the
    // holder's failures in its current term are not forgotten by a reload.
    new_pool.leader_epoch = old_pool.leader_epoch;
    let now = now_ms();
    for (kind, old_servers, new_servers) in [
        (TierKind::Primary, &old.primary, &new.primary),
        (TierKind::Backup, &old.backup, &new.backup),
    ] {
        for (i, s) in new_servers.iter().enumerate() {
            let same = |o: &&super::Server| o.name == s.name && o.addr == s.addr;
            if let Some(j) = old_servers.iter().position(|o| same(&o)) {
                let before = &old_pool.tier(kind).state[j];
                let after = &mut new_pool.tier_mut(kind).state[i];
                let keep_check = new.check.is_some() && old.check.is_some();
                let (check_down, rises, falls) =
                    (after.check_down, after.check_rises, after.check_falls);
                *after = before.clone();
                if !keep_check {
                    // Checks switched on or off: start as the new config says.
                    (after.check_down, after.check_rises, after.check_falls) =
                        (check_down, rises, falls);
                }
                let overrides = std::mem::take(&mut after.overrides);
                let tier = new_pool.tier_mut(kind);
                // A weight lowered in the file must not leave the old, higher
                // running weight behind (it only ever recovers upward).
                let weight = tier.conf[i].weight;
                let after = &mut tier.state[i];
                after.effective_weight = after.effective_weight.min(weight);
                for dropped in tier.reapply(i, overrides) {
                    info!(upstream = %new.name, server = %s.name, "reload: runtime override {dropped}: the file's value applies");
                }
                let (c, st) = (&tier.conf[i], &mut tier.state[i]);
                st.history.observe(c.down || st.check_down, now);
            }
        }
    }
}

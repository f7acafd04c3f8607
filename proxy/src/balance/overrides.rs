//! Changes an operator makes to a server at run time, through the admin
//! API (`PATCH /api/upstreams/NAME/servers/ID`): drain it, take it down or
//! bring it up, change its weight.
//!
//! `down` and `weight` are written into the tier's [`ServerConf`], the
//! parameters every balancing method already reads, so no method needs to
//! know about overrides; the value from the config file is remembered beside
//! it, to show it, to restore it, and to decide what a reload keeps. `drain`
//! has no config equivalent: [`Tier::usable`] refuses a draining server for
//! new picks (sticky cookies and hashing then move on, as for a `down` one),
//! while requests and tunnels already on it go on.

use super::pool::{ServerConf, Tier};

/// A value set at run time in place of the config file's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changed<T> {
    /// What the config file says.
    pub configured: T,
    /// What the operator set.
    pub value: T,
}

/// One server's runtime changes (none by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    /// No new requests, sessions or sticky clients; open ones go on.
    pub drain: bool,
    /// `down` set at run time.
    pub down: Option<Changed<bool>>,
    /// `weight` set at run time.
    pub weight: Option<Changed<i64>>,
}

impl Overrides {
    /// True when nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }
}

/// An override of one setting: what is set now and where it came from.
fn set<T: Copy + PartialEq>(slot: &mut Option<Changed<T>>, current: &mut T, value: T) {
    let configured = slot.map_or(*current, |c| c.configured);
    *current = value;
    // Setting the file's value again removes the override.
    *slot = (value != configured).then_some(Changed { configured, value });
}

impl Tier {
    /// Starts or ends draining server `i`.
    pub fn set_drain(&mut self, i: usize, drain: bool) {
        self.state[i].overrides.drain = drain;
    }

    /// Takes server `i` down or brings it up (nginx `down`, at run time).
    pub fn set_down(&mut self, i: usize, down: bool) {
        let (c, s) = (&mut self.conf[i], &mut self.state[i]);
        set(&mut s.overrides.down, &mut c.down, down);
    }

    /// Gives server `i` weight `weight` (nginx `weight`, at run time): the
    /// tier's total follows, and the server restarts smooth round robin
    /// with its full new weight, as a server fresh from the config would.
    pub fn set_weight(&mut self, i: usize, weight: i64) {
        let (c, s) = (&mut self.conf[i], &mut self.state[i]);
        set(&mut s.overrides.weight, &mut c.weight, weight);
        s.effective_weight = weight;
        s.current_weight = 0;
        self.total_weight = self.conf.iter().map(|c| c.weight).sum();
    }

    /// After a reload: applies `old`, the overrides server `i` had under the
    /// previous config, to its new parameters. An override survives when the
    /// file still says what it said when the override was made; when the
    /// file changed that setting, the file wins (the operator edited it
    /// later). Returns what was dropped, for the log.
    pub fn reapply(&mut self, i: usize, old: Overrides) -> Vec<String> {
        let mut dropped = Vec::new();
        self.set_drain(i, old.drain);
        let conf: &ServerConf = &self.conf[i];
        let (file_down, file_weight) = (conf.down, conf.weight);
        if let Some(d) = old.down {
            if d.configured == file_down {
                self.set_down(i, d.value);
            } else {
                dropped.push(format!(
                    "down {} (the file now says down: {file_down})",
                    d.value
                ));
            }
        }
        if let Some(w) = old.weight {
            if w.configured == file_weight {
                self.set_weight(i, w.value);
            } else {
                dropped.push(format!(
                    "weight {} (the file now says weight: {file_weight})",
                    w.value
                ));
            }
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier() -> Tier {
        Tier::new(vec![ServerConf::new("a", 1), ServerConf::new("b", 2)])
    }

    #[test]
    fn setting_the_file_value_again_removes_the_override() {
        let mut t = tier();
        t.set_weight(1, 5);
        assert_eq!((t.conf[1].weight, t.total_weight), (5, 6));
        assert_eq!(
            t.state[1].overrides.weight,
            Some(Changed {
                configured: 2,
                value: 5
            })
        );
        t.set_weight(1, 7);
        assert_eq!(t.state[1].overrides.weight.unwrap().configured, 2);
        t.set_weight(1, 2);
        assert!(t.state[1].overrides.is_empty());
        t.set_down(0, true);
        assert!(t.conf[0].down && !t.usable(0, 1 << 41));
        t.set_down(0, false);
        assert!(t.state[0].overrides.is_empty() && t.usable(0, 1 << 41));
    }

    #[test]
    fn a_draining_server_takes_no_new_pick() {
        let mut t = tier();
        t.set_drain(0, true);
        assert!(!t.usable(0, 1 << 41));
        t.set_drain(0, false);
        assert!(t.usable(0, 1 << 41));
    }

    #[test]
    fn reload_keeps_overrides_unless_the_file_changed_that_setting() {
        let mut old = tier();
        old.set_weight(0, 4);
        old.set_down(1, true);
        old.set_drain(1, true);
        // The same file again: everything is kept.
        let mut same = tier();
        for i in 0..2 {
            assert!(same.reapply(i, old.state[i].overrides).is_empty());
        }
        assert_eq!((same.conf[0].weight, same.total_weight), (4, 6));
        assert!(same.conf[1].down && same.state[1].overrides.drain);
        // The file now gives `a` weight 3: the file wins, drain stays.
        let mut edited = Tier::new(vec![ServerConf::new("a", 3), ServerConf::new("b", 2)]);
        assert_eq!(edited.reapply(0, old.state[0].overrides).len(), 1);
        assert_eq!(edited.conf[0].weight, 3);
        assert!(edited.state[0].overrides.is_empty());
    }
}

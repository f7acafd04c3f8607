//! What the status page tells about a server's health over time: its last
//! check (when, alive or not, why not), how many checks it had and failed,
//! when it last went in or out of rotation, and how long it has been out
//! in all (HAProxy's "last chk", "last change", "downtime").
//!
//! It is written where those things happen (a check result, a check
//! transition, an operator's `down`), never on the request path.

use std::time::{SystemTime, UNIX_EPOCH};

/// The result of the latest active check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastCheck {
    /// When it finished (Unix ms).
    pub at_unix_ms: u64,
    /// Whether the server passed.
    pub alive: bool,
    /// Why it failed, as an operator reads it.
    pub reason: Option<String>,
}

/// One server's health history.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Active checks run.
    pub checks: u64,
    /// Active checks failed.
    pub check_fails: u64,
    /// The latest check, if any ran.
    pub last_check: Option<LastCheck>,
    /// When the server last went in or out of rotation (Unix ms), if it did.
    pub last_change_unix_ms: Option<u64>,
    /// Out of rotation since (monotonic ms), while it is.
    out_since: Option<u64>,
    /// Time out of rotation before `out_since` (ms).
    downtime_ms: u64,
}

/// Now, in Unix ms.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl History {
    /// A server that starts out of rotation (`down`, or checks with
    /// `default_down`) at monotonic `now` when `out`.
    pub fn starting(out: bool, now: u64) -> History {
        History {
            out_since: out.then_some(now),
            ..History::default()
        }
    }

    /// Records one check result.
    pub fn checked(&mut self, alive: bool, reason: Option<&str>) {
        self.checks += 1;
        self.check_fails += u64::from(!alive);
        self.last_check = Some(LastCheck {
            at_unix_ms: unix_ms(),
            alive,
            reason: reason.map(str::to_string),
        });
    }

    /// Records that the server is `out` of rotation (down or unhealthy) or
    /// not, at monotonic `now`; a change starts or ends a downtime.
    pub fn observe(&mut self, out: bool, now: u64) {
        match (self.out_since, out) {
            (None, true) => self.out_since = Some(now),
            (Some(since), false) => {
                self.downtime_ms += now.saturating_sub(since);
                self.out_since = None;
            }
            _ => return,
        }
        self.last_change_unix_ms = Some(unix_ms());
    }

    /// Time out of rotation in all, up to monotonic `now` (ms).
    pub fn downtime_ms(&self, now: u64) -> u64 {
        self.downtime_ms + self.out_since.map_or(0, |s| now.saturating_sub(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downtime_adds_up_the_times_out() {
        let mut h = History::starting(true, 1_000);
        assert_eq!(h.downtime_ms(1_500), 500);
        assert_eq!(h.last_change_unix_ms, None, "starting out is no change");
        h.observe(false, 2_000);
        assert!(h.last_change_unix_ms.is_some());
        h.observe(false, 2_500);
        h.observe(true, 3_000);
        assert_eq!(h.downtime_ms(3_100), 1_100);
        h.observe(false, 3_200);
        assert_eq!(h.downtime_ms(9_999), 1_200);
    }

    #[test]
    fn checks_are_counted() {
        let mut h = History::default();
        h.checked(true, None);
        h.checked(false, Some("connect: refused"));
        assert_eq!((h.checks, h.check_fails), (2, 1));
        let last = h.last_check.unwrap();
        assert!(!last.alive && last.reason.as_deref() == Some("connect: refused"));
    }
}

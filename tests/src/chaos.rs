//! Randomized HA chaos: three `openclaw` nodes, one persistent redis-server,
//! a leader-only job every second, and a bounded sequence of faults (kill -9,
//! SIGSTOP/SIGCONT, Redis restart, promote, graceful stop), one at a time.
//! Afterwards everything is healed and [`check`] judges the history the
//! nodes logged and Redis recorded:
//!
//! 1. leadership terms never overlap (a term runs from its grant, on Redis
//!    time, to the instant the node stopped acting, which its own deadline
//!    bounds; a killed leader's term ends at the kill);
//! 2. epochs strictly increase from one term to the next;
//! 3. every job tick runs at most once, and each recorded run was made by the
//!    node that held the lease at that epoch, inside its term;
//! 4. every tick that a single term covered whole, away from any fault,
//!    ran; and ticks run again once the cluster is healed.

use crate::gateway::{cli, Gateway, NodeConfig};
use crate::ha::{runs, HaNode};
use crate::redis::Redis;
use crate::wait::until;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How often the chaos job runs.
pub const EVERY_MS: u64 = 1000;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

/// One leadership term as the nodes' logs tell it.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub node: String,
    pub epoch: u64,
    pub start_ms: u64,
    /// `None`: still leading when the history was taken.
    pub end_ms: Option<u64>,
}

/// A fault and the time it lasted (start to healed).
#[derive(Debug, Clone)]
pub struct Fault {
    pub kind: &'static str,
    pub node: Option<String>,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// Everything [`check`] needs.
#[derive(Debug, Default)]
pub struct History {
    pub terms: Vec<Term>,
    /// `(node, tick)` for every "job ran" line.
    pub ran: Vec<(String, u64)>,
    /// The runs Redis recorded (`{job, tick, epoch, node, at}`).
    pub recorded: Vec<Value>,
    pub faults: Vec<Fault>,
    pub start_ms: u64,
    pub end_ms: u64,
    /// When the cluster was whole again after the last fault.
    pub healed_ms: u64,
}

/// The number after ` NAME=` in a log line.
pub fn field(line: &str, name: &str) -> Option<u64> {
    let at = line.find(&format!(" {name}="))? + name.len() + 2;
    line[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Reads one process lifetime's log: its terms and job runs. `killed_ms`
/// ends a term still open at the end (the process was killed then).
pub fn parse_log(node: &str, log: &str, killed_ms: Option<u64>, h: &mut History) {
    let mut open: Option<Term> = None;
    for line in log.lines() {
        if line.contains("became leader") {
            if let (Some(epoch), Some(start_ms)) = (field(line, "epoch"), field(line, "since_ms")) {
                open = Some(Term {
                    node: node.to_string(),
                    epoch,
                    start_ms,
                    end_ms: None,
                });
            }
        } else if line.contains("stopped leading") {
            if let (Some(mut t), Some(until)) = (open.take(), field(line, "until_ms")) {
                t.end_ms = Some(until);
                h.terms.push(t);
            }
        } else if line.contains("job ran") {
            if let Some(tick) = field(line, "tick") {
                h.ran.push((node.to_string(), tick));
            }
        }
    }
    if let Some(mut t) = open {
        t.end_ms = killed_ms;
        h.terms.push(t);
    }
}

/// What the checker found; `problems` empty means every invariant held.
#[derive(Debug, Default)]
pub struct Verdict {
    pub problems: Vec<String>,
    pub terms: usize,
    pub ticks_ran: usize,
    pub ticks_required: usize,
}

/// Checks the invariants of the module doc.
pub fn check(h: &History) -> Verdict {
    let mut v = Verdict::default();
    let mut terms = h.terms.clone();
    terms.sort_by_key(|t| t.start_ms);
    v.terms = terms.len();
    for w in terms.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        match a.end_ms {
            Some(end) if end <= b.start_ms => {}
            _ => v.problems.push(format!("terms overlap: {a:?} and {b:?}")),
        }
        if b.epoch <= a.epoch {
            v.problems
                .push(format!("epoch did not grow: {a:?} then {b:?}"));
        }
    }
    let mut seen = BTreeSet::new();
    for (node, tick) in &h.ran {
        if !seen.insert(*tick) {
            v.problems
                .push(format!("tick {tick} ran twice (again on {node})"));
        }
    }
    v.ticks_ran = seen.len();
    let mut recorded = BTreeMap::new();
    for r in &h.recorded {
        let tick = r["tick"].as_u64().unwrap_or(0);
        if recorded.insert(tick, r.clone()).is_some() {
            v.problems.push(format!("tick {tick} recorded twice: {r}"));
        }
        let (node, epoch, at) = (
            r["node"].as_str().unwrap_or(""),
            r["epoch"].as_u64(),
            r["at"].as_u64().unwrap_or(0),
        );
        let inside = terms.iter().any(|t| {
            t.node == node
                && Some(t.epoch) == epoch
                && t.start_ms <= at
                && t.end_ms.is_none_or(|e| at <= e)
        });
        if !inside {
            v.problems.push(format!(
                "run recorded outside its node's term at that epoch: {r}"
            ));
        }
    }
    for (node, tick) in &h.ran {
        if !recorded.contains_key(tick) {
            v.problems
                .push(format!("{node} ran tick {tick} without a record"));
        }
    }
    // A tick may be missed while Redis is down or its leader is hit by a
    // fault; faults on followers and hand-overs (which end one term and start
    // another) excuse nothing.
    let margin = 200;
    let excused = |node: &str, from: u64, to: u64| {
        h.faults.iter().any(|f| {
            (f.node.is_none() || f.node.as_deref() == Some(node))
                && f.start_ms < to + margin
                && from < f.end_ms + margin
        })
    };
    for tick in h.start_ms / EVERY_MS + 1..h.end_ms / EVERY_MS {
        let (from, to) = (tick * EVERY_MS, (tick + 1) * EVERY_MS);
        let steady = terms
            .iter()
            .find(|t| t.start_ms + margin <= from && t.end_ms.is_none_or(|e| to + margin <= e));
        if let Some(t) = steady.filter(|t| !excused(&t.node, from, to)) {
            v.ticks_required += 1;
            if !recorded.contains_key(&tick) {
                v.problems.push(format!(
                    "tick {tick} had a steady leader ({}) but did not run",
                    t.node
                ));
            }
        }
    }
    let after_heal = recorded
        .keys()
        .filter(|t| **t * EVERY_MS >= h.healed_ms)
        .count();
    if after_heal < 2 {
        v.problems.push(format!(
            "only {after_heal} tick(s) ran after the cluster healed"
        ));
    }
    v
}

/// One node of the chaos cluster, with its whole log across restarts.
struct Member {
    config: NodeConfig,
    node: Option<Gateway>,
    dir: Option<TempDir>,
    logs: Vec<(String, Option<u64>)>,
}

impl Member {
    fn name(&self) -> String {
        self.config.name.clone()
    }

    fn g(&self) -> &Gateway {
        self.node.as_ref().expect("running")
    }

    /// Ends the process (`signal`), keeping its log and state dir.
    async fn end(&mut self, signal: i32) {
        let mut g = self.node.take().expect("running");
        g.signal(signal);
        let graceful = signal != libc::SIGKILL;
        let exited = g.wait_exit(Duration::from_secs(20)).await.is_some();
        assert!(exited, "{} did not exit after signal {signal}", self.name());
        let killed = (!graceful).then(now_ms);
        self.logs.push((g.log(), killed));
        self.dir = Some(g.into_state_dir());
    }

    async fn start(&mut self) {
        let dir = self.dir.take().expect("stopped");
        self.node = Some(Gateway::start_in(self.config.clone(), dir).await);
    }
}

/// Runs `faults` faults (seeded), heals, and returns the history.
pub async fn run(faults: usize, seed: u64) -> History {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut redis = Redis::start_persistent().await;
    let cron = format!(
        r#"cron: {{ jobs: [ {{ id: "chaos", every: "{EVERY_MS}ms", sessionKey: "agent:main:chaos", message: "tick" }} ] }}"#
    );
    let specs = [
        ("a", Some("primary"), 100),
        ("b", Some("secondary"), 50),
        ("c", None, 30),
    ];
    let mut members = Vec::new();
    for (name, role, priority) in specs {
        let config = HaNode::new(name, role, priority)
            .config(&redis)
            .top_keys(&cron);
        let dir = tempfile::Builder::new()
            .prefix("openclaw-chaos-")
            .tempdir()
            .expect("temp dir");
        let mut m = Member {
            config,
            node: None,
            dir: Some(dir),
            logs: Vec::new(),
        };
        m.start().await;
        members.push(m);
    }
    let mut h = History {
        start_ms: now_ms(),
        ..Default::default()
    };
    until("a first leader", Duration::from_secs(20), || async {
        crate::ha::holder(&redis).is_some()
    })
    .await;
    for i in 0..faults {
        // Half the faults hit the leader, where they matter most.
        let leader = crate::ha::holder_name(&redis);
        let pick = match members.iter().position(|m| Some(m.name()) == leader) {
            Some(i) if rng.bool() => i,
            _ => rng.usize(..members.len()),
        };
        let name = members[pick].name();
        let start_ms = now_ms();
        let kind = match rng.u8(..5) {
            0 => {
                members[pick].end(libc::SIGKILL).await;
                tokio::time::sleep(Duration::from_millis(rng.u64(200..2500))).await;
                members[pick].start().await;
                "kill -9"
            }
            1 => {
                let g = members[pick].g();
                g.signal(libc::SIGSTOP);
                tokio::time::sleep(Duration::from_millis(rng.u64(300..4000))).await;
                g.signal(libc::SIGCONT);
                "SIGSTOP/SIGCONT"
            }
            2 => {
                redis.kill();
                tokio::time::sleep(Duration::from_millis(rng.u64(200..3000))).await;
                redis.resume().await;
                "redis restart"
            }
            3 => {
                let dir = members[pick].g().state_dir().to_path_buf();
                let out = cli(
                    &dir,
                    &["gateway", "promote", "--node", &name, "--wait", "10"],
                );
                if !out.status.success() {
                    eprintln!(
                        "chaos: promote {name}: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                }
                "promote"
            }
            _ => {
                members[pick].end(libc::SIGTERM).await;
                members[pick].start().await;
                "graceful restart"
            }
        };
        let node = (kind != "redis restart").then(|| name.clone());
        h.faults.push(Fault {
            kind,
            node,
            start_ms,
            end_ms: now_ms(),
        });
        eprintln!(
            "chaos: fault {}/{faults}: {kind} {}",
            i + 1,
            if kind == "redis restart" { "" } else { &name }
        );
        tokio::time::sleep(Duration::from_millis(rng.u64(300..2000))).await;
    }
    h.healed_ms = now_ms();
    until(
        "a leader after the chaos",
        Duration::from_secs(30),
        || async { crate::ha::holder(&redis).is_some() },
    )
    .await;
    until("ticks after the chaos", Duration::from_secs(30), || async {
        runs(&redis)
            .iter()
            .filter(|r| r["tick"].as_u64().unwrap_or(0) * EVERY_MS >= h.healed_ms)
            .count()
            >= 3
    })
    .await;
    h.end_ms = now_ms();
    h.recorded = runs(&redis);
    for m in &mut members {
        let name = m.name();
        let mut logs = std::mem::take(&mut m.logs);
        if let Some(g) = &m.node {
            logs.push((g.log(), None));
        }
        for (log, killed) in logs {
            parse_log(&name, &log, killed, &mut h);
        }
    }
    h
}

/// `run`, then `check`, panicking with the problems and the history.
pub async fn run_and_check(faults: usize, seed: u64) -> Verdict {
    let started = Instant::now();
    let h = run(faults, seed).await;
    let v = check(&h);
    eprintln!(
        "chaos: seed {seed}, {faults} faults in {:?}: {} terms, {} ticks ran, {} required ticks, {} problem(s)",
        started.elapsed(),
        v.terms,
        v.ticks_ran,
        v.ticks_required,
        v.problems.len()
    );
    assert!(
        v.problems.is_empty(),
        "invariants broken (seed {seed}):\n{}\nterms: {:#?}\nfaults: {:#?}",
        v.problems.join("\n"),
        h.terms,
        h.faults
    );
    v
}

#[cfg(test)]
mod tests {
    //! The checker itself: each invariant, broken on purpose, is reported.
    use super::*;
    use serde_json::json;

    fn term(node: &str, epoch: u64, start_ms: u64, end_ms: Option<u64>) -> Term {
        Term {
            node: node.into(),
            epoch,
            start_ms,
            end_ms,
        }
    }

    /// a leads 10.0 s - 14.5 s (epoch 1), b from 14.6 s on (epoch 2); ticks
    /// 10..=17 ran, each by its term's leader; healed at 15 s.
    fn good() -> History {
        let mut h = History {
            terms: vec![
                term("a", 1, 10_000, Some(14_500)),
                term("b", 2, 14_600, None),
            ],
            start_ms: 9_500,
            end_ms: 18_000,
            healed_ms: 15_000,
            ..Default::default()
        };
        for tick in 10..=17u64 {
            let (node, epoch, at) = if tick < 14 {
                ("a", 1, tick * 1000 + 1)
            } else {
                ("b", 2, (tick * 1000 + 1).max(14_601))
            };
            h.ran.push((node.into(), tick));
            h.recorded.push(
                json!({"job": "chaos", "tick": tick, "epoch": epoch, "node": node, "at": at}),
            );
        }
        h
    }

    #[test]
    fn a_sound_history_passes() {
        let v = check(&good());
        assert!(v.problems.is_empty(), "{:?}", v.problems);
        assert!(v.ticks_required >= 5, "{v:?}");
    }

    #[test]
    fn each_broken_invariant_is_reported() {
        let mut h = good();
        h.terms[0].end_ms = Some(14_700);
        assert!(check(&h)
            .problems
            .iter()
            .any(|p| p.contains("terms overlap")));

        let mut h = good();
        h.terms[1].epoch = 1;
        assert!(check(&h)
            .problems
            .iter()
            .any(|p| p.contains("epoch did not grow")));

        let mut h = good();
        h.ran.push(("b".into(), 12));
        assert!(check(&h).problems.iter().any(|p| p.contains("ran twice")));

        let mut h = good();
        h.recorded[2]["node"] = json!("b");
        assert!(check(&h)
            .problems
            .iter()
            .any(|p| p.contains("outside its node's term")));

        let mut h = good();
        h.recorded.retain(|r| r["tick"] != 12);
        h.ran.retain(|(_, t)| *t != 12);
        assert!(check(&h)
            .problems
            .iter()
            .any(|p| p.contains("tick 12 had a steady leader")));

        // The same gap is excused while Redis was down.
        h.faults.push(Fault {
            kind: "redis restart",
            node: None,
            start_ms: 12_100,
            end_ms: 12_600,
        });
        assert!(check(&h).problems.is_empty(), "{:?}", check(&h).problems);
    }

    #[test]
    fn logs_are_read_into_terms_and_runs() {
        let log = "2026-12-01T20:00:00Z  INFO openclaw_gateway::ha::elector: became leader epoch=7 since_ms=1000 until_ms=2800 previous=none\n\
                   2026-12-01T20:00:01Z  INFO openclaw_gateway::ha::jobs: job ran job=chaos tick=1 epoch=7\n\
                   2026-12-01T20:00:02Z  WARN openclaw_gateway::ha::elector: stopped leading epoch=7 until_ms=2500 reason=x\n\
                   2026-12-01T20:00:03Z  INFO openclaw_gateway::ha::elector: became leader epoch=9 since_ms=4000 until_ms=5800 previous=b\n";
        let mut h = History::default();
        parse_log("a", log, Some(4_200), &mut h);
        assert_eq!(
            h.terms,
            vec![
                term("a", 7, 1000, Some(2500)),
                term("a", 9, 4000, Some(4200))
            ]
        );
        assert_eq!(h.ran, vec![("a".to_string(), 1)]);
    }
}

//! The cluster commands: `lock-status`, `force-unlock`, `nodes`, `promote`,
//! and `stop --node NAME` for a node on another machine. They talk to the
//! lease store named by this machine's config (`gateway.lock`), not to a node.

use super::Global;
use crate::config::Settings;
use crate::ha::cluster::{Cluster, Control, NodeRecord};
use crate::ha::lease::{Lease, LeaseRecord, LeaseView};
use serde_json::{json, Value};
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Store {
    lease: Arc<dyn Lease>,
    cluster: Arc<dyn Cluster>,
    rt: tokio::runtime::Runtime,
    local: bool,
}

fn store(s: &Settings) -> Result<Store, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let crate::ha::Backends {
        lease,
        cluster,
        redis,
    } = crate::ha::open(&s.ha.lock, Duration::from_secs(2))?;
    Ok(Store {
        lease,
        cluster,
        rt,
        local: redis.is_none(),
    })
}

impl Store {
    fn view(&self) -> Result<(LeaseView, Vec<NodeRecord>, u64, Option<String>), String> {
        let place = self.lease.location();
        self.rt.block_on(async {
            let view = self.lease.read().await.map_err(|e| e.0)?;
            let (nodes, now) = self.cluster.nodes().await.map_err(|e| e.0)?;
            let preferred = self.cluster.preferred().await.map_err(|e| e.0)?;
            Ok((view, nodes, now, preferred))
        })
        .map_err(|e: String| {
            format!("cannot read the lease ({place}): {e}; check that it is reachable and that gateway.lock in the config names it")
        })
    }
}

/// `1.2s`, `3m 4s`, `2h 5m`, `3d 1h`.
fn age(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{:.1}s", ms as f64 / 1000.0),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

fn holder_json(h: &LeaseRecord) -> Value {
    json!({"node": h.node, "role": h.role, "priority": h.priority, "address": h.address,
           "epoch": h.epoch, "since": h.since})
}

/// `openclaw gateway lock-status`.
pub fn lock_status(g: &Global, s: &Settings) -> Result<i32, String> {
    let st = store(s)?;
    let (view, nodes, now, preferred) = st.view()?;
    if g.json {
        println!(
            "{:#}",
            json!({
                "lock": {"type": st.lease.kind(), "location": st.lease.location()},
                "holder": view.holder.as_ref().map(holder_json),
                "held": view.holder.is_some(),
                "epoch": view.epoch,
                "ttlLeftMs": view.ttl_left.map(|t| t.as_millis() as u64),
                "sinceMsAgo": view.holder.as_ref().map(|h| view.now_ms.saturating_sub(h.since)),
                "preferred": preferred,
                "nodes": nodes.iter().map(|n| json!({
                    "node": n.node, "role": n.role, "priority": n.priority, "leader": n.leader,
                    "state": n.state, "live": n.live(now), "lastSeen": n.last_seen,
                    "lastSeenMsAgo": now.saturating_sub(n.last_seen),
                })).collect::<Vec<_>>(),
            })
        );
        return Ok(0);
    }
    println!("lease      {} {}", st.lease.kind(), st.lease.location());
    match &view.holder {
        Some(h) => {
            println!(
                "holder     {} ({}, priority {}) at {}",
                h.node, h.role, h.priority, h.address
            );
            println!(
                "epoch      {} (held for {})",
                h.epoch,
                age(view.now_ms.saturating_sub(h.since))
            );
            match view.ttl_left {
                Some(t) => println!("ttl left   {}", age(t.as_millis() as u64)),
                None => println!("ttl left   while the holder's process lives (file lock)"),
            }
        }
        None => {
            println!("holder     none: the lease is free");
            println!(
                "epoch      {} (the next leader gets {})",
                view.epoch,
                view.epoch + 1
            );
        }
    }
    println!("preferred  {}", preferred.as_deref().unwrap_or("none"));
    println!("heartbeats");
    if nodes.is_empty() {
        println!("  (no node has written one)");
    }
    for n in &nodes {
        println!(
            "  {:<20} {:<9} {:>4}  {:<7} {} ago{}",
            n.node,
            n.role,
            n.priority,
            if n.leader { "leader" } else { "" },
            age(now.saturating_sub(n.last_seen)),
            if n.state == "stopped" {
                " (stopped)"
            } else if !n.live(now) {
                " (stale)"
            } else {
                ""
            }
        );
    }
    Ok(0)
}

/// `openclaw gateway force-unlock`: clears a stale lease.
pub fn force_unlock(g: &Global, s: &Settings, force: bool, yes: bool) -> Result<i32, String> {
    let st = store(s)?;
    let (view, nodes, now, _) = st.view()?;
    let Some(h) = view.holder else {
        let msg = format!("the lease is free (epoch {}); nothing to clear", view.epoch);
        if g.json {
            println!(
                "{}",
                json!({"cleared": false, "held": false, "epoch": view.epoch})
            );
        } else {
            println!("{msg}");
        }
        return Ok(0);
    };
    let beat = nodes.iter().find(|n| n.node == h.node);
    if let Some(b) = beat.filter(|b| b.live(now)) {
        if !force {
            return Err(format!(
                "{} holds the lease (epoch {}) and is alive: its last heartbeat was {} ago; it \
                 releases the lease when it stops (`openclaw gateway stop --node {}`). \
                 --force clears it anyway",
                h.node,
                h.epoch,
                age(now.saturating_sub(b.last_seen)),
                h.node
            ));
        }
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(format!(
                "about to clear the lease of {} (epoch {}); not a terminal to ask on: add --yes",
                h.node, h.epoch
            ));
        }
        eprint!(
            "clear the lease of {} (epoch {}, heartbeat {})? [y/N] ",
            h.node,
            h.epoch,
            beat.map(|b| format!("{} ago", age(now.saturating_sub(b.last_seen))))
                .unwrap_or_else(|| "never".into())
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|e| e.to_string())?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("nothing cleared");
            return Ok(1);
        }
    }
    let cleared = st.rt.block_on(st.lease.force_clear(&h)).map_err(|e| e.0)?;
    if !cleared {
        let why = if st.local {
            "its holder still holds the file lock (a live process); stop it instead"
        } else {
            "the lease changed meanwhile (renewed into a new value, released or taken)"
        };
        return Err(format!(
            "not cleared: {why}; see `openclaw gateway lock-status`"
        ));
    }
    if g.json {
        println!(
            "{}",
            json!({"cleared": true, "holder": holder_json(&h), "epoch": h.epoch + 1})
        );
    } else {
        println!(
            "cleared the lease of {} (epoch {}); the epoch is now at least {}, so its writes are refused",
            h.node,
            h.epoch,
            h.epoch + 1
        );
    }
    Ok(0)
}

/// `openclaw gateway nodes`: every node that has written a heartbeat.
pub fn nodes(g: &Global, s: &Settings) -> Result<i32, String> {
    let st = store(s)?;
    let (view, nodes, now, _) = st.view()?;
    let leader = view.holder.as_ref().map(|h| h.node.as_str());
    // The hash most live nodes run with (the leader's on a tie) is the norm.
    let norm = {
        let mut counts: Vec<(&str, usize, bool)> = Vec::new();
        for n in nodes.iter().filter(|n| n.live(now)) {
            let is_leader = Some(n.node.as_str()) == leader;
            match counts.iter_mut().find(|c| c.0 == n.config_hash) {
                Some(c) => {
                    c.1 += 1;
                    c.2 |= is_leader;
                }
                None => counts.push((&n.config_hash, 1, is_leader)),
            }
        }
        counts.sort_by_key(|c| std::cmp::Reverse((c.1, c.2)));
        counts.first().map(|c| c.0.to_string())
    };
    let drift = |n: &NodeRecord| norm.as_deref().is_some_and(|h| h != n.config_hash);
    if g.json {
        println!(
            "{:#}",
            json!({
                "leader": view.holder.as_ref().map(holder_json),
                "nodes": nodes.iter().map(|n| json!({
                    "node": n.node, "role": n.role, "priority": n.priority, "address": n.address,
                    "leader": Some(n.node.as_str()) == leader, "ready": n.ready && n.live(now),
                    "live": n.live(now), "state": n.state, "version": n.version, "mode": n.mode,
                    "configHash": n.config_hash, "drift": drift(n), "host": n.host, "pid": n.pid,
                    "lastSeen": n.last_seen, "lastSeenMsAgo": now.saturating_sub(n.last_seen),
                })).collect::<Vec<_>>(),
            })
        );
        return Ok(0);
    }
    if nodes.is_empty() {
        println!("no node has written a heartbeat to {}", st.lease.location());
        return Ok(0);
    }
    println!(
        "{:<20} {:<9} {:>4}  {:<22} {:<6} {:<5} {:<8} {:<14} LAST SEEN",
        "NODE", "ROLE", "PRIO", "ADDRESS", "LEADER", "READY", "VERSION", "CONFIG"
    );
    for n in &nodes {
        let live = n.live(now);
        println!(
            "{:<20} {:<9} {:>4}  {:<22} {:<6} {:<5} {:<8} {:<14} {} ago{}",
            n.node,
            n.role,
            n.priority,
            n.address,
            if Some(n.node.as_str()) == leader {
                "yes"
            } else {
                ""
            },
            if n.ready && live { "yes" } else { "no" },
            n.version,
            format!("{}{}", n.config_hash, if drift(n) { " DRIFT" } else { "" }),
            age(now.saturating_sub(n.last_seen)),
            if n.state == "stopped" {
                " (stopped)"
            } else if !live {
                " (stale)"
            } else {
                ""
            }
        );
    }
    let drifted: Vec<&str> = nodes
        .iter()
        .filter(|n| n.live(now) && drift(n))
        .map(|n| n.node.as_str())
        .collect();
    if !drifted.is_empty() {
        println!(
            "config drift: {} run(s) with settings that differ from the others' ({}); compare their openclaw.json",
            drifted.join(", "),
            norm.unwrap_or_default()
        );
    }
    Ok(0)
}

/// `openclaw gateway promote --node NAME`: a graceful hand-over to NAME.
pub fn promote(g: &Global, s: &Settings, target: &str, wait: u64) -> Result<i32, String> {
    let st = store(s)?;
    let (view, nodes, now, _) = st.view()?;
    let Some(n) = nodes.iter().find(|n| n.node == target) else {
        return Err(format!(
            "no node named `{target}` has written a heartbeat to {}; `openclaw gateway nodes` lists them",
            st.lease.location()
        ));
    };
    if !n.live(now) {
        return Err(format!(
            "node `{target}` is not running (last heartbeat {} ago); start it first (`openclaw gateway start --node {target}`)",
            age(now.saturating_sub(n.last_seen))
        ));
    }
    if let Some(h) = view.holder.as_ref().filter(|h| h.node == target) {
        println!("{target} already leads (epoch {})", h.epoch);
        return Ok(0);
    }
    let started = Instant::now();
    let marker_ttl = (s.ha.ttl * 3).max(Duration::from_secs(10));
    st.rt.block_on(async {
        st.cluster
            .set_preferred(target, marker_ttl)
            .await
            .map_err(|e| e.0)?;
        let msg = Control {
            cmd: "promote".into(),
            to: None,
            from: format!("cli@{}", crate::config::resolve::hostname()),
        };
        st.cluster.send(&msg).await.map_err(|e| e.0)?;
        Ok::<_, String>(())
    })?;
    let deadline = started + Duration::from_secs(wait);
    loop {
        let v = st.rt.block_on(st.lease.read()).map_err(|e| e.0)?;
        if let Some(h) = v.holder.filter(|h| h.node == target) {
            if g.json {
                println!(
                    "{}",
                    json!({"promoted": true, "holder": holder_json(&h), "tookMs": started.elapsed().as_millis() as u64})
                );
            } else {
                println!(
                    "{target} leads now (epoch {}, hand-over took {})",
                    h.epoch,
                    age(started.elapsed().as_millis() as u64)
                );
            }
            return Ok(0);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{target} did not take the lease within {wait}s; `openclaw gateway lock-status` shows the holder"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `openclaw gateway stop --node NAME` for a node this machine does not run
/// from its own state dir: a `stop` message over the lease's channel (or,
/// with the local lock, SIGTERM to the pid its heartbeat names).
pub fn stop_remote(g: &Global, s: &Settings, target: &str, wait: u64) -> Result<i32, String> {
    let st = store(s)?;
    let (_, nodes, now, _) = st.view()?;
    let Some(n) = nodes
        .iter()
        .find(|n| n.node == target && n.live(now))
        .cloned()
    else {
        println!(
            "node `{target}` is not running (no fresh heartbeat in {})",
            st.lease.location()
        );
        return Ok(0);
    };
    if st.local {
        // SAFETY: signalling the pid a node on this machine recorded.
        if unsafe { libc::kill(n.pid as libc::pid_t, libc::SIGTERM) } != 0 {
            return Err(format!(
                "cannot signal {target} (pid {}): {}",
                n.pid,
                std::io::Error::last_os_error()
            ));
        }
    } else {
        let msg = Control {
            cmd: "stop".into(),
            to: Some(target.to_string()),
            from: format!("cli@{}", crate::config::resolve::hostname()),
        };
        st.rt.block_on(st.cluster.send(&msg)).map_err(|e| e.0)?;
    }
    let deadline = Instant::now() + Duration::from_secs(wait);
    loop {
        let (nodes, now) = st.rt.block_on(st.cluster.nodes()).map_err(|e| e.0)?;
        let running = nodes
            .iter()
            .any(|m| m.node == target && m.boot_id == n.boot_id && m.live(now));
        if !running {
            if g.json {
                println!(
                    "{}",
                    json!({"stopped": true, "node": target, "host": n.host, "pid": n.pid})
                );
            } else {
                println!("gateway {target} stopped (pid {} on {})", n.pid, n.host);
            }
            return Ok(0);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{target} (pid {} on {}) did not stop within {wait}s",
                n.pid, n.host
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

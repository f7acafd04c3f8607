//! `ha_bench`: failover timings of `openclaw` nodes on a private redis-server
//! (`benches/ha.sh` runs it and records the result in benches/RESULTS.md).
//!
//! Each round starts a primary (priority 100) and a secondary (50) with a
//! lease ttl of `--ttl` (default 5s, the shipped default), waits until the
//! primary leads and the secondary follows, then ends the primary and times
//! from the signal until the secondary holds the lease (read in Redis) and
//! answers `/ready` with 200. `graceful` sends SIGTERM (the leader releases at
//! once); `crash` sends SIGKILL (the lease must expire first).
//!
//! ```text
//! ha_bench [--rounds 20] [--ttl 5s]
//! ```
//! Prints one JSON line per kind: `{"kind", "rounds", "p50_ms", "max_ms", "all_ms"}`.

use openclaw_e2e::gateway::Gateway;
use openclaw_e2e::ha::{holder_name, wait_holder, HaNode};
use openclaw_e2e::redis::Redis;
use openclaw_e2e::wait::until;
use std::time::{Duration, Instant};

const SLACK: Duration = Duration::from_secs(30);

async fn round(redis: &Redis, ttl: &'static str, signal: i32) -> Duration {
    let mut p = HaNode::new("primary", Some("primary"), 100);
    p.ttl = Some(ttl);
    let mut s = HaNode::new("secondary", Some("secondary"), 50);
    s.ttl = Some(ttl);
    // The previous round's lease is gone (released or expired) before this one.
    until("a free lease", SLACK, || async {
        holder_name(redis).is_none()
    })
    .await;
    let mut primary = Gateway::start(p.config(redis)).await;
    wait_holder(redis, "primary", SLACK).await;
    let secondary = Gateway::start(s.config(redis)).await;
    until("the secondary to follow", SLACK, || async {
        secondary.ready().await.0 == 503
    })
    .await;
    let t = Instant::now();
    primary.signal(signal);
    until("the secondary to lead", SLACK, || async {
        holder_name(redis).as_deref() == Some("secondary") && secondary.ready().await.0 == 200
    })
    .await;
    let took = t.elapsed();
    primary.wait_exit(SLACK).await;
    // A graceful stop releases the lease for the next round.
    let mut secondary = secondary;
    secondary.signal(libc::SIGTERM);
    secondary.wait_exit(SLACK).await;
    took
}

fn report(kind: &str, mut all: Vec<Duration>) {
    all.sort();
    let ms = |d: &Duration| (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
    println!(
        "{}",
        serde_json::json!({
            "kind": kind, "rounds": all.len(),
            "p50_ms": ms(&all[(all.len() - 1) / 2]), "max_ms": ms(all.last().unwrap()),
            "all_ms": all.iter().map(ms).collect::<Vec<_>>(),
        })
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("usage: ha_bench [--rounds N (20)] [--ttl DURATION (5s)]");
        return;
    }
    let rounds: usize = value("--rounds")
        .map(|v| v.parse().expect("--rounds N"))
        .unwrap_or(20);
    let ttl: &'static str = Box::leak(
        value("--ttl")
            .unwrap_or_else(|| "5s".into())
            .into_boxed_str(),
    );
    let redis = Redis::start().await;
    for (kind, signal) in [("graceful", libc::SIGTERM), ("crash", libc::SIGKILL)] {
        let mut all = Vec::new();
        for i in 0..rounds {
            let took = round(&redis, ttl, signal).await;
            eprintln!("ha_bench: {kind} round {}/{rounds}: {took:?}", i + 1);
            all.push(took);
        }
        report(kind, all);
    }
}

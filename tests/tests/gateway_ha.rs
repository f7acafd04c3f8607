//! Leader election between real `openclaw` nodes on a real redis-server: the
//! lease readable with `redis-cli GET`, readiness in active-standby, graceful
//! and crash failover, a paused leader fenced out, a Redis restart, the
//! primary check, and the local (file lock) kind. Timings are checked only
//! against generous bounds here; `benches/ha.sh` measures them.

use openclaw_e2e::gateway::{Gateway, NodeConfig};
use openclaw_e2e::ha::{
    holder, holder_name, is_ready, leader_gauge, runs, wait_any_holder, wait_holder, HaNode,
};
use openclaw_e2e::protocol::ProtoClient;
use openclaw_e2e::redis::Redis;
use openclaw_e2e::wait::until;
use openclaw_e2e::{bounded, Backend};
use serde_json::json;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(120);
/// Far above what any step should take; only a hang fails on it.
const SLACK: Duration = Duration::from_secs(15);

fn pair(redis: &Redis) -> (NodeConfig, NodeConfig) {
    (
        HaNode::new("primary", Some("primary"), 100).config(redis),
        HaNode::new("secondary", Some("secondary"), 50).config(redis),
    )
}

#[tokio::test]
async fn the_primary_leads_only_the_leader_is_ready_and_a_graceful_stop_hands_over() {
    bounded(LIMIT, async {
        let redis = Redis::start().await;
        let (p, s) = pair(&redis);
        let mut primary = Gateway::start(p).await;
        let first = wait_holder(&redis, "primary", SLACK).await;
        let secondary = Gateway::start(s).await;

        // The value an operator reads with redis-cli.
        assert_eq!(first["role"], "primary");
        assert_eq!(first["priority"], 100);
        assert!(first["epoch"].as_u64().unwrap() >= 1);
        assert_eq!(first["address"], format!("127.0.0.1:{}", primary.port));
        assert!(first["since"].as_u64().unwrap() > 1_700_000_000_000);
        until("the primary to be ready", SLACK, || is_ready(&primary)).await;
        until(
            "the secondary to say why it is not ready",
            SLACK,
            || async {
                let (code, body) = secondary.ready().await;
                code == 503 && body["reason"].as_str().unwrap_or("").contains("standby")
            },
        )
        .await;
        let (_, body) = secondary.ready().await;
        assert!(
            body["reason"]
                .as_str()
                .unwrap()
                .contains("the leader is primary"),
            "{body}"
        );

        // The health method says who leads.
        let (mut c, _) = ProtoClient::hello(
            &format!("ws://{}", secondary.addr()),
            openclaw_e2e::gateway::TOKEN,
        )
        .await;
        let h = c.call("health", json!({})).await.unwrap();
        assert_eq!(h["ha"]["isLeader"], false, "{h}");
        assert_eq!(h["ha"]["leader"]["node"], "primary", "{h}");

        // Graceful stop: released at once, the secondary takes over.
        let stopped = Instant::now();
        primary.signal(libc::SIGTERM);
        let next = wait_holder(&redis, "secondary", SLACK).await;
        until("the secondary to be ready", SLACK, || is_ready(&secondary)).await;
        eprintln!(
            "graceful hand-over: leading and ready after {:?}",
            stopped.elapsed()
        );
        assert!(
            next["epoch"].as_u64() > first["epoch"].as_u64(),
            "epochs only grow: {first} then {next}"
        );
        primary.wait_exit(SLACK).await.expect("the primary exits");
        let m = secondary.metrics().await;
        assert_eq!(m.get("openclaw_gateway_leader", &[]), Some(1.0));
        assert_eq!(m.get("openclaw_gateway_failovers_total", &[]), Some(1.0));
        assert_eq!(
            m.get("openclaw_gateway_lease_epoch", &[]),
            next["epoch"].as_f64()
        );
        assert!(m
            .get("openclaw_gateway_lease_renew_seconds_count", &[])
            .is_some());
    })
    .await;
}

#[tokio::test]
async fn a_crashed_leader_is_replaced_once_its_lease_expires() {
    bounded(LIMIT, async {
        let redis = Redis::start().await;
        let (p, s) = pair(&redis);
        let primary = Gateway::start(p).await;
        wait_holder(&redis, "primary", SLACK).await;
        let secondary = Gateway::start(s).await;
        until("the secondary to follow", SLACK, || async {
            leader_gauge(&secondary).await == 0.0
        })
        .await;
        let killed = Instant::now();
        primary.signal(libc::SIGKILL);
        wait_holder(&redis, "secondary", SLACK).await;
        until("the secondary to be ready", SLACK, || is_ready(&secondary)).await;
        eprintln!(
            "crash failover (ttl 2s): leading and ready after {:?}",
            killed.elapsed()
        );
        // Not before the lease could expire: the dead leader's term was valid.
        assert!(
            killed.elapsed() >= Duration::from_millis(1000),
            "took over after {:?}",
            killed.elapsed()
        );
    })
    .await;
}

#[tokio::test]
async fn a_paused_leader_steps_down_its_runs_are_fenced_and_no_tick_runs_twice() {
    bounded(LIMIT, async {
        let redis = Redis::start().await;
        let cron = r#"cron: { jobs: [ { id: "beat", every: "1s", sessionKey: "agent:main:cron", message: "tick" } ] }"#;
        let (p, s) = pair(&redis);
        let primary = Gateway::start(p.top_keys(cron)).await;
        wait_holder(&redis, "primary", SLACK).await;
        let secondary = Gateway::start(s.top_keys(cron)).await;
        until("two job runs", SLACK, || async { runs(&redis).len() >= 2 }).await;

        primary.signal(libc::SIGSTOP);
        wait_holder(&redis, "secondary", SLACK).await;
        let on_secondary = runs(&redis).len();
        until("runs by the secondary", SLACK, || async { runs(&redis).len() >= on_secondary + 2 }).await;
        primary.signal(libc::SIGCONT);
        until("the resumed primary to follow", SLACK, || async { leader_gauge(&primary).await == 0.0 }).await;
        until("the resumed primary to log its step-down", SLACK, || async { primary.log().contains("stopped leading") }).await;
        assert_eq!(holder_name(&redis).as_deref(), Some("secondary"), "no automatic preemption");
        until("the primary to be unready", SLACK, || async { !is_ready(&primary).await }).await;
        let n = runs(&redis).len();
        until("more runs", SLACK, || async { runs(&redis).len() >= n + 2 }).await;

        let all = runs(&redis);
        let mut ticks: Vec<u64> = all.iter().map(|r| r["tick"].as_u64().unwrap()).collect();
        let count = ticks.len();
        ticks.dedup();
        assert_eq!(ticks.len(), count, "a tick ran twice: {all:?}");
        for w in all.windows(2) {
            assert!(w[0]["tick"].as_u64() < w[1]["tick"].as_u64(), "ticks in order: {all:?}");
            assert!(w[0]["epoch"].as_u64() <= w[1]["epoch"].as_u64(), "a stale epoch recorded a run: {all:?}");
        }
        assert!(all.iter().any(|r| r["node"] == "primary") && all.iter().any(|r| r["node"] == "secondary"));
        drop(secondary);
    })
    .await;
}

#[tokio::test]
async fn the_leader_stops_leading_while_redis_is_down_and_one_is_elected_after() {
    bounded(LIMIT, async {
        let mut redis = Redis::start().await;
        let (p, s) = pair(&redis);
        let primary = Gateway::start(p).await;
        let before = wait_holder(&redis, "primary", SLACK).await;
        let secondary = Gateway::start(s).await;
        until("the primary to be ready", SLACK, || is_ready(&primary)).await;

        let killed_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        redis.kill();
        until("the primary to stop leading", SLACK, || async {
            leader_gauge(&primary).await == 0.0
        })
        .await;
        assert!(!is_ready(&primary).await);
        assert_eq!(leader_gauge(&secondary).await, 0.0);
        // Its term ended before the lease it last renewed could expire: that
        // renewal was sent before Redis died, and the term ends at most
        // ttl - margin after a renewal was sent (the lease expires at ttl).
        let log = primary.log();
        let line = log
            .lines()
            .rfind(|l| l.contains("stopped leading"))
            .expect("a step-down line");
        assert!(line.contains("no renewal succeeded"), "{line}");
        let acted_until: u64 = line
            .split(" until_ms=")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            acted_until < killed_ms + 2000,
            "acted until {acted_until}, the lease ran out by {}",
            killed_ms + 2000
        );

        redis.resume().await;
        let after = wait_any_holder(&redis, SLACK).await;
        let leader = if after["node"] == "primary" {
            &primary
        } else {
            &secondary
        };
        until("the new leader to be ready", SLACK, || is_ready(leader)).await;
        // Redis came back empty: the epoch counter starts over there, which
        // is why a real deployment persists Redis (see README).
        let _ = before;
    })
    .await;
}

#[tokio::test]
async fn a_secondary_whose_primary_check_fails_asks_the_primary_to_step_down() {
    bounded(LIMIT, async {
        let redis = Redis::start().await;
        // The primary's health as the secondary sees it, switchable.
        let health = Backend::start("primary-health").await;
        let (p, _) = pair(&redis);
        let primary = Gateway::start(p).await;
        wait_holder(&redis, "primary", SLACK).await;
        let s = HaNode::new("secondary", Some("secondary"), 50)
            .ha_keys(&format!(
                "primaryCheck: {{ url: \"http://{}/health\", interval: \"200ms\" }}, failover: {{ enabled: true, retries: 2, backoff: \"exponential\", timeout: \"5s\" }}",
                health.addr()
            ))
            .config(&redis);
        let secondary = Gateway::start(s).await;
        until("the secondary to follow", SLACK, || async { leader_gauge(&secondary).await == 0.0 }).await;
        assert_eq!(holder_name(&redis).as_deref(), Some("primary"));

        health.set_health(503);
        wait_holder(&redis, "secondary", SLACK).await;
        assert!(secondary.log().contains("asking it to step down"), "{}", secondary.log());
        assert!(primary.log().contains("asked to step down by secondary"), "{}", primary.log());
    })
    .await;
}

#[tokio::test]
async fn a_secondary_without_failover_never_takes_the_lease_by_itself() {
    bounded(LIMIT, async {
        let redis = Redis::start().await;
        let (p, _) = pair(&redis);
        let primary = Gateway::start(p).await;
        wait_holder(&redis, "primary", SLACK).await;
        let s = HaNode::new("secondary", Some("secondary"), 50)
            .ha_keys("failover: { enabled: false }")
            .config(&redis);
        let secondary = Gateway::start(s).await;
        until("the secondary to follow", SLACK, || async {
            leader_gauge(&secondary).await == 0.0
        })
        .await;
        primary.signal(libc::SIGKILL);
        until("the lease to expire", SLACK, || async {
            holder(&redis).is_none()
        })
        .await;
        // Several renew intervals with a free lease: still nobody leads.
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            assert_eq!(
                holder(&redis),
                None,
                "the secondary took the lease by itself"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(!is_ready(&secondary).await);
    })
    .await;
}

#[tokio::test]
async fn local_lock_nodes_on_one_machine_share_a_lock_file() {
    bounded(LIMIT, async {
        let shared = tempfile::tempdir().unwrap();
        let lock = shared.path().join("leader.lock");
        let node = |name: &str, priority: u32| {
            NodeConfig::new(name).gateway_keys(&format!(
                "ha: {{ enabled: true, priority: {priority}, mode: \"active-active\", lease: {{ ttl: \"2s\" }} }}, lock: {{ type: \"local\", local: {{ path: \"{}\" }} }}",
                lock.display()
            ))
        };
        let a = Gateway::start(node("a", 20)).await;
        until("a to lead", SLACK, || async { leader_gauge(&a).await == 1.0 }).await;
        let b = Gateway::start(node("b", 10)).await;
        until("b to follow", SLACK, || async { leader_gauge(&b).await == 0.0 }).await;
        // Active-active: both ready.
        assert!(is_ready(&a).await && is_ready(&b).await);
        let status = openclaw_e2e::gateway::cli(b.state_dir(), &["gateway", "lock-status", "--json"]);
        let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        assert_eq!(status["holder"]["node"], "a", "{status}");
        let killed = Instant::now();
        a.signal(libc::SIGKILL);
        until("b to lead", SLACK, || async { leader_gauge(&b).await == 1.0 }).await;
        eprintln!("local lock: b leads {:?} after a was killed", killed.elapsed());
    })
    .await;
}

#[tokio::test]
async fn with_preempt_a_higher_priority_node_takes_leadership_back() {
    bounded(LIMIT, async {
        let redis = Redis::start().await;
        let s = HaNode::new("secondary", Some("secondary"), 50)
            .ha_keys("preempt: true")
            .config(&redis);
        let secondary = Gateway::start(s).await;
        let first = wait_holder(&redis, "secondary", SLACK).await;
        let p = HaNode::new("primary", Some("primary"), 100)
            .ha_keys("preempt: true")
            .config(&redis);
        let primary = Gateway::start(p).await;
        let back = wait_holder(&redis, "primary", SLACK).await;
        assert!(back["epoch"].as_u64() > first["epoch"].as_u64());
        until("the primary to be ready", SLACK, || is_ready(&primary)).await;
        until("the secondary to follow", SLACK, || async {
            !is_ready(&secondary).await
        })
        .await;
        assert!(
            secondary.log().contains("another node takes over"),
            "{}",
            secondary.log()
        );
    })
    .await;
}

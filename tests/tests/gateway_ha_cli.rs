//! The operator's HA commands against real nodes and a real redis-server:
//! `lock-status`, `nodes` (with config drift), `promote`, `stop --node` from
//! a machine that runs no node, and `force-unlock` (refusing a live holder,
//! clearing a stale one with the epoch bumped).

use openclaw_e2e::bounded;
use openclaw_e2e::gateway::{cli, Gateway};
use openclaw_e2e::ha::{holder, holder_name, operator, wait_holder, HaNode};
use openclaw_e2e::redis::Redis;
use openclaw_e2e::wait::until;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);
const SLACK: Duration = Duration::from_secs(15);

fn run(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["gateway"];
    all.extend_from_slice(args);
    cli(dir, &all)
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn lock_status_and_nodes_show_the_cluster_and_flag_drift() {
    bounded(LIMIT, async {
        let redis = Redis::start().await;
        let primary =
            Gateway::start(HaNode::new("primary", Some("primary"), 100).config(&redis)).await;
        wait_holder(&redis, "primary", SLACK).await;
        let _secondary =
            Gateway::start(HaNode::new("secondary", Some("secondary"), 50).config(&redis)).await;
        // Same cluster, but another agent list: drift.
        let drifty = HaNode::new("drifty", None, 10)
            .config(&redis)
            .agents(json!([{"id": "ops", "command": ["cat"]}]));
        let _drifty = Gateway::start(drifty).await;
        let op = operator(&redis);
        until("three live heartbeats", SLACK, || async {
            let s = json_of(&run(op.path(), &["lock-status", "--json"]));
            s["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|n| n["live"] == true)
                .count()
                == 3
        })
        .await;

        let s = json_of(&run(op.path(), &["lock-status", "--json"]));
        assert_eq!(s["holder"]["node"], "primary", "{s}");
        assert_eq!(s["holder"]["role"], "primary");
        assert_eq!(s["holder"]["priority"], 100);
        assert_eq!(
            s["holder"]["address"],
            format!("127.0.0.1:{}", primary.port)
        );
        assert_eq!(s["epoch"], s["holder"]["epoch"]);
        let ttl = s["ttlLeftMs"].as_u64().unwrap();
        assert!(ttl > 0 && ttl <= 2000, "{s}");
        assert_eq!(s["preferred"], Value::Null);
        let human = text(&run(op.path(), &["lock-status"]));
        assert!(
            human.contains("holder     primary (primary, priority 100)"),
            "{human}"
        );
        assert!(human.contains("ttl left"), "{human}");

        let n = json_of(&run(op.path(), &["nodes", "--json"]));
        let nodes = n["nodes"].as_array().unwrap();
        let by = |name: &str| {
            nodes
                .iter()
                .find(|x| x["node"] == name)
                .unwrap_or_else(|| panic!("{name} in {n}"))
                .clone()
        };
        assert_eq!(by("primary")["leader"], true);
        assert_eq!(by("primary")["ready"], true);
        assert_eq!(by("secondary")["leader"], false);
        assert_eq!(
            by("secondary")["ready"],
            false,
            "active-standby: only the leader is ready"
        );
        assert_eq!(by("primary")["drift"], false);
        assert_eq!(
            by("secondary")["drift"],
            false,
            "role, priority and port are the node's own"
        );
        assert_eq!(by("drifty")["drift"], true, "{n}");
        assert_ne!(by("drifty")["configHash"], by("primary")["configHash"]);
        assert!(by("primary")["version"].is_string());
        let human = text(&run(op.path(), &["nodes"]));
        assert!(human.contains("config drift: drifty"), "{human}");
        assert!(human.contains("DRIFT"), "{human}");
    })
    .await;
}

#[tokio::test]
async fn promote_hands_over_and_stop_works_from_a_machine_without_a_node() {
    bounded(LIMIT, async {
        let redis = Redis::start().await;
        let mut primary =
            Gateway::start(HaNode::new("primary", Some("primary"), 100).config(&redis)).await;
        let first = wait_holder(&redis, "primary", SLACK).await;
        let secondary =
            Gateway::start(HaNode::new("secondary", Some("secondary"), 50).config(&redis)).await;
        let op = operator(&redis);
        until("the secondary's heartbeat", SLACK, || async {
            text(&run(op.path(), &["nodes"])).contains("secondary")
        })
        .await;

        let out = run(op.path(), &["promote", "--node", "secondary"]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("secondary leads now"), "{}", text(&out));
        let next = holder(&redis).unwrap();
        assert_eq!(next["node"], "secondary");
        assert!(next["epoch"].as_u64() > first["epoch"].as_u64());
        until("the secondary to be ready", SLACK, || async {
            secondary.ready().await.0 == 200
        })
        .await;
        until("the primary to be unready", SLACK, || async {
            primary.ready().await.0 == 503
        })
        .await;
        // The marker is gone once the hand-over is done.
        until("the preferred marker to clear", SLACK, || async {
            json_of(&run(op.path(), &["lock-status", "--json"]))["preferred"].is_null()
        })
        .await;
        assert_eq!(
            holder_name(&redis).as_deref(),
            Some("secondary"),
            "no preemption back"
        );
        let again = run(op.path(), &["promote", "--node", "secondary"]);
        assert!(text(&again).contains("already leads"), "{}", text(&again));

        // `stop --node primary` from the operator's machine.
        let out = run(op.path(), &["stop", "--node", "primary"]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            text(&out).contains("gateway primary stopped"),
            "{}",
            text(&out)
        );
        primary.wait_exit(SLACK).await.expect("the primary exits");
        assert!(
            primary
                .log()
                .contains("stop requested over the control channel"),
            "{}",
            primary.log()
        );
        let n = json_of(&run(op.path(), &["nodes", "--json"]));
        let p = n["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["node"] == "primary")
            .unwrap()
            .clone();
        assert_eq!(p["state"], "stopped", "{n}");
        let refused = run(op.path(), &["promote", "--node", "primary"]);
        assert!(!refused.status.success());
        assert!(text(&refused).contains("not running"), "{}", text(&refused));
        let unknown = run(op.path(), &["promote", "--node", "nobody"]);
        assert!(
            text(&unknown).contains("no node named `nobody`"),
            "{}",
            text(&unknown)
        );
    })
    .await;
}

#[tokio::test]
async fn force_unlock_refuses_a_live_holder_and_clears_a_stale_one() {
    bounded(LIMIT, async {
        let redis = Redis::start().await;
        // A long lease with frequent heartbeats: a frozen holder's heartbeat
        // goes stale (2.25 s) long before its lease expires (10 s).
        let mut a = HaNode::new("a", None, 20);
        a.ttl = None;
        let a = a.ha_keys("lease: { ttl: \"10s\", renewInterval: \"1s\" }");
        let mut b = HaNode::new("b", None, 10);
        b.ttl = None;
        let b = b.ha_keys("lease: { ttl: \"10s\", renewInterval: \"1s\" }");
        let na = Gateway::start(a.config(&redis)).await;
        let held = wait_holder(&redis, "a", SLACK).await;
        let _nb = Gateway::start(b.config(&redis)).await;
        let op = operator(&redis);

        let live = run(op.path(), &["force-unlock", "--yes"]);
        assert!(!live.status.success());
        assert!(
            text(&live).contains("a holds the lease") && text(&live).contains("is alive"),
            "{}",
            text(&live)
        );
        assert!(holder(&redis).is_some());
        let no_tty = run(op.path(), &["force-unlock", "--force"]);
        assert!(!no_tty.status.success());
        assert!(text(&no_tty).contains("--yes"), "{}", text(&no_tty));

        na.signal(libc::SIGSTOP);
        until("a's heartbeat to go stale", SLACK, || async {
            let s = json_of(&run(op.path(), &["lock-status", "--json"]));
            s["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["node"] == "a" && n["live"] == false)
        })
        .await;
        assert_eq!(
            holder_name(&redis).as_deref(),
            Some("a"),
            "the frozen holder's lease still runs"
        );
        let out = run(op.path(), &["force-unlock", "--yes"]);
        assert!(out.status.success(), "{}", text(&out));
        let epoch = held["epoch"].as_u64().unwrap();
        assert!(
            text(&out).contains(&format!("epoch is now at least {}", epoch + 1)),
            "{}",
            text(&out)
        );
        let next = wait_holder(&redis, "b", SLACK).await;
        assert_eq!(
            next["epoch"].as_u64(),
            Some(epoch + 2),
            "cleared (+1) then granted (+1)"
        );
        na.signal(libc::SIGCONT);
        until("a to notice it lost the lease", SLACK, || async {
            na.log().contains("stopped leading")
        })
        .await;
        assert_eq!(holder_name(&redis).as_deref(), Some("b"));

        let free = run(op.path(), &["force-unlock", "--force", "--yes"]);
        assert!(
            text(&free).contains("cleared the lease of b"),
            "{}",
            text(&free)
        );
    })
    .await;
}

/// `promote` hands the lease to the primary, and the primary then crashes
/// (kill -9) at several points inside the secondary's hand-over cooldown
/// (2 x ttl): the secondary leads again within ttl + 1 s every time. The
/// cooldown keeps a node from taking back a lease it gave to a live node,
/// never from taking a free lease whose holder is gone.
#[tokio::test]
async fn promote_then_crash_fails_over_within_the_ttl() {
    bounded(LIMIT, async {
        let redis = Redis::start().await;
        let secondary = HaNode::new("secondary", Some("secondary"), 50);
        let _secondary = Gateway::start(secondary.config(&redis)).await;
        wait_holder(&redis, "secondary", SLACK).await;
        let op = operator(&redis);
        let ttl = Duration::from_secs(2);
        for kill_after in [
            Duration::ZERO,
            Duration::from_millis(700),
            Duration::from_millis(1800),
        ] {
            let primary =
                Gateway::start(HaNode::new("primary", Some("primary"), 100).config(&redis)).await;
            until("the primary's heartbeat", SLACK, || async {
                text(&run(op.path(), &["nodes"])).contains("primary")
            })
            .await;
            let out = run(op.path(), &["promote", "--node", "primary"]);
            assert!(text(&out).contains("primary leads now"), "{}", text(&out));
            tokio::time::sleep(kill_after).await;
            primary.signal(libc::SIGKILL);
            let killed = std::time::Instant::now();
            wait_holder(&redis, "secondary", SLACK).await;
            let took = killed.elapsed();
            assert!(
                took <= ttl + Duration::from_secs(1),
                "killed {kill_after:?} after the hand-over: the secondary led after {took:?}"
            );
            eprintln!(
                "killed {kill_after:?} after the hand-over: the secondary led after {took:?}"
            );
        }
    })
    .await;
}

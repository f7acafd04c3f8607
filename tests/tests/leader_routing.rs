//! Leader-aware routing: an edge upstream with `leader:` follows the
//! gateway cluster's lease in Redis and sends new connections to the holder
//! the moment it changes; a graceful stop of the leader refuses no client;
//! `on_change: close` hands the old leader's tunnels a close frame; an edge
//! that cannot reach the cluster's Redis routes on health checks alone.
//!
//! Health checks here run every 30 s, so that only the lease can explain a
//! switch within seconds (timings are measured by `make bench-ha`).

use openclaw_e2e::bounded;
use openclaw_e2e::chat_attempt::{attempt, AttemptSpec};
use openclaw_e2e::gateway::{cli, Gateway, TOKEN};
use openclaw_e2e::ha::{holder_name, operator, wait_any_holder, wait_holder, HaNode, LOCK_KEY};
use openclaw_e2e::lifecycle::{server, upstream, EdgeFiles};
use openclaw_e2e::ports::free_addr;
use openclaw_e2e::process::ChildProcess;
use openclaw_e2e::redis::Redis;
use openclaw_e2e::wait::{until, until_some};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);
/// Far above what any step should take; only a hang fails on it.
const SLACK: Duration = Duration::from_secs(15);
/// Well under the 30 s between health checks.
const SWITCH: Duration = Duration::from_secs(5);

/// Redis, three nodes (gw1 leads: priority 100, then 50 and 40) behind an
/// edge whose upstream follows their lease, with `leader_keys` in its
/// `leader:` block.
struct Cluster {
    edge: ChildProcess,
    nodes: Vec<Gateway>,
    // Dropped after the processes that write into it.
    files: EdgeFiles,
    redis: Redis,
}

impl Cluster {
    async fn start(leader_redis: Option<String>, leader_keys: &str) -> Cluster {
        let redis = Redis::start().await;
        let mut nodes = Vec::new();
        for (name, priority) in [("gw1", 100), ("gw2", 50), ("gw3", 40)] {
            let config = HaNode::new(name, None, priority)
                .config(&redis)
                .behind_edge();
            nodes.push(Gateway::start(config).await);
            if name == "gw1" {
                wait_holder(&redis, "gw1", SLACK).await;
            }
        }
        let url = leader_redis.unwrap_or_else(|| redis.url());
        let files = EdgeFiles::new();
        let servers: Vec<String> = nodes.iter().map(|n| server(n.addr(), "")).collect();
        let check = "health_check: { type: http, interval: 30s, rise: 1, fall: 1, timeout: 1s, \
                     send: \"GET /ready HTTP/1.0\\r\\n\\r\\n\", expect_alive: [http_2xx] }";
        let leader = format!(
            "leader: {{ redis: \"{url}\", key: \"{LOCK_KEY}\", refresh: 300ms{leader_keys} }}"
        );
        files.write(&files.yaml(
            "",
            &upstream("gw", &["balance: round_robin", check, &leader], &servers),
            &[],
        ));
        let edge = files.start("edge").await;
        Cluster {
            edge,
            nodes,
            files,
            redis,
        }
    }

    fn url(&self) -> String {
        format!("ws://{}/", self.files.listen)
    }

    fn node(&self, name: &str) -> &Gateway {
        let i = ["gw1", "gw2", "gw3"]
            .iter()
            .position(|n| *n == name)
            .unwrap();
        &self.nodes[i]
    }

    /// Waits until a new connection through the edge lands on `name`.
    async fn lands_on(&self, name: &str, limit: Duration) {
        let edge = self.files.listen;
        until_some(
            &format!("new connections to reach {name}"),
            limit,
            || async move { hello(edge).await.ok().filter(|n| n == name) },
        )
        .await;
    }
}

/// One client's attempt through the edge (upgrade, `connect`, a
/// `chat.send` and its run's end): the node that answered, or what went
/// wrong. Never panics (failures are counted).
async fn hello(edge: SocketAddr) -> Result<String, String> {
    let id = format!(
        "leader-routing-{}",
        ATTEMPTS.fetch_add(1, Ordering::Relaxed)
    );
    attempt(&AttemptSpec {
        addr: edge,
        token: TOKEN,
        session_key: "agent:main:leader-routing",
        id: &id,
        limit: Duration::from_secs(5),
    })
    .await
    .map(|served| served.node)
    .map_err(|f| format!("{}: {}", f.kind(), f.detail))
}

/// Numbers the attempts (each `chat.send` needs its own idempotency key).
static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);

#[tokio::test]
async fn new_connections_follow_the_lease_on_promote_and_on_a_crash() {
    bounded(LIMIT, async {
        let c = Cluster::start(None, "").await;
        assert_eq!(hello(c.files.listen).await, Ok("gw1".into()));

        // A hand-over: the health checks (every 30 s) still say gw2 is not
        // ready, yet the next connections go to it.
        let op = operator(&c.redis);
        let out = cli(op.path(), &["gateway", "promote", "--node", "gw2"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(holder_name(&c.redis).as_deref(), Some("gw2"));
        c.lands_on("gw2", SWITCH).await;
        for _ in 0..5 {
            assert_eq!(
                hello(c.files.listen).await,
                Ok("gw2".into()),
                "every new connection"
            );
        }
        // The status API shows the cluster as the edge follows it.
        let status = c.files.status().await;
        let cluster = &status["cluster"][0];
        assert_eq!(cluster["leader"], "gw2", "{status}");
        assert_eq!(cluster["reachable"], true, "{status}");
        assert_eq!(cluster["drift"], false, "{status}");
        let names: Vec<&str> = cluster["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["node"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["gw1", "gw2", "gw3"], "{status}");

        // A crash: whoever takes the lease after the ttl gets the traffic.
        c.nodes[1].signal(libc::SIGKILL);
        let next = until_some("another node to take the lease", SLACK, || async {
            holder_name(&c.redis).filter(|h| h != "gw2")
        })
        .await;
        c.lands_on(&next, SWITCH).await;
        let log = c.edge.logs();
        assert!(
            log.contains("cluster leader"),
            "the edge logs the change:\n{log}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_graceful_stop_of_the_leader_refuses_no_client() {
    bounded(LIMIT, async {
        let mut c = Cluster::start(None, "").await;
        let edge = c.files.listen;
        let stop = Arc::new(AtomicBool::new(false));
        let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut clients = Vec::new();
        for _ in 0..3 {
            let (stop, ok, failed, errors) =
                (stop.clone(), ok.clone(), failed.clone(), errors.clone());
            clients.push(tokio::spawn(async move {
                // Bounded: at most 2000 attempts each.
                for _ in 0..2000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    match hello(edge).await {
                        Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            errors.lock().unwrap().push(e);
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }));
        }
        until("clients to get through", SLACK, || async {
            ok.load(Ordering::Relaxed) >= 10
        })
        .await;

        c.nodes[0].signal(libc::SIGTERM);
        let next = wait_any_holder(&c.redis, SLACK).await;
        assert_ne!(next["node"], "gw1");
        assert!(
            c.nodes[0].wait_exit(SLACK).await.is_some(),
            "gw1 stops:\n{}",
            c.nodes[0].log()
        );
        // Clients go on a while against the node that took over.
        let after = ok.load(Ordering::Relaxed);
        until("clients to get through after the stop", SLACK, || async {
            ok.load(Ordering::Relaxed) >= after + 10
        })
        .await;
        stop.store(true, Ordering::Relaxed);
        for t in clients {
            t.await.unwrap();
        }
        let errors = errors.lock().unwrap().clone();
        assert_eq!(
            failed.load(Ordering::Relaxed),
            0,
            "{} attempts got through; failures: {errors:?}\nedge:\n{}",
            ok.load(Ordering::Relaxed),
            c.edge.logs()
        );
        c.lands_on(next["node"].as_str().unwrap(), SWITCH).await;
    })
    .await;
}

/// Opens a protocol connection through the edge and returns it with the
/// node that answered.
async fn open_tunnel(url: &str) -> (openclaw_e2e::protocol::ProtoClient, String) {
    let (client, hello) = openclaw_e2e::protocol::ProtoClient::hello(url, TOKEN).await;
    let node = hello["server"]["node"].as_str().unwrap().to_string();
    (client, node)
}

#[tokio::test]
async fn on_change_close_sends_the_old_leaders_clients_a_close_frame() {
    bounded(LIMIT, async {
        let c = Cluster::start(None, ", on_change: close").await;
        let (mut tunnel, node) = open_tunnel(&c.url()).await;
        assert_eq!(node, "gw1");
        assert!(tunnel.call("health", json!({})).await.is_ok());

        let op = operator(&c.redis);
        let out = cli(op.path(), &["gateway", "promote", "--node", "gw3"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let closed = loop {
            match tunnel.frame().await {
                Ok(_) => continue,
                Err(closed) => break closed,
            }
        };
        assert_eq!(closed.code, 1012, "{closed:?}");
        assert_eq!(closed.reason, "leader changed");
        // The client reconnects, to the new leader.
        let (mut again, node) = open_tunnel(&c.url()).await;
        assert_eq!(node, "gw3");
        assert!(again.call("health", json!({})).await.is_ok());
    })
    .await;
}

#[tokio::test]
async fn on_change_keep_leaves_open_tunnels_alone() {
    bounded(LIMIT, async {
        let c = Cluster::start(None, "").await;
        let (mut tunnel, node) = open_tunnel(&c.url()).await;
        assert_eq!(node, "gw1");
        let op = operator(&c.redis);
        let out = cli(op.path(), &["gateway", "promote", "--node", "gw2"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        c.lands_on("gw2", SWITCH).await;
        assert!(
            tunnel.call("health", json!({})).await.is_ok(),
            "the tunnel to the old leader still works"
        );
        assert!(c.node("gw1").ready().await.0 != 200, "gw1 is a standby now");
    })
    .await;
}

#[tokio::test]
async fn without_the_clusters_redis_the_edge_routes_on_health_checks() {
    bounded(LIMIT, async {
        // Nothing listens there: the edge never reads the lease.
        let nowhere = format!("redis://{}/", free_addr());
        let c = Cluster::start(Some(nowhere), "").await;
        // The checks at start find gw1 ready and the others not.
        c.lands_on("gw1", SLACK).await;
        for _ in 0..5 {
            assert_eq!(hello(c.files.listen).await, Ok("gw1".into()));
        }
        until(
            "the edge to say it cannot reach the cluster",
            SLACK,
            || async {
                c.edge
                    .logs()
                    .contains("cluster unreachable: routing on health checks")
            },
        )
        .await;
        // Retried every refresh period, said once.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let log = c.edge.logs();
        assert_eq!(log.matches("cluster unreachable").count(), 1, "{log}");
    })
    .await;
}

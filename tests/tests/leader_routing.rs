//! Leader-aware routing: an edge upstream with `leader:` follows the
//! gateway cluster's lease in Redis and sends new connections to the holder
//! the moment it changes; a graceful stop of the leader (SIGTERM, or
//! `gateway stop --node`) refuses no client; a leader that failed requests
//! while frozen gets new ones at once when elected again; `on_change:
//! close` hands the old leader's tunnels a close frame; an edge that cannot
//! reach the cluster's Redis routes on health checks alone.
//!
//! Health checks here run every 30 s, so that only the lease can explain a
//! switch within seconds (timings are measured by `make bench-ha`).

use openclaw_e2e::bounded;
use openclaw_e2e::chat_attempt::{attempt, AttemptSpec};
use openclaw_e2e::gateway::{cli, Gateway, TOKEN};
use openclaw_e2e::ha::{holder_name, operator, wait_holder, HaNode, LOCK_KEY};
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
/// edge whose upstream follows their lease.
struct Cluster {
    edge: ChildProcess,
    nodes: Vec<Gateway>,
    // Dropped after the processes that write into it.
    files: EdgeFiles,
    redis: Redis,
}

/// How a test's cluster and edge differ from the defaults.
#[derive(Default)]
struct Setup {
    /// The `redis:` the edge follows (default: the cluster's).
    leader_redis: Option<String>,
    /// More keys of the `leader:` block (`, on_change: close`).
    leader_keys: &'static str,
    /// The nodes' lease ttl (default: theirs).
    ttl: Option<&'static str>,
    /// More keys of every server (`max_fails: 1`).
    server_keys: &'static str,
    /// More keys of the edge's location (`read_timeout: 300ms`).
    location_keys: Vec<&'static str>,
}

impl Cluster {
    async fn start(setup: Setup) -> Cluster {
        let redis = Redis::start().await;
        let mut nodes = Vec::new();
        for (name, priority) in [("gw1", 100), ("gw2", 50), ("gw3", 40)] {
            let mut ha = HaNode::new(name, None, priority);
            ha.ttl = setup.ttl;
            nodes.push(Gateway::start(ha.config(&redis).behind_edge()).await);
            if name == "gw1" {
                wait_holder(&redis, "gw1", SLACK).await;
            }
        }
        let url = setup.leader_redis.unwrap_or_else(|| redis.url());
        let files = EdgeFiles::new();
        let servers: Vec<String> = nodes
            .iter()
            .map(|n| server(n.addr(), setup.server_keys))
            .collect();
        let check = "health_check: { type: http, interval: 30s, rise: 1, fall: 1, timeout: 1s, \
                     send: \"GET /ready HTTP/1.0\\r\\n\\r\\n\", expect_alive: [http_2xx] }";
        let leader = format!(
            "leader: {{ redis: \"{url}\", key: \"{LOCK_KEY}\", refresh: 300ms{} }}",
            setup.leader_keys
        );
        files.write(&files.yaml(
            "",
            &upstream("gw", &["balance: round_robin", check, &leader], &servers),
            &setup.location_keys,
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
        let c = Cluster::start(Setup::default()).await;
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

/// How the leader is stopped gracefully.
#[derive(Clone, Copy)]
enum GracefulStop {
    /// SIGTERM to its process.
    Signal,
    /// `openclaw gateway stop --node gw1` from an operator's machine: a
    /// `stop` message through the cluster's Redis.
    Cli,
}

#[tokio::test]
async fn a_graceful_stop_of_the_leader_refuses_no_client() {
    no_client_refused(GracefulStop::Signal).await;
}

#[tokio::test]
async fn gateway_stop_node_of_the_leader_refuses_no_client() {
    no_client_refused(GracefulStop::Cli).await;
}

/// Three clients loop through the edge while the leader is stopped `how`:
/// none fails.
async fn no_client_refused(how: GracefulStop) {
    bounded(LIMIT, async {
        let mut c = Cluster::start(Setup::default()).await;
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

        let stopped = match how {
            GracefulStop::Signal => {
                c.nodes[0].signal(libc::SIGTERM);
                None
            }
            GracefulStop::Cli => {
                // It waits for the node to stop: off the clients' thread.
                let op = operator(&c.redis);
                Some(tokio::task::spawn_blocking(move || {
                    cli(op.path(), &["gateway", "stop", "--node", "gw1"])
                }))
            }
        };
        let next = until_some("another node to take the lease", SLACK, || async {
            holder_name(&c.redis).filter(|h| h != "gw1")
        })
        .await;
        assert!(
            c.nodes[0].wait_exit(SLACK).await.is_some(),
            "gw1 stops:\n{}",
            c.nodes[0].log()
        );
        if let Some(stopped) = stopped {
            let out = stopped.await.unwrap();
            assert!(
                out.status.success(),
                "gateway stop --node gw1: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
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
        c.lands_on(&next, SWITCH).await;
    })
    .await;
}

#[tokio::test]
async fn a_leader_that_failed_requests_gets_them_at_once_when_elected_again() {
    bounded(LIMIT, async {
        let c = Cluster::start(Setup {
            ttl: Some("2s"),
            server_keys: "max_fails: 1, fail_timeout: 60s",
            location_keys: vec!["read_timeout: 300ms"],
            ..Setup::default()
        })
        .await;
        let edge = c.files.listen;
        c.lands_on("gw1", SWITCH).await;

        // Frozen while it leads: a request times out and takes gw1 out
        // (max_fails 1) for a minute; then its lease expires.
        c.nodes[0].signal(libc::SIGSTOP);
        assert!(hello(edge).await.is_err(), "gw1 is frozen");
        until("gw1 to be taken out by max_fails", SLACK, || async {
            c.edge
                .logs()
                .contains("temporarily disabled after max_fails")
        })
        .await;
        wait_holder(&c.redis, "gw2", SLACK).await;
        c.lands_on("gw2", SWITCH).await;

        // Thawed and handed the lease back: its failures are older than its
        // new term, so it gets new connections at once, not in a minute.
        c.nodes[0].signal(libc::SIGCONT);
        let op = operator(&c.redis);
        until("gw1 to take the lease back (promote)", SLACK, || async {
            cli(op.path(), &["gateway", "promote", "--node", "gw1"])
                .status
                .success()
                && holder_name(&c.redis).as_deref() == Some("gw1")
        })
        .await;
        c.lands_on("gw1", SWITCH).await;
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
        let c = Cluster::start(Setup {
            leader_keys: ", on_change: close",
            ..Setup::default()
        })
        .await;
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
        let c = Cluster::start(Setup::default()).await;
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
        let c = Cluster::start(Setup {
            leader_redis: Some(nowhere),
            ..Setup::default()
        })
        .await;
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

//! A network partition between real `openclaw` nodes, where the machine
//! allows network namespaces: the primary cut off from Redis while it still
//! answers the secondary's primary check. Still exactly one leader: the
//! primary stops acting as leader before its lease can expire, the secondary
//! takes the lease once it has, and after the partition heals the secondary
//! keeps it (no automatic preemption).
//!
//! Two namespaces of the test's own, joined by a veth pair: R holds
//! redis-server and the secondary, P the primary. The cut is a firewall
//! ruleset inside P (nft, else iptables) dropping TCP to and from Redis's
//! port only, so the veth, and the primary's port on it, stay up. The test
//! looks at everything from inside R, as the secondary does: `redis-cli`,
//! and samplers of both nodes' `/metrics` and `/ready` and the primary's
//! `/health` every 50 ms for the whole partition and a while after.
//!
//! Leadership is checked twice. The terms each node logged ("became leader
//! epoch=E since_ms=S", "stopped leading epoch=E until_ms=U") must not
//! overlap: that is the leadership a node acts on (fenced job runs, the
//! `health` method). And what a node *claims* must not overlap either: its
//! `openclaw_gateway_leader` gauge, and its `/ready` (in active-standby only
//! the leader is ready, which is what a load balancer routes by). Two HTTP
//! reads are not one instant, so the samplers only count a claim as
//! overlapping when it is proven (see [`overlapping_claims`]).
//!
//! Without permission for `ip netns add`, or with a kernel whose firewall
//! does not work inside a namespace, the test says so and passes.

use openclaw_e2e::bounded;
use openclaw_e2e::chaos::{field, parse_log, History};
use openclaw_e2e::gateway::{self, NodeConfig};
use openclaw_e2e::ha::LOCK_KEY;
use openclaw_e2e::metrics::Metrics;
use openclaw_e2e::netns::Netns;
use openclaw_e2e::ports::free_port;
use openclaw_e2e::process::ChildProcess;
use openclaw_e2e::wait::{until, until_some};
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tempfile::TempDir;

const LIMIT: Duration = Duration::from_secs(120);
/// Far above what any step should take; only a hang fails on it.
const SLACK: Duration = Duration::from_secs(15);
/// One HTTP exchange: the partitioned primary's `/metrics` waits up to 1 s
/// for the session count from Redis before it answers.
const HTTP: Duration = Duration::from_secs(3);
/// How long the partition is kept once the secondary leads.
const HOLD: Duration = Duration::from_secs(3);
/// How long the healed cluster is watched.
const AFTER: Duration = Duration::from_secs(3);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The firewall tool in P, checked before anything starts.
#[derive(Debug, Clone, Copy)]
enum Firewall {
    Nft,
    Iptables,
}

impl Firewall {
    /// Whichever is installed; `None` if neither is.
    fn installed() -> Option<Firewall> {
        let works = |p: &str| {
            std::process::Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if works("nft") {
            Some(Firewall::Nft)
        } else if works("iptables") {
            Some(Firewall::Iptables)
        } else {
            None
        }
    }

    /// Whether the kernel lets it filter inside `ns`.
    fn usable(self, ns: &Netns) -> Result<(), String> {
        match self {
            Firewall::Nft => ns.run("nft", &["list", "ruleset"]).map(drop),
            Firewall::Iptables => ns.run("iptables", &["-w", "-n", "-L"]).map(drop),
        }
    }

    /// Drops TCP between `ns` and `redis` (both ways), nothing else.
    fn cut(self, ns: &Netns, redis: SocketAddr, dir: &Path) {
        let (ip, port) = (redis.ip().to_string(), redis.port().to_string());
        match self {
            Firewall::Nft => {
                let rules = dir.join("partition.nft");
                std::fs::write(
                    &rules,
                    format!(
                        "table inet ocpart {{\n\
                         \x20 chain to_redis {{\n\
                         \x20   type filter hook output priority 0; policy accept;\n\
                         \x20   ip daddr {ip} tcp dport {port} drop\n\
                         \x20 }}\n\
                         \x20 chain from_redis {{\n\
                         \x20   type filter hook input priority 0; policy accept;\n\
                         \x20   ip saddr {ip} tcp sport {port} drop\n\
                         \x20 }}\n\
                         }}\n"
                    ),
                )
                .unwrap();
                ns.run("nft", &["-f", rules.to_str().unwrap()])
                    .unwrap_or_else(|e| panic!("partition: {e}"));
            }
            Firewall::Iptables => {
                for rule in Self::iptables_rules(&ip, &port) {
                    let mut args = vec!["-w", "-A"];
                    args.extend(rule.iter().map(String::as_str));
                    ns.run("iptables", &args)
                        .unwrap_or_else(|e| panic!("partition: {e}"));
                }
            }
        }
    }

    /// Removes what [`Firewall::cut`] added.
    fn heal(self, ns: &Netns, redis: SocketAddr) {
        match self {
            Firewall::Nft => ns
                .run("nft", &["delete", "table", "inet", "ocpart"])
                .map(drop),
            Firewall::Iptables => {
                Self::iptables_rules(&redis.ip().to_string(), &redis.port().to_string())
                    .iter()
                    .try_for_each(|rule| {
                        let mut args = vec!["-w", "-D"];
                        args.extend(rule.iter().map(String::as_str));
                        ns.run("iptables", &args).map(drop)
                    })
            }
        }
        .unwrap_or_else(|e| panic!("healing the partition: {e}"));
    }

    fn iptables_rules(ip: &str, port: &str) -> [Vec<String>; 2] {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        [
            v(&[
                "OUTPUT", "-p", "tcp", "-d", ip, "--dport", port, "-j", "DROP",
            ]),
            v(&[
                "INPUT", "-p", "tcp", "-s", ip, "--sport", port, "-j", "DROP",
            ]),
        ]
    }
}

/// An `openclaw` node running inside a namespace, killed when dropped.
struct Node {
    process: ChildProcess,
    addr: SocketAddr,
    _dir: TempDir,
}

impl Node {
    /// Starts `config` inside `ns`, listening on `ip`, and waits until its
    /// `/health` answers to `observer` (a GET from inside that namespace).
    async fn start(
        ns: &Netns,
        ip: Ipv4Addr,
        name: &'static str,
        config: NodeConfig,
        observer: &Netns,
    ) -> Node {
        let dir = tempfile::Builder::new()
            .prefix("openclaw-node-")
            .tempdir()
            .expect("temp dir");
        let port = free_port();
        let config = config.gateway_keys(&format!("bind: \"{ip}\""));
        std::fs::write(dir.path().join("openclaw.json"), config.json5(port)).unwrap();
        // As `gateway::command` does: no inherited OPENCLAW_* setting, a
        // private HOME and state dir.
        let mut cmd = ns.command(gateway::binary());
        for (k, _) in std::env::vars() {
            if k.starts_with("OPENCLAW_") || k == "REDIS_URL" {
                cmd.env_remove(k);
            }
        }
        cmd.env("HOME", dir.path())
            .env("OPENCLAW_STATE_DIR", dir.path())
            .args(["gateway", "run", "--node", name]);
        let mut process = ChildProcess::spawn(&format!("openclaw-{name}"), &mut cmd, dir.path());
        let addr = SocketAddr::from((ip, port));
        until_some(&format!("{name}'s /health"), SLACK, || {
            let exited = process.exited();
            async move {
                if let Some(status) = exited {
                    panic!("{name} exited at start: {status}");
                }
                let r = observer.get(addr, "/health", HTTP).await.ok()?;
                (r.status == 200).then_some(())
            }
        })
        .await;
        Node {
            process,
            addr,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        self.process.stderr()
    }
}

/// `openclaw_gateway_leader` of the node at `addr`, read from inside `ns`.
async fn leader_gauge(ns: &Netns, addr: SocketAddr) -> Option<f64> {
    let r = ns.get(addr, "/metrics", HTTP).await.ok()?;
    Metrics::parse(&r.text()).get("openclaw_gateway_leader", &[])
}

/// `/ready` of the node at `addr`, read from inside `ns`.
async fn ready(ns: &Netns, addr: SocketAddr) -> Option<(u16, Value)> {
    let r = ns.get(addr, "/ready", HTTP).await.ok()?;
    Some((r.status, r.json()))
}

/// The lease's value, read with `redis-cli GET` inside `ns`, or `None` when free.
fn holder(ns: &Netns, redis: SocketAddr) -> Option<Value> {
    let raw = ns
        .run(
            "redis-cli",
            &[
                "-h",
                &redis.ip().to_string(),
                "-p",
                &redis.port().to_string(),
                "GET",
                LOCK_KEY,
            ],
        )
        .unwrap_or_else(|e| panic!("redis-cli: {e}"));
    (!raw.is_empty())
        .then(|| serde_json::from_str(&raw).unwrap_or_else(|e| panic!("lease value {raw}: {e}")))
}

fn holder_name(ns: &Netns, redis: SocketAddr) -> Option<String> {
    holder(ns, redis).map(|h| h["node"].as_str().unwrap().to_string())
}

/// One request of a sampler: when it began and ended (wall clock, ms, as
/// in the nodes' logs), the status, and for `/metrics` the leader gauge.
#[derive(Debug, Clone, Copy)]
struct Read {
    from_ms: u64,
    to_ms: u64,
    status: Option<u16>,
    gauge: Option<f64>,
}

impl Read {
    /// Whether this read has the node claim to lead: the gauge at 1 on
    /// `/metrics`, 200 on `/ready` (active-standby: only the leader is ready).
    fn claims(&self, path: &str) -> bool {
        match path {
            "/metrics" => self.gauge == Some(1.0),
            "/ready" => self.status == Some(200),
            _ => unreachable!(),
        }
    }
}

/// GETs `path` on `addr` from inside `ns` every 50 ms until `stop`. Each
/// sampler runs alone, so a slow answer (the partitioned primary's
/// `/metrics` waits on Redis) slows no other.
async fn sample(
    ns: Arc<Netns>,
    addr: SocketAddr,
    path: &'static str,
    stop: Arc<AtomicBool>,
) -> Vec<Read> {
    let mut reads = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let from_ms = now_ms();
        let r = ns.get(addr, path, HTTP).await.ok();
        let gauge = r
            .as_ref()
            .filter(|_| path == "/metrics")
            .and_then(|r| Metrics::parse(&r.text()).get("openclaw_gateway_leader", &[]));
        reads.push(Read {
            from_ms,
            to_ms: now_ms(),
            status: r.map(|r| r.status),
            gauge,
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    reads
}

/// Leadership claims seen by the samplers of one kind (`/metrics` or
/// `/ready`) that prove two leaders at once. The secondary, once it claims,
/// keeps claiming (checked here too), so a primary read that claims and
/// *began* after a claiming secondary read *ended* saw the primary claim
/// while the secondary did, however long each request took. Reads whose
/// windows merely overlap prove nothing either way.
fn overlapping_claims(path: &str, primary: &[Read], secondary: &[Read]) -> Vec<Read> {
    let first = secondary
        .iter()
        .filter(|r| r.claims(path))
        .map(|r| r.to_ms)
        .min()
        .unwrap_or_else(|| panic!("no {path} read saw the secondary lead"));
    let relapses: Vec<&Read> = secondary
        .iter()
        .filter(|r| r.from_ms > first && r.status.is_some() && !r.claims(path))
        .collect();
    assert!(
        relapses.is_empty(),
        "the secondary stopped claiming on {path}: {relapses:?}"
    );
    primary
        .iter()
        .filter(|r| r.claims(path) && r.from_ms > first)
        .copied()
        .collect()
}

/// A node of the test's cluster: sessions and the lease on `url`, a 2 s
/// lease, and more `gateway.ha` keys.
fn ha_config(url: &str, name: &str, role: &str, priority: u32, more: &str) -> NodeConfig {
    NodeConfig::new(name)
        .redis(url)
        .gateway_keys(&format!(
            "ha: {{ enabled: true, role: \"{role}\", priority: {priority}, \
             lease: {{ ttl: \"2s\" }}, {more} }}"
        ))
        .gateway_keys(&format!(
            "lock: {{ type: \"redis\", redis: {{ url: \"{url}\", key: \"{LOCK_KEY}\" }} }}"
        ))
}

/// The secondary's watch on the primary's `/health` at `primary`.
fn primary_check(primary: SocketAddr) -> String {
    format!(
        "primaryCheck: {{ url: \"http://{primary}/health\", interval: \"200ms\" }}, \
         failover: {{ enabled: true, retries: 2, backoff: \"exponential\", timeout: \"5s\" }}"
    )
}

#[tokio::test]
async fn a_primary_cut_off_from_redis_but_still_answering_its_check_leaves_exactly_one_leader() {
    bounded(LIMIT, async {
        // Declared first, so they go last: after every process inside them.
        let r = match Netns::create("ocpart") {
            Ok(ns) => Arc::new(ns),
            Err(e) => {
                eprintln!("SKIPPED: this machine does not allow network namespaces ({e})");
                return;
            }
        };
        let p = Netns::create("ocpart").expect("a second namespace");
        let firewall = Firewall::installed().expect(
            "neither nft nor iptables is installed: install the nftables package (`make deps`)",
        );
        if let Err(e) = firewall.usable(&p) {
            eprintln!("SKIPPED: {firewall:?} cannot filter inside a namespace here ({e})");
            return;
        }
        let x = (std::process::id() % 250 + 1) as u8;
        let (r_ip, p_ip) = (Ipv4Addr::new(10, 213, x, 1), Ipv4Addr::new(10, 213, x, 2));
        Netns::veth(&r, &format!("{r_ip}/24"), &p, &format!("{p_ip}/24"))
            .unwrap_or_else(|e| panic!("veth: {e}"));
        eprintln!(
            "namespaces {} (redis, secondary: {r_ip}) and {} (primary: {p_ip}); {firewall:?}",
            r.name(),
            p.name()
        );

        // Redis in R, on its veth address.
        let redis_dir = tempfile::Builder::new()
            .prefix("openclaw-redis-")
            .tempdir()
            .unwrap();
        let redis = SocketAddr::from((r_ip, free_port()));
        let mut cmd = r.command("redis-server");
        cmd.args(["--bind", &r_ip.to_string()])
            .args(["--port", &redis.port().to_string()])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(redis_dir.path());
        let _redis = ChildProcess::spawn("redis-server", &mut cmd, redis_dir.path());
        until("redis-server to accept connections", SLACK, || async {
            r.connect(redis, HTTP).await.is_ok()
        })
        .await;
        let url = format!("redis://{redis}");

        // The primary in P leads; the secondary in R watches its /health
        // across the veth.
        let config = ha_config(&url, "primary", "primary", 100, "");
        let primary = Node::start(&p, p_ip, "primary", config, &r).await;
        let first = until_some("the primary to hold the lease", SLACK, || async {
            holder(&r, redis).filter(|h| h["node"] == "primary")
        })
        .await;
        assert_eq!(first["address"], primary.addr.to_string(), "{first}");
        let config = ha_config(
            &url,
            "secondary",
            "secondary",
            50,
            &primary_check(primary.addr),
        );
        let secondary = Node::start(&r, r_ip, "secondary", config, &r).await;
        until("the secondary to follow", SLACK, || async {
            leader_gauge(&r, secondary.addr).await == Some(0.0)
        })
        .await;
        until("the secondary's primary check to be up", SLACK, || async {
            let log = secondary.log();
            log.contains("primary check") && log.contains("state=Up")
        })
        .await;
        until("the primary to be ready", SLACK, || async {
            ready(&r, primary.addr).await.is_some_and(|(c, _)| c == 200)
        })
        .await;

        let stop = Arc::new(AtomicBool::new(false));
        let sampler = |addr, path| tokio::spawn(sample(r.clone(), addr, path, stop.clone()));
        let samplers = [
            sampler(primary.addr, "/health"),
            sampler(primary.addr, "/metrics"),
            sampler(secondary.addr, "/metrics"),
            sampler(primary.addr, "/ready"),
            sampler(secondary.addr, "/ready"),
        ];

        // Cut the primary off from Redis, and only from Redis.
        let cut_ms = now_ms();
        firewall.cut(&p, redis, redis_dir.path());
        assert!(
            p.connect(redis, Duration::from_millis(500)).await.is_err(),
            "the primary's namespace still reaches Redis"
        );
        let health = r.get(primary.addr, "/health", HTTP).await;
        assert_eq!(health.expect("the primary's /health").status, 200);

        // The primary steps down, the secondary takes the lease.
        until("the primary to log its step-down", SLACK, || async {
            primary.log().contains("stopped leading")
        })
        .await;
        until("the primary's gauge to say it follows", SLACK, || async {
            leader_gauge(&r, primary.addr).await == Some(0.0)
        })
        .await;
        let next = until_some("the secondary to hold the lease", SLACK, || async {
            holder(&r, redis).filter(|h| h["node"] == "secondary")
        })
        .await;
        assert!(
            next["epoch"].as_u64() > first["epoch"].as_u64(),
            "epochs only grow: {first} then {next}"
        );
        until("the secondary to lead and be ready", SLACK, || async {
            leader_gauge(&r, secondary.addr).await == Some(1.0)
                && ready(&r, secondary.addr)
                    .await
                    .is_some_and(|(c, _)| c == 200)
        })
        .await;
        let log = primary.log();
        let line = log
            .lines()
            .rfind(|l| l.contains("stopped leading"))
            .unwrap();
        assert!(line.contains("no renewal succeeded"), "{line}");
        // It acted on no renewal sent after the cut: its term ended within
        // ttl - margin of the last renewal, sent before the cut.
        let until_ms = field(line, "until_ms").unwrap();
        assert!(
            until_ms < cut_ms + 2000,
            "acted until {until_ms}, the lease ran out by {}",
            cut_ms + 2000
        );

        // The partition holds a while longer: nothing changes, and the
        // primary stays reachable across the veth.
        let hold = Instant::now();
        while hold.elapsed() < HOLD {
            assert_eq!(holder_name(&r, redis).as_deref(), Some("secondary"));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            p.connect(redis, Duration::from_millis(500)).await.is_err(),
            "the partition leaked"
        );
        let (code, body) = ready(&r, primary.addr).await.expect("primary /ready");
        assert_eq!(code, 503, "the partitioned primary is not ready: {body}");

        // Heal. The primary reads the lease again and follows the secondary.
        firewall.heal(&p, redis);
        let healed_ms = now_ms();
        until(
            "the healed primary to see the secondary lead",
            SLACK,
            || async {
                ready(&r, primary.addr).await.is_some_and(|(_, b)| {
                    let reason = b["reason"].as_str().unwrap_or("");
                    reason.contains("the leader is secondary")
                })
            },
        )
        .await;
        let reconnected_ms = now_ms();
        let after = Instant::now();
        while after.elapsed() < AFTER {
            assert_eq!(
                holder_name(&r, redis).as_deref(),
                Some("secondary"),
                "no automatic preemption"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stop.store(true, Ordering::Relaxed);
        let mut reads = Vec::new();
        for s in samplers {
            reads.push(s.await.unwrap());
        }
        let [p_health, p_metrics, s_metrics, p_ready, s_ready] = &reads[..] else {
            unreachable!()
        };

        // Exactly one leader at the end.
        assert_eq!(holder_name(&r, redis).as_deref(), Some("secondary"));
        assert_eq!(leader_gauge(&r, primary.addr).await, Some(0.0));
        assert_eq!(leader_gauge(&r, secondary.addr).await, Some(1.0));
        assert_eq!(ready(&r, primary.addr).await.map(|(c, _)| c), Some(503));
        assert_eq!(ready(&r, secondary.addr).await.map(|(c, _)| c), Some(200));

        // The primary answered its check throughout: the secondary never
        // saw it down and never asked it to step down; the lease alone moved.
        let s_log = secondary.log();
        assert!(!s_log.contains("state=Down"), "{s_log}");
        assert!(!s_log.contains("asking it to step down"), "{s_log}");
        assert!(!primary.log().contains("asked to step down"));
        assert!(p_health.len() > 50, "too few samples: {}", p_health.len());
        let unanswered: Vec<&Read> = p_health.iter().filter(|r| r.status != Some(200)).collect();
        assert!(
            unanswered.is_empty(),
            "/health went unanswered: {unanswered:?}"
        );

        // The timeline, in ms after the cut.
        let mut h = History::default();
        parse_log("primary", &primary.log(), None, &mut h);
        parse_log("secondary", &secondary.log(), None, &mut h);
        let mut all = h.terms;
        all.sort_by_key(|t| t.start_ms);
        assert_eq!(
            all.iter().map(|t| t.node.as_str()).collect::<Vec<_>>(),
            ["primary", "secondary"],
            "one term each: {all:?}"
        );
        let (old, new) = (all[0].clone(), all[1].clone());
        let at = |ms: u64| ms as i64 - cut_ms as i64;
        let last_ready = p_ready
            .iter()
            .filter(|r| r.claims("/ready"))
            .map(|r| r.to_ms)
            .max()
            .unwrap();
        eprintln!(
            "timeline (ms after the cut): the primary acted as leader until {}, was ready until \
             {}..{}, its gauge said leader until {}; the secondary was granted the lease at {}; \
             healed at {}, the primary read the lease again by {}",
            at(old.end_ms.unwrap()),
            at(last_ready),
            at(p_ready
                .iter()
                .find(|r| r.from_ms > last_ready)
                .unwrap()
                .to_ms),
            at(p_metrics
                .iter()
                .filter(|r| r.claims("/metrics"))
                .map(|r| r.to_ms)
                .max()
                .unwrap()),
            at(new.start_ms),
            at(healed_ms),
            at(reconnected_ms)
        );
        eprintln!(
            "samples: {} of the primary's /health, {}+{} of /metrics, {}+{} of /ready",
            p_health.len(),
            p_metrics.len(),
            s_metrics.len(),
            p_ready.len(),
            s_ready.len()
        );

        // The terms the nodes acted on do not overlap.
        assert!(old.epoch < new.epoch, "{all:?}");
        assert!(new.end_ms.is_none(), "the secondary still leads: {all:?}");
        assert!(
            old.end_ms.unwrap() <= new.start_ms,
            "the primary acted as leader into the secondary's term: {all:?}"
        );
        // Nor do the leaderships the nodes claimed (the gauge and /ready are
        // read against the term's deadline, not when the elector notices).
        let mut overlaps = Vec::new();
        for (path, p, s) in [
            ("/metrics", p_metrics, s_metrics),
            ("/ready", p_ready, s_ready),
        ] {
            let late = overlapping_claims(path, p, s);
            if let (Some(first), Some(last)) = (late.first(), late.last()) {
                overlaps.push(format!(
                    "{path}: {} reads of the primary claimed to lead after the secondary did, \
                     from {} to {} ms after the cut",
                    late.len(),
                    at(first.from_ms),
                    at(last.to_ms)
                ));
            }
        }
        assert!(
            overlaps.is_empty(),
            "two nodes claimed to lead at once:\n{}",
            overlaps.join("\n")
        );
    })
    .await;
}

//! `failover_bench`: client-visible failover of an active-standby gateway
//! cluster behind each front (`benches/ha.sh` runs it and records the table
//! in benches/RESULTS.md).
//!
//! One private redis-server; three `openclaw` nodes on fixed loopback ports
//! (roles primary 100, secondary 50, secondary 50; active-standby; sessions
//! and the lease in that Redis; lease ttl `--ttl`); the fronts of
//! [`openclaw_e2e::fronts`] all started in front of them at once. A round,
//! for one front and one fault:
//!
//! 1. The cluster is settled: three nodes up, one holds the lease and answers
//!    `/ready` 200, the others 503. Through the front, 5 attempts in a row
//!    succeed (served by the leader, for fronts that check `/ready`).
//! 2. `--clients` clients loop through the front: one attempt (TCP, WebSocket
//!    upgrade, `connect` -> `hello-ok`, one `chat.send` and its final `chat`
//!    event, close; failed when a step fails or the whole takes over
//!    `--timeout-ms`), then `--pause-ms`, again. After `--warmup-ms` the
//!    leader gets the fault: `graceful` (SIGTERM), `kill` (SIGKILL) or `stop`
//!    (SIGSTOP).
//! 3. Recovery: the end of the first successful attempt that *started* after
//!    the fault. The clients go on for `--tail-ms` more, then stop.
//! 4. The cluster is restored: a stopped or killed node is started again on
//!    its port and state dir; a SIGSTOPped one gets SIGCONT (it may still
//!    hold the lease if the round ended before it expired). Then the cluster
//!    settles again.
//!
//! Per round: `recovery_ms` (fault to recovery), `failed` (failed attempts
//! that ended between the fault and the recovery, including those under way
//! at the fault), `failed_total` (failed attempts that ended after the fault,
//! the tail included), `last_failure_ms` (fault to the end of the last failed
//! attempt; 0 if none) and `off_leader` (successes served by a node that
//! held the lease neither when the attempt started nor when it ended: the
//! old leader until the new lease was read, then the new one).
//! Also `lease_ms` (fault to the first read, every 10 ms, of another node
//! holding the lease: the cluster's part, the same for every front) and
//! `after_lease_ms` (recovery minus `lease_ms`: the front's part; negative
//! when a node served before the new lease was seen).
//!
//! ```text
//! failover_bench [--rounds 5] [--clients 4] [--pause-ms 20] [--timeout-ms 2000]
//!     [--warmup-ms 1000] [--tail-ms 1000] [--ttl 5s] [--check-interval 200ms]
//!     [--fronts edge-leader,edge-health,haproxy,nginx-passive] [--faults graceful,kill,stop]
//! ```
//! Prints one JSON line per front and fault (or per front that could not
//! start, with `skipped`); progress on stderr.

use openclaw_e2e::chat_attempt::{attempt, AttemptSpec, Failure, Served};
use openclaw_e2e::fronts::{self, Front, Kind};
use openclaw_e2e::gateway::{Gateway, NodeConfig, TOKEN};
use openclaw_e2e::ha::{holder_name, HaNode, LOCK_KEY};
use openclaw_e2e::ports::free_port;
use openclaw_e2e::redis::Redis;
use openclaw_e2e::wait::until_some;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Far above what a step of the set-up should take; only a hang fails on it.
const SLACK: Duration = Duration::from_secs(30);

const USAGE: &str = "\
usage: failover_bench [--rounds 5] [--clients 4] [--pause-ms 20] [--timeout-ms 2000]
    [--warmup-ms 1000] [--tail-ms 1000] [--ttl 5s] [--check-interval 200ms]
    [--fronts edge-leader,edge-health,haproxy,nginx-passive] [--faults graceful,kill,stop]";

/// Command-line options.
struct Options {
    rounds: usize,
    clients: usize,
    pause: Duration,
    timeout: Duration,
    warmup: Duration,
    tail: Duration,
    ttl: &'static str,
    check_interval: String,
    fronts: Vec<Kind>,
    faults: Vec<Fault>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options {
            rounds: 5,
            clients: 4,
            pause: Duration::from_millis(20),
            timeout: Duration::from_millis(2000),
            warmup: Duration::from_millis(1000),
            tail: Duration::from_millis(1000),
            ttl: "5s",
            check_interval: "200ms".into(),
            fronts: Kind::ALL.to_vec(),
            faults: Fault::ALL.to_vec(),
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|e| format!("{flag} {value}: {e}"))
            };
            match flag.as_str() {
                "--rounds" => o.rounds = number()?.max(1) as usize,
                "--clients" => o.clients = number()?.max(1) as usize,
                "--pause-ms" => o.pause = Duration::from_millis(number()?),
                "--timeout-ms" => o.timeout = Duration::from_millis(number()?),
                "--warmup-ms" => o.warmup = Duration::from_millis(number()?),
                "--tail-ms" => o.tail = Duration::from_millis(number()?),
                "--ttl" => {
                    duration(value)?;
                    o.ttl = Box::leak(value.clone().into_boxed_str());
                }
                "--check-interval" => {
                    duration(value)?;
                    o.check_interval = value.clone();
                }
                "--fronts" => {
                    o.fronts = value
                        .split(',')
                        .map(|f| Kind::parse(f).ok_or_else(|| format!("unknown front {f}")))
                        .collect::<Result<_, _>>()?
                }
                "--faults" => {
                    o.faults = value
                        .split(',')
                        .map(|f| Fault::parse(f).ok_or_else(|| format!("unknown fault {f}")))
                        .collect::<Result<_, _>>()?
                }
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        Ok(o)
    }
}

/// `500ms`, `5s`.
fn duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text}: a duration like 500ms or 5s");
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.parse().map(Duration::from_millis).map_err(|_| bad());
    }
    let s = text.strip_suffix('s').ok_or_else(bad)?;
    s.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(bad)
}

/// What happens to the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// SIGTERM: drains, releases the lease at once, stops.
    Graceful,
    /// SIGKILL: the lease must expire.
    Kill,
    /// SIGSTOP: the process hangs, its sockets stay open; the lease expires.
    Stop,
}

impl Fault {
    const ALL: [Fault; 3] = [Fault::Graceful, Fault::Kill, Fault::Stop];

    fn name(self) -> &'static str {
        match self {
            Fault::Graceful => "graceful",
            Fault::Kill => "kill",
            Fault::Stop => "stop",
        }
    }

    fn parse(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == name)
    }

    fn signal(self) -> i32 {
        match self {
            Fault::Graceful => libc::SIGTERM,
            Fault::Kill => libc::SIGKILL,
            Fault::Stop => libc::SIGSTOP,
        }
    }
}

/// One node of the cluster: its config, port and state dir outlive its process.
struct Node {
    name: String,
    config: NodeConfig,
    port: u16,
    running: Option<Gateway>,
    dir: Option<TempDir>,
}

impl Node {
    /// Starts it (again) on its port and state dir.
    async fn start(&mut self) {
        let dir = match (self.running.take(), self.dir.take()) {
            (Some(g), _) => g.into_state_dir(),
            (None, Some(dir)) => dir,
            (None, None) => tempfile::Builder::new()
                .prefix("openclaw-node-")
                .tempdir()
                .expect("temp dir"),
        };
        self.running = Some(Gateway::start_at(self.config.clone(), dir, self.port).await);
    }

    fn gateway(&self) -> &Gateway {
        self.running.as_ref().expect("the node runs")
    }
}

/// Three nodes on one Redis.
struct Cluster {
    redis: Redis,
    nodes: Vec<Node>,
}

impl Cluster {
    async fn start(ttl: &'static str) -> Cluster {
        let redis = Redis::start().await;
        let roles = [
            ("n1", "primary", 100),
            ("n2", "secondary", 50),
            ("n3", "secondary", 50),
        ];
        let mut nodes: Vec<Node> = roles
            .iter()
            .map(|(name, role, priority)| {
                let mut ha = HaNode::new(name, Some(role), *priority);
                ha.ttl = Some(ttl);
                Node {
                    name: name.to_string(),
                    config: ha.config(&redis).behind_edge(),
                    port: free_port(),
                    running: None,
                    dir: None,
                }
            })
            .collect();
        for node in &mut nodes {
            node.start().await;
        }
        let cluster = Cluster { redis, nodes };
        cluster.settle().await;
        cluster
    }

    /// The index of the node named `name`.
    fn index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Waits until one node holds the lease and is the only ready one; its index.
    async fn settle(&self) -> usize {
        until_some("the cluster to settle", SLACK, || async {
            let leader = self.index(&holder_name(&self.redis)?)?;
            for (i, node) in self.nodes.iter().enumerate() {
                let want = if i == leader { 200 } else { 503 };
                if node.gateway().ready().await.0 != want {
                    return None;
                }
            }
            Some(leader)
        })
        .await
    }

    /// Puts the faulted node `i` back as a standby.
    async fn restore(&mut self, i: usize, fault: Fault) {
        let node = &mut self.nodes[i];
        match fault {
            Fault::Graceful => {
                let exited = node.running.as_mut().expect("runs").wait_exit(SLACK).await;
                if exited.is_none() {
                    eprintln!(
                        "failover_bench: {} did not stop within {SLACK:?}; killed",
                        node.name
                    );
                }
                node.start().await;
            }
            Fault::Kill => node.start().await,
            Fault::Stop => {
                // It may still hold the lease (a front that recovered
                // through a standby ends the round before the lease
                // expires): settling decides who leads, not this node.
                node.gateway().signal(libc::SIGCONT);
                let deadline = Instant::now() + Duration::from_secs(15);
                let addr = node.gateway().addr();
                while !openclaw_e2e::wait::accepts(addr).await
                    || tokio::time::timeout(Duration::from_secs(1), node.gateway().ready())
                        .await
                        .is_err()
                {
                    if Instant::now() >= deadline {
                        eprintln!(
                            "failover_bench: {} did not answer within 15 s of SIGCONT; restarted",
                            node.name
                        );
                        node.start().await;
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        self.settle().await;
    }
}

/// Reads the lease over one Redis connection: a `redis-cli` per read, every
/// 10 ms, would take CPU from the nodes under test.
struct LeaseProbe {
    conn: BufReader<TcpStream>,
}

impl LeaseProbe {
    async fn connect(redis: &Redis) -> LeaseProbe {
        let conn = TcpStream::connect(redis.addr())
            .await
            .expect("redis connects");
        LeaseProbe {
            conn: BufReader::new(conn),
        }
    }

    /// The holder's node name, `None` while the lease is free.
    async fn holder(&mut self) -> Option<String> {
        let get = format!("*2\r\n$3\r\nGET\r\n${}\r\n{LOCK_KEY}\r\n", LOCK_KEY.len());
        self.conn
            .get_mut()
            .write_all(get.as_bytes())
            .await
            .expect("redis write");
        let mut head = String::new();
        self.conn.read_line(&mut head).await.expect("redis reply");
        let len: i64 = head
            .strip_prefix('$')
            .and_then(|n| n.trim_end().parse().ok())
            .unwrap_or_else(|| panic!("GET {LOCK_KEY}: unexpected reply {head:?}"));
        if len < 0 {
            return None;
        }
        let mut value = vec![0; len as usize + 2];
        self.conn.read_exact(&mut value).await.expect("redis reply");
        let record: Value = serde_json::from_slice(&value[..len as usize]).expect("lease JSON");
        record["node"].as_str().map(str::to_string)
    }
}

/// One attempt, timed.
struct Attempt {
    start: Instant,
    end: Instant,
    outcome: Result<Served, Failure>,
}

/// Runs `clients` looping clients against `front` until `stop`; their attempts go to `log`.
fn spawn_clients(
    o: &Options,
    front: &Front,
    tag: &str,
    log: &Arc<Mutex<Vec<Attempt>>>,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..o.clients)
        .map(|c| {
            let (log, stop) = (log.clone(), stop.clone());
            let (addr, limit, pause) = (front.addr, o.timeout, o.pause);
            let tag = tag.to_string();
            tokio::spawn(async move {
                let session = format!("agent:main:failover-{c}");
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("{tag}-c{c}-{n}");
                    let spec = AttemptSpec {
                        addr,
                        token: TOKEN,
                        session_key: &session,
                        id: &id,
                        limit,
                    };
                    let start = Instant::now();
                    let outcome = attempt(&spec).await;
                    let end = Instant::now();
                    log.lock().unwrap().push(Attempt {
                        start,
                        end,
                        outcome,
                    });
                    n += 1;
                    tokio::time::sleep(pause).await;
                }
            })
        })
        .collect()
}

/// Numbers the settling attempts of the whole run.
static SETTLE_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Waits until 5 attempts in a row through `front` succeed (served by
/// `leader` if the front checks `/ready`).
async fn wait_routed(o: &Options, front: &Front, leader: &str) {
    let mut in_a_row = 0;
    let mut last = String::new();
    let deadline = Instant::now() + SLACK;
    while in_a_row < 5 {
        // Idempotency keys are claimed for good: never reuse one.
        let id = format!(
            "settle-{}-{}",
            front.kind.name(),
            SETTLE_IDS.fetch_add(1, Ordering::Relaxed)
        );
        let spec = AttemptSpec {
            addr: front.addr,
            token: TOKEN,
            session_key: "agent:main:failover-settle",
            id: &id,
            limit: o.timeout,
        };
        match attempt(&spec).await {
            Ok(s) if !front.kind.checks_ready() || s.node == leader => in_a_row += 1,
            Ok(s) => {
                in_a_row = 0;
                last = format!("served by {} while {leader} leads", s.node);
            }
            Err(f) => {
                in_a_row = 0;
                last = format!("{}: {}", f.kind(), f.detail);
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} did not route to the leader {leader} within {SLACK:?}: {last}",
            front.kind.name()
        );
        tokio::time::sleep(o.pause).await;
    }
}

/// What one round measured.
#[derive(Debug, Default)]
struct RoundResult {
    /// `None`: no success started after the fault within the limit.
    recovery: Option<Duration>,
    /// When another node was first seen holding the lease; `None`: not
    /// within the round.
    lease: Option<Duration>,
    failed: usize,
    failed_total: usize,
    failed_before_fault: usize,
    last_failure: Duration,
    off_leader: usize,
    attempts: usize,
    kinds: BTreeMap<String, usize>,
    first_failure: Option<String>,
}

async fn round(
    o: &Options,
    cluster: &mut Cluster,
    front: &Front,
    fault: Fault,
    tag: &str,
) -> RoundResult {
    let leader = cluster.settle().await;
    let old = cluster.nodes[leader].name.clone();
    wait_routed(o, front, &old).await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients = spawn_clients(o, front, tag, &log, &stop);
    tokio::time::sleep(o.warmup).await;

    let mut probe = LeaseProbe::connect(&cluster.redis).await;
    let t0 = Instant::now();
    cluster.nodes[leader].gateway().signal(fault.signal());
    let limit = duration(o.ttl).expect("checked") + SLACK;
    let mut recovered = None;
    let mut lease = None;
    while (recovered.is_none() || lease.is_none()) && t0.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if lease.is_none() && probe.holder().await.is_some_and(|h| h != old) {
            lease = Some(t0.elapsed());
        }
        if recovered.is_some() {
            continue;
        }
        recovered = log
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.start >= t0 && a.outcome.is_ok())
            .map(|a| a.end)
            .min();
    }
    if let Some(at) = recovered {
        tokio::time::sleep_until((at + o.tail).into()).await;
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }
    let new = probe.holder().await.unwrap_or_default();

    // The holder at a time: the old one until the new lease was read.
    let holder_at = |t: Instant| {
        if lease.is_some_and(|l| t >= t0 + l) {
            &new
        } else {
            &old
        }
    };
    let log = std::mem::take(&mut *log.lock().unwrap());
    let mut r = RoundResult {
        recovery: recovered.map(|at| at - t0),
        lease,
        attempts: log.len(),
        ..RoundResult::default()
    };
    for a in &log {
        match &a.outcome {
            Ok(served) => {
                if served.node != *holder_at(a.start) && served.node != *holder_at(a.end) {
                    r.off_leader += 1;
                }
            }
            Err(f) if a.end < t0 => {
                r.failed_before_fault += 1;
                r.first_failure
                    .get_or_insert_with(|| format!("{}: {}", f.kind(), f.detail));
            }
            Err(f) => {
                r.failed_total += 1;
                if recovered.is_none_or(|at| a.end <= at) {
                    r.failed += 1;
                }
                r.last_failure = r.last_failure.max(a.end - t0);
                *r.kinds.entry(f.kind()).or_default() += 1;
                r.first_failure
                    .get_or_insert_with(|| format!("{}: {}", f.kind(), f.detail));
            }
        }
    }
    if r.recovery
        .is_none_or(|rec| r.lease.is_some_and(|l| rec > l + SLOW_AFTER_LEASE))
    {
        keep_logs(cluster, front, tag);
    }
    cluster.restore(leader, fault).await;
    r
}

/// A front that takes longer than this after the new lease has its round's
/// logs kept.
const SLOW_AFTER_LEASE: Duration = Duration::from_secs(1);

/// Writes the front's and the nodes' logs of a slow round under
/// `target/tmp/failover_bench/TAG/`, and says where.
fn keep_logs(cluster: &Cluster, front: &Front, tag: &str) {
    let dir = std::path::Path::new("target/tmp/failover_bench").join(tag);
    let written = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::write(dir.join("front.log"), front.log())?;
        for node in &cluster.nodes {
            let log = node.running.as_ref().map(Gateway::log).unwrap_or_default();
            std::fs::write(dir.join(format!("{}.log", node.name)), log)?;
        }
        Ok(())
    });
    match written {
        Ok(()) => eprintln!(
            "failover_bench: {tag} was slow after the new lease; logs in {}",
            dir.display()
        ),
        Err(e) => eprintln!(
            "failover_bench: {tag}: logs not kept in {}: {e}",
            dir.display()
        ),
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// `{p50, max, all}` of `values` (the lower median, as `ha_bench`).
fn stats(mut values: Vec<f64>) -> Value {
    values.sort_by(f64::total_cmp);
    json!({
        "p50": values[(values.len() - 1) / 2],
        "max": values.last(),
        "all": values,
    })
}

fn report(front: Kind, fault: Fault, rounds: &[RoundResult]) {
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for r in rounds {
        for (k, n) in &r.kinds {
            *kinds.entry(k.clone()).or_default() += n;
        }
    }
    let unrecovered = rounds.iter().filter(|r| r.recovery.is_none()).count();
    let recovered: Vec<f64> = rounds.iter().filter_map(|r| r.recovery.map(ms)).collect();
    // The recovery or the last failure, whichever came later: service back for good.
    let recovered_rounds: Vec<f64> = rounds
        .iter()
        .filter_map(|r| r.recovery.map(|d| ms(d.max(r.last_failure))))
        .collect();
    let of = |f: fn(&RoundResult) -> f64| stats(rounds.iter().map(f).collect());
    let leases: Vec<f64> = rounds.iter().filter_map(|r| r.lease.map(ms)).collect();
    let after_lease: Vec<f64> = rounds
        .iter()
        .filter_map(|r| Some(ms(r.recovery?) - ms(r.lease?)))
        .map(|d| (d * 10.0).round() / 10.0)
        .collect();
    let maybe = |v: Vec<f64>| if v.is_empty() { Value::Null } else { stats(v) };
    println!(
        "{}",
        json!({
            "front": front.name(), "fault": fault.name(), "rounds": rounds.len(),
            "unrecovered": unrecovered,
            "recovery_ms": maybe(recovered),
            "lease_ms": maybe(leases),
            "after_lease_ms": maybe(after_lease),
            "failed": of(|r| r.failed as f64),
            "failed_total": of(|r| r.failed_total as f64),
            "last_failure_ms": of(|r| ms(r.last_failure)),
            "outage_ms": maybe(recovered_rounds),
            "off_leader": of(|r| r.off_leader as f64),
            "failed_before_fault": rounds.iter().map(|r| r.failed_before_fault).sum::<usize>(),
            "attempts": rounds.iter().map(|r| r.attempts).sum::<usize>(),
            "failure_kinds": kinds,
        })
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return;
    }
    let o = Options::parse(&args).unwrap_or_else(|e| {
        eprintln!("failover_bench: {e}\n{USAGE}");
        std::process::exit(2);
    });
    eprintln!(
        "failover_bench: 3 nodes (lease ttl {}), fronts {}, faults {}, {} rounds each, {} clients",
        o.ttl,
        o.fronts
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(","),
        o.faults
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(","),
        o.rounds,
        o.clients
    );
    // Everything is bounded: a round takes a few ttl at most.
    let rounds = (o.rounds * o.fronts.len() * o.faults.len()) as u32;
    let limit = (duration(o.ttl).expect("checked") + 2 * SLACK) * rounds.max(1) + 2 * SLACK;
    openclaw_e2e::bounded(limit, run(&o)).await;
}

async fn run(o: &Options) {
    let mut cluster = Cluster::start(o.ttl).await;
    let settings = fronts::Settings {
        servers: cluster.nodes.iter().map(|n| n.gateway().addr()).collect(),
        check_interval: o.check_interval.clone(),
        check_timeout: "500ms".into(),
        upstream_timeout: "1s".into(),
        redis_url: cluster.redis.url(),
        lease_key: LOCK_KEY.into(),
    };
    let mut running = Vec::new();
    for kind in &o.fronts {
        match fronts::start(*kind, &settings).await {
            Ok(front) => running.push(front),
            Err(reason) => {
                eprintln!("failover_bench: {} not measured: {reason}", kind.name());
                println!("{}", json!({"front": kind.name(), "skipped": reason}));
            }
        }
    }
    for fault in &o.faults {
        let mut results: Vec<Vec<RoundResult>> = running.iter().map(|_| Vec::new()).collect();
        for i in 0..o.rounds {
            // Rotate the fronts' order, so none always follows the same one.
            for k in 0..running.len() {
                let f = (i + k) % running.len();
                let front = &running[f];
                let tag = format!("{}-{}-{i}", front.kind.name(), fault.name());
                let r = round(o, &mut cluster, front, *fault, &tag).await;
                eprintln!(
                    "failover_bench: {} {} round {}/{}: recovered after {} (new lease seen after {}), {} failed ({} in the round, last {} ms after the fault), {} off-leader, {} attempts{}",
                    front.kind.name(),
                    fault.name(),
                    i + 1,
                    o.rounds,
                    r.recovery.map(|d| format!("{} ms", ms(d))).unwrap_or_else(|| "never".into()),
                    r.lease.map(|d| format!("{} ms", ms(d))).unwrap_or_else(|| "never".into()),
                    r.failed,
                    r.failed_total,
                    ms(r.last_failure),
                    r.off_leader,
                    r.attempts,
                    r.first_failure.as_deref().map(|f| format!("; first failure {f}")).unwrap_or_default(),
                );
                results[f].push(r);
            }
        }
        for (front, rounds) in running.iter().zip(&results) {
            report(front.kind, *fault, rounds);
        }
    }
}

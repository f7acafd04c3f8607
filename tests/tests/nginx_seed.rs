//! The nginx snippets of the deployment guide
//! (`shared/reference/seed-multi-gateway-deployment.zh.txt`) run as they are
//! on the edge. The snippets are read from the guide at test time: four
//! `upstream openclaw_gateway { ... }` variants (least_conn 3:2:1, max_fails
//! with a `check` health check, ip_hash, sticky cookie) and one `server {}`
//! block. Only addresses change (the gateways become test backends, `listen
//! 80` a loopback port); each upstream is combined with the server block
//! into an http-context file that `-t` accepts and the edge then serves with
//! the snippet's semantics. The sample files `conf/nginx/*.conf` pass `-t`.

use openclaw_e2e::client::client_ips;
use openclaw_e2e::lifecycle::EdgeFiles;
use openclaw_e2e::nginx_conf::{check_ok, dir_of, ConfEdge};
use openclaw_e2e::wait::until;
use openclaw_e2e::{bounded, Backend, Request, Response};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The guide, relative to the workspace.
const GUIDE: &str = "../shared/reference/seed-multi-gateway-deployment.zh.txt";
/// The upstream every snippet defines.
const UPSTREAM: &str = "openclaw_gateway";
/// The host the guide's server block answers for.
const HOST: &str = "gateway.example.com";

/// The workspace root.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the test crate lives inside the workspace")
        .to_path_buf()
}

/// Every block of `text` that starts with a line equal to `opening` (`upstream
/// openclaw_gateway {`), up to the line closing its brace, as written.
fn blocks(text: &str, opening: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<(String, i32)> = None;
    for line in text.lines() {
        if current.is_none() && line.trim_end() == opening {
            current = Some((String::new(), 0));
        }
        if let Some((block, depth)) = &mut current {
            block.push_str(line);
            block.push('\n');
            *depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
            if *depth == 0 {
                out.push(std::mem::take(block));
                current = None;
            }
        }
    }
    assert!(
        current.is_none(),
        "a `{opening}` block of the guide is not closed"
    );
    out
}

/// The guide's snippets: its upstream variants and its one server block.
struct Snippets {
    upstreams: Vec<String>,
    server: String,
}

fn snippets() -> Snippets {
    let path = workspace().join(GUIDE);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the guide {}: {e}", path.display()));
    let upstreams = blocks(&text, &format!("upstream {UPSTREAM} {{"));
    let servers = blocks(&text, "server {");
    assert_eq!(
        upstreams.len(),
        4,
        "the guide has four upstream variants; found:\n{upstreams:#?}"
    );
    assert_eq!(
        servers.len(),
        1,
        "the guide has one server block; found:\n{servers:#?}"
    );
    Snippets {
        upstreams,
        server: servers.into_iter().next().expect("one server block"),
    }
}

/// `text` with each of `from` (which must occur) replaced by its `to`.
fn substitute(text: &str, pairs: &[(&str, String)]) -> String {
    let mut out = text.to_string();
    for (from, to) in pairs {
        assert!(
            out.contains(from),
            "`{from}` is not in the snippet:\n{text}"
        );
        out = out.replace(from, to);
    }
    out
}

/// The upstream variant with `marker` plus the guide's server block, with
/// the gateways replaced by `backends` (gatewayN -> backends[N-1]) and
/// `listen 80` by `listen`.
fn seed_conf(marker: &str, backends: &[Backend], listen: SocketAddr) -> String {
    let Snippets { upstreams, server } = snippets();
    let found: Vec<&String> = upstreams.iter().filter(|u| u.contains(marker)).collect();
    assert_eq!(found.len(), 1, "one upstream variant contains `{marker}`");
    let upstream = found[0];
    let gateways: Vec<(&str, String)> = [
        ("gateway1.local:18789", 0),
        ("gateway2.local:18789", 1),
        ("gateway3.local:18789", 2),
        ("gateway1:18789", 0),
        ("gateway2:18789", 1),
    ]
    .into_iter()
    .filter(|(from, _)| upstream.contains(from))
    .map(|(from, i)| (from, backends[i].addr().to_string()))
    .collect();
    assert_eq!(
        gateways.len(),
        backends.len(),
        "one backend per gateway of the snippet:\n{upstream}"
    );
    let upstream = substitute(upstream, &gateways);
    let server = substitute(&server, &[("listen 80;", format!("listen {listen};"))]);
    let conf = format!("{upstream}\n{server}");
    assert!(
        !conf.contains(":18789") && !conf.contains("listen 80;"),
        "an address of the guide is left:\n{conf}"
    );
    conf
}

/// The edge running a seed variant, and its backends.
struct Seed {
    // Declared first: the edge goes before the backends.
    edge: ConfEdge,
    backends: Vec<Backend>,
}

/// Writes the variant with `marker` over `n` new backends as
/// `seed-NAME.conf`, checks it with `-t` (printing any warnings) and runs
/// it (each test then checks that it serves, with the variant's semantics).
async fn start_seed(name: &str, marker: &str, n: usize) -> Seed {
    let backends = Backend::start_n(n).await;
    let files = EdgeFiles::new();
    let conf = seed_conf(marker, &backends, files.listen);
    let file = format!("seed-{name}.conf");
    let path = dir_of(&files).join(&file);
    std::fs::write(&path, &conf).expect("write the seed conf");
    println!("{}:\n{conf}", path.display());
    check_ok(&path).await;
    let edge = ConfEdge::start(files, &file, &conf).await;
    Seed { edge, backends }
}

impl Seed {
    /// GET `path` with the guide's Host.
    fn request(&self, path: &str) -> Request {
        Request::get(self.edge.addr(), path).header("Host", HOST)
    }

    /// Sends GET `path`; panics on a transport error.
    async fn get(&self, path: &str) -> Response {
        self.request(path)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path} through the edge: {e}"))
    }

    /// Sends GET `/` `n` times; all must be 200; the backends that answered.
    async fn backends_seen(&self, n: usize) -> Vec<String> {
        let mut seen = Vec::new();
        for i in 0..n {
            let resp = self.get("/").await;
            assert_eq!(resp.status, 200, "request {i}: {}", resp.text());
            seen.push(resp.backend());
        }
        seen
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_conn_variant_splits_held_requests_3_2_1() {
    bounded(Duration::from_secs(60), async {
        let seed = start_seed("least-conn", "least_conn", 3).await;
        let held: Vec<_> = (0..60)
            .map(|_| {
                let req = seed.request("/hold");
                tokio::spawn(async move { req.send().await })
            })
            .collect();
        until(
            "60 requests held at the backends",
            Duration::from_secs(20),
            || async { seed.backends.iter().map(Backend::inflight).sum::<usize>() == 60 },
        )
        .await;
        let at_backends: Vec<usize> = seed.backends.iter().map(Backend::inflight).collect();
        for (got, want) in at_backends.iter().zip([30, 20, 10]) {
            assert!(
                got.abs_diff(want) <= 1,
                "in flight per gateway {at_backends:?}, expected 30/20/10 (±1)"
            );
        }
        for b in &seed.backends {
            b.release_held();
        }
        for h in held {
            let resp = h.await.expect("task").expect("held request");
            assert_eq!(resp.status, 200, "{}", resp.text());
        }
    })
    .await;
}

/// The snippet's `check interval=5000 rise=2 fall=3 timeout=1000`.
const INTERVAL: Duration = Duration::from_millis(5000);
const RISE: u32 = 2;
const FALL: u32 = 3;
const CHECK_TIMEOUT: Duration = Duration::from_millis(1000);
/// Scheduling slack past a deadline the edge should meet.
const SLACK: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_variant_takes_a_failing_gateway_out_within_fall_checks() {
    bounded(Duration::from_secs(60), async {
        let seed = start_seed("check", "check ", 2).await;
        let files = seed.edge.files();
        let addrs: Vec<SocketAddr> = seed.backends.iter().map(Backend::addr).collect();
        // default_down: up after `rise` passed checks (the first within an interval).
        until(
            "both gateways up in /api/status",
            INTERVAL * (RISE + 1) + SLACK,
            || async {
                let states = files.states(UPSTREAM).await;
                addrs.iter().all(|a| {
                    states
                        .iter()
                        .any(|(s, st)| *s == a.to_string() && st == "up")
                })
            },
        )
        .await;
        let seen: BTreeSet<String> = seed.backends_seen(4).await.into_iter().collect();
        assert_eq!(seen.len(), 2, "both gateways serve once up: {seen:?}");
        assert!(
            seed.backends.iter().all(|b| b.checks() >= RISE as usize),
            "the backends' /health saw the checks"
        );

        let failing = &seed.backends[0];
        failing.set_health(503);
        let flipped = Instant::now();
        let limit = INTERVAL * FALL + CHECK_TIMEOUT + SLACK;
        until(
            "the gateway answering 503 on /health to be out (unhealthy) in /api/status",
            limit,
            || async {
                files.state_of(UPSTREAM, failing.addr()).await.as_deref() == Some("unhealthy")
            },
        )
        .await;
        let took = flipped.elapsed();
        println!("out after {took:?} (fall {FALL} x interval {INTERVAL:?})");
        assert!(
            took <= INTERVAL * FALL + SLACK,
            "out after {took:?}, expected within fall x interval = {:?}",
            INTERVAL * FALL
        );
        let seen: BTreeSet<String> = seed.backends_seen(6).await.into_iter().collect();
        assert_eq!(
            seen,
            BTreeSet::from([seed.backends[1].name().to_string()]),
            "only the healthy gateway serves"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_hash_variant_keeps_each_client_on_one_gateway() {
    bounded(Duration::from_secs(60), async {
        let seed = start_seed("ip-hash", "ip_hash", 2).await;
        let mut used = BTreeSet::new();
        for ip in client_ips(40) {
            let mut seen = BTreeSet::new();
            for _ in 0..3 {
                let resp = seed
                    .request("/")
                    .from_ip(ip)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("request from {ip}: {e}"));
                assert_eq!(resp.status, 200, "from {ip}: {}", resp.text());
                seen.insert(resp.backend());
            }
            assert_eq!(seen.len(), 1, "client {ip} reached {seen:?}");
            used.extend(seen);
        }
        assert_eq!(
            used.len(),
            2,
            "40 clients should use both gateways: {used:?}"
        );
    })
    .await;
}

/// The `openclaw_route` cookie set by `resp` (after checking Max-Age=3600).
fn route_cookie(resp: &Response) -> Option<String> {
    let prefix = "openclaw_route=";
    let set_cookie = resp
        .headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.trim())
        .find(|v| v.starts_with(prefix))?;
    assert!(
        set_cookie
            .split(';')
            .any(|attr| attr.trim().eq_ignore_ascii_case("max-age=3600")),
        "`Set-Cookie: {set_cookie}` lacks Max-Age=3600 (expires=1h)"
    );
    let value = set_cookie[prefix.len()..].split(';').next().unwrap_or("");
    Some(value.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sticky_variant_sets_the_cookie_and_keeps_the_gateway() {
    bounded(Duration::from_secs(60), async {
        let seed = start_seed("sticky", "sticky", 2).await;
        let mut first_choices = BTreeSet::new();
        for client in 0..4 {
            let first = seed.get("/").await;
            assert_eq!(first.status, 200, "{}", first.text());
            let gateway = first.backend();
            let Some(cookie) = route_cookie(&first) else {
                panic!(
                    "client {client}: the first answer sets no openclaw_route cookie; headers: {:?}",
                    first.headers
                )
            };
            for i in 0..5 {
                let resp = seed
                    .request("/")
                    .header("Cookie", &format!("openclaw_route={cookie}"))
                    .send()
                    .await
                    .expect("request with the cookie");
                assert_eq!(resp.status, 200, "{}", resp.text());
                assert_eq!(
                    resp.backend(),
                    gateway,
                    "client {client}, request {i} with openclaw_route={cookie}"
                );
            }
            first_choices.insert(gateway);
        }
        assert_eq!(
            first_choices.len(),
            2,
            "clients without a cookie are balanced over both gateways: {first_choices:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_nginx_configs_pass_the_check() {
    bounded(Duration::from_secs(60), async {
        let dir = workspace().join("conf/nginx");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "conf"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no {}/*.conf", dir.display());
        for file in files {
            check_ok(&file).await;
        }
    })
    .await;
}

//! Active health checks (nginx_upstream_check_module semantics): a server
//! failing its health URL is out after `fall` checks and back after `rise`,
//! with the time measured; with `default_down` a server gets no traffic
//! before its first `rise` passes, at start and when a reload adds it; a
//! server that accepts TCP but never answers is taken out by `timeout`.

use openclaw_e2e::lifecycle::{health_check, server, upstream, EdgeFiles, Load, Silent};
use openclaw_e2e::wait::{until, until_some};
use openclaw_e2e::{bounded, Backend, Request};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_millis(300);
const TIMEOUT: Duration = Duration::from_millis(200);
const RISE: u32 = 2;
const FALL: u32 = 2;
/// Scheduling slack allowed past a deadline the edge should meet.
const SLACK: Duration = Duration::from_millis(700);
/// Allowed before a lower bound (timer and polling granularity).
const EARLY: Duration = Duration::from_millis(60);
/// How often `/api/status` is polled when a transition is timed.
const POLL: Duration = Duration::from_millis(10);

fn addrs(backends: &[&Backend]) -> Vec<String> {
    backends.iter().map(|b| server(b.addr(), "")).collect()
}

/// Polls the state of `addr` until it is `want`; returns when it was seen.
async fn time_until_state(
    files: &EdgeFiles,
    addr: SocketAddr,
    want: &str,
    limit: Duration,
) -> Instant {
    let deadline = Instant::now() + limit;
    loop {
        if files.state_of("gw", addr).await.as_deref() == Some(want) {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "{addr} did not become {want} within {limit:?}; states: {:?}",
            files.states("gw").await
        );
        tokio::time::sleep(POLL).await;
    }
}

/// GETs `/` `n` times; every answer must be 200; returns the backends seen.
async fn backends_seen(target: SocketAddr, n: usize) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for i in 0..n {
        let r = Request::get(target, "/")
            .send()
            .await
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
        seen.insert(r.backend());
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_health_url_takes_a_server_out_within_fall_and_back_within_rise() {
    bounded(Duration::from_secs(60), async {
        let a = Backend::start("a").await;
        let b = Backend::start("b").await;
        let c = Backend::start("c").await;
        let files = EdgeFiles::new();
        let check = health_check(INTERVAL, RISE, FALL, TIMEOUT, true);
        files.write(&files.yaml(
            "access_log: off\n",
            &upstream("gw", &[&check], &addrs(&[&a, &b, &c])),
            &[],
        ));
        let _edge = files.start("edge").await;
        until("all three servers are up", Duration::from_secs(10), || async {
            files.states("gw").await.iter().all(|(_, s)| s == "up")
        })
        .await;
        assert_eq!(backends_seen(files.listen, 12).await.len(), 3, "all three serve");

        // b's health URL fails; its traffic path still works, so only the
        // active check can take it out.
        b.set_health(503);
        let failing_at = Instant::now();
        let out_at = time_until_state(&files, b.addr(), "unhealthy", Duration::from_secs(10)).await;
        let took = out_at - failing_at;
        let bound = INTERVAL * FALL + TIMEOUT;
        println!("out after {took:?} (fall {FALL} x interval {INTERVAL:?} + timeout {TIMEOUT:?} = {bound:?})");
        assert!(
            took <= bound + SLACK,
            "b was marked out {took:?} after its health URL failed; expected within {bound:?} (+{SLACK:?} slack)"
        );
        assert!(
            took + EARLY >= INTERVAL * (FALL - 1),
            "b was marked out after {took:?}, sooner than {FALL} checks {INTERVAL:?} apart allow"
        );
        let seen = backends_seen(files.listen, 30).await;
        assert_eq!(
            seen,
            BTreeSet::from(["a".to_string(), "c".to_string()]),
            "an unhealthy server got traffic"
        );
        let dead = files.metrics().await.sum(
            "openclaw_edge_health_checks_total",
            &[("upstream", "gw"), ("server", &b.addr().to_string()), ("result", "dead")],
        );
        assert!(dead >= f64::from(FALL), "dead checks of b counted: {dead}");

        // b recovers.
        b.set_health(200);
        let healthy_at = Instant::now();
        let in_at = time_until_state(&files, b.addr(), "up", Duration::from_secs(10)).await;
        let took = in_at - healthy_at;
        let bound = INTERVAL * RISE;
        println!("back after {took:?} (rise {RISE} x interval {INTERVAL:?} = {bound:?})");
        assert!(
            took <= bound + SLACK,
            "b came back {took:?} after recovering; expected within {bound:?} (+{SLACK:?} slack)"
        );
        assert!(
            took + EARLY >= INTERVAL * (RISE - 1),
            "b came back after {took:?}, sooner than {RISE} checks {INTERVAL:?} apart allow"
        );
        assert_eq!(backends_seen(files.listen, 12).await.len(), 3, "b serves again");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_down_server_gets_no_traffic_before_its_first_rise() {
    // A long interval makes the window before the first rise wide: the
    // first check runs at start, the `RISE`th one (RISE - 1) x interval later.
    const INTERVAL: Duration = Duration::from_millis(700);
    const RISE: u32 = 3;
    bounded(Duration::from_secs(60), async {
        let a = Backend::start("a").await;
        let files = EdgeFiles::new();
        let check = health_check(INTERVAL, RISE, 2, TIMEOUT, true);
        let yaml = |servers: &[&Backend]| {
            files.yaml("access_log: off\n", &upstream("gw", &[&check], &addrs(servers)), &[])
        };
        files.write(&yaml(&[&a]));

        // At start, with one server: 502 until it has passed RISE checks.
        let spawned = Instant::now();
        let _edge = files.start("edge").await;
        let mut answers = Vec::new();
        let first_ok = loop {
            let r = Request::get(files.listen, "/").send().await.expect("an answer");
            let at = spawned.elapsed();
            if r.status == 200 {
                break at;
            }
            assert_eq!(r.status, 502, "before the first rise: {}", r.text());
            assert!(r.text().contains("gw"), "the 502 names the upstream: {}", r.text());
            answers.push(at);
            assert!(at < Duration::from_secs(15), "a never came up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        println!(
            "at start: {} answers 502, first 200 after {first_ok:?} (rise {RISE} x {INTERVAL:?})",
            answers.len()
        );
        assert!(
            first_ok + EARLY >= INTERVAL * (RISE - 1),
            "a served {first_ok:?} after the edge started, before {RISE} checks {INTERVAL:?} apart could pass"
        );
        assert!(!answers.is_empty(), "no request was answered before a came up");

        // A reload adds b: it must get nothing until its own rise, while a
        // keeps its state (up) and serves everything.
        let b = Backend::start("b").await;
        let load = Load::start(files.listen, "/", 4, Duration::from_millis(10));
        load.wait_progress(20, Duration::from_secs(10)).await;
        files.write(&yaml(&[&a, &b]));
        let reload = files.signal_cmd("reload").await;
        assert!(reload.status.success(), "-s reload: {}", String::from_utf8_lossy(&reload.stderr));
        let reloaded_at = Instant::now();
        until_some("b to appear in the status", Duration::from_secs(5), || async {
            files.state_of("gw", b.addr()).await
        })
        .await;
        let b_up = loop {
            let state = files.state_of("gw", b.addr()).await.expect("b is listed");
            let served = b.requests();
            if state == "up" {
                break reloaded_at.elapsed();
            }
            assert_eq!(served, 0, "b got {served} requests while {state}, before its first rise");
            assert!(reloaded_at.elapsed() < Duration::from_secs(15), "b never came up");
            tokio::time::sleep(POLL).await;
        };
        let b_first = until_some("b to get traffic after its rise", Duration::from_secs(5), || async {
            (b.requests() > 0).then(|| reloaded_at.elapsed())
        })
        .await;
        let report = load.stop().await;
        println!(
            "after the reload: b up after {b_up:?}, first request at {b_first:?}; load {} ok, {} failed, {:?}",
            report.ok, report.failed, report.by_backend
        );
        assert!(
            b_up + EARLY >= INTERVAL * (RISE - 1),
            "b was up {b_up:?} after the reload, before {RISE} checks {INTERVAL:?} apart could pass"
        );
        assert_eq!(
            report.failed, 0,
            "requests failed around the reload (a must keep its up state): {:?}",
            report.errors
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_that_accepts_but_never_answers_is_taken_out_by_timeout() {
    bounded(Duration::from_secs(60), async {
        let a = Backend::start("a").await;
        let silent = Silent::start().await;
        let files = EdgeFiles::new();
        // default_down: false, so the silent server starts in and only the
        // check's timeout can take it out.
        let check = health_check(INTERVAL, RISE, FALL, TIMEOUT, false);
        let servers = vec![server(a.addr(), ""), server(silent.addr(), "")];
        files.write(&files.yaml(
            "",
            &upstream("gw", &[&check], &servers),
            &["read_timeout: 3s"],
        ));
        let started = Instant::now();
        let edge = files.start("edge").await;
        let out_at = time_until_state(&files, silent.addr(), "unhealthy", Duration::from_secs(10)).await;
        let took = out_at - started;
        // Each check waits `timeout`, then the next starts `interval` later.
        let bound = (INTERVAL + TIMEOUT) * FALL;
        println!("silent server out {took:?} after start (fall {FALL} x (interval + timeout) = {bound:?})");
        assert!(
            took <= bound + SLACK + Duration::from_millis(500),
            "the silent server was marked out only {took:?} after start; expected within {bound:?}"
        );
        assert!(silent.accepted() >= FALL as usize, "the checks connected {} times", silent.accepted());
        assert_eq!(files.state_of("gw", a.addr()).await.as_deref(), Some("up"));
        let dead = files.metrics().await.sum(
            "openclaw_edge_health_checks_total",
            &[("server", &silent.addr().to_string()), ("result", "dead")],
        );
        assert!(dead >= f64::from(FALL), "dead checks of the silent server: {dead}");
        until("the edge to log the timeout as the reason", Duration::from_secs(5), || {
            let log = edge.stderr();
            async move { log.contains("timeout after 200 ms") }
        })
        .await;
        // Out means out: every request goes to a, quickly.
        let t = Instant::now();
        let seen = backends_seen(files.listen, 20).await;
        assert_eq!(seen, BTreeSet::from(["a".to_string()]));
        assert!(t.elapsed() < Duration::from_secs(2), "20 requests took {:?}", t.elapsed());
    })
    .await;
}

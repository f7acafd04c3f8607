//! Passive health (nginx `max_fails` / `fail_timeout`): a failing server is
//! taken out after max_fails failures, gets exactly one trial request per
//! fail_timeout, and returns when a trial succeeds; meanwhile clients never
//! see the failures, because idempotent requests move on to the next server.

use openclaw_e2e::client::backend_sequence;
use openclaw_e2e::wait::until;
use openclaw_e2e::{bounded, Backend, Edge, EdgeConfig, Mode, Request, Server, Upstream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const FAIL_TIMEOUT: Duration = Duration::from_secs(2);
/// Scheduling slack allowed past a deadline the edge should meet.
const SLACK: Duration = Duration::from_secs(1);
/// Clock granularity allowed before a deadline (the edge counts milliseconds).
const EARLY: Duration = Duration::from_millis(100);

/// Three round-robin backends with max_fails=1 fail_timeout=2s, and an edge.
async fn three_backends() -> (Vec<Backend>, Edge) {
    let backends = Backend::start_n(3).await;
    let servers = backends
        .iter()
        .map(|b| Server::new(b.addr()).fails(1, "2s"))
        .collect();
    let edge = Edge::start(EdgeConfig::new(Upstream::new(
        "pool",
        "round_robin",
        servers,
    )))
    .await;
    (backends, edge)
}

/// One GET for `/`, which must succeed; returns the backend that answered.
async fn get_ok(edge: &Edge, what: &str) -> String {
    let resp = Request::get(edge.addr(), "/")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(resp.status, 200, "{what}: {}", resp.text());
    resp.backend()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_server_gets_one_trial_per_fail_timeout_then_returns() {
    bounded(Duration::from_secs(60), async {
        let (mut backends, edge) = three_backends().await;
        let warm = backend_sequence(edge.addr(), 30).await;
        for b in &backends {
            let n = warm.iter().filter(|n| *n == b.name()).count();
            assert_eq!(n, 10, "{} answered {n} of 30 before any failure", b.name());
        }

        // s1 dies: its next turn fails (retried elsewhere), then it is out.
        backends[1].stop().await;
        let stopped_at = Instant::now();
        let after_kill = backend_sequence(edge.addr(), 6).await;
        assert!(!after_kill.contains(&"s1".to_string()), "{after_kill:?}");

        // Something listens on its port again, but closes every connection:
        // each attempt is now visible, and still a failure.
        backends[1].set_mode(Mode::Drop);
        backends[1].restart().await;
        let listening_at = Instant::now();
        let before = backends[1].accepts().len();
        let mut pace = tokio::time::interval(Duration::from_millis(10));
        let deadline = listening_at + 2 * FAIL_TIMEOUT + 2 * SLACK;
        while backends[1].accepts().len() < before + 2 {
            assert!(Instant::now() < deadline, "fewer than two trials reached s1");
            pace.tick().await;
            let name = get_ok(&edge, "request while s1 fails").await;
            assert_ne!(name, "s1");
        }
        let trials = backends[1].accepts()[before..].to_vec();
        assert_eq!(trials.len(), 2, "attempts on s1 at once: {trials:?}");
        assert!(
            trials[0] + EARLY >= stopped_at + FAIL_TIMEOUT,
            "first trial {:?} after the kill, before fail_timeout ended",
            trials[0] - stopped_at
        );
        assert!(
            trials[0] <= listening_at + FAIL_TIMEOUT + SLACK,
            "first trial only {:?} after the failure window could have ended",
            trials[0] - listening_at
        );
        let gap = trials[1] - trials[0];
        assert!(
            gap + EARLY >= FAIL_TIMEOUT && gap <= FAIL_TIMEOUT + SLACK,
            "a failed trial should keep s1 out for fail_timeout ({FAIL_TIMEOUT:?}), then one more trial; the gap was {gap:?}"
        );

        // s1 answers again: the next trial succeeds and it is back in rotation.
        backends[1].set_mode(Mode::Serve);
        let deadline = trials[1] + FAIL_TIMEOUT + SLACK;
        loop {
            pace.tick().await;
            if get_ok(&edge, "request while s1 recovers").await == "s1" {
                break;
            }
            assert!(Instant::now() < deadline, "s1 did not get its trial within fail_timeout");
        }
        assert!(
            Instant::now() + EARLY >= trials[1] + FAIL_TIMEOUT,
            "s1 was used before its fail_timeout ended"
        );
        let after = backend_sequence(edge.addr(), 30).await;
        let s1 = after.iter().filter(|n| *n == "s1").count();
        assert!(
            s1.abs_diff(10) <= 1,
            "s1 answered {s1} of the 30 requests after returning, expected 10: {after:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_server_under_load_loses_no_request() {
    const TOTAL: usize = 2000;
    const KILL_AFTER: usize = 500;
    bounded(Duration::from_secs(40), async {
        let (mut backends, edge) = three_backends().await;
        let started = AtomicUsize::new(0);
        let finished = AtomicUsize::new(0);
        let errors = Mutex::new(Vec::new());
        let worker = || async {
            while started.fetch_add(1, Ordering::SeqCst) < TOTAL {
                match Request::get(edge.addr(), "/").send().await {
                    Ok(r) if r.status == 200 => {}
                    Ok(r) => errors.lock().unwrap().push(format!("{}: {}", r.status, r.text())),
                    Err(e) => errors.lock().unwrap().push(e.to_string()),
                }
                finished.fetch_add(1, Ordering::SeqCst);
            }
        };
        let load = futures_util::future::join_all((0..8).map(|_| worker()));
        let kill = async {
            until("500 requests before the kill", Duration::from_secs(20), || async {
                finished.load(Ordering::SeqCst) >= KILL_AFTER
            })
            .await;
            backends[1].stop().await;
            finished.load(Ordering::SeqCst)
        };
        let (_, killed_at) = tokio::join!(load, kill);
        let errors = errors.into_inner().unwrap();
        assert!(
            errors.is_empty(),
            "{} of {TOTAL} requests failed for the client after s1 was killed (at request {killed_at}); first ones: {:?}",
            errors.len(),
            &errors[..errors.len().min(5)]
        );
        assert!(killed_at < TOTAL, "the kill came after the load ended");
        assert!(backends[1].requests() > 0, "s1 got no traffic before the kill");
    })
    .await;
}

//! The edge's life cycle as an operator drives it: graceful stop (SIGTERM,
//! `-s quit`) finishes the requests in flight; fast stop (`-s stop`) exits
//! at once; a binary upgrade (`--upgrade` + SIGQUIT) under steady load
//! loses no request; `-s` without a running edge fails clearly.

use openclaw_e2e::lifecycle::{server, signal, upstream, EdgeFiles, Load};
use openclaw_e2e::process::ChildProcess;
use openclaw_e2e::wait::until;
use openclaw_e2e::{bounded, Backend, Request};
use std::time::{Duration, Instant};

/// Requests held at the backend while the edge is told to stop.
const HELD: usize = 5;

/// A config over `backends` with `top` lines.
fn config(files: &EdgeFiles, top: &str, backends: &[&Backend]) -> String {
    let servers: Vec<String> = backends.iter().map(|b| server(b.addr(), "")).collect();
    files.yaml(top, &upstream("gw", &[], &servers), &[])
}

/// Starts `HELD` requests for `/hold` and waits until the backend holds them all.
async fn hold_requests(
    files: &EdgeFiles,
    backend: &Backend,
) -> Vec<tokio::task::JoinHandle<std::io::Result<openclaw_e2e::Response>>> {
    let listen = files.listen;
    let held: Vec<_> = (0..HELD)
        .map(|_| tokio::spawn(async move { Request::get(listen, "/hold").send().await }))
        .collect();
    until(
        "the backend to hold every request",
        Duration::from_secs(5),
        || async { backend.inflight() == HELD },
    )
    .await;
    held
}

/// Graceful stop by `stop` (which signals the edge): new connections are
/// no longer served, the edge waits for the held requests, they complete
/// with 200 once released, and then the edge exits 0 promptly.
async fn graceful_stop_finishes_in_flight(how: Stop) {
    let backend = Backend::start("a").await;
    let files = EdgeFiles::new();
    files.write(&config(
        &files,
        "grace_period: 10s\ngraceful_shutdown_timeout: 10s\n",
        &[&backend],
    ));
    let mut edge = files.start("edge").await;
    assert_eq!(
        files.read_pid(),
        Some(edge.pid()),
        "the pid file names the edge"
    );
    let held = hold_requests(&files, &backend).await;

    how.send(&files, &edge).await;
    let signalled = Instant::now();
    // Listeners close: a new request is not served any more.
    until(
        "the edge to stop serving new requests",
        Duration::from_secs(5),
        || async {
            let attempt = tokio::time::timeout(
                Duration::from_millis(500),
                Request::get(files.listen, "/").send(),
            )
            .await;
            !matches!(attempt, Ok(Ok(ref r)) if r.status == 200)
        },
    )
    .await;
    // The held requests keep it alive (the time passing is what is tested).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        edge.exited().is_none(),
        "the edge exited {:?} after a graceful stop with {HELD} requests in flight",
        signalled.elapsed()
    );
    assert_eq!(backend.inflight(), HELD, "held requests were cut off");

    backend.release_held();
    let released = Instant::now();
    for (i, h) in held.into_iter().enumerate() {
        let r = tokio::time::timeout(Duration::from_secs(5), h)
            .await
            .unwrap_or_else(|_| panic!("held request {i} got no answer after its release"))
            .expect("task")
            .unwrap_or_else(|e| panic!("held request {i} failed across the graceful stop: {e}"));
        assert_eq!(r.status, 200, "held request {i}: {}", r.text());
        assert_eq!(r.backend(), "a");
    }
    let status = edge
        .wait_exit(Duration::from_secs(5))
        .await
        .unwrap_or_else(|| panic!("the edge still runs 5s after its last request finished"));
    let exit_after = released.elapsed();
    println!(
        "graceful stop: exited {exit_after:?} after the release, {:?} after the signal, {status}",
        signalled.elapsed()
    );
    assert!(status.success(), "graceful stop exit status: {status}");
    assert!(
        exit_after < Duration::from_secs(3),
        "the edge took {exit_after:?} to exit once nothing was in flight (grace_period is 10s; it should not wait it out)"
    );
}

/// How a graceful stop is asked for.
enum Stop {
    /// `kill -TERM PID`.
    Sigterm,
    /// `openclaw-edge -s quit -c FILE`.
    SQuit,
}

impl Stop {
    async fn send(&self, files: &EdgeFiles, edge: &ChildProcess) {
        match self {
            Stop::Sigterm => signal(edge.pid(), libc::SIGTERM).expect("SIGTERM"),
            Stop::SQuit => {
                let out = files.signal_cmd("quit").await;
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(
                    out.status.success(),
                    "-s quit: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert!(
                    stdout.contains(&edge.pid().to_string()),
                    "-s quit names the pid: {stdout}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_requests_in_flight_finish() {
    bounded(
        Duration::from_secs(60),
        graceful_stop_finishes_in_flight(Stop::Sigterm),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s_quit_lets_requests_in_flight_finish() {
    bounded(
        Duration::from_secs(60),
        graceful_stop_finishes_in_flight(Stop::SQuit),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s_stop_exits_at_once() {
    bounded(Duration::from_secs(60), async {
        let backend = Backend::start("a").await;
        let files = EdgeFiles::new();
        files.write(&config(
            &files,
            "grace_period: 10s\ngraceful_shutdown_timeout: 10s\n",
            &[&backend],
        ));
        let mut edge = files.start("edge").await;
        let held = hold_requests(&files, &backend).await;
        let out = files.signal_cmd("stop").await;
        assert!(out.status.success(), "-s stop: {}", String::from_utf8_lossy(&out.stderr));
        let signalled = Instant::now();
        let status = edge.wait_exit(Duration::from_secs(2)).await;
        let took = signalled.elapsed();
        println!("fast stop: exited after {took:?} ({status:?})");
        assert!(
            status.is_some(),
            "the edge still runs {took:?} after -s stop with requests in flight (it must not wait for them)"
        );
        for (i, h) in held.into_iter().enumerate() {
            let r = tokio::time::timeout(Duration::from_secs(5), h)
                .await
                .unwrap_or_else(|_| panic!("held request {i} hangs after the edge exited"))
                .expect("task");
            assert!(
                !matches!(r, Ok(ref resp) if resp.status == 200),
                "held request {i} was answered 200 although the edge stopped at once"
            );
        }
        assert!(
            tokio::net::TcpStream::connect(files.listen).await.is_err(),
            "something still accepts on the listen address after -s stop"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_upgrade_under_load_loses_no_request() {
    bounded(Duration::from_secs(90), async {
        let b0 = Backend::start("s0").await;
        let b1 = Backend::start("s1").await;
        let files = EdgeFiles::new();
        files.write(&config(
            &files,
            "access_log: off\ngrace_period: 10s\ngraceful_shutdown_timeout: 5s\n",
            &[&b0, &b1],
        ));
        let mut old = files.start("old").await;
        assert_eq!(files.read_pid(), Some(old.pid()));
        let load = Load::start(files.listen, "/", 8, Duration::from_millis(5));
        load.wait_progress(200, Duration::from_secs(10)).await;
        // A request in flight on the old process across the whole upgrade.
        let listen = files.listen;
        let held = tokio::spawn(async move { Request::get(listen, "/hold").send().await });
        until(
            "the held request to reach a backend",
            Duration::from_secs(5),
            || async { b0.inflight() + b1.inflight() == 1 },
        )
        .await;

        let new = files.spawn("new", &["--upgrade"]);
        files.wait_upgrade_sock(Duration::from_secs(10)).await;
        signal(old.pid(), libc::SIGQUIT).expect("SIGQUIT");
        let quit_at = Instant::now();
        until(
            "the new process to write its pid",
            Duration::from_secs(10),
            || async { files.read_pid() == Some(new.pid()) },
        )
        .await;
        println!("new process took over after {:?}", quit_at.elapsed());
        load.wait_progress(200, Duration::from_secs(10)).await;
        // Pingora lets the old process accept for a few seconds more, then
        // it closes its listeners and waits for what is in flight: release
        // the held request only then, so it really crosses the drain.
        until(
            "the old process to start draining",
            Duration::from_secs(15),
            || {
                let log = old.stderr();
                async move { log.contains("waiting for requests in flight") }
            },
        )
        .await;
        println!("old process draining {:?} after SIGQUIT", quit_at.elapsed());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            old.exited().is_none(),
            "the old process exited with a request in flight"
        );
        let before_release = load.ok();
        b0.release_held();
        b1.release_held();
        let released = Instant::now();
        let r = tokio::time::timeout(Duration::from_secs(5), held)
            .await
            .expect("the held request is answered")
            .expect("task")
            .expect("the request in flight on the old process survives the upgrade");
        assert_eq!(r.status, 200, "{}", r.text());
        let status = old
            .wait_exit(Duration::from_secs(5))
            .await
            .unwrap_or_else(|| {
                panic!(
                    "the old process still runs {:?} after its last request",
                    released.elapsed()
                )
            });
        println!(
            "old process exited {:?} after SIGQUIT, {:?} after its last request ({status})",
            quit_at.elapsed(),
            released.elapsed()
        );
        assert!(status.success(), "old process exit: {status}");
        // Only the new process is left, and it serves.
        load.wait_progress(300, Duration::from_secs(10)).await;
        let report = load.stop().await;
        println!(
            "upgrade under load: {} ok ({} before the release), {} failed, {:?}",
            report.ok, before_release, report.failed, report.by_backend
        );
        assert_eq!(
            report.failed, 0,
            "requests lost in the upgrade: {:?}",
            report.errors
        );
        let states = files.states("gw").await;
        assert_eq!(
            states.len(),
            2,
            "the new process serves the admin listener: {states:?}"
        );
        let mut new = new;
        assert!(
            new.exited().is_none(),
            "the new process exited:\n{}",
            new.logs()
        );
        let out = files.signal_cmd("quit").await;
        assert!(out.status.success(), "-s quit to the new process: {out:?}");
        assert!(
            new.wait_exit(Duration::from_secs(15)).await.is_some(),
            "the new process did not stop on -s quit"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signal_without_a_running_edge_fails_clearly() {
    bounded(Duration::from_secs(30), async {
        let backend = Backend::start("a").await;
        let files = EdgeFiles::new();
        files.write(&config(&files, "", &[&backend]));
        let pid_file = files.pid_path().display().to_string();

        // No pid file at all.
        for sig in ["reload", "quit", "stop"] {
            let out = files.signal_cmd(sig).await;
            let stderr = String::from_utf8_lossy(&out.stderr);
            println!(
                "-s {sig} with no edge: {:?}: {}",
                out.status.code(),
                stderr.trim()
            );
            assert_eq!(
                out.status.code(),
                Some(1),
                "-s {sig} with no edge: {stderr}"
            );
            assert!(
                stderr.contains(&pid_file) && stderr.contains("is the edge running"),
                "-s {sig} with no edge should name the pid file and say why: {stderr}"
            );
        }

        // A stale pid file: its process is gone.
        let mut gone = std::process::Command::new("true")
            .spawn()
            .expect("run true");
        let pid = gone.id();
        gone.wait().expect("true exits");
        std::fs::write(files.pid_path(), format!("{pid}\n")).expect("write pid file");
        let out = files.signal_cmd("reload").await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        println!(
            "-s reload with a stale pid file: {:?}: {}",
            out.status.code(),
            stderr.trim()
        );
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&pid.to_string()) && stderr.contains("stale"),
            "a stale pid file should be named as such: {stderr}"
        );

        // Garbage in the pid file.
        std::fs::write(files.pid_path(), "not a pid\n").expect("write pid file");
        let out = files.signal_cmd("reload").await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("not a pid"), "{stderr}");
    })
    .await;
}

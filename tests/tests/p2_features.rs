//! Active health checks, sticky cookies, SIGHUP reload and `-s` signals,
//! each against the built binary and real backends on loopback.
//!
//! These configs carry upstream-level keys (`health_check`, `sticky`) and a
//! `pid_file`, so each test writes its own YAML and runs the binary itself.

use openclaw_e2e::ports::free_addr;
use openclaw_e2e::process::ChildProcess;
use openclaw_e2e::wait::{accepts, bounded, until};
use openclaw_e2e::{edge, Backend, Request};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// An edge started from a YAML file this test controls.
struct FileEdge {
    process: ChildProcess,
    dir: TempDir,
    listen: SocketAddr,
    admin: SocketAddr,
}

impl FileEdge {
    /// Writes `body(listen, admin, pid_file)` and starts the edge on it.
    async fn start(body: impl Fn(SocketAddr, SocketAddr, &Path) -> String) -> FileEdge {
        let dir = tempfile::tempdir().expect("temp dir");
        let (listen, admin) = (free_addr(), free_addr());
        let pid = dir.path().join("edge.pid");
        std::fs::write(dir.path().join("edge.yaml"), body(listen, admin, &pid)).expect("write");
        let mut cmd = Command::new(edge::binary());
        cmd.arg("-c").arg(dir.path().join("edge.yaml"));
        let process = ChildProcess::spawn("openclaw-edge", &mut cmd, dir.path());
        let edge = FileEdge {
            process,
            dir,
            listen,
            admin,
        };
        until("the edge accepts", Duration::from_secs(10), || async {
            accepts(listen).await && accepts(admin).await
        })
        .await;
        edge
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("edge.yaml")
    }

    /// `openclaw-edge -s SIGNAL -c edge.yaml`: exit status and stderr.
    fn signal(&self, signal: &str) -> (bool, String) {
        let out = Command::new(edge::binary())
            .args(["-s", signal, "-c"])
            .arg(self.config())
            .output()
            .expect("run openclaw-edge -s");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn status(&self) -> Value {
        Request::get(self.admin, "/api/status")
            .send()
            .await
            .expect("admin answers")
            .json()
    }

    /// The `state` of every server of the first upstream, in order.
    async fn states(&self) -> Vec<String> {
        let s = self.status().await;
        s["upstreams"][0]["servers"]
            .as_array()
            .expect("servers")
            .iter()
            .map(|v| v["state"].as_str().unwrap_or("").to_string())
            .collect()
    }

    async fn metric(&self, line_start: &str) -> f64 {
        let text = Request::get(self.admin, "/metrics")
            .send()
            .await
            .expect("metrics")
            .text();
        text.lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }
}

fn servers_yaml(backends: &[&Backend]) -> String {
    backends
        .iter()
        .map(|b| format!("      - {{ address: \"{}\" }}\n", b.addr()))
        .collect()
}

fn location(listen: SocketAddr) -> String {
    format!("servers:\n  - listen: [\"{listen}\"]\n    locations:\n      - {{ path: /, proxy_pass: \"http://gw\" }}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_checks_take_a_server_out_and_back() {
    bounded(Duration::from_secs(60), async {
        let a = Backend::start("a").await;
        let mut b = Backend::start("b").await;
        let edge = FileEdge::start(|listen, admin, _| {
            format!(
                "admin: {{ listen: \"{admin}\" }}\nupstreams:\n  gw:\n    health_check: {{ type: http, interval: 200ms, \
                 rise: 2, fall: 2, timeout: 300ms, send: \"GET /health HTTP/1.0\\r\\n\\r\\n\" }}\n    servers:\n{}{}",
                servers_yaml(&[&a, &b]),
                location(listen)
            )
        })
        .await;
        // default_down: nothing is served before the first `rise` checks pass.
        let first = Request::get(edge.listen, "/").send().await.expect("answer");
        let start = Instant::now();
        assert_eq!(first.status, 502, "a server was used before it passed its checks");
        until("both servers pass rise checks", Duration::from_secs(5), || async {
            edge.states().await == ["up", "up"]
        })
        .await;
        println!("up after {:?} (rise 2 x 200ms)", start.elapsed());

        b.stop().await;
        let down_at = Instant::now();
        until("b is marked unhealthy", Duration::from_secs(5), || async {
            edge.states().await == ["up", "unhealthy"]
        })
        .await;
        let took = down_at.elapsed();
        println!("out after {took:?} (fall 2 x 200ms + timeout)");
        assert!(took < Duration::from_millis(2000), "took {took:?}");
        for _ in 0..10 {
            let r = Request::get(edge.listen, "/").send().await.expect("answer");
            assert_eq!((r.status, r.backend()), (200, "a".to_string()));
        }
        b.restart().await;
        until("b is back", Duration::from_secs(5), || async { edge.states().await == ["up", "up"] }).await;
        assert!(edge.metric("openclaw_edge_health_checks_total{result=\"dead\"").await >= 2.0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sticky_cookie_pins_clients_and_moves_only_a_dead_servers_clients() {
    bounded(Duration::from_secs(60), async {
        let mut backends = Backend::start_n(2).await;
        let edge = FileEdge::start(|listen, admin, _| {
            format!(
                "admin: {{ listen: \"{admin}\" }}\nupstreams:\n  gw:\n    sticky: {{ cookie: openclaw_route, \
                 expires: 1h, httponly: true }}\n    servers:\n{}{}",
                servers_yaml(&[&backends[0], &backends[1]]),
                location(listen)
            )
        })
        .await;
        let cookie_of = |r: &openclaw_e2e::Response| {
            let set = r.header("set-cookie").expect("a Set-Cookie").to_string();
            assert!(set.contains("Max-Age=3600") && set.contains("HttpOnly"), "{set}");
            set.split(';').next().unwrap().to_string()
        };
        let mut clients = Vec::new();
        for _ in 0..40 {
            let r = Request::get(edge.listen, "/").send().await.expect("answer");
            clients.push((cookie_of(&r), r.backend()));
        }
        for (cookie, home) in &clients {
            for _ in 0..5 {
                let r = Request::get(edge.listen, "/").header("cookie", cookie).send().await.expect("answer");
                assert_eq!(&r.backend(), home, "a pinned client moved");
                assert!(r.header("set-cookie").is_none(), "a pinned client was re-cookied");
            }
        }
        let dead = backends[0].name().to_string();
        backends[0].stop().await;
        for (cookie, home) in &clients {
            let r = Request::get(edge.listen, "/").header("cookie", cookie).send().await.expect("answer");
            assert_eq!(r.status, 200);
            if *home == dead {
                assert_ne!(r.backend(), dead);
                assert_ne!(&cookie_of(&r), cookie, "the moved client needs a new cookie");
            } else {
                assert_eq!(&r.backend(), home, "a client of a live server moved");
                assert!(r.header("set-cookie").is_none());
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_a_broken_file_keeps_the_old_config() {
    bounded(Duration::from_secs(60), async {
        let a = Backend::start("a").await;
        let b = Backend::start("b").await;
        let yaml = |servers: String, listen: SocketAddr, admin: SocketAddr, pid: &Path| {
            format!(
                "pid_file: \"{}\"\nadmin: {{ listen: \"{admin}\" }}\nupstreams:\n  gw:\n    servers:\n{servers}{}",
                pid.display(),
                location(listen)
            )
        };
        let edge = FileEdge::start(|l, ad, pid| yaml(servers_yaml(&[&a]), l, ad, pid)).await;
        let pid = edge.dir.path().join("edge.pid");
        assert_eq!(Request::get(edge.listen, "/").send().await.unwrap().backend(), "a");

        std::fs::write(edge.config(), yaml(servers_yaml(&[&a, &b]), edge.listen, edge.admin, &pid)).unwrap();
        let (ok, err) = edge.signal("reload");
        assert!(ok, "-s reload failed: {err}");
        until("b takes requests after the reload", Duration::from_secs(5), || async {
            Request::get(edge.listen, "/").send().await.is_ok_and(|r| r.backend() == "b")
        })
        .await;
        assert_eq!(edge.metric("openclaw_edge_config_reloads_total{result=\"ok\"}").await, 1.0);

        std::fs::write(edge.config(), "upstreams: [this is not: valid\n").unwrap();
        let pid_text = std::fs::read_to_string(&pid).expect("pid file");
        let status = Command::new("kill").args(["-HUP", pid_text.trim()]).status().unwrap();
        assert!(status.success());
        until("the broken reload is counted", Duration::from_secs(5), || async {
            edge.metric("openclaw_edge_config_reloads_total{result=\"error\"}").await == 1.0
        })
        .await;
        assert!(edge.process.stderr().contains("edge.yaml:1"), "the refusal names file:line");
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..6 {
            let r = Request::get(edge.listen, "/").send().await.expect("still serving");
            assert_eq!(r.status, 200);
            seen.insert(r.backend());
        }
        assert_eq!(seen.len(), 2, "the reloaded config (a and b) keeps serving");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quit_finishes_in_flight_requests_and_signals_need_a_running_edge() {
    bounded(Duration::from_secs(60), async {
        let a = Backend::start("a").await;
        let mut edge = FileEdge::start(|listen, admin, pid| {
            format!(
                "pid_file: \"{}\"\ngraceful_shutdown_timeout: 10s\nadmin: {{ listen: \"{admin}\" }}\nupstreams:\n  gw:\n    servers:\n{}{}",
                pid.display(),
                servers_yaml(&[&a]),
                location(listen)
            )
        })
        .await;
        let listen = edge.listen;
        let held = tokio::spawn(async move { Request::get(listen, "/hold").send().await });
        until("the request is held at the backend", Duration::from_secs(5), || async { a.inflight() == 1 }).await;
        let (ok, err) = edge.signal("quit");
        assert!(ok, "-s quit failed: {err}");
        // The stop waits for the held request: release it, it must complete.
        tokio::time::sleep(Duration::from_millis(300)).await;
        a.release_held();
        let r = held.await.unwrap().expect("the in-flight request completes");
        assert_eq!(r.status, 200);
        let exit = edge.process.wait_exit(Duration::from_secs(15)).await;
        assert!(exit.is_some(), "the edge did not exit after -s quit");

        let (ok, err) = edge.signal("reload");
        assert!(!ok, "signalling a stopped edge must fail");
        assert!(err.contains("cannot signal") || err.contains("pid"), "{err}");
    })
    .await;
}

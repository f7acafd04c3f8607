//! What the edge writes: an access line per request on stdout (combined
//! format plus the upstream's address and status), and with
//! `--log-format json` JSON lines on both outputs.

use openclaw_e2e::wait::until_some;
use openclaw_e2e::{bounded, Backend, Edge, Request, Server, Upstream};
use std::net::IpAddr;
use std::time::Duration;

/// One backend behind an edge started with `args`; sends one GET for
/// `/logged?x=1` from 127.0.0.9 and returns the access-log line for it.
async fn logged_line(args: &[&str]) -> (Backend, Edge, String) {
    let backend = Backend::start("s0").await;
    let upstream = Upstream::new("app", "round_robin", vec![Server::new(backend.addr())]);
    let edge = Edge::start_with_args(openclaw_e2e::EdgeConfig::new(upstream), args).await;
    let resp = Request::get(edge.addr(), "/logged?x=1")
        .from_ip(IpAddr::from([127, 0, 0, 9]))
        .header("User-Agent", "e2e-agent")
        .header("Referer", "http://referer.example/")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status, 200);
    let line = until_some(
        "the access-log line on stdout",
        Duration::from_secs(10),
        || async {
            edge.stdout()
                .lines()
                .find(|l| l.contains("/logged?x=1"))
                .map(str::to_string)
        },
    )
    .await;
    (backend, edge, line)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_is_combined_format_with_upstream() {
    bounded(Duration::from_secs(30), async {
        let (backend, _edge, line) = logged_line(&[]).await;
        assert!(line.starts_with("127.0.0.9 - - ["), "{line}");
        assert!(
            line.contains("] \"GET /logged?x=1 HTTP/1.1\" 200 "),
            "{line}"
        );
        assert!(
            line.contains("\"http://referer.example/\" \"e2e-agent\""),
            "{line}"
        );
        assert!(
            line.contains(&backend.addr().to_string()),
            "upstream address: {line}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_format_writes_json_lines() {
    bounded(Duration::from_secs(30), async {
        let (backend, edge, line) = logged_line(&["--log-format", "json"]).await;
        let access: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("access line is not JSON ({e}): {line}"));
        let text = access.to_string();
        assert!(text.contains("127.0.0.9"), "{text}");
        assert!(text.contains(&backend.addr().to_string()), "{text}");
        assert!(text.contains("200"), "{text}");
        let stderr = edge.stderr();
        assert!(
            !stderr.trim().is_empty(),
            "the edge logged nothing at start"
        );
        for l in stdout_and_stderr_lines(&edge.stdout(), &stderr) {
            assert!(
                serde_json::from_str::<serde_json::Value>(l).is_ok(),
                "not a JSON line: {l}"
            );
        }
    })
    .await;
}

fn stdout_and_stderr_lines<'a>(stdout: &'a str, stderr: &'a str) -> impl Iterator<Item = &'a str> {
    stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| !l.trim().is_empty())
}

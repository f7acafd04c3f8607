//! Bad input is refused clearly: configs that `-t` rejects with one error
//! at the right `file:line`, a listen address that cannot be bound, and
//! bytes that are not HTTP.

use openclaw_e2e::edge::{run_to_exit, Finished};
use openclaw_e2e::ports::free_port;
use openclaw_e2e::{bounded, client, Backend, Edge, EdgeConfig, Request, Server, Upstream};
use std::time::Duration;

/// A valid config; each case changes one line of it.
const VALID: &str = r#"threads: 1
admin:
  listen: 127.0.0.1:ADMIN
upstreams:
  app:
    balance: round_robin
    servers:
      - { address: "127.0.0.1:9", weight: 1, fail_timeout: 10s }
servers:
  - listen: ["127.0.0.1:LISTEN"]
    locations:
      - path: /
        proxy_pass: http://app
"#;

/// `yaml` with its ADMIN and LISTEN placeholders set to fresh ports.
fn on_fresh_ports(yaml: &str) -> String {
    yaml.replace("ADMIN", &free_port().to_string())
        .replace("LISTEN", &free_port().to_string())
}

/// `VALID` with `from` (which must occur) replaced by `to`, on fresh ports.
fn config_with(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "{from:?} is not in the valid config");
    on_fresh_ports(&VALID.replacen(from, to, 1))
}

/// The 1-based line of the only line of `yaml` containing `marker`.
fn line_of(yaml: &str, marker: &str) -> usize {
    let lines: Vec<usize> = yaml
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(marker))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(lines.len(), 1, "{marker:?} must mark exactly one line");
    lines[0]
}

/// The `FILE:LINE[:COL]: message` lines of a run's stderr, as (line, message).
fn located_errors(run: &Finished) -> Vec<(usize, String)> {
    let prefix = format!("{}:", run.config_file);
    run.stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (line, rest) = rest.split_once(':')?;
            let line = line.parse().ok()?;
            let message = match rest.split_once(": ") {
                Some((col, msg)) if col.parse::<usize>().is_ok() => msg,
                _ => rest.trim_start(),
            };
            Some((line, message.to_string()))
        })
        .collect()
}

/// `-t` on `yaml` must exit 1 with exactly one `FILE:LINE` error, on the
/// line holding `marker`, whose message mentions `mention`.
async fn rejected_at(yaml: &str, marker: &str, mention: &str) {
    bounded(Duration::from_secs(20), async {
        let run = run_to_exit(&["-t"], yaml, Duration::from_secs(10)).await;
        let report = format!(
            "config:\n{yaml}\nstdout:\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        );
        assert_eq!(run.status.code(), Some(1), "exit status; {report}");
        assert!(!run.stdout.contains("configuration OK"), "{report}");
        let errors = located_errors(&run);
        assert_eq!(errors.len(), 1, "expected one FILE:LINE error; {report}");
        let (line, message) = &errors[0];
        assert_eq!(*line, line_of(yaml, marker), "error line; {report}");
        assert!(
            message.contains(mention),
            "the message should mention {mention:?}; {report}"
        );
    })
    .await;
}

/// `-t` on `yaml` must exit 0 and say `configuration OK`.
async fn accepted(yaml: &str) {
    bounded(Duration::from_secs(20), async {
        let run = run_to_exit(&["-t"], yaml, Duration::from_secs(10)).await;
        assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
        assert!(run.stdout.contains("configuration OK"), "{}", run.stdout);
    })
    .await;
}

#[tokio::test]
async fn valid_config_passes_the_check() {
    accepted(&on_fresh_ports(VALID)).await;
}

/// The sample config shipped in conf/ passes the check as it is.
#[tokio::test]
async fn shipped_sample_config_passes_the_check() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../conf/edge.yaml");
    accepted(&std::fs::read_to_string(sample).expect("conf/edge.yaml")).await;
}

#[tokio::test]
async fn malformed_yaml() {
    let yaml = config_with("balance: round_robin", "balance: round_robin: extra");
    rejected_at(&yaml, "round_robin: extra", "mapping").await;
}

#[tokio::test]
async fn unknown_key() {
    let yaml = config_with("balance: round_robin", "keepalivee: 32");
    rejected_at(&yaml, "keepalivee", "keepalivee").await;
}

#[tokio::test]
async fn bad_duration() {
    let yaml = config_with("fail_timeout: 10s", "fail_timeout: 10x");
    rejected_at(&yaml, "10x", "10x").await;
}

#[tokio::test]
async fn duplicate_upstream_name() {
    let second = "  app: # again\n    servers:\n      - { address: \"127.0.0.1:10\" }\n";
    let yaml = config_with(
        "servers:\n  - listen",
        &format!("{second}servers:\n  - listen"),
    );
    rejected_at(&yaml, "# again", "app").await;
}

#[tokio::test]
async fn unknown_upstream_in_proxy_pass() {
    let yaml = config_with("proxy_pass: http://app", "proxy_pass: http://nosuch");
    rejected_at(&yaml, "nosuch", "nosuch").await;
}

/// A listen address this machine does not have (TEST-NET-1; only bound,
/// never sent to): the edge exits non-zero and names the address.
#[tokio::test]
async fn unbindable_listen_address() {
    bounded(Duration::from_secs(20), async {
        let yaml = config_with("127.0.0.1:LISTEN", "192.0.2.1:LISTEN");
        let listen = yaml
            .lines()
            .find(|l| l.contains("192.0.2.1:"))
            .and_then(|l| l.split('"').nth(1))
            .expect("the listen line")
            .to_string();
        let run = run_to_exit(&[], &yaml, Duration::from_secs(10)).await;
        assert!(
            !run.status.success(),
            "started on {listen}?\n{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&listen),
            "stderr should name {listen}:\n{}",
            run.stderr
        );
    })
    .await;
}

/// Bytes that are not HTTP get a 400, and the edge serves the next client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_request_gets_400_and_the_edge_keeps_serving() {
    bounded(Duration::from_secs(30), async {
        let backend = Backend::start("s0").await;
        let upstream = Upstream::new("app", "round_robin", vec![Server::new(backend.addr())]);
        let edge = Edge::start(EdgeConfig::new(upstream)).await;
        let garbage: [&[u8]; 3] = [
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n",
            b"GET / HTTP/1.1 extra words\r\nHost: x\r\n\r\n",
            b"HELLO\r\nthis: is\r\nnot a request line\r\n\r\n",
        ];
        for bytes in garbage {
            let resp = client::raw(edge.addr(), bytes)
                .await
                .unwrap_or_else(|e| panic!("no answer to {bytes:?}: {e}"));
            assert_eq!(resp.status, 400, "answer to {bytes:?}: {}", resp.text());
            let next = Request::get(edge.addr(), "/")
                .send()
                .await
                .expect("the next request");
            assert_eq!(next.status, 200, "after {bytes:?}: {}", next.text());
            assert_eq!(next.backend(), "s0");
        }
        assert_eq!(backend.requests(), 3, "garbage must not reach the backend");
    })
    .await;
}

//! The edge's and a gateway node's `/metrics` as an operator's Prometheus
//! sees them: after real traffic through the edge (HTTP requests, one of
//! them retried away from a dead server, an OpenClaw WebSocket session, a
//! reload that goes through and one that is refused) both pass
//! `promtool check metrics`, and the operations families are there with
//! values that follow the traffic. A node that loses Redis says so in
//! `openclaw_gateway_redis_up`.

use openclaw_e2e::gateway::{Gateway, TOKEN};
use openclaw_e2e::ha::{wait_holder, HaNode};
use openclaw_e2e::lifecycle::{server, signal, upstream, EdgeFiles};
use openclaw_e2e::metrics::Metrics;
use openclaw_e2e::ports::free_addr;
use openclaw_e2e::promtool::check_metrics;
use openclaw_e2e::protocol::ProtoClient;
use openclaw_e2e::redis::Redis;
use openclaw_e2e::wait::until_some;
use openclaw_e2e::{bounded, Request};
use serde_json::json;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One scrape of `addr`'s /metrics, which must pass `promtool check metrics`.
async fn scrape_checked(what: &str, addr: SocketAddr) -> Metrics {
    let resp = Request::get(addr, "/metrics")
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET /metrics from the {what}: {e}"));
    assert_eq!(resp.status, 200, "the {what}'s /metrics: {}", resp.text());
    let text = resp.text();
    if let Err(findings) = check_metrics(&text) {
        panic!(
            "promtool check metrics on the {what}'s /metrics:\n{findings}\n--- scrape ---\n{text}"
        );
    }
    Metrics::parse(&text)
}

/// Waits until the sum of `name` with `labels` on `addr`'s /metrics is `want`.
async fn wait_value(addr: SocketAddr, name: &str, labels: &[(&str, &str)], want: f64) {
    until_some(
        &format!("{name}{labels:?} = {want}"),
        Duration::from_secs(10),
        || async {
            let text = Request::get(addr, "/metrics").send().await.ok()?.text();
            (Metrics::parse(&text).sum(name, labels) == want).then_some(())
        },
    )
    .await
}

/// `<prefix>_build_info` naming the version `binary --version` prints, and
/// the standard process metrics with values a live process has.
fn assert_build_and_process(what: &str, prefix: &str, binary: &Path, m: &Metrics) {
    let out = Command::new(binary)
        .arg("--version")
        .output()
        .expect("--version runs");
    let printed = String::from_utf8_lossy(&out.stdout);
    let version = printed.split_whitespace().last().expect("a version");
    let build = format!("{prefix}_build_info");
    assert_eq!(m.get(&build, &[("version", version)]), Some(1.0), "{build}");
    let get = |name: &str| {
        m.get(name, &[])
            .unwrap_or_else(|| panic!("the {what} serves no {name}"))
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    assert!(get("process_cpu_seconds_total") >= 0.0);
    assert!(get("process_resident_memory_bytes") > 1e6, "{what}: RSS");
    let (open, max) = (get("process_open_fds"), get("process_max_fds"));
    assert!(open > 0.0 && max >= open, "{what}: fds {open} of {max}");
    let start = get("process_start_time_seconds");
    assert!(
        start <= now && start > now - 600.0,
        "{what}: started at {start}, now {now}"
    );
}

/// `name{labels}`, which must be there.
fn value(m: &Metrics, name: &str, labels: &[(&str, &str)]) -> f64 {
    m.get(name, labels)
        .unwrap_or_else(|| panic!("no {name}{labels:?} in the scrape"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_and_gateway_metrics_after_traffic() {
    bounded(Duration::from_secs(90), async {
        let redis = Redis::start().await;
        let node = Gateway::start(HaNode::new("m1", None, 10).config(&redis).behind_edge()).await;
        wait_holder(&redis, "m1", Duration::from_secs(10)).await;
        // Nothing listens on `dead`: a request sent there is retried on the node.
        let dead = free_addr();
        let files = EdgeFiles::new();
        let config = |extra: &str| {
            let servers = [server(dead, ""), server(node.addr(), extra)];
            files.yaml("", &upstream("gw", &[], &servers), &[])
        };
        files.write(&config(""));
        let edge = files.start("edge").await;
        let pid = edge.pid();

        for _ in 0..4 {
            let r = Request::get(files.listen, "/health")
                .send()
                .await
                .expect("GET /health");
            assert_eq!(r.status, 200, "/health through the edge: {}", r.text());
        }
        let url = format!("ws://{}", files.listen);
        let (mut client, _) = ProtoClient::hello(&url, TOKEN).await;
        let node_name = node.addr().to_string();
        let at_node = [("upstream", "gw"), ("server", node_name.as_str())];
        wait_value(
            files.admin,
            "openclaw_edge_upstream_server_websocket_tunnels",
            &at_node,
            1.0,
        )
        .await;

        // A reload that goes through, then one that is refused.
        files.write(&config("weight: 2"));
        signal(pid, libc::SIGHUP).expect("SIGHUP");
        wait_value(files.admin, "openclaw_edge_config_generation", &[], 2.0).await;
        files.write("upstreams: [ this is not an edge config\n");
        signal(pid, libc::SIGHUP).expect("SIGHUP");
        wait_value(
            files.admin,
            "openclaw_edge_config_last_reload_successful",
            &[],
            0.0,
        )
        .await;

        // Bytes are counted while a tunnel is open, both ways.
        let before = scrape_checked("edge", files.admin).await;
        client.call("health", json!({})).await.expect("health");
        let during = scrape_checked("edge", files.admin).await;
        for name in [
            "openclaw_edge_upstream_sent_bytes_total",
            "openclaw_edge_upstream_received_bytes_total",
        ] {
            let (a, b) = (
                value(&before, name, &[("upstream", "gw")]),
                value(&during, name, &[("upstream", "gw")]),
            );
            assert!(
                a > 0.0 && b > a,
                "{name}: {a} then {b}: a call through the tunnel"
            );
        }
        assert!(value(&during, "openclaw_edge_client_connections", &[]) >= 1.0);
        let gw = scrape_checked("gateway", node.addr()).await;
        let frames_in = value(&gw, "openclaw_gateway_frames_total", &[("direction", "in")]);
        let frames_out = value(
            &gw,
            "openclaw_gateway_frames_total",
            &[("direction", "out")],
        );
        assert!(
            frames_in >= 2.0,
            "connect and health: {frames_in} frames in"
        );
        assert!(
            frames_out >= 3.0,
            "challenge, hello, answer: {frames_out} frames out"
        );

        client.close_with(1000).await;
        drop(client);
        wait_value(files.admin, "openclaw_edge_websocket_tunnels", &[], 0.0).await;
        let m = scrape_checked("edge", files.admin).await;
        let edge = openclaw_e2e::edge::binary();
        assert_build_and_process("edge", "openclaw_edge", &edge, &m);
        assert!(value(&m, "openclaw_edge_client_connections_accepted_total", &[]) >= 5.0);
        assert_eq!(
            value(
                &m,
                "openclaw_edge_upstream_server_websocket_tunnels",
                &at_node
            ),
            0.0
        );
        let gw_label = [("upstream", "gw")];
        assert_eq!(
            value(
                &m,
                "openclaw_edge_websocket_tunnel_duration_seconds_count",
                &gw_label
            ),
            1.0
        );
        assert!(
            value(
                &m,
                "openclaw_edge_upstream_connect_duration_seconds_count",
                &gw_label
            ) >= 1.0
        );
        assert!(
            value(
                &m,
                "openclaw_edge_upstream_retries_total",
                &[("upstream", "gw"), ("reason", "error")]
            ) >= 1.0,
            "a request picked the dead server and went on to the node"
        );
        assert_eq!(value(&m, "openclaw_edge_config_generation", &[]), 2.0);
        assert_eq!(
            value(
                &m,
                "openclaw_edge_config_reloads_total",
                &[("result", "ok")]
            ),
            1.0
        );
        assert_eq!(
            value(
                &m,
                "openclaw_edge_config_reloads_total",
                &[("result", "error")]
            ),
            1.0
        );
        let reloaded = value(
            &m,
            "openclaw_edge_config_last_reload_success_timestamp_seconds",
            &[],
        );
        assert!(
            reloaded >= value(&m, "process_start_time_seconds", &[]),
            "the last good load ({reloaded}) is after the start"
        );

        let gw = scrape_checked("gateway", node.addr()).await;
        let openclaw = openclaw_e2e::gateway::binary();
        assert_build_and_process("gateway", "openclaw_gateway", &openclaw, &gw);
        assert_eq!(value(&gw, "openclaw_gateway_leader", &[]), 1.0);
        assert_eq!(value(&gw, "openclaw_gateway_leader_terms_total", &[]), 1.0);
        for link in ["lock", "sessions"] {
            assert_eq!(
                value(&gw, "openclaw_gateway_redis_up", &[("link", link)]),
                1.0
            );
        }
        for op in ["lease_acquire", "ping"] {
            let calls = value(&gw, "openclaw_gateway_redis_seconds_count", &[("op", op)]);
            assert!(calls >= 1.0, "redis op {op}: {calls} calls timed");
        }
        let hashes: Vec<&String> = gw
            .matching("openclaw_gateway_config_info", &[])
            .filter_map(|s| s.labels.get("config_hash"))
            .collect();
        assert!(
            hashes.len() == 1 && hashes[0].len() == 12,
            "one config hash as the nodes command shows it: {hashes:?}"
        );
    })
    .await;
}

/// Waits until `openclaw_gateway_redis_up` of both of `node`'s links is `want`.
async fn wait_redis_up(node: &Gateway, want: f64) {
    for link in ["sessions", "lock"] {
        let labels = [("link", link)];
        wait_value(node.addr(), "openclaw_gateway_redis_up", &labels, want).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_reports_redis_unreachable_and_back() {
    bounded(Duration::from_secs(60), async {
        let mut redis = Redis::start().await;
        let node = Gateway::start(HaNode::new("m2", None, 10).config(&redis)).await;
        wait_redis_up(&node, 1.0).await;
        redis.kill();
        wait_redis_up(&node, 0.0).await;
        redis.resume().await;
        wait_redis_up(&node, 1.0).await;
    })
    .await;
}

//! The runtime API on the admin listener (NGINX Plus style:
//! `GET /api/upstreams`, `PATCH /api/upstreams/NAME/servers/ID`) against a
//! running edge with real backends: a drained server gets no new request
//! while a WebSocket tunnel to it keeps working and its sticky clients are
//! moved and re-cookied; ip_hash clients of a drained server move and
//! nobody else does; down and up; a weight changes round robin's shares;
//! errors are NGINX Plus's JSON with 400/404/405; each change is logged
//! once; a token is required when configured (and the config requires one
//! off loopback); reloads keep the overrides of servers they keep unless
//! the file changed that setting.

use openclaw_e2e::client::{backend_per_client, backend_sequence, client_ips};
use openclaw_e2e::lifecycle::{md5_hex, server, signal, upstream, EdgeFiles};
use openclaw_e2e::runtime_api::{expect_error, patch, patch_ok, server as get_server};
use openclaw_e2e::wait::until;
use openclaw_e2e::ws::WsClient;
use openclaw_e2e::{bounded, Backend, Request};
use std::collections::BTreeMap;
use std::time::Duration;

/// Counts of each backend name in `names`.
fn shares(names: &[String]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for n in names {
        *out.entry(n.clone()).or_default() += 1;
    }
    out
}

/// An edge in front of `backends` with upstream `gw` having `keys`.
async fn edge(
    files: &EdgeFiles,
    backends: &[Backend],
    keys: &[&str],
) -> openclaw_e2e::process::ChildProcess {
    let servers: Vec<String> = backends.iter().map(|b| server(b.addr(), "")).collect();
    files.write(&files.yaml("access_log: off\n", &upstream("gw", keys, &servers), &[]));
    files.start("edge").await
}

/// Waits until `/api/status` reports configuration generation `n`.
async fn wait_generation(files: &EdgeFiles, n: i64) {
    until(
        &format!("config generation {n}"),
        Duration::from_secs(10),
        || async { files.status().await["edge"]["generation"] == n },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_stops_new_requests_keeps_tunnels_and_moves_sticky_clients() {
    bounded(Duration::from_secs(60), async {
        let backends = Backend::start_n(2).await;
        let files = EdgeFiles::new();
        let _edge = edge(
            &files,
            &backends,
            &["balance: round_robin", "sticky: { cookie: route }"],
        )
        .await;
        let (s0, s1) = (
            backends[0].addr().to_string(),
            backends[1].addr().to_string(),
        );
        // A tunnel to s0 (round robin alternates; a few tries find it).
        let mut tunnel = None;
        for _ in 0..4 {
            let ws = WsClient::connect(files.listen).await;
            if ws.backend == "s0" {
                tunnel = Some(ws);
                break;
            }
        }
        let mut tunnel = tunnel.expect("a WebSocket reached s0");
        assert_eq!(tunnel.echo("before").await, "before");

        let after = patch_ok(files.admin, "gw", &s0, r#"{"drain": true}"#).await;
        assert_eq!(after["state"], "draining", "{after}");
        assert_eq!(after["drain"], true);
        assert_eq!(after["id"], 0);
        assert_eq!(after["tunnels"], 1, "the open tunnel is counted: {after}");

        let seen = shares(&backend_sequence(files.listen, 20).await);
        assert_eq!(seen.get("s1"), Some(&20), "new requests avoid s0: {seen:?}");
        // A sticky client of s0 goes to s1 and is pinned there.
        let r = Request::get(files.listen, "/")
            .header("Cookie", &format!("route={}", md5_hex(&s0)))
            .send()
            .await
            .expect("GET / with s0's cookie");
        assert_eq!(r.backend(), "s1");
        let cookie = r.header("set-cookie").unwrap_or_default().to_string();
        assert!(
            cookie.starts_with(&format!("route={};", md5_hex(&s1))),
            "re-cookied to s1: {cookie:?}"
        );
        // New tunnels go to s1; the open one to s0 still works.
        let ws = WsClient::connect(files.listen).await;
        assert_eq!(ws.backend, "s1");
        assert_eq!(tunnel.echo("during the drain").await, "during the drain");

        let after = patch_ok(files.admin, "gw", "0", r#"{"drain": false}"#).await;
        assert_eq!(after["state"], "up", "{after}");
        let seen = shares(&backend_sequence(files.listen, 4).await);
        assert_eq!(seen.get("s0"), Some(&2), "s0 is back: {seen:?}");
        assert_eq!(tunnel.echo("after").await, "after");
        ws.close().await;
        tunnel.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_hash_clients_of_a_drained_server_move_and_no_one_else() {
    bounded(Duration::from_secs(60), async {
        let backends = Backend::start_n(3).await;
        let files = EdgeFiles::new();
        let _edge = edge(&files, &backends, &["balance: ip_hash"]).await;
        let clients = client_ips(90);
        let before = backend_per_client(files.listen, &clients).await;
        assert!(before.iter().any(|b| b == "s1"), "{before:?}");
        patch_ok(files.admin, "gw", "1", r#"{"drain": true}"#).await;
        let during = backend_per_client(files.listen, &clients).await;
        for (i, (b, d)) in before.iter().zip(&during).enumerate() {
            if b == "s1" {
                assert_ne!(d, "s1", "client {} stays on the drained s1", clients[i]);
            } else {
                assert_eq!(b, d, "client {} moved though its server is up", clients[i]);
            }
        }
        patch_ok(files.admin, "gw", "1", r#"{"drain": false}"#).await;
        assert_eq!(backend_per_client(files.listen, &clients).await, before);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_up_and_weight_change_the_distribution() {
    bounded(Duration::from_secs(60), async {
        let backends = Backend::start_n(2).await;
        let files = EdgeFiles::new();
        let edge = edge(&files, &backends, &["balance: round_robin"]).await;
        let s0 = backends[0].addr().to_string();

        let after = patch_ok(files.admin, "gw", "0", r#"{"down": true}"#).await;
        assert_eq!(after["state"], "down", "{after}");
        assert_eq!(after["down"], true);
        assert_eq!(after["config"]["down"], false, "the file's value: {after}");
        let seen = shares(&backend_sequence(files.listen, 10).await);
        assert_eq!(seen.get("s1"), Some(&10), "{seen:?}");
        assert!(after["last_change_unix_ms"].as_u64().is_some(), "{after}");

        let after = patch_ok(files.admin, "gw", "0", r#"{"down": false}"#).await;
        assert_eq!(after["state"], "up", "{after}");
        let seen = shares(&backend_sequence(files.listen, 10).await);
        assert_eq!(seen.get("s0"), Some(&5), "{seen:?}");

        // By name, percent-encoded as a client may send it.
        let encoded = s0.replace(':', "%3A");
        let after = patch_ok(files.admin, "gw", &encoded, r#"{"weight": 3}"#).await;
        assert_eq!(
            (&after["weight"], &after["config"]["weight"]),
            (&3.into(), &1.into())
        );
        let seen = shares(&backend_sequence(files.listen, 40).await);
        let on_s0 = seen.get("s0").copied().unwrap_or(0);
        assert!((29..=31).contains(&on_s0), "3:1 over 40 requests: {seen:?}");

        // The file's weight again: the override is gone.
        let after = patch_ok(files.admin, "gw", &s0, r#"{"weight": 1}"#).await;
        assert_eq!(
            (&after["weight"], &after["config"]["weight"]),
            (&1.into(), &1.into())
        );
        let seen = shares(&backend_sequence(files.listen, 20).await);
        let on_s0 = seen.get("s0").copied().unwrap_or(0);
        assert!((9..=11).contains(&on_s0), "1:1 over 20 requests: {seen:?}");

        // Each change is logged once, with old -> new; a repeat changes nothing.
        patch_ok(files.admin, "gw", "0", r#"{"down": true}"#).await;
        patch_ok(files.admin, "gw", "0", r#"{"down": true}"#).await;
        let log = edge.stderr();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("runtime API") && l.contains(&s0))
            .collect();
        let count = |what: &str| lines.iter().filter(|l| l.contains(what)).count();
        assert_eq!(count("down false -> true"), 2, "{lines:#?}");
        assert_eq!(count("down true -> false"), 1, "{lines:#?}");
        assert_eq!(count("weight 1 -> 3"), 1, "{lines:#?}");
        assert_eq!(count("weight 3 -> 1"), 1, "{lines:#?}");
        assert_eq!(lines.len(), 5, "{lines:#?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_answer_like_nginx_plus() {
    bounded(Duration::from_secs(60), async {
        let backends = Backend::start_n(2).await;
        let files = EdgeFiles::new();
        let servers: Vec<String> = backends.iter().map(|b| server(b.addr(), "")).collect();
        let ring = upstream(
            "ring",
            &["balance: \"hash $remote_addr consistent\""],
            &servers,
        );
        let ups = format!("{}{ring}", upstream("gw", &[], &servers));
        files.write(&files.yaml("access_log: off\n", &ups, &[]));
        let edge = files.start("edge").await;
        let admin = files.admin;

        // /api/status: the edge itself, and no followed cluster (no `leader:`).
        let status = files.status().await;
        assert_eq!(status["edge"]["pid"], edge.pid(), "{status}");
        assert_eq!(status["edge"]["generation"], 1, "{status}");
        assert!(status["edge"]["version"].is_string(), "{status}");
        assert_eq!(status["cluster"], serde_json::json!([]), "{status}");

        let all = Request::get(admin, "/api/upstreams")
            .send()
            .await
            .expect("GET");
        assert_eq!(all.status, 200, "{}", all.text());
        let all = all.json();
        assert_eq!(all["gw"]["servers"][1]["id"], 1, "{all}");
        assert_eq!(all["ring"]["servers"].as_array().map(Vec::len), Some(2));
        let one = Request::get(admin, "/api/upstreams/gw")
            .send()
            .await
            .expect("GET");
        assert_eq!(one.json()["name"], "gw");
        let s1 = get_server(admin, "gw", &backends[1].addr().to_string()).await;
        assert_eq!(s1["id"], 1);

        let cases: [(&str, &str, &str, u16, &str); 8] = [
            ("nope", "0", "{\"drain\": true}", 404, "UpstreamNotFound"),
            (
                "gw",
                "7",
                "{\"drain\": true}",
                404,
                "UpstreamServerNotFound",
            ),
            (
                "gw",
                "10.9.9.9:1",
                "{\"drain\": true}",
                404,
                "UpstreamServerNotFound",
            ),
            ("gw", "0", "{\"drain\": tru", 400, "UpstreamConfFormatError"),
            (
                "gw",
                "0",
                "{\"drian\": true}",
                400,
                "UpstreamConfFormatError",
            ),
            ("gw", "0", "{\"weight\": 0}", 400, "UpstreamBadWeight"),
            (
                "gw",
                "0",
                "{\"weight\": 4294967296}",
                400,
                "UpstreamBadWeight",
            ),
            (
                "ring",
                "0",
                "{\"weight\": 2}",
                400,
                "UpstreamServerWeightImmutable",
            ),
        ];
        for (up, id, body, status, code) in cases {
            let r = patch(admin, up, id, body, None).await;
            expect_error(&r, status, code);
        }
        // Nothing above changed anything.
        assert_eq!(get_server(admin, "gw", "0").await["state"], "up");

        for (method, path, allow) in [
            ("DELETE", "/api/upstreams/gw/servers/0", "GET, HEAD, PATCH"),
            ("POST", "/api/upstreams", "GET, HEAD"),
            ("PATCH", "/api/upstreams/gw", "GET, HEAD"),
        ] {
            let r = Request::get(admin, path)
                .method(method)
                .body(b"{}")
                .send()
                .await
                .expect("request");
            expect_error(&r, 405, "MethodNotSupported");
            assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
        }
        let r = Request::get(admin, "/api/upstreams/gw/peers")
            .send()
            .await
            .expect("GET");
        expect_error(&r, 404, "PathNotFound");
        let r = Request::get(admin, "/api/nothing")
            .send()
            .await
            .expect("GET");
        expect_error(&r, 404, "PathNotFound");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_when_set_and_off_loopback() {
    bounded(Duration::from_secs(60), async {
        let backends = Backend::start_n(1).await;
        let files = EdgeFiles::new();
        let servers = [server(backends[0].addr(), "")];
        let loopback = format!("listen: \"{}\"", files.admin);
        let wildcard = format!("listen: \"0.0.0.0:{}\"", files.admin.port());
        let open = files
            .yaml("", &upstream("gw", &[], &servers), &[])
            .replace(&loopback, &wildcard);
        // Off loopback without a token: refused, saying what to do.
        files.write(&open);
        let mut check = files.spawn("check", &["-t"]);
        let status = check
            .wait_exit(Duration::from_secs(10))
            .await
            .expect("-t exits");
        assert!(!status.success());
        assert!(
            check.stderr().contains("set admin.token"),
            "{}",
            check.logs()
        );
        files.write(&open.replace(&wildcard, &format!("{wildcard}\n  token: s3cret")));
        let _edge = files.start("edge").await;
        let admin = files.admin;

        let r = patch(admin, "gw", "0", r#"{"drain": true}"#, None).await;
        expect_error(&r, 401, "Unauthorized");
        assert!(r
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Basic ")));
        let r = patch(admin, "gw", "0", r#"{"drain": true}"#, Some("wrong")).await;
        expect_error(&r, 401, "Unauthorized");
        for path in ["/status", "/api/status", "/api/upstreams", "/metrics"] {
            let r = Request::get(admin, path).send().await.expect("GET");
            assert_eq!(r.status, 401, "{path} without the token");
        }
        let r = patch(admin, "gw", "0", r#"{"drain": true}"#, Some("s3cret")).await;
        assert_eq!(r.status, 200, "{}", r.text());
        // HTTP Basic with the token as password: what a browser sends for the page.
        let basic = format!("Basic {}", base64_of("anyone:s3cret"));
        for path in ["/status", "/api/status"] {
            let r = Request::get(admin, path)
                .header("Authorization", &basic)
                .send()
                .await
                .expect("GET");
            assert_eq!(r.status, 200, "{path} with Basic: {}", r.text());
        }
    })
    .await;
}

/// Base64 of `text` (for a Basic Authorization header).
fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_overrides_of_kept_servers_unless_the_file_changed_them() {
    bounded(Duration::from_secs(60), async {
        let backends = Backend::start_n(3).await;
        let files = EdgeFiles::new();
        let (a, b, c) = (backends[0].addr(), backends[1].addr(), backends[2].addr());
        let config = |list: &[String]| {
            files.yaml(
                "access_log: off\n",
                &upstream("gw", &["balance: round_robin"], list),
                &[],
            )
        };
        files.write(&config(&[server(a, ""), server(b, ""), server(c, "")]));
        let edge = files.start("edge").await;
        let (sa, sb, sc) = (server(a, ""), server(b, ""), server(c, "weight: 2"));
        let (a, b, c) = (a.to_string(), b.to_string(), c.to_string());
        patch_ok(files.admin, "gw", &a, r#"{"drain": true}"#).await;
        patch_ok(files.admin, "gw", &b, r#"{"down": true}"#).await;
        patch_ok(files.admin, "gw", &c, r#"{"weight": 4}"#).await;

        // The same file again: everything is kept, and traffic follows it.
        signal(edge.pid(), libc::SIGHUP).expect("SIGHUP");
        wait_generation(&files, 2).await;
        let state = |s: serde_json::Value| {
            (
                s["state"].as_str().unwrap_or("").to_string(),
                s["weight"].as_i64().unwrap_or(0),
            )
        };
        assert_eq!(
            state(get_server(files.admin, "gw", &a).await),
            ("draining".into(), 1)
        );
        assert_eq!(
            state(get_server(files.admin, "gw", &b).await),
            ("down".into(), 1)
        );
        assert_eq!(
            state(get_server(files.admin, "gw", &c).await),
            ("up".into(), 4)
        );
        let seen = shares(&backend_sequence(files.listen, 10).await);
        assert_eq!(
            seen.get("s2"),
            Some(&10),
            "only s2 takes requests: {seen:?}"
        );

        // The file now gives c weight 2 and drops a: c's weight is the
        // file's, b stays down, and a's drain is gone with a.
        files.write(&config(&[sb.clone(), sc.clone()]));
        signal(edge.pid(), libc::SIGHUP).expect("SIGHUP");
        wait_generation(&files, 3).await;
        let after_c = get_server(files.admin, "gw", &c).await;
        assert_eq!(state(after_c.clone()), ("up".into(), 2), "{after_c}");
        assert_eq!(after_c["config"]["weight"], 2);
        assert_eq!(
            state(get_server(files.admin, "gw", &b).await),
            ("down".into(), 1)
        );
        assert!(
            edge.stderr().contains("runtime override weight 4"),
            "the dropped override is logged:\n{}",
            edge.stderr()
        );

        // a comes back with the next reload: fresh, not draining.
        files.write(&config(&[sa, sb, sc]));
        signal(edge.pid(), libc::SIGHUP).expect("SIGHUP");
        wait_generation(&files, 4).await;
        assert_eq!(
            state(get_server(files.admin, "gw", &a).await),
            ("up".into(), 1)
        );
        assert_eq!(
            state(get_server(files.admin, "gw", &b).await),
            ("down".into(), 1)
        );
    })
    .await;
}

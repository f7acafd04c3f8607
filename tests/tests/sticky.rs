//! Sticky sessions by cookie (nginx `sticky cookie`): each of 200 clients,
//! each with its own cookie jar, stays on one server across 20 requests;
//! the cookie value is nginx's (hex MD5 of `ip:port`, or the server's
//! `route`); a WebSocket upgrade answer (101) sets the cookie too; killing a
//! server moves only its clients, each with a new Set-Cookie, and nobody
//! else moves.

use futures_util::stream::{self, StreamExt};
use futures_util::SinkExt;
use openclaw_e2e::lifecycle::{md5_hex, server, upstream, EdgeFiles};
use openclaw_e2e::{bounded, Backend, Request, Response};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const COOKIE: &str = "openclaw_route";
const CLIENTS: usize = 200;
const REQUESTS: usize = 20;
/// Clients running at once.
const CONCURRENCY: usize = 50;

/// The attributes every Set-Cookie must carry, in the config's spelling.
const ATTRIBUTES: [&str; 4] = ["Max-Age=3600", "Path=/", "HttpOnly", "SameSite=Lax"];

/// Three backends, the third with `route: r2`; returns them, their expected
/// cookie values by name, and the running edge's files.
struct Setup {
    backends: Vec<Backend>,
    values: BTreeMap<String, String>,
    files: EdgeFiles,
}

async fn setup() -> (Setup, openclaw_e2e::process::ChildProcess) {
    let backends = Backend::start_n(3).await;
    let files = EdgeFiles::new();
    let sticky = format!(
        "sticky: {{ cookie: {COOKIE}, expires: 1h, path: /, httponly: true, secure: false, samesite: lax }}"
    );
    let servers = vec![
        server(backends[0].addr(), ""),
        server(backends[1].addr(), ""),
        server(backends[2].addr(), "route: r2"),
    ];
    files.write(&files.yaml(
        "access_log: off\n",
        &upstream("gw", &["balance: round_robin", &sticky], &servers),
        &[],
    ));
    let edge = files.start("edge").await;
    let mut values = BTreeMap::new();
    values.insert("s0".to_string(), md5_hex(&backends[0].addr().to_string()));
    values.insert("s1".to_string(), md5_hex(&backends[1].addr().to_string()));
    values.insert("s2".to_string(), "r2".to_string());
    (
        Setup {
            backends,
            values,
            files,
        },
        edge,
    )
}

/// The value of our cookie in a Set-Cookie header, after checking its attributes.
fn cookie_value(set_cookie: &str) -> String {
    for attr in ATTRIBUTES {
        assert!(
            set_cookie.split(';').any(|p| p.trim() == attr),
            "Set-Cookie `{set_cookie}` lacks `{attr}`"
        );
    }
    let first = set_cookie.split(';').next().unwrap_or("");
    match first.trim().split_once('=') {
        Some((name, value)) if name == COOKIE => value.to_string(),
        _ => panic!("Set-Cookie `{set_cookie}` does not set {COOKIE}"),
    }
}

/// Our cookie's value set by `resp`, if any.
fn set_by(resp: &Response) -> Option<String> {
    resp.headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.as_str())
        .find(|v| v.trim_start().starts_with(&format!("{COOKIE}=")))
        .map(cookie_value)
}

/// One client: a cookie jar and the backends that answered it.
#[derive(Debug, Clone, Default)]
struct Client {
    jar: Option<String>,
    seen: Vec<String>,
    /// Cookie values the edge set, in order.
    set: Vec<String>,
}

impl Client {
    /// One GET `/` with the jar's cookie; stores any Set-Cookie.
    async fn get(&mut self, target: SocketAddr) -> String {
        let mut req = Request::get(target, "/");
        if let Some(v) = &self.jar {
            req = req.header("Cookie", &format!("other=1; {COOKIE}={v}"));
        }
        let resp = req.send().await.expect("an answer");
        assert_eq!(resp.status, 200, "{}", resp.text());
        if let Some(v) = set_by(&resp) {
            self.jar = Some(v.clone());
            self.set.push(v);
        }
        let name = resp.backend();
        self.seen.push(name.clone());
        name
    }
}

/// Runs `f` for every client, `CONCURRENCY` at a time, keeping their order.
async fn for_all<F, Fut>(clients: Vec<Client>, f: F) -> Vec<Client>
where
    F: Fn(Client) -> Fut,
    Fut: std::future::Future<Output = Client>,
{
    stream::iter(clients)
        .map(f)
        .buffered(CONCURRENCY)
        .collect()
        .await
}

/// Opens `/ws` with our cookie (if any) and returns the upgrade answer's
/// status, the cookie value it set, and the backend's greeting name.
async fn ws_open(target: SocketAddr, cookie: Option<&str>) -> (u16, Option<String>, String) {
    let mut req = format!("ws://{target}/ws")
        .into_client_request()
        .expect("request");
    if let Some(v) = cookie {
        req.headers_mut().insert(
            "cookie",
            format!("{COOKIE}={v}").parse().expect("header value"),
        );
    }
    let tcp = TcpStream::connect(target).await.expect("connect");
    let (mut ws, resp) = tokio_tungstenite::client_async(req, tcp)
        .await
        .expect("WebSocket handshake");
    let set = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{COOKIE}=")))
        .map(cookie_value);
    let hello = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("greeting in time")
        .expect("a message")
        .expect("no error");
    let name = match hello {
        Message::Text(t) => t.strip_prefix("hello ").expect("a greeting").to_string(),
        other => panic!("expected the greeting, got {other:?}"),
    };
    ws.send(Message::text("ping-through")).await.expect("send");
    let echo = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("echo in time");
    assert!(
        matches!(echo, Some(Ok(Message::Text(ref t))) if t.as_str() == "ping-through"),
        "{echo:?}"
    );
    let _ = ws.close(None).await;
    (resp.status().as_u16(), set, name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_stay_put_and_only_a_dead_servers_clients_move() {
    bounded(Duration::from_secs(120), async {
        let (mut setup, _edge) = setup().await;
        let target = setup.files.listen;
        let values = setup.values.clone();

        // 200 clients, 20 requests each, each with its own jar.
        let clients = for_all(vec![Client::default(); CLIENTS], |mut c| async move {
            for _ in 0..REQUESTS {
                c.get(target).await;
            }
            c
        })
        .await;
        let mut per_server: BTreeMap<String, usize> = BTreeMap::new();
        for (i, c) in clients.iter().enumerate() {
            let home = &c.seen[0];
            assert!(
                c.seen.iter().all(|s| s == home),
                "client {i} moved between servers: {:?}",
                c.seen
            );
            assert!(!c.set.is_empty(), "client {i} never got a cookie");
            assert!(
                c.set.iter().all(|v| *v == values[home]),
                "client {i} on {home} was given {:?}; {home}'s value is {}",
                c.set,
                values[home]
            );
            *per_server.entry(home.clone()).or_default() += 1;
        }
        let recookied = clients.iter().filter(|c| c.set.len() > 1).count();
        println!(
            "clients per server: {per_server:?}; clients re-sent the same cookie: {recookied}"
        );
        assert_eq!(
            per_server.len(),
            3,
            "first requests are balanced over all servers: {per_server:?}"
        );

        // s1 dies: only its clients move, each with a new cookie naming
        // where it landed; everybody else stays, with no new cookie value.
        let dead = setup.backends[1].name().to_string();
        setup.backends[1].stop().await;
        let before: Vec<String> = clients.iter().map(|c| c.seen[0].clone()).collect();
        let after = for_all(clients, |mut c| async move {
            c.seen.clear();
            c.set.clear();
            for _ in 0..5 {
                c.get(target).await;
            }
            c
        })
        .await;
        let mut moved = 0;
        for (i, (c, home)) in after.iter().zip(&before).enumerate() {
            let now = &c.seen[0];
            assert!(
                c.seen.iter().all(|s| s == now),
                "client {i} did not settle on one server after the kill: {:?}",
                c.seen
            );
            if *home == dead {
                moved += 1;
                assert_ne!(now, &dead, "client {i} was answered by the dead server");
                assert_eq!(
                    c.set.first(),
                    Some(&values[now]),
                    "client {i} moved from {dead} to {now} without a Set-Cookie naming {now}"
                );
            } else {
                assert_eq!(now, home, "client {i} of live server {home} moved to {now}");
                assert!(
                    c.set.iter().all(|v| *v == values[home]),
                    "client {i} of live server {home} got cookie values {:?}",
                    c.set
                );
            }
        }
        println!(
            "{moved} clients of {dead} moved; the other {} stayed",
            CLIENTS - moved
        );
        assert_eq!(moved, per_server[&dead]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrade_answer_sets_the_cookie() {
    bounded(Duration::from_secs(60), async {
        let (mut setup, _edge) = setup().await;
        let target = setup.files.listen;
        let values = setup.values.clone();

        // Fresh clients upgrading: the 101 carries the cookie of the server
        // that greets them, and the cookie then pins both HTTP and WebSocket.
        let mut pinned = BTreeMap::new();
        for i in 0..6 {
            let (status, set, name) = ws_open(target, None).await;
            assert_eq!(status, 101);
            let value =
                set.unwrap_or_else(|| panic!("upgrade {i} (101 from {name}) set no cookie"));
            assert_eq!(value, values[&name], "upgrade {i} answered by {name}");
            pinned.insert(name, value);
        }
        assert_eq!(
            pinned.len(),
            3,
            "six fresh upgrades spread over the servers"
        );
        for (name, value) in &pinned {
            for _ in 0..3 {
                let (status, set, again) = ws_open(target, Some(value)).await;
                assert_eq!(
                    (status, again.as_str()),
                    (101, name.as_str()),
                    "a pinned upgrade moved"
                );
                assert!(
                    set.is_none_or(|v| v == *value),
                    "a pinned upgrade got another cookie"
                );
                let r = Request::get(target, "/")
                    .header("Cookie", &format!("{COOKIE}={value}"))
                    .send()
                    .await
                    .expect("answer");
                assert_eq!(
                    r.backend(),
                    *name,
                    "the cookie from a 101 does not pin HTTP"
                );
            }
        }

        // The pinned server dies: the next upgrade goes elsewhere and its
        // 101 carries the new server's cookie.
        let dead = setup.backends[0].name().to_string();
        setup.backends[0].stop().await;
        let (status, set, name) = ws_open(target, Some(&pinned[&dead])).await;
        assert_eq!(status, 101);
        assert_ne!(name, dead);
        assert_eq!(
            set.as_deref(),
            Some(values[&name].as_str()),
            "the upgrade moved from {dead} to {name}; its 101 must carry {name}'s cookie"
        );
    })
    .await;
}

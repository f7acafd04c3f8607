//! TLS termination at the edge, as clients meet it, with certificates the
//! test makes (`openssl`): two names by SNI on one address, the default
//! server's certificate without SNI, `$scheme`/`X-Forwarded-Proto`, ALPN,
//! session resumption, `add_header` (HSTS with `always`) and the usual
//! redirect to https, each compared with
//! the real nginx running the same nginx config; a reload that swaps a
//! certificate while a `wss`-style tunnel opened before keeps echoing; and
//! every bad certificate or key refused with its file:line, by `-t` and by
//! a reload (the old certificate keeps serving).

use openclaw_e2e::certs::{presented, serial_of, TestCa};
use openclaw_e2e::gateway::{cli, Gateway, NodeConfig, TOKEN};
use openclaw_e2e::lifecycle::{signal, EdgeFiles};
use openclaw_e2e::nginx_conf::{check, dir_of, ConfEdge};
use openclaw_e2e::ports::free_addr;
use openclaw_e2e::rawtunnel::{self, RawBackend};
use openclaw_e2e::wait::until;
use openclaw_e2e::{bounded, Backend, Nginx};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The addresses one proxy serves the test config on.
#[derive(Clone, Copy)]
struct Addrs {
    tls: SocketAddr,
    plain: SocketAddr,
    redirect: SocketAddr,
}

/// The nginx http-context config both proxies run: a.test (proxied, on TLS
/// and clear text) and b.test (answered) on one TLS address, and a
/// redirecting server.
fn http_conf(a: Addrs, backend: SocketAddr, ca: &TestCa) -> String {
    let dir = ca.ca().parent().expect("ca dir").display().to_string();
    format!(
        "  upstream app {{ server {backend}; }}\n\
         ssl_protocols TLSv1.2 TLSv1.3;\n\
         ssl_session_cache shared:SSL:1m;\n\
         server {{\n    listen {tls} ssl;\n    listen {plain};\n    server_name a.test;\n\
             ssl_certificate {dir}/a.test.pem;\n    ssl_certificate_key {dir}/a.test.key;\n\
             add_header Strict-Transport-Security \"max-age=63072000\" always;\n\
             add_header X-Only-Ok yes;\n\
             location / {{ proxy_pass http://app; proxy_set_header Host $host; \
             proxy_set_header X-Forwarded-Proto $scheme; }}\n\
             location /down {{ proxy_pass http://127.0.0.1:9; }}\n  }}\n\
         server {{\n    listen {tls} ssl;\n    server_name b.test;\n\
             ssl_certificate {dir}/b.test.pem;\n    ssl_certificate_key {dir}/b.test.key;\n\
             location / {{ return 200 \"b over $scheme\\n\"; }}\n  }}\n\
         server {{ listen {redirect}; return 301 https://$host$request_uri; }}\n",
        tls = a.tls,
        plain = a.plain,
        redirect = a.redirect,
    )
}

/// `curl URL` as a client of `addr` for host `name`: "STATUS BODY-OR-LOCATION".
fn curl(ca: &Path, name: &str, addr: SocketAddr, scheme: &str, path: &str) -> String {
    let url = format!("{scheme}://{name}:{}{path}", addr.port());
    let out = Command::new("curl")
        .args(["-s", "--max-time", "10", "--cacert"])
        .arg(ca)
        .arg("--resolve")
        .arg(format!("{name}:{}:{}", addr.port(), addr.ip()))
        .args(["-w", "\n%{http_code} %{redirect_url}", &url])
        .stdin(Stdio::null())
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `add_header` fields of the answer to `path` on a.test, with its status.
fn added(ca: &Path, addr: SocketAddr, path: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-D",
            "-",
            "--cacert",
        ])
        .arg(ca)
        .arg("--resolve")
        .arg(format!("a.test:{}:{}", addr.port(), addr.ip()))
        .arg(format!("https://a.test:{}{path}", addr.port()))
        .stdin(Stdio::null())
        .output()
        .expect("run curl");
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut fields: Vec<&str> = head
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("strict-transport-security") || l.starts_with("x-only-ok"))
        .collect();
    fields.sort();
    format!("{status} {}", fields.join(" | "))
}

/// The `X-Forwarded-Proto` the backend saw, from its JSON answer.
fn forwarded_proto(answer: &str) -> String {
    let json = answer.lines().next().unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    v["headers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| {
            h[0].as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case("x-forwarded-proto"))
        })
        .and_then(|h| h[1].as_str())
        .unwrap_or("(none)")
        .to_string()
}

/// `openssl s_client` at `addr` with SNI a.test and `args`; its output.
fn s_client(addr: SocketAddr, ca: &Path, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .args(["20", "openssl", "s_client", "-connect", &addr.to_string()])
        .args(["-servername", "a.test", "-CAfile"])
        .arg(ca)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl s_client");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a client observes of one proxy, as (what, answer) pairs.
fn observe(a: Addrs, ca: &TestCa) -> Vec<(&'static str, String)> {
    let ca_pem = ca.ca();
    let cn = |name| presented(a.tls, name).map_or("(handshake failed)".into(), |c| c.0);
    let first_line = |s: String| s.lines().last().unwrap_or("").to_string();
    let sess = ca.ca().with_file_name(format!("sess-{}", a.tls.port()));
    let sess = sess.display().to_string();
    let _ = s_client(a.tls, &ca_pem, &["-tls1_2", "-sess_out", &sess]);
    let resumed = s_client(a.tls, &ca_pem, &["-tls1_2", "-sess_in", &sess]);
    vec![
        ("certificate for SNI a.test", cn(Some("a.test"))),
        ("certificate for SNI b.test", cn(Some("b.test"))),
        ("certificate without SNI", cn(None)),
        ("certificate for an unknown name", cn(Some("c.test"))),
        (
            "https a.test: status",
            first_line(curl(&ca_pem, "a.test", a.tls, "https", "/x")),
        ),
        (
            "https a.test: X-Forwarded-Proto",
            forwarded_proto(&curl(&ca_pem, "a.test", a.tls, "https", "/x")),
        ),
        (
            "http a.test: X-Forwarded-Proto",
            forwarded_proto(&curl(&ca_pem, "a.test", a.plain, "http", "/x")),
        ),
        ("https b.test", curl(&ca_pem, "b.test", a.tls, "https", "/")),
        (
            "http to the redirecting server",
            first_line(curl(&ca_pem, "a.test", a.redirect, "http", "/p?q=1")),
        ),
        ("add_header on a 200", added(&ca_pem, a.tls, "/x")),
        ("add_header on a 502", added(&ca_pem, a.tls, "/down")),
        (
            "ALPN offered h2,http/1.1",
            s_client(a.tls, &ca_pem, &["-alpn", "h2,http/1.1"])
                .lines()
                .find(|l| l.contains("ALPN"))
                .unwrap_or("(no ALPN line)")
                .trim()
                .to_string(),
        ),
        (
            "TLS 1.3 handshake",
            s_client(a.tls, &ca_pem, &["-tls1_3"])
                .lines()
                .find(|l| l.contains("Verify return code"))
                .unwrap_or("(failed)")
                .trim()
                .to_string(),
        ),
        (
            "TLS 1.2 session resumed",
            resumed
                .lines()
                .find(|l| l.starts_with("Reused") || l.starts_with("New"))
                .unwrap_or("(no session line)")
                .split(',')
                .next()
                .unwrap_or("")
                .to_string(),
        ),
    ]
}

fn addrs() -> Addrs {
    Addrs {
        tls: free_addr(),
        plain: free_addr(),
        redirect: free_addr(),
    }
}

#[tokio::test]
async fn the_same_nginx_tls_config_answers_alike_through_nginx_and_the_edge() {
    bounded(Duration::from_secs(90), async {
        let backend = Backend::start("app").await;
        let files = EdgeFiles::new();
        let ca = TestCa::new(&dir_of(&files));
        ca.issue("a.test");
        ca.issue("b.test");
        let edge_addrs = Addrs {
            tls: files.listen,
            ..addrs()
        };
        let edge = ConfEdge::start(
            files,
            "nginx.conf",
            &http_conf(edge_addrs, backend.addr(), &ca),
        )
        .await;
        let nginx_addrs = addrs();
        let nginx = Nginx::start_http_on(
            nginx_addrs.tls,
            &http_conf(nginx_addrs, backend.addr(), &ca),
        )
        .await;
        let (edge_seen, nginx_seen) = tokio::task::spawn_blocking(move || {
            (observe(edge_addrs, &ca), observe(nginx_addrs, &ca))
        })
        .await
        .unwrap();
        let mut differences = Vec::new();
        for ((what, e), (_, n)) in edge_seen.iter().zip(&nginx_seen) {
            if e != n {
                differences.push(format!("{what}: edge `{e}`, nginx `{n}`"));
            }
        }
        assert!(differences.is_empty(), "{}", differences.join("\n"));
        let seen: std::collections::HashMap<_, _> = edge_seen.into_iter().collect();
        assert_eq!(seen["certificate for SNI a.test"], "a.test");
        assert_eq!(seen["certificate for SNI b.test"], "b.test");
        assert_eq!(seen["certificate without SNI"], "a.test");
        assert_eq!(seen["https a.test: X-Forwarded-Proto"], "https");
        assert_eq!(seen["http a.test: X-Forwarded-Proto"], "http");
        assert_eq!(
            seen["https b.test"].split_whitespace().collect::<Vec<_>>(),
            ["b", "over", "https", "200"]
        );
        assert_eq!(
            seen["http to the redirecting server"],
            "301 https://a.test/p?q=1"
        );
        assert_eq!(seen["TLS 1.2 session resumed"], "Reused");
        assert_eq!(
            seen["add_header on a 200"],
            "200 strict-transport-security: max-age=63072000 | x-only-ok: yes"
        );
        assert_eq!(
            seen["add_header on a 502"],
            "502 strict-transport-security: max-age=63072000"
        );
        drop((edge, nginx));
    })
    .await;
}

/// A TLS client trusting `ca` only.
fn tls_client(ca: &Path) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(ca).expect("read ca.pem");
    use rustls::pki_types::pem::PemObject;
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.expect("ca pem")).expect("add ca");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// The YAML of an edge serving a.test over TLS on `files.listen`, proxying
/// to `backend`, with the certificate files `cert` and `key`.
fn tls_yaml(files: &EdgeFiles, backend: SocketAddr, cert: &str, key: &str) -> String {
    format!(
        "pid_file: \"{}\"\nupgrade_sock: \"{}\"\nadmin:\n  listen: \"{}\"\n\
         upstreams:\n  raw:\n    servers:\n      - {{ address: \"{backend}\" }}\n\
         servers:\n  - listen: [\"{}\"]\n    server_name: [a.test]\n    tls:\n\
         \x20     certificate: {cert}\n      certificate_key: {key}\n\
         \x20   locations:\n      - path: /\n        proxy_pass: http://raw\n",
        files.pid_path().display(),
        files.upgrade_sock_path().display(),
        files.admin,
        files.listen,
    )
}

/// Sends `msg` through the tunnel and expects it back.
async fn echo(t: &mut tokio_rustls::client::TlsStream<TcpStream>, msg: &[u8]) {
    t.write_all(msg).await.unwrap();
    let mut back = vec![0u8; msg.len()];
    t.read_exact(&mut back).await.unwrap();
    assert_eq!(back, msg);
}

#[tokio::test]
async fn a_reload_swaps_the_certificate_and_an_open_tunnel_keeps_echoing() {
    bounded(Duration::from_secs(60), async {
        let backend = RawBackend::start().await;
        let files = EdgeFiles::new();
        let dir = dir_of(&files);
        let ca = TestCa::new(&dir);
        let (first, _) = ca.issue("a.test");
        let first_serial = serial_of(&first);
        files.write(&tls_yaml(
            &files,
            backend.addr(),
            "a.test.pem",
            "a.test.key",
        ));
        let edge = files.start("edge").await;
        let listen = files.listen;
        let seen = |listen| async move {
            tokio::task::spawn_blocking(move || presented(listen, Some("a.test")))
                .await
                .unwrap()
                .map(|c| c.1)
        };
        assert_eq!(seen(listen).await.as_deref(), Some(first_serial.as_str()));

        // A tunnel over TLS, opened before the reload.
        let tcp = TcpStream::connect(listen).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("a.test").unwrap();
        let mut tunnel = tls_client(&ca.ca()).connect(name, tcp).await.unwrap();
        let early = rawtunnel::upgrade(&mut tunnel, "a.test", "/echo")
            .await
            .unwrap();
        assert!(early.is_empty());
        echo(&mut tunnel, b"before the reload").await;

        // A new certificate (same key), then SIGHUP.
        let (second, _) = ca.issue("a.test");
        let second_serial = serial_of(&second);
        assert_ne!(first_serial, second_serial);
        signal(edge.pid(), libc::SIGHUP).unwrap();
        until("the reload", Duration::from_secs(10), || async {
            files
                .metrics()
                .await
                .get("openclaw_edge_config_reloads_total", &[("result", "ok")])
                == Some(1.0)
        })
        .await;
        assert_eq!(seen(listen).await.as_deref(), Some(second_serial.as_str()));
        echo(&mut tunnel, b"after the reload").await;

        // An expired certificate is refused by the reload: the last good one serves on.
        ca.expired("late.test");
        files.write(&tls_yaml(
            &files,
            backend.addr(),
            "late.test.pem",
            "late.test.key",
        ));
        signal(edge.pid(), libc::SIGHUP).unwrap();
        until("the refused reload", Duration::from_secs(10), || async {
            files
                .metrics()
                .await
                .get("openclaw_edge_config_reloads_total", &[("result", "error")])
                == Some(1.0)
        })
        .await;
        assert_eq!(seen(listen).await.as_deref(), Some(second_serial.as_str()));
        echo(&mut tunnel, b"after a refused reload").await;
        drop(edge);
    })
    .await;
}

#[tokio::test]
async fn bad_certificates_and_keys_are_refused_with_their_line() {
    bounded(Duration::from_secs(60), async {
        let files = EdgeFiles::new();
        let dir = dir_of(&files);
        let ca = TestCa::new(&dir);
        ca.issue("a.test");
        ca.issue("b.test");
        ca.expired("old.test");
        std::fs::write(dir.join("junk.pem"), "not a certificate\n").unwrap();
        std::fs::create_dir_all(dir.join("a-directory.pem")).unwrap();
        let backend: SocketAddr = "127.0.0.1:9".parse().unwrap();
        // (certificate, key, the key's line is the one at fault, what the error says)
        let cases = [
            (
                "missing.pem",
                "a.test.key",
                false,
                "cannot read: No such file",
            ),
            ("a-directory.pem", "a.test.key", false, "cannot read"),
            ("junk.pem", "a.test.key", false, "no certificate in it"),
            (
                "old.test.pem",
                "old.test.key",
                false,
                "expired on 2020-02-01",
            ),
            (
                "a.test.pem",
                "b.test.key",
                true,
                "does not belong to certificate",
            ),
            ("a.test.pem", "junk.pem", true, "no private key in it"),
        ];
        for (cert, key, in_key, says) in cases {
            let yaml = tls_yaml(&files, backend, cert, key);
            files.write(&yaml);
            let run = check(&files.config_path(), &[]).await;
            assert!(!run.status.success(), "{cert} + {key}: -t passed");
            let field = if in_key {
                "certificate_key:"
            } else {
                "certificate:"
            };
            let line = yaml
                .lines()
                .position(|l| l.trim_start().starts_with(field))
                .unwrap()
                + 1;
            let want = format!("{}:{line}: ", run.config_file);
            assert!(
                run.stderr.contains(&want) && run.stderr.contains(says),
                "{cert} + {key}: expected `{want}... {says}`, got:\n{}",
                run.stderr
            );
        }
    })
    .await;
}

/// The front config (nginx syntax) both proxies run: four named upstreams
/// on one TLS backend, reached with nginx's defaults (no SNI, no
/// verification), with SNI and verification, verifying a name the backend's
/// certificate does not carry, and verifying with another CA.
fn upstream_tls_conf(
    listen: SocketAddr,
    backend: SocketAddr,
    ca: &Path,
    other_ca: &Path,
) -> String {
    let (ca, other_ca) = (ca.display(), other_ca.display());
    format!(
        "  upstream noverify {{ server {backend}; }}\n  upstream withsni {{ server {backend}; }}\n\
         \x20 upstream wrongname {{ server {backend}; }}\n  upstream wrongca {{ server {backend}; }}\n\
         \x20 server {{\n    listen {listen};\n\
         \x20   location /a {{ proxy_pass https://noverify; }}\n\
         \x20   location /b {{ proxy_pass https://withsni; proxy_ssl_server_name on; \
         proxy_ssl_name up.test; proxy_ssl_verify on; proxy_ssl_trusted_certificate {ca}; }}\n\
         \x20   location /c {{ proxy_pass https://wrongname; proxy_ssl_name nope.test; \
         proxy_ssl_verify on; proxy_ssl_trusted_certificate {ca}; }}\n\
         \x20   location /d {{ proxy_pass https://wrongca; proxy_ssl_name other.test; \
         proxy_ssl_verify on; proxy_ssl_trusted_certificate {other_ca}; }}\n  }}\n"
    )
}

/// `curl http://ADDR/PATH`: "STATUS BODY".
fn get(addr: SocketAddr, path: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "10", "-w", " %{http_code}"])
        .arg(format!("http://{addr}{path}"))
        .stdin(Stdio::null())
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once(' ').unwrap_or(("", &text));
    let body = if status == "200" { body.trim() } else { "" };
    format!("{status} {body}")
}

#[tokio::test]
async fn upstreams_over_tls_answer_as_through_nginx() {
    bounded(Duration::from_secs(90), async {
        let files = EdgeFiles::new();
        let dir = dir_of(&files);
        let ca = TestCa::new(&dir);
        ca.issue("up.test");
        ca.issue("other.test");
        let other_dir = dir.join("other-ca");
        std::fs::create_dir_all(&other_dir).unwrap();
        let other_ca = TestCa::new(&other_dir);
        // The TLS backend (nginx): the SNI it got (which picks its
        // certificate) and the server that answered (picked by Host, which
        // the proxies set to the upstream's name: the default server).
        let d = dir.display();
        let backend = Nginx::start_http(|addr| {
            format!(
                "  server {{ listen {addr} ssl default_server; server_name other.test;\n\
                 \x20   ssl_certificate {d}/other.test.pem; ssl_certificate_key {d}/other.test.key;\n\
                 \x20   return 200 \"sni=$ssl_server_name by=other\"; }}\n\
                 \x20 server {{ listen {addr} ssl; server_name up.test;\n\
                 \x20   ssl_certificate {d}/up.test.pem; ssl_certificate_key {d}/up.test.key;\n\
                 \x20   return 200 \"sni=$ssl_server_name by=up\"; }}\n"
            )
        })
        .await;
        let edge_listen = files.listen;
        let conf = upstream_tls_conf(edge_listen, backend.addr(), &ca.ca(), &other_ca.ca());
        let edge = ConfEdge::start(files, "edge.conf", &conf).await;
        let nginx_listen = free_addr();
        let nginx = Nginx::start_http_on(
            nginx_listen,
            &upstream_tls_conf(nginx_listen, backend.addr(), &ca.ca(), &other_ca.ca()),
        )
        .await;
        let paths = ["/a", "/b", "/c", "/d"];
        let (through_edge, through_nginx) = tokio::task::spawn_blocking(move || {
            let edge: Vec<String> = paths.iter().map(|p| get(edge_listen, p)).collect();
            let nginx: Vec<String> = paths.iter().map(|p| get(nginx_listen, p)).collect();
            (edge, nginx)
        })
        .await
        .unwrap();
        assert_eq!(through_edge, through_nginx, "edge vs nginx for {paths:?}");
        // /b verified up.test's certificate, which only SNI up.test gets.
        assert_eq!(
            through_edge,
            [
                "200 sni= by=other",
                "200 sni=up.test by=other",
                "502 ",
                "502 ",
            ]
        );
        drop((edge, nginx, backend));
    })
    .await;
}

#[tokio::test]
async fn the_cli_calls_a_node_through_wss_on_the_edge() {
    bounded(Duration::from_secs(60), async {
        let node = Gateway::start(NodeConfig::new("tls-node").behind_edge()).await;
        let files = EdgeFiles::new();
        let dir = dir_of(&files);
        let ca = TestCa::new(&dir);
        ca.issue("localhost");
        let conf = format!(
            "  server {{\n    listen {} ssl;\n    server_name localhost;\n\
             \x20   ssl_certificate localhost.pem;\n    ssl_certificate_key localhost.key;\n\
             \x20   location / {{ proxy_pass http://{}; proxy_http_version 1.1;\n\
             \x20     proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\"; }}\n  }}\n",
            files.listen,
            node.addr()
        );
        let edge = ConfEdge::start(files, "edge.conf", &conf).await;
        let url = format!("wss://localhost:{}", edge.addr().port());
        let state = node.state_dir().to_path_buf();
        let health = |extra: Vec<String>| {
            let (state, url) = (state.clone(), url.clone());
            tokio::task::spawn_blocking(move || {
                let mut args = vec!["gateway", "call", "health", "--json", "--url", &url];
                args.extend(["--token", TOKEN]);
                args.extend(extra.iter().map(String::as_str));
                cli(&state, &args)
            })
        };
        let ca_file = ca.ca().display().to_string();
        let trusted = health(vec!["--ca-file".into(), ca_file]).await.unwrap();
        assert!(
            trusted.status.success(),
            "health over wss with the test CA: {}",
            String::from_utf8_lossy(&trusted.stderr)
        );
        let answer: serde_json::Value = serde_json::from_slice(&trusted.stdout).unwrap();
        assert_eq!(answer["ok"], true, "{answer}");
        // Without the CA the system store does not know the test CA: refused.
        let untrusted = health(Vec::new()).await.unwrap();
        assert!(!untrusted.status.success());
        let err = String::from_utf8_lossy(&untrusted.stderr);
        assert!(err.contains("TLS") && err.contains("certificate"), "{err}");
        drop((edge, node));
    })
    .await;
}

//! nginx's realip module at the edge, against the real nginx running the
//! same config: three servers (X-Forwarded-For without and with
//! `real_ip_recursive`, and the default `X-Real-IP`) trusting 127.0.0.1 and
//! 10.0.0.0/8 answer `$remote_addr` for a set of forwarded headers, honest
//! and forged; the edge must give nginx's answer every time. A server
//! without `set_real_ip_from` ignores the headers.

use openclaw_e2e::client::Conn;
use openclaw_e2e::lifecycle::EdgeFiles;
use openclaw_e2e::nginx_conf::ConfEdge;
use openclaw_e2e::ports::free_addr;
use openclaw_e2e::{bounded, Nginx};
use std::net::SocketAddr;
use std::time::Duration;

/// The http-context config: servers on `addrs[0..4]`.
fn conf(addrs: &[SocketAddr; 4]) -> String {
    let [xff, recursive, real_ip, none] = addrs;
    format!(
        "  set_real_ip_from 127.0.0.1;\n  set_real_ip_from 10.0.0.0/8;\n\
         \x20 server {{ listen {xff}; real_ip_header X-Forwarded-For;\n\
         \x20   location / {{ return 200 \"$remote_addr\"; }} }}\n\
         \x20 server {{ listen {recursive}; real_ip_header X-Forwarded-For; real_ip_recursive on;\n\
         \x20   location / {{ return 200 \"$remote_addr\"; }} }}\n\
         \x20 server {{ listen {real_ip};\n\
         \x20   location / {{ return 200 \"$remote_addr\"; }} }}\n\
         \x20 server {{ listen {none}; set_real_ip_from 192.0.2.1;\n\
         \x20   location / {{ return 200 \"$remote_addr\"; }} }}\n"
    )
}

/// Header lines of each case (each line is sent as is).
const CASES: [&[&str]; 13] = [
    &[],
    &["X-Forwarded-For: 1.2.3.4"],
    &["X-Forwarded-For: 1.2.3.4, 10.0.0.5"],
    &["X-Forwarded-For: 9.9.9.9, 1.2.3.4, 10.0.0.5"],
    &["X-Forwarded-For: 10.0.0.1, 10.0.0.2"],
    &["X-Forwarded-For: garbage"],
    &["X-Forwarded-For: 1.2.3.4, garbage"],
    &["X-Forwarded-For: 2001:db8::1"],
    &["X-Forwarded-For: 1.2.3.4:8080"],
    &["X-Forwarded-For: 5.5.5.5", "X-Forwarded-For: 10.0.0.9"],
    &["X-Real-IP: 6.6.6.6"],
    &["X-Real-IP: 6.6.6.6, 7.7.7.7"],
    &["X-Real-IP: 127.0.0.1", "X-Forwarded-For: 8.8.8.8"],
];

async fn remote_addr(addr: SocketAddr, lines: &[&str]) -> String {
    let mut head = String::from("GET / HTTP/1.1\r\nHost: realip.test\r\nConnection: close\r\n");
    for l in lines {
        head.push_str(l);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut conn = Conn::open(addr).await.expect("connect");
    conn.send(head.as_bytes()).await.expect("send");
    let resp = conn.response().await.expect("response");
    format!("{} {}", resp.status, resp.text())
}

#[tokio::test]
async fn the_client_address_is_read_as_nginx_reads_it() {
    bounded(Duration::from_secs(60), async {
        let files = EdgeFiles::new();
        let edge_addrs = [files.listen, free_addr(), free_addr(), free_addr()];
        let edge = ConfEdge::start(files, "edge.conf", &conf(&edge_addrs)).await;
        let nginx_addrs = [free_addr(), free_addr(), free_addr(), free_addr()];
        let nginx = Nginx::start_http_on(nginx_addrs[0], &conf(&nginx_addrs)).await;
        let mut differences = Vec::new();
        let servers = [
            "X-Forwarded-For",
            "X-Forwarded-For recursive",
            "X-Real-IP",
            "untrusted",
        ];
        let mut seen = Vec::new();
        for (si, server) in servers.iter().enumerate() {
            for case in CASES {
                let e = remote_addr(edge_addrs[si], case).await;
                let n = remote_addr(nginx_addrs[si], case).await;
                if e != n {
                    differences.push(format!("{server} {case:?}: edge `{e}`, nginx `{n}`"));
                }
                seen.push(((*server, case), e));
            }
        }
        assert!(differences.is_empty(), "{}", differences.join("\n"));
        // What the cases show, as nginx answers them.
        let at = |server: &str, case: &[&str]| {
            seen.iter()
                .find(|((s, c), _)| *s == server && *c == case)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(at("X-Forwarded-For", CASES[3]), "200 10.0.0.5");
        assert_eq!(at("X-Forwarded-For recursive", CASES[3]), "200 1.2.3.4");
        assert_eq!(at("X-Forwarded-For recursive", CASES[4]), "200 10.0.0.1");
        assert_eq!(at("X-Forwarded-For", CASES[5]), "200 127.0.0.1");
        assert_eq!(at("X-Real-IP", CASES[10]), "200 6.6.6.6");
        assert_eq!(at("untrusted", CASES[1]), "200 127.0.0.1");
        drop((edge, nginx));
    })
    .await;
}

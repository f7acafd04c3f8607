//! `ip_hash` and `hash $remote_addr consistent` against the real nginx: the
//! same upstream block in front of the same backends must send each of 1000
//! clients to the same server, with every server up and with one `down`.

use openclaw_e2e::client::{backend_per_client, client_ips};
use openclaw_e2e::config::weighted;
use openclaw_e2e::{bounded, Backend, Edge, EdgeConfig, Nginx, Upstream};
use std::collections::BTreeSet;
use std::time::Duration;

/// Runs 1000 clients through the edge and through nginx, both configured
/// with `balance` over three servers weighted 2,1,1 (the first one `down`
/// if `first_down`), and compares the server each client reached.
async fn same_servers_as_nginx(balance: &str, first_down: bool) {
    bounded(Duration::from_secs(120), async {
        let backends = Backend::start_n(3).await;
        let mut servers = weighted(&backends, &[2, 1, 1]);
        if first_down {
            servers[0] = servers[0].clone().down();
        }
        let upstream = Upstream::new("hashed", balance, servers);
        let edge = Edge::start(EdgeConfig::new(upstream.clone())).await;
        let nginx = Nginx::start(&upstream).await;
        let clients = client_ips(1000);

        let via_edge = backend_per_client(edge.addr(), &clients).await;
        let via_nginx = backend_per_client(nginx.addr(), &clients).await;

        let used: BTreeSet<&str> = via_nginx.iter().map(String::as_str).collect();
        let expected_used: BTreeSet<&str> = if first_down {
            BTreeSet::from(["s1", "s2"])
        } else {
            BTreeSet::from(["s0", "s1", "s2"])
        };
        assert_eq!(
            used, expected_used,
            "nginx itself should spread the clients over every live server (are the source addresses used?)"
        );
        let differing: Vec<String> = clients
            .iter()
            .zip(via_edge.iter().zip(&via_nginx))
            .filter(|(_, (e, n))| e != n)
            .map(|(ip, (e, n))| format!("{ip}: edge {e}, nginx {n}"))
            .collect();
        assert!(
            differing.is_empty(),
            "{balance} (first server down: {first_down}): {} of {} clients reach another server than under nginx; first ones:\n{}",
            differing.len(),
            clients.len(),
            differing[..differing.len().min(10)].join("\n")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_hash_all_up() {
    same_servers_as_nginx("ip_hash", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_hash_one_down() {
    same_servers_as_nginx("ip_hash", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistent_hash_all_up() {
    same_servers_as_nginx("hash $remote_addr consistent", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistent_hash_one_down() {
    same_servers_as_nginx("hash $remote_addr consistent", true).await;
}

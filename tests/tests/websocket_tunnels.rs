//! Tunnels after a `101`, at the byte level: both directions at once and
//! byte-exact, a half-close passed on, the idle limit, a client that stops
//! reading (bounded memory, and the other direction still moves), and many
//! idle tunnels held across reloads, still counted by least_conn.

use openclaw_e2e::rawtunnel::{self, fill_pattern, pattern, RawBackend};
use openclaw_e2e::wait::{until, until_some};
use openclaw_e2e::{bounded, Edge, EdgeConfig, Server, Upstream};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The edge in front of `backends` (least_conn), with extra location keys.
async fn edge_for(backends: &[&RawBackend], location_keys: &[&str]) -> Edge {
    let servers = backends.iter().map(|b| Server::new(b.addr())).collect();
    let mut config = EdgeConfig::new(Upstream::new("raw", "least_conn", servers));
    for key in location_keys {
        config = config.location_key(key);
    }
    Edge::start(config).await
}

/// Resident memory of `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// Reads exactly `n` bytes and checks they are the pattern from offset `from`.
async fn expect_pattern(conn: &mut (impl AsyncReadExt + Unpin), from: u64, n: u64) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = from;
    while at < from + n {
        let want = ((from + n - at) as usize).min(buf.len());
        let got = conn.read(&mut buf[..want]).await.expect("read");
        assert!(
            got > 0,
            "the tunnel closed after {} of {n} bytes",
            at - from
        );
        if let Some(k) = (0..got).find(|&k| buf[k] != pattern(at + k as u64)) {
            panic!("byte {} differs", at + k as u64);
        }
        at += got as u64;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_both_ways_at_once_is_byte_exact() {
    const TOTAL: u64 = 256 * 1024 * 1024;
    bounded(Duration::from_secs(180), async {
        let backend = RawBackend::start().await;
        let edge = edge_for(&[&backend], &[]).await;
        let (conn, early) = rawtunnel::connect(edge.addr(), "/echo").await.unwrap();
        assert!(early.is_empty());
        let (mut rd, mut wr) = conn.into_split();
        let writer = tokio::spawn(async move {
            let mut buf = vec![0u8; 256 * 1024];
            let mut sent = 0u64;
            while sent < TOTAL {
                fill_pattern(&mut buf, sent);
                wr.write_all(&buf).await.expect("write");
                sent += buf.len() as u64;
            }
            wr.shutdown().await.expect("shutdown");
        });
        expect_pattern(&mut rd, 0, TOTAL).await;
        writer.await.unwrap();
        let mut rest = Vec::new();
        rd.read_to_end(&mut rest).await.unwrap();
        assert_eq!(
            rest, b"bye",
            "after the echo: the backend's answer to the FIN"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_close_is_passed_on() {
    bounded(Duration::from_secs(30), async {
        let backend = RawBackend::start().await;
        let edge = edge_for(&[&backend], &[]).await;
        let (mut conn, _) = rawtunnel::connect(edge.addr(), "/echo").await.unwrap();
        conn.write_all(b"hello").await.unwrap();
        // The client is done sending; the server still has something to say.
        conn.shutdown().await.unwrap();
        let mut got = Vec::new();
        conn.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hellobye");
        edge.wait_metric("openclaw_edge_websocket_tunnels", &[], 0.0)
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_tunnel_ends_after_the_idle_limit() {
    bounded(Duration::from_secs(30), async {
        let backend = RawBackend::start().await;
        let edge = edge_for(&[&backend], &["tunnel_idle_timeout: 1s"]).await;
        let (mut conn, _) = rawtunnel::connect(edge.addr(), "/echo").await.unwrap();
        let start = Instant::now();
        let mut last_byte = start;
        // Traffic keeps it open past the limit...
        while start.elapsed() < Duration::from_millis(1500) {
            conn.write_all(b"ping").await.unwrap();
            let mut four = [0u8; 4];
            conn.read_exact(&mut four).await.unwrap();
            assert_eq!(&four, b"ping");
            last_byte = Instant::now();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // ...and silence ends it.
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut byte))
            .await
            .expect("closed within 5 s of silence")
            .unwrap_or(0);
        assert_eq!(n, 0, "the edge closed the tunnel");
        assert!(last_byte.elapsed() >= Duration::from_millis(900));
    })
    .await;
}

/// The server streams; the client reads a little, then reads nothing for
/// 10 s. The edge holds at most a bounded amount meanwhile, the client's
/// own bytes still reach the server, and the stream resumes intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_reader_bounds_memory_and_resumes() {
    bounded(Duration::from_secs(60), async {
        let backend = RawBackend::start().await;
        let edge = edge_for(&[&backend], &[]).await;
        let (mut conn, early) = rawtunnel::connect(edge.addr(), "/stream").await.unwrap();
        let mut read = early.len() as u64;
        expect_pattern(&mut conn, read, 4 << 20).await;
        read += 4 << 20;
        let before = rss(edge.pid());
        // The stall: the other direction keeps moving.
        let push = vec![7u8; 1 << 20];
        conn.write_all(&push).await.unwrap();
        until(
            "the server to get the client's bytes",
            Duration::from_secs(5),
            || async { backend.stream_received() == 1 << 20 },
        )
        .await;
        let stall = Instant::now();
        let mut peak = before;
        while stall.elapsed() < Duration::from_secs(10) {
            peak = peak.max(rss(edge.pid()));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            peak < before + (4 << 20),
            "the edge grew from {before} to {peak} bytes while the client did not read"
        );
        expect_pattern(&mut conn, read, 16 << 20).await;
    })
    .await;
}

/// Number of idle tunnels for `make test`; `make bench-ws` holds 10,000.
const MANY: usize = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_idle_tunnels_survive_reloads_and_still_echo() {
    bounded(Duration::from_secs(120), async {
        let (a, b) = (RawBackend::start().await, RawBackend::start().await);
        let edge = edge_for(&[&a, &b], &[]).await;
        let base = rss(edge.pid());
        let mut tunnels: Vec<TcpStream> = Vec::with_capacity(MANY);
        for _ in 0..MANY {
            tunnels.push(rawtunnel::connect(edge.addr(), "/echo").await.unwrap().0);
        }
        edge.wait_metric("openclaw_edge_websocket_tunnels", &[], MANY as f64)
            .await;
        let per = rss(edge.pid()).saturating_sub(base) / MANY as u64;
        eprintln!("edge memory per idle tunnel: {per} bytes ({MANY} tunnels)");
        for i in 1..=5 {
            libc_kill_hup(edge.pid());
            edge.wait_metric(
                "openclaw_edge_config_reloads_total",
                &[("result", "ok")],
                i as f64,
            )
            .await;
        }
        // least_conn still counts every tunnel after the reloads.
        let inflight = until_some("the in-flight gauges", Duration::from_secs(5), || async {
            let m = edge.metrics().await;
            let sum = m.sum(
                "openclaw_edge_upstream_server_inflight",
                &[("upstream", "raw")],
            );
            (sum == MANY as f64).then_some(sum)
        })
        .await;
        assert_eq!(inflight, MANY as f64);
        for (i, t) in tunnels.iter_mut().enumerate() {
            let msg = format!("tunnel {i:05}");
            t.write_all(msg.as_bytes()).await.unwrap();
            let mut back = vec![0u8; msg.len()];
            t.read_exact(&mut back).await.unwrap();
            assert_eq!(back, msg.as_bytes());
        }
        drop(tunnels);
        edge.wait_metric("openclaw_edge_websocket_tunnels", &[], 0.0)
            .await;
    })
    .await;
}

fn libc_kill_hup(pid: u32) {
    // SAFETY: kill(2) with a child's pid and a signal number.
    let rc = unsafe { libc::kill(pid as i32, libc::SIGHUP) };
    assert_eq!(rc, 0, "SIGHUP to the edge");
}

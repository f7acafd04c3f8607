//! `ws_bench`: the load client and raw 101 backend of `make bench-ws`
//! (benches/ws.sh runs it against the edge, nginx and HAProxy alike).
//!
//! ```text
//! ws_bench backend --listen 127.0.0.1:P --secs S      # echo / stream backend for S seconds
//! ws_bench hold --proxy A --tunnels N --ready-file F --release-file G --secs S
//!     # opens N idle /echo tunnels, creates F, waits for G (at most S s),
//!     # then checks every tunnel still echoes
//! ws_bench rtt --proxy A --tunnels 50 --secs S        # 64-byte round trips on each tunnel
//! ws_bench bulk --proxy A --secs S                    # one tunnel, bytes both ways at once
//! ```
//!
//! Each measurement prints one JSON line on stdout; every wait is bounded.

use openclaw_e2e::rawtunnel::{self, RawBackend};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Tunnels opened at once while setting up `hold`.
const OPEN_AT_ONCE: usize = 200;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        usage("no command");
    };
    let opts = parse(rest);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let secs = Duration::from_secs(num(&opts, "secs", 10));
    rt.block_on(async {
        match cmd.as_str() {
            "backend" => backend(addr(&opts, "listen"), secs).await,
            "hold" => hold(&opts, secs).await,
            "rtt" => {
                rtt(
                    addr(&opts, "proxy"),
                    num(&opts, "tunnels", 50) as usize,
                    secs,
                )
                .await
            }
            "bulk" => bulk(addr(&opts, "proxy"), secs).await,
            other => usage(&format!("unknown command {other}")),
        }
    });
}

fn usage(why: &str) -> ! {
    eprintln!("ws_bench: {why}; see the doc comment of tests/src/bin/ws_bench.rs");
    std::process::exit(2);
}

fn parse(args: &[String]) -> HashMap<String, String> {
    let mut opts = HashMap::new();
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let Some(k) = k.strip_prefix("--") else {
            usage(&format!("unexpected {k}"));
        };
        let v = it
            .next()
            .unwrap_or_else(|| usage(&format!("--{k} needs a value")));
        opts.insert(k.to_string(), v.clone());
    }
    opts
}

fn num(opts: &HashMap<String, String>, k: &str, default: u64) -> u64 {
    opts.get(k).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| usage(&format!("--{k}: not a number")))
    })
}

fn addr(opts: &HashMap<String, String>, k: &str) -> SocketAddr {
    let v = opts
        .get(k)
        .unwrap_or_else(|| usage(&format!("--{k} is required")));
    v.parse()
        .unwrap_or_else(|_| usage(&format!("--{k}: not an address")))
}

async fn backend(listen: SocketAddr, secs: Duration) {
    let _b = RawBackend::start_on(listen)
        .await
        .expect("bind the backend");
    tokio::time::sleep(secs).await;
}

async fn hold(opts: &HashMap<String, String>, secs: Duration) {
    let proxy = addr(opts, "proxy");
    let n = num(opts, "tunnels", 1000) as usize;
    let ready = opts
        .get("ready-file")
        .unwrap_or_else(|| usage("--ready-file is required"));
    let release = opts
        .get("release-file")
        .unwrap_or_else(|| usage("--release-file is required"));
    let deadline = Instant::now() + secs;
    let mut tunnels: Vec<TcpStream> = Vec::with_capacity(n);
    let mut failed = 0usize;
    while tunnels.len() + failed < n && Instant::now() < deadline {
        let batch = OPEN_AT_ONCE.min(n - tunnels.len() - failed);
        let opens: Vec<_> = (0..batch)
            .map(|_| tokio::spawn(rawtunnel::connect(proxy, "/echo")))
            .collect();
        for o in opens {
            match o.await.expect("join") {
                Ok((c, _)) => tunnels.push(c),
                Err(e) => {
                    failed += 1;
                    if failed < 5 {
                        eprintln!("ws_bench: a tunnel failed to open: {e}");
                    }
                }
            }
        }
    }
    std::fs::write(ready, format!("{}\n", tunnels.len())).expect("ready file");
    while !Path::new(release).exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut echoed = 0usize;
    for t in tunnels.iter_mut() {
        let ok = tokio::time::timeout(Duration::from_secs(5), async {
            t.write_all(b"still there?").await?;
            let mut back = [0u8; 12];
            t.read_exact(&mut back).await?;
            std::io::Result::Ok(&back == b"still there?")
        })
        .await;
        echoed += matches!(ok, Ok(Ok(true))) as usize;
    }
    println!(
        "{{\"tunnels\":{n},\"opened\":{},\"failed\":{failed},\"echoed\":{echoed}}}",
        tunnels.len()
    );
}

async fn rtt(proxy: SocketAddr, n: usize, secs: Duration) {
    let total = Arc::new(AtomicU64::new(0));
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(
            rawtunnel::connect(proxy, "/echo")
                .await
                .expect("open a tunnel")
                .0,
        );
    }
    let deadline = Instant::now() + secs;
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut c| {
            let total = total.clone();
            tokio::spawn(async move {
                let msg = [b'x'; 64];
                let mut back = [0u8; 64];
                while Instant::now() < deadline {
                    let trip = async {
                        c.write_all(&msg).await?;
                        c.read_exact(&mut back).await
                    };
                    match tokio::time::timeout(Duration::from_secs(5), trip).await {
                        Ok(Ok(_)) => total.fetch_add(1, Ordering::Relaxed),
                        _ => break,
                    };
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    println!("{{\"round_trips\":{}}}", total.load(Ordering::Relaxed));
}

async fn bulk(proxy: SocketAddr, secs: Duration) {
    let (conn, _) = rawtunnel::connect(proxy, "/echo")
        .await
        .expect("open a tunnel");
    let (mut rd, mut wr) = conn.into_split();
    let deadline = Instant::now() + secs;
    let writer = tokio::spawn(async move {
        let buf = vec![b'y'; 64 * 1024];
        let mut sent = 0u64;
        while Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_secs(5), wr.write_all(&buf)).await {
                Ok(Ok(())) => sent += buf.len() as u64,
                _ => break,
            }
        }
        sent
    });
    let mut received = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), rd.read(&mut buf)).await {
            Ok(Ok(n @ 1..)) => received += n as u64,
            _ => break,
        }
    }
    let sent = writer.await.unwrap_or(0);
    println!("{{\"bytes_up\":{sent},\"bytes_down\":{received}}}");
}

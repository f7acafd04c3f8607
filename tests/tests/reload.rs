//! SIGHUP reload under traffic: with 500 WebSocket tunnels open and a
//! steady HTTP load, ten reloads (adding and removing servers, changing
//! weights and the balancing method, one broken file) fail no request and
//! close no tunnel; removed servers get no new requests while their
//! tunnels run on; every tunnel still echoes afterwards; the reload
//! counters say 9 ok and 1 error.

use futures_util::stream::{self, StreamExt};
use openclaw_e2e::lifecycle::{server, signal, upstream, EdgeFiles, Load};
use openclaw_e2e::wait::until;
use openclaw_e2e::ws::WsClient;
use openclaw_e2e::{bounded, Backend};
use std::time::{Duration, Instant};

const TUNNELS: usize = 500;

/// One step: the servers (indexes into the backends, with extra keys), the
/// balancing method, or a broken file.
struct Step {
    what: &'static str,
    servers: &'static [(usize, &'static str)],
    balance: &'static str,
    broken: bool,
}

const STEPS: [Step; 10] = [
    Step {
        what: "weights change",
        servers: &[(0, "weight: 2"), (1, ""), (2, "")],
        balance: "round_robin",
        broken: false,
    },
    Step {
        what: "s3 added",
        servers: &[(0, "weight: 2"), (1, ""), (2, ""), (3, "")],
        balance: "round_robin",
        broken: false,
    },
    Step {
        what: "s1 removed",
        servers: &[(0, ""), (2, ""), (3, "")],
        balance: "round_robin",
        broken: false,
    },
    Step {
        what: "a broken file",
        servers: &[(0, ""), (1, "wieght: 3"), (2, "")],
        balance: "round_robin",
        broken: true,
    },
    Step {
        what: "s1 back",
        servers: &[(0, ""), (1, ""), (2, ""), (3, "")],
        balance: "round_robin",
        broken: false,
    },
    Step {
        what: "s0 and s2 removed",
        servers: &[(1, ""), (3, "")],
        balance: "round_robin",
        broken: false,
    },
    Step {
        what: "least_conn",
        servers: &[(1, ""), (3, "")],
        balance: "least_conn",
        broken: false,
    },
    Step {
        what: "s0 and s2 back",
        servers: &[(0, ""), (1, ""), (2, ""), (3, "")],
        balance: "least_conn",
        broken: false,
    },
    Step {
        what: "s3 removed, round_robin",
        servers: &[(0, ""), (1, ""), (2, "")],
        balance: "round_robin",
        broken: false,
    },
    Step {
        what: "the same file again",
        servers: &[(0, ""), (1, ""), (2, "")],
        balance: "round_robin",
        broken: false,
    },
];

fn yaml(
    files: &EdgeFiles,
    backends: &[Backend],
    servers: &[(usize, &str)],
    balance: &str,
) -> String {
    let servers: Vec<String> = servers
        .iter()
        .map(|(i, extra)| server(backends[*i].addr(), extra))
        .collect();
    let balance = format!("balance: {balance}");
    files.yaml(
        "access_log: off\n",
        &upstream("gw", &[&balance], &servers),
        &[],
    )
}

/// `inflight` of every server of `gw` in `/api/status`, by address.
async fn inflight(files: &EdgeFiles) -> std::collections::BTreeMap<String, usize> {
    let status = files.status().await;
    let ups = status["upstreams"].as_array().cloned().unwrap_or_default();
    ups.iter()
        .filter(|u| u["name"] == "gw")
        .flat_map(|u| u["servers"].as_array().cloned().unwrap_or_default())
        .map(|s| {
            (
                s["server"].as_str().unwrap_or("").to_string(),
                s["inflight"].as_u64().unwrap_or(0) as usize,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_reloads_under_load_fail_nothing_and_close_no_tunnel() {
    bounded(Duration::from_secs(180), async {
        let backends = Backend::start_n(4).await;
        let files = EdgeFiles::new();
        files.write(&yaml(
            &files,
            &backends,
            &[(0, ""), (1, ""), (2, "")],
            "round_robin",
        ));
        let edge = files.start("edge").await;

        let t = Instant::now();
        let mut tunnels: Vec<WsClient> = stream::iter(0..TUNNELS)
            .map(|_| WsClient::connect(files.listen))
            .buffer_unordered(50)
            .collect()
            .await;
        let open = || backends.iter().map(Backend::websockets).sum::<usize>();
        until(
            "every tunnel to be open at the backends",
            Duration::from_secs(10),
            || async { open() == TUNNELS },
        )
        .await;
        let per: Vec<usize> = backends.iter().map(Backend::websockets).collect();
        println!("{TUNNELS} tunnels open in {:?}: {per:?}", t.elapsed());

        let load = Load::start(files.listen, "/", 6, Duration::from_millis(5));
        load.wait_progress(100, Duration::from_secs(10)).await;
        let counts = |result: &'static str| {
            let files = &files;
            async move {
                files
                    .metrics()
                    .await
                    .sum("openclaw_edge_config_reloads_total", &[("result", result)])
            }
        };
        let (mut ok, mut err) = (0.0, 0.0);
        let mut live = vec![0usize, 1, 2];
        // Servers in every config since the tunnels opened: their in-flight
        // count (open tunnels included) must survive each reload.
        let mut continuous = live.clone();
        for (n, step) in STEPS.iter().enumerate() {
            let text = yaml(&files, &backends, step.servers, step.balance);
            files.write(&text);
            if step.broken {
                // `-s reload` checks the file first and refuses to signal...
                let out = files.signal_cmd("reload").await;
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert_eq!(
                    out.status.code(),
                    Some(1),
                    "-s reload of a broken file: {stderr}"
                );
                assert!(
                    stderr.contains("wieght"),
                    "-s reload names the error: {stderr}"
                );
                // ...so the edge itself is sent SIGHUP, as a supervisor would.
                let pid = files.read_pid().expect("the pid file");
                signal(pid, libc::SIGHUP).expect("SIGHUP");
            } else {
                let out = files.signal_cmd("reload").await;
                assert!(out.status.success(), "-s reload {n}: {out:?}");
            }
            if step.broken {
                err += 1.0;
            } else {
                ok += 1.0;
            }
            until(
                &format!("reload {n} ({}) to be counted", step.what),
                Duration::from_secs(10),
                || async { counts("ok").await == ok && counts("error").await == err },
            )
            .await;
            if step.broken {
                let line = text
                    .lines()
                    .position(|l| l.contains("wieght"))
                    .expect("the typo")
                    + 1;
                let place = format!("edge.yaml:{line}");
                assert!(
                    edge.stderr().contains(&place),
                    "the refused reload names {place}:\n{}",
                    edge.stderr()
                );
            } else {
                live = step.servers.iter().map(|(i, _)| *i).collect();
                continuous.retain(|i| live.contains(i));
            }
            let inflight = inflight(&files).await;
            for i in &continuous {
                let (addr, tunnels) = (backends[*i].addr().to_string(), backends[*i].websockets());
                let counted = inflight.get(&addr).copied().unwrap_or(0);
                assert!(
                    counted >= tunnels,
                    "after reload {n} ({}), kept server s{i} counts {counted} in flight but has {tunnels} open tunnels",
                    step.what
                );
            }
            // Let the load run on the new tables, then check who served.
            let before: Vec<usize> = backends.iter().map(Backend::requests).collect();
            load.wait_progress(150, Duration::from_secs(10)).await;
            let after: Vec<usize> = backends.iter().map(Backend::requests).collect();
            for (i, (b, a)) in before.iter().zip(&after).enumerate() {
                if live.contains(&i) {
                    assert!(
                        a > b,
                        "after reload {n} ({}), live s{i} got no request",
                        step.what
                    );
                } else {
                    assert_eq!(
                        a, b,
                        "after reload {n} ({}), removed s{i} got requests",
                        step.what
                    );
                }
            }
            assert_eq!(
                open(),
                TUNNELS,
                "tunnels open at the backends after reload {n} ({})",
                step.what
            );
            assert_eq!(
                load.failed(),
                0,
                "requests failed by reload {n} ({})",
                step.what
            );
            println!(
                "reload {n} ({}): ok, {} requests so far",
                step.what,
                load.ok()
            );
        }
        let report = load.stop().await;
        println!(
            "load: {} ok, {} failed, per backend {:?}",
            report.ok, report.failed, report.by_backend
        );
        assert_eq!(report.failed, 0, "failed requests: {:?}", report.errors);
        assert_eq!((counts("ok").await, counts("error").await), (9.0, 1.0));

        // Every tunnel is still there and carries messages both ways.
        assert_eq!(open(), TUNNELS);
        let gauge = files
            .metrics()
            .await
            .sum("openclaw_edge_websocket_tunnels", &[]);
        assert_eq!(gauge, TUNNELS as f64, "the edge's tunnel gauge");
        let inflight = inflight(&files).await;
        let summary: Vec<(String, usize, u64)> = backends
            .iter()
            .map(|b| {
                let counted = inflight.get(&b.addr().to_string()).copied().unwrap_or(0);
                (b.name().to_string(), b.websockets(), counted as u64)
            })
            .collect();
        println!("(server, open tunnels, in flight in /api/status) at the end: {summary:?}");
        let t = Instant::now();
        let echoed: Vec<bool> = stream::iter(tunnels.iter_mut().enumerate())
            .map(|(i, ws)| async move {
                let text = format!("still here {i}");
                ws.echo(&text).await == text
            })
            .buffer_unordered(50)
            .collect()
            .await;
        assert!(echoed.iter().all(|e| *e), "a tunnel echoed something else");
        println!(
            "all {TUNNELS} tunnels echoed after the reloads in {:?}",
            t.elapsed()
        );
        for ws in tunnels {
            ws.close().await;
        }
    })
    .await;
}

//! `openclaw-edge ctl` against a running edge: the upstreams table and its
//! JSON, drain / undrain / down / up / weight with exit status 0 and a line
//! saying what the server is now, the admin address and token taken from
//! `-c CONFIG`, `--admin`, `--token` and `OPENCLAW_EDGE_ADMIN_TOKEN`, and
//! errors (an unknown upstream, a missing token, no edge listening) with
//! exit status 1 and a message that says what to do.

use openclaw_e2e::lifecycle::{server, upstream, EdgeFiles};
use openclaw_e2e::ports::free_addr;
use openclaw_e2e::runtime_api::{ctl, server as get_server, show};
use openclaw_e2e::{bounded, Backend};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctl_lists_and_changes_servers() {
    bounded(Duration::from_secs(60), async {
        let backends = Backend::start_n(2).await;
        let files = EdgeFiles::new();
        let servers: Vec<String> = backends.iter().map(|b| server(b.addr(), "")).collect();
        files.write(&files.yaml("access_log: off\n", &upstream("gw", &[], &servers), &[]));
        let _edge = files.start("edge").await;
        let admin = files.admin.to_string();
        let s0 = backends[0].addr().to_string();
        let config = files.config_path().display().to_string();

        let out = ctl(&["-c", &config, "upstreams"], &[]).await;
        assert!(out.status.success(), "{}", show(&out));
        let table = String::from_utf8_lossy(&out.stdout);
        assert!(table.starts_with("upstream gw (round_robin)"), "{table}");
        for b in &backends {
            let row = table
                .lines()
                .find(|l| l.contains(&b.addr().to_string()))
                .unwrap_or_else(|| panic!("no row for {}: {table}", b.addr()));
            assert!(row.contains(" up "), "{row}");
        }
        let out = ctl(&["--admin", &admin, "upstreams", "--json"], &[]).await;
        assert!(out.status.success(), "{}", show(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(json["gw"]["servers"][0]["server"], s0.as_str());

        let steps: [(&[&str], &str, &str); 5] = [
            (&["drain", "gw", &s0], "state", "draining"),
            (&["undrain", "gw", "0"], "state", "up"),
            (&["down", "gw", &s0], "state", "down"),
            (&["up", "gw", "0"], "state", "up"),
            (&["weight", "gw", &s0, "5"], "weight", "5"),
        ];
        for (args, field, want) in steps {
            let mut all = vec!["--admin", admin.as_str()];
            all.extend_from_slice(args);
            let out = ctl(&all, &[]).await;
            assert!(out.status.success(), "ctl {args:?}: {}", show(&out));
            let said = String::from_utf8_lossy(&out.stdout);
            assert!(
                said.contains(&format!("{field} {want}")) && said.contains(&s0),
                "ctl {args:?} says {said}"
            );
            let now = get_server(files.admin, "gw", "0").await;
            assert_eq!(now[field].to_string().trim_matches('"'), want, "{now}");
        }

        let out = ctl(&["--admin", &admin, "drain", "nope", "0"], &[]).await;
        assert_eq!(out.status.code(), Some(1), "{}", show(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("404 UpstreamNotFound") && err.contains("upstreams: gw"),
            "{err}"
        );

        let nobody = free_addr().to_string();
        let out = ctl(&["--admin", &nobody, "upstreams"], &[]).await;
        assert_eq!(out.status.code(), Some(1), "{}", show(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "cannot reach the admin listener at {nobody} (--admin)"
            )) && err.contains("is the edge running?"),
            "{err}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctl_sends_the_token_from_flag_environment_or_config() {
    bounded(Duration::from_secs(60), async {
        let backends = Backend::start_n(1).await;
        let files = EdgeFiles::new();
        let servers = [server(backends[0].addr(), "")];
        let yaml = files
            .yaml("access_log: off\n", &upstream("gw", &[], &servers), &[])
            .replace(
                &format!("listen: \"{}\"", files.admin),
                &format!(
                    "listen: \"0.0.0.0:{}\"\n  token: s3cret",
                    files.admin.port()
                ),
            );
        files.write(&yaml);
        let _edge = files.start("edge").await;
        let admin = files.admin.to_string();
        let config = files.config_path().display().to_string();

        let out = ctl(&["--admin", &admin, "upstreams"], &[]).await;
        assert_eq!(out.status.code(), Some(1), "{}", show(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("401") && err.contains("OPENCLAW_EDGE_ADMIN_TOKEN"),
            "{err}"
        );
        let env = [("OPENCLAW_EDGE_ADMIN_TOKEN", "s3cret")];
        for (args, env) in [
            (
                vec!["--admin", &admin, "--token", "s3cret", "upstreams"],
                &[][..],
            ),
            (vec!["--admin", &admin, "upstreams"], &env[..]),
            // The config's 0.0.0.0 is reached on loopback, with its token.
            (vec!["-c", &config, "upstreams"], &[][..]),
        ] {
            let out = ctl(&args, env).await;
            assert!(out.status.success(), "ctl {args:?}: {}", show(&out));
        }
    })
    .await;
}

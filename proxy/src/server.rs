//! Assembling and running the Pingora server: one proxy service per listen
//! address, the admin app on its own listener and thread.

use crate::admin::AdminApp;
use crate::config::{ConfigErrors, Loaded};
use crate::drain::Drain;
use crate::health::HealthChecker;
use crate::proxy::EdgeApp;
use crate::reload::Reloader;
use crate::runtime::{self, Runtime};
use crate::source::{ConfigSource, Source};
use arc_swap::ArcSwap;
use pingora_core::listeners::{L4BufferSettings, ListenerConfig};
use pingora_core::server::configuration::Opt;
use pingora_core::server::configuration::ServerConf;
use pingora_core::server::Server;
use pingora_core::services::background::background_service;
use pingora_core::services::listening::Service;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

/// Sends `signal` to the edge whose pid is in the config's pid file
/// (nginx's `-s`): `reload` (HUP), `quit` (TERM, graceful), `stop` (INT).
pub fn send_signal(loaded: &Loaded, signal: &str) -> Result<i32, String> {
    let sig = match signal {
        "reload" => libc::SIGHUP,
        "quit" => libc::SIGTERM,
        "stop" => libc::SIGINT,
        other => {
            return Err(format!(
                "unknown signal `{other}`: use reload, quit or stop"
            ))
        }
    };
    let path = &loaded.config.pid_file;
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!("cannot read pid file {path}: {e}; is the edge running with this config?")
    })?;
    let pid: i32 = text
        .trim()
        .parse()
        .map_err(|_| format!("pid file {path} holds `{}`, not a pid", text.trim()))?;
    // SAFETY: kill(2) with a pid read from our pid file; no memory is involved.
    if unsafe { libc::kill(pid, sig) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(format!(
            "cannot signal pid {pid} (from {path}): {e}; the pid file may be stale"
        ));
    }
    Ok(pid)
}

/// Loads, validates and builds a config: everything `-t` checks.
pub fn check(source: &ConfigSource) -> Result<(Source, Runtime), ConfigErrors> {
    let loaded = source.load()?;
    let rt = runtime::build(&loaded.loaded)?;
    Ok((loaded, rt))
}

/// Tries to bind every listen address so that a bad one is reported with its
/// place before Pingora starts (Pingora would only panic).
pub fn check_binds(loaded: &Loaded, rt: &Runtime) -> Result<(), ConfigErrors> {
    let mut addrs: Vec<SocketAddr> = rt.listeners.iter().map(|l| l.addr).collect();
    addrs.extend(loaded.config.admin.listen.0);
    let errs: Vec<_> = addrs
        .into_iter()
        .filter_map(|addr| {
            TcpListener::bind(addr).err().map(|e| {
                let hint = match e.kind() {
                    std::io::ErrorKind::AddrInUse => {
                        "another process listens there; stop it or pick another port"
                    }
                    std::io::ErrorKind::PermissionDenied => {
                        "ports below 1024 need root or CAP_NET_BIND_SERVICE"
                    }
                    _ => "is this address configured on this machine?",
                };
                loaded.locator.error(
                    &[&addr.to_string()],
                    format!("listen {addr}: cannot bind: {e} ({hint})"),
                )
            })
        })
        .collect();
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(errs))
    }
}

/// How the process starts, from the command line.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartMode {
    /// Detach into the background (`-d`).
    pub daemon: bool,
    /// Take the listening sockets from a running edge (`--upgrade`).
    pub upgrade: bool,
}

/// Runs the edge until it is told to stop; never returns. Signals: HUP
/// reloads `config`, TERM drains and stops, INT stops at once, QUIT hands
/// the listeners to a new binary started with `--upgrade`.
pub fn run(config: ConfigSource, loaded: Loaded, rt: Runtime, mode: StartMode) -> ! {
    let c = &loaded.config;
    let conf = ServerConf {
        threads: c.threads,
        work_stealing: c.work_stealing,
        upstream_keepalive_pool_size: c.upstream_keepalive_pool_size,
        grace_period_seconds: Some(c.grace_period.0.as_secs()),
        graceful_shutdown_timeout_seconds: Some(c.graceful_shutdown_timeout.0.as_secs()),
        pid_file: c.pid_file.clone(),
        upgrade_sock: c.upgrade_sock.clone(),
        daemon: mode.daemon,
        ..ServerConf::default()
    };
    let opt = Opt {
        upgrade: mode.upgrade,
        daemon: mode.daemon,
        ..Opt::default()
    };
    runtime::set_total_cap(c.upstream_keepalive_pool_size);
    let mut server = Server::new_with_opt_and_conf(opt, conf);
    server.bootstrap();
    if !mode.daemon {
        // Pingora writes the pid file only when it daemonizes; `-s` needs it always.
        if let Err(e) = std::fs::write(&c.pid_file, format!("{}\n", std::process::id())) {
            tracing::warn!(
                "cannot write pid file {}: {e}; `-s` will not find this edge",
                c.pid_file
            );
        }
    }
    crate::admin::metrics().config_loaded();
    let shared = Arc::new(ArcSwap::from_pointee(rt));
    let listeners: Vec<SocketAddr> = shared.load().listeners.iter().map(|l| l.addr).collect();
    for (i, addr) in listeners.into_iter().enumerate() {
        let app = EdgeApp {
            listener: i,
            runtime: shared.clone(),
        };
        let mut svc = Service::new(format!("edge {addr}"), app);
        // Pingora's default L4 buffers (a 64 KiB read buffer and a 1460-byte
        // write buffer per connection) would sit under every idle tunnel;
        // the edge keeps its own small read buffer and writes whole replies.
        svc.add_listener(
            ListenerConfig::tcp(addr.to_string()).l4_buffer(L4BufferSettings::unbuffered()),
        );
        server.add_service(svc);
    }
    let reloaded = Arc::new(tokio::sync::Notify::new());
    let reloader = Reloader {
        config,
        runtime: shared.clone(),
        reloaded: reloaded.clone(),
    };
    server.add_service(background_service("reload", reloader));
    let checker = HealthChecker {
        runtime: shared.clone(),
        reloaded,
    };
    server.add_service(background_service("health checks", checker));
    let drain = Drain {
        grace: c.grace_period.0,
    };
    server.add_service(background_service("drain", drain));
    if let Some(addr) = c.admin.listen.0 {
        let app = AdminApp {
            runtime: shared.clone(),
            token: c.admin.token.clone(),
            started_unix_ms: crate::health::unix_ms(),
        };
        let mut svc = Service::new("admin".to_string(), app);
        svc.threads = Some(1);
        svc.add_tcp(&addr.to_string());
        server.add_service(svc);
    }
    tracing::info!(listeners = ?shared.load().listeners.iter().map(|l| l.addr).collect::<Vec<_>>(), admin = ?c.admin.listen.0, "openclaw-edge started");
    server.run_forever()
}

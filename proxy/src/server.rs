//! Assembling and running the Pingora server: one proxy service per listen
//! address, the admin app on its own listener and thread.

use crate::admin::AdminApp;
use crate::config::{ConfigErrors, Loaded};
use crate::health::HealthChecker;
use crate::proxy::EdgeProxy;
use crate::runtime::{self, Runtime};
use arc_swap::ArcSwap;
use pingora_core::server::configuration::ServerConf;
use pingora_core::server::Server;
use pingora_core::services::listening::Service;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

/// Loads, validates and builds a config file: everything `-t` checks.
pub fn check(path: &str) -> Result<(Loaded, Runtime), ConfigErrors> {
    let loaded = crate::config::load_file(path)?;
    let rt = runtime::build(&loaded)?;
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

/// Runs the edge until it is told to stop; never returns.
pub fn run(loaded: Loaded, rt: Runtime) -> ! {
    let c = &loaded.config;
    let conf = ServerConf {
        threads: c.threads,
        work_stealing: c.work_stealing,
        upstream_keepalive_pool_size: c.upstream_keepalive_pool_size,
        // Tries are bounded per request by next_upstream; Pingora's cap must not cut them short.
        max_retries: 1024,
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(10),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let shared = Arc::new(ArcSwap::from_pointee(rt));
    let listeners: Vec<SocketAddr> = shared.load().listeners.iter().map(|l| l.addr).collect();
    for (i, addr) in listeners.into_iter().enumerate() {
        let proxy = EdgeProxy {
            listener: i,
            runtime: shared.clone(),
        };
        let mut svc = pingora_proxy::http_proxy_service_with_name(
            &server.configuration,
            proxy,
            &format!("edge {addr}"),
        );
        svc.add_tcp(&addr.to_string());
        server.add_service(svc);
    }
    let checker = HealthChecker {
        runtime: shared.clone(),
        reloaded: Arc::new(tokio::sync::Notify::new()),
    };
    server.add_service(pingora_core::services::background::background_service(
        "health checks",
        checker,
    ));
    if let Some(addr) = c.admin.listen.0 {
        let app = AdminApp {
            runtime: shared.clone(),
            token: c.admin.token.clone(),
        };
        let mut svc = Service::new("admin".to_string(), app);
        svc.threads = Some(1);
        svc.add_tcp(&addr.to_string());
        server.add_service(svc);
    }
    tracing::info!(listeners = ?shared.load().listeners.iter().map(|l| l.addr).collect::<Vec<_>>(), admin = ?c.admin.listen.0, "openclaw-edge started");
    server.run_forever()
}

//! `openclaw gateway run`: the node in the foreground.

use crate::config::Settings;
use crate::instance::Instance;
use crate::node::Node;
use std::net::SocketAddr;
use tokio::signal::unix::{signal, SignalKind};

/// Claims the state dir and port, serves until SIGTERM or SIGINT, stops gracefully.
pub fn run(settings: Settings) -> Result<i32, String> {
    settings.check_exposure()?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: `start` writes to a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let addr = SocketAddr::new(settings.bind.value, settings.port.value);
    let mut instance = Instance::claim(&settings.locations.state_dir.value, addr, &settings.node)?;
    let listener = instance.listener.take().expect("claimed with a listener");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get().min(4)))
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        tracing::info!(
            node = %settings.node,
            %addr,
            state_dir = %settings.locations.state_dir.value.display(),
            config = %settings.locations.config_path.value.display(),
            sessions = ?settings.sessions,
            auth = settings.auth.mode.name(),
            trusted_proxies = settings.ingress.trusted_proxies.len(),
            "openclaw gateway listening"
        );
        let node = Node::start(settings)?;
        let mut asked = node.ha.stop_requested.subscribe();
        let stop = async move {
            let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
            let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
                // `openclaw gateway stop --node NAME` from another machine.
                _ = asked.wait_for(|s| *s) => tracing::info!("stop requested over the control channel"),
            }
        };
        crate::server::serve(node, listener, stop)
            .await
            .map_err(|e| format!("serving on {addr}: {e}"))
    })?;
    drop(instance);
    Ok(0)
}

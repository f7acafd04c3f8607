//! `openclaw-edge`: the command line. Everything else lives in the library.

use clap::Parser;
use openclaw_edge::logging::{self, LogFormat};
use openclaw_edge::server;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A Pingora reverse proxy with nginx's load-balancing semantics, in front of
/// OpenClaw gateway nodes.
#[derive(Parser, Debug)]
#[command(
    name = "openclaw-edge",
    version,
    after_help = "Examples:\n  \
        openclaw-edge -t -c conf/edge.yaml     check a config, like `nginx -t`\n  \
        openclaw-edge -c conf/edge.yaml        run in the foreground\n  \
        openclaw-edge -c edge.yaml --log-format json\n  \
        openclaw-edge -s reload -c edge.yaml   reload (SIGHUP); quit = graceful stop, stop = fast\n  \
        openclaw-edge -d -c edge.yaml          run in the background\n\n\
        The admin listener (default 127.0.0.1:9901) serves /metrics, /status and /api/status."
)]
struct Cli {
    /// The YAML config file.
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        default_value = "/etc/openclaw-edge/edge.yaml"
    )]
    config: String,
    /// Check the config (syntax, names, addresses) and exit: 0 if OK, 1 with every error.
    #[arg(short = 't', long = "test")]
    test: bool,
    /// Signal the running edge (pid from the config's pid_file): reload, quit (graceful), stop (fast).
    #[arg(short = 's', long = "signal", value_name = "SIGNAL", value_parser = ["reload", "quit", "stop"])]
    signal: Option<String>,
    /// Run in the background (pid in the config's pid_file).
    #[arg(short = 'd', long = "daemon")]
    daemon: bool,
    /// Take the listening sockets over from a running edge that was sent SIGQUIT.
    #[arg(long = "upgrade")]
    upgrade: bool,
    /// Format of the error and access logs.
    #[arg(long = "log-format", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

fn fail(errors: impl std::fmt::Display) -> ExitCode {
    eprintln!("{errors}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (loaded, rt) = match server::check(&cli.config) {
        Ok(x) => x,
        Err(errors) => {
            if cli.test {
                eprintln!(
                    "openclaw-edge: configuration file {} test failed",
                    cli.config
                );
            }
            return fail(errors);
        }
    };
    if cli.test {
        println!("configuration OK: {}", cli.config);
        return ExitCode::SUCCESS;
    }
    if let Some(signal) = &cli.signal {
        return match server::send_signal(&loaded, signal) {
            Ok(pid) => {
                println!("sent {signal} to openclaw-edge pid {pid}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(format!("openclaw-edge: {e}")),
        };
    }
    if !cli.upgrade {
        // An upgrade inherits the sockets; binding them here would fail.
        if let Err(errors) = server::check_binds(&loaded, &rt) {
            return fail(errors);
        }
    }
    if let Err(e) = logging::init(cli.log_format, &loaded.config.access_log) {
        return fail(format!("{}: access_log: cannot open: {e}", cli.config));
    }
    let mode = server::StartMode {
        daemon: cli.daemon,
        upgrade: cli.upgrade,
    };
    server::run(&cli.config, loaded, rt, mode)
}

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
        openclaw-edge -c edge.yaml --log-format json\n\n\
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
    if let Err(errors) = server::check_binds(&loaded, &rt) {
        return fail(errors);
    }
    let _guard = match logging::init(cli.log_format, &loaded.config.access_log) {
        Ok(g) => g,
        Err(e) => return fail(format!("{}: access_log: cannot open: {e}", cli.config)),
    };
    server::run(loaded, rt)
}

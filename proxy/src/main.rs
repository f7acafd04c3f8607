//! `openclaw-edge`: the command line. Everything else lives in the library.

use clap::{Parser, Subcommand};
use openclaw_edge::config::{parse_listen, ConfigError, ListenAddr};
use openclaw_edge::logging::{self, LogFormat};
use openclaw_edge::server;
use openclaw_edge::source::ConfigSource;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A Pingora reverse proxy with nginx's load-balancing semantics, in front of
/// OpenClaw gateway nodes. Runs from its own YAML or directly from an nginx config.
#[derive(Parser, Debug)]
#[command(
    name = "openclaw-edge",
    version,
    after_help = "Examples:\n  \
        openclaw-edge -t -c conf/edge.yaml     check a config, like `nginx -t`\n  \
        openclaw-edge -c conf/edge.yaml        run in the foreground\n  \
        openclaw-edge -c /etc/nginx/nginx.conf run an nginx config as it is (a .conf name, or --nginx)\n  \
        openclaw-edge convert nginx.conf > edge.yaml   the same config as the edge's YAML\n  \
        openclaw-edge -c edge.yaml --log-format json\n  \
        openclaw-edge -s reload -c edge.yaml   reload (SIGHUP); quit = graceful stop, stop = fast\n  \
        openclaw-edge -d -c edge.yaml          run in the background\n\n\
        nginx directives the edge does not need are ignored with a warning (FILE:LINE: warning: ...);\n\
        --strict makes them errors. Access control, TLS and rewrites are always errors.\n\
        The admin listener (default 127.0.0.1:9901) serves /metrics, /status and /api/status."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The config file: the edge's YAML, or an nginx config (`.conf`, or with --nginx).
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        default_value = "/etc/openclaw-edge/edge.yaml"
    )]
    config: String,
    /// Read the config as nginx syntax whatever its name.
    #[arg(long = "nginx", global = true)]
    nginx: bool,
    /// Treat nginx directives that would be ignored as errors.
    #[arg(long = "strict", global = true)]
    strict: bool,
    /// Admin listener address (`127.0.0.1:9901`, `off`), overriding the config.
    #[arg(long = "admin", value_name = "ADDR", value_parser = admin_addr)]
    admin: Option<ListenAddr>,
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

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the edge YAML equivalent to an nginx config (ignored directives
    /// are listed on stderr with file:line; --strict makes them errors).
    Convert {
        /// The nginx config, e.g. /etc/nginx/nginx.conf or a conf.d file.
        #[arg(value_name = "NGINX_CONF")]
        file: String,
    },
}

fn admin_addr(text: &str) -> Result<ListenAddr, String> {
    parse_listen(text).map(ListenAddr)
}

fn fail(errors: impl std::fmt::Display) -> ExitCode {
    eprintln!("{errors}");
    ExitCode::FAILURE
}

/// `FILE:LINE: warning: ...`, placed as errors are.
fn print_warnings(warnings: &[ConfigError]) {
    for w in warnings {
        let message = format!("warning: {}", w.message);
        eprintln!(
            "{}",
            ConfigError {
                message,
                ..w.clone()
            }
        );
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Convert { file }) = &cli.command {
        let source = ConfigSource {
            path: file.clone(),
            nginx: true,
            strict: cli.strict,
            admin: cli.admin,
        };
        return match server::check(&source) {
            Ok((s, _)) => {
                print_warnings(&s.warnings);
                print!(
                    "# Converted by `openclaw-edge convert {file}`; run with `openclaw-edge -c FILE.yaml`.\n{}",
                    s.yaml.unwrap_or_default()
                );
                ExitCode::SUCCESS
            }
            Err(errors) => fail(errors),
        };
    }
    let source = ConfigSource {
        path: cli.config.clone(),
        nginx: cli.nginx,
        strict: cli.strict,
        admin: cli.admin,
    };
    let (loaded, rt) = match server::check(&source) {
        Ok((s, rt)) => {
            print_warnings(&s.warnings);
            (s.loaded, rt)
        }
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
    openclaw_edge::fdlimit::raise();
    let mode = server::StartMode {
        daemon: cli.daemon,
        upgrade: cli.upgrade,
    };
    server::run(source, loaded, rt, mode)
}

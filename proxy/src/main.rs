//! `openclaw-edge`: the command line. Everything else lives in the library.

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use openclaw_edge::config::{parse_listen, ConfigError, ListenAddr};
use openclaw_edge::ctl::{self, Ctl, Op};
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
        The admin listener (default 127.0.0.1:9901) serves /metrics, the /status page, /api/status\n\
        and the runtime API /api/upstreams; `openclaw-edge ctl --help` calls it from the shell."
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
    /// Call the runtime API of a running edge: list upstreams, drain a
    /// server, take it down or up, change its weight.
    #[command(after_help = CTL_HELP)]
    Ctl(CtlArgs),
    /// Print the edge YAML equivalent to an nginx config (ignored directives
    /// are listed on stderr with file:line; --strict makes them errors).
    Convert {
        /// The nginx config, e.g. /etc/nginx/nginx.conf or a conf.d file.
        #[arg(value_name = "NGINX_CONF")]
        file: String,
    },
}

const CTL_HELP: &str = "Examples:\n  \
    openclaw-edge ctl upstreams                                 every upstream and server, as a table\n  \
    openclaw-edge ctl -c /etc/openclaw-edge/edge.yaml upstreams --json\n  \
    openclaw-edge ctl drain openclaw_gateway 127.0.0.1:18789    no new requests; open tunnels stay\n  \
    openclaw-edge ctl undrain openclaw_gateway 0                by id: 0, 1, ... (primaries, then backups)\n  \
    openclaw-edge ctl down openclaw_gateway 1                   out of rotation, like `down` in the file\n  \
    openclaw-edge ctl up openclaw_gateway 1\n  \
    openclaw-edge ctl weight openclaw_gateway 127.0.0.1:18790 5\n\n\
    The admin listener: --admin ADDR, else the admin.listen of the config given with -c, else\n\
    127.0.0.1:9901. The token: --token, else $OPENCLAW_EDGE_ADMIN_TOKEN, else the config's\n\
    admin.token. A server is named by its id or as written in the config (host:port).\n\
    Changes last until the edge stops; a reload keeps them for servers it keeps, unless the file\n\
    now says otherwise for that setting. Exit status: 0 done, 1 refused or unreachable.";

/// `openclaw-edge ctl ...`.
#[derive(Args, Debug)]
struct CtlArgs {
    /// The admin listener (HOST:PORT) [default: the config's admin.listen with -c, else 127.0.0.1:9901].
    #[arg(long = "admin", value_name = "ADDR")]
    admin: Option<String>,
    /// The admin token [default: $OPENCLAW_EDGE_ADMIN_TOKEN, else the config's admin.token].
    #[arg(long = "token", value_name = "TOKEN")]
    token: Option<String>,
    /// Read the admin listener and token from this config.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    config: Option<String>,
    #[command(subcommand)]
    op: CtlOp,
}

/// One server of one upstream.
#[derive(Args, Debug)]
struct Target {
    /// The upstream's name, as in the config.
    upstream: String,
    /// The server: its id (0, 1, ...: primaries then backups) or as written (host:port).
    server: String,
}

#[derive(Subcommand, Debug)]
enum CtlOp {
    /// List every upstream and its servers.
    Upstreams {
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Stop sending new requests to a server; open requests and tunnels go on.
    Drain(Target),
    /// End a drain.
    Undrain(Target),
    /// Take a server out of rotation (`down`).
    Down(Target),
    /// Bring a server taken down back (`down: false`).
    Up(Target),
    /// Set a server's weight (the file's weight again ends the change).
    Weight {
        #[command(flatten)]
        target: Target,
        /// The new weight, 1 or more.
        weight: u64,
    },
}

/// Runs `ctl`; `config` is the top-level `-c` when it was given.
fn run_ctl(args: &CtlArgs, config: Option<&str>, nginx: bool) -> ExitCode {
    let mut target = Ctl {
        admin: ctl::DEFAULT_ADMIN.to_string(),
        token: None,
        admin_from: "the default".to_string(),
    };
    if let Some(path) = args.config.as_deref().or(config) {
        let source = ConfigSource {
            path: path.to_string(),
            nginx,
            ..ConfigSource::default()
        };
        let loaded = match source.load() {
            Ok(s) => s.loaded,
            Err(errors) => return fail(errors),
        };
        target = match ctl::from_config(path, &loaded.config) {
            Ok(t) => t,
            Err(e) => return fail(format!("openclaw-edge ctl: {e}")),
        };
    }
    if let Some(admin) = &args.admin {
        (target.admin, target.admin_from) = (admin.clone(), "--admin".to_string());
    }
    if let Some(token) = args
        .token
        .clone()
        .or_else(|| std::env::var(ctl::TOKEN_ENV).ok().filter(|t| !t.is_empty()))
    {
        target.token = Some(token);
    }
    let patch = |t: &Target, body: serde_json::Value| Op::Patch {
        upstream: t.upstream.clone(),
        server: t.server.clone(),
        body,
    };
    let op = match &args.op {
        CtlOp::Upstreams { json } => Op::Upstreams { json: *json },
        CtlOp::Drain(t) => patch(t, serde_json::json!({ "drain": true })),
        CtlOp::Undrain(t) => patch(t, serde_json::json!({ "drain": false })),
        CtlOp::Down(t) => patch(t, serde_json::json!({ "down": true })),
        CtlOp::Up(t) => patch(t, serde_json::json!({ "down": false })),
        CtlOp::Weight { target: t, weight } => patch(t, serde_json::json!({ "weight": weight })),
    };
    match target.run(&op) {
        Ok(text) => {
            println!("{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("openclaw-edge ctl: {e}")),
    }
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
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Some(Command::Ctl(args)) = &cli.command {
        let given = matches.value_source("config") == Some(ValueSource::CommandLine);
        return run_ctl(args, given.then_some(cli.config.as_str()), cli.nginx);
    }
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

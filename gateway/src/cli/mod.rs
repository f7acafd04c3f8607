//! The command line: `openclaw [global flags] gateway <command>`.

mod call;
mod cluster;
mod connect;
mod daemon;
mod probe;
mod run;

use crate::config::{Locations, Overrides, Settings};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// OpenClaw gateway node.
///
/// Profiles keep instances apart: `--profile P` means state dir ~/.openclaw-P
/// and config <state dir>/openclaw.json; `--dev` is profile `dev` on port 19001.
/// Precedence: flag > environment (OPENCLAW_PROFILE, OPENCLAW_STATE_DIR,
/// OPENCLAW_CONFIG_PATH, OPENCLAW_GATEWAY_PORT, OPENCLAW_GATEWAY_TOKEN,
/// OPENCLAW_LOCK_TYPE, REDIS_URL) > config file > profile > default.
#[derive(Parser, Debug)]
#[command(name = "openclaw", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes, before or after the command name.
#[derive(Args, Debug, Clone, Default)]
pub struct Global {
    /// Profile name: state dir ~/.openclaw-NAME (env OPENCLAW_PROFILE).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Development profile: ~/.openclaw-dev and port 19001.
    #[arg(long, global = true)]
    pub dev: bool,
    /// This node's name in the cluster (default: <hostname>-<port>).
    #[arg(long, global = true, value_name = "NAME")]
    pub node: Option<String>,
    /// Gateway port (env OPENCLAW_GATEWAY_PORT; default 18789, 19001 with --dev).
    #[arg(long, global = true)]
    pub port: Option<u16>,
    /// Gateway token (env OPENCLAW_GATEWAY_TOKEN).
    #[arg(long, global = true)]
    pub token: Option<String>,
    /// Gateway password (env OPENCLAW_GATEWAY_PASSWORD): the node's
    /// gateway.auth.password, or the one to connect with.
    #[arg(long, global = true)]
    pub password: Option<String>,
    /// Machine-readable output.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run and manage the gateway node.
    Gateway {
        #[command(subcommand)]
        command: Option<Gateway>,
    },
}

#[derive(Subcommand, Debug)]
pub enum Gateway {
    /// Run the node in the foreground (the default). Ctrl-C or SIGTERM stops it
    /// gracefully: clients get a `shutdown` event first.
    Run,
    /// Start the node in the background; returns once /health answers and prints
    /// the pid, port, state dir and log file.
    Start {
        /// Seconds to wait for /health.
        #[arg(long, default_value_t = 20)]
        wait: u64,
    },
    /// Stop the node of this state dir gracefully (SIGTERM, then wait). With
    /// `--node NAME` for a node this state dir does not run: asks that node to
    /// stop over the lease's control channel (from any machine reaching Redis).
    Stop {
        /// Seconds to wait for it to exit.
        #[arg(long, default_value_t = 20)]
        wait: u64,
    },
    /// Stop, then start.
    Restart {
        /// Seconds to wait for each step.
        #[arg(long, default_value_t = 20)]
        wait: u64,
    },
    /// Whether the node of this state dir runs, and whether it is ready.
    /// Exits 0 when running, 3 when not.
    Status,
    /// Ask a node for its health over the protocol (the `health` method).
    Health(Target),
    /// Hand leadership to the node named by --node, gracefully: the leader
    /// releases the lease and that node takes it. Waits until it leads.
    Promote {
        /// Seconds to wait for the hand-over.
        #[arg(long, default_value_t = 15)]
        wait: u64,
    },
    /// Show the leader lease: holder (node, role, priority, address), epoch,
    /// since, TTL left, the node `promote` prefers, each node's last heartbeat.
    LockStatus,
    /// Clear a stale lease: deletes exactly the value it shows (compare-and-
    /// delete) and bumps the epoch, so the old holder's writes are refused.
    ForceUnlock {
        /// Clear it even though the holder's heartbeat is fresh.
        #[arg(long)]
        force: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Every node of the cluster: role, priority, address, leader, ready,
    /// version, config hash (drift flagged), last seen.
    Nodes,
    /// Call a protocol method and print its payload, e.g.
    /// `openclaw gateway call chat.send --params '{"sessionKey":"main","message":"hi","idempotencyKey":"k1"}' --expect-final`
    Call {
        /// Method name: health, status, system-presence, sessions.list,
        /// sessions.reset, sessions.delete, chat.send, chat.history.
        method: String,
        /// Params as a JSON object.
        #[arg(long, default_value = "{}")]
        params: String,
        /// For chat.send: wait for the run's final (or error) chat event and print it.
        #[arg(long)]
        expect_final: bool,
        #[command(flatten)]
        target: Target,
    },
}

/// Which node to talk to.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// WebSocket URL, ws:// or wss:// (default ws://127.0.0.1:<port>).
    #[arg(long)]
    pub url: Option<String>,
    /// For wss://: PEM CA certificates to trust besides the system's.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Milliseconds for connecting plus the call.
    #[arg(long, default_value_t = 10_000)]
    pub timeout: u64,
}

impl Global {
    fn overrides(&self) -> Overrides {
        Overrides {
            profile: self.profile.clone(),
            dev: self.dev,
            port: self.port,
            token: self.token.clone(),
            password: self.password.clone(),
            node: self.node.clone(),
        }
    }

    /// The flags to pass on to a node started in the background.
    fn passthrough(&self) -> Vec<String> {
        let mut args = Vec::new();
        let mut add = |flag: &str, value: &Option<String>| {
            if let Some(v) = value {
                args.push(flag.to_string());
                args.push(v.clone());
            }
        };
        add("--profile", &self.profile);
        add("--node", &self.node);
        add("--port", &self.port.map(|p| p.to_string()));
        add("--token", &self.token);
        add("--password", &self.password);
        if self.dev {
            args.push("--dev".to_string());
        }
        args
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

fn settings(global: &Global) -> Result<Settings, String> {
    Settings::load(&global.overrides(), &env, &home())
}

fn locations(global: &Global) -> Result<Locations, String> {
    Locations::resolve(&global.overrides(), &env, &home())
}

/// Parses the arguments and runs the command; the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let Command::Gateway { command } = cli.command;
    let g = &cli.global;
    let result = match command.unwrap_or(Gateway::Run) {
        Gateway::Run => settings(g).and_then(run::run),
        Gateway::Start { wait } => settings(g).and_then(|s| daemon::start(g, &s, wait)),
        Gateway::Stop { wait } => locations(g).and_then(|l| {
            let here = crate::instance::running_holder(&l.state_dir.value);
            match &g.node {
                Some(name) if here.as_ref().is_none_or(|h| &h.node != name) => {
                    settings(g).and_then(|s| cluster::stop_remote(g, &s, name, wait))
                }
                _ => daemon::stop(g, &l, wait),
            }
        }),
        Gateway::Restart { wait } => locations(g)
            .and_then(|l| daemon::stop(g, &l, wait))
            .and_then(|_| settings(g))
            .and_then(|s| daemon::start(g, &s, wait)),
        Gateway::Status => locations(g).and_then(|l| daemon::status(g, &l)),
        Gateway::Health(target) => settings(g).and_then(|s| call::health(g, &s, &target)),
        Gateway::Promote { wait } => match &g.node {
            Some(name) => settings(g).and_then(|s| cluster::promote(g, &s, name, wait)),
            None => {
                Err("promote needs the node to lead: `openclaw gateway promote --node NAME`".into())
            }
        },
        Gateway::LockStatus => settings(g).and_then(|s| cluster::lock_status(g, &s)),
        Gateway::ForceUnlock { force, yes } => {
            settings(g).and_then(|s| cluster::force_unlock(g, &s, force, yes))
        }
        Gateway::Nodes => settings(g).and_then(|s| cluster::nodes(g, &s)),
        Gateway::Call {
            method,
            params,
            expect_final,
            target,
        } => settings(g).and_then(|s| call::call(g, &s, &method, &params, expect_final, &target)),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            if g.json {
                println!(
                    "{}",
                    serde_json::json!({"ok": false, "error": {"message": message}})
                );
            }
            eprintln!("openclaw: {message}");
            1
        }
    }
}

//! Where each setting comes from: flag > environment > config file > profile
//! default > built-in default. Nothing already set is overridden.

use super::auth::{self, AuthMode, AuthSettings};
use super::file::{self, FileConfig, GatewayMode, LockType, Storage};
use crate::ha::settings::{HaSettings, LockPlace};
use crate::ingress::{IngressPolicy, TrustedProxies};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The global flags that take part in resolution.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub profile: Option<String>,
    pub dev: bool,
    pub port: Option<u16>,
    pub token: Option<String>,
    pub password: Option<String>,
    pub node: Option<String>,
}

/// Where a resolved value came from; `status` shows it so an operator can tell
/// why a node listens where it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag(&'static str),
    Env(&'static str),
    File,
    Profile(String),
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(name) => write!(f, "flag {name}"),
            Source::Env(name) => write!(f, "environment {name}"),
            Source::File => f.write_str("config file"),
            Source::Profile(p) => write!(f, "profile {p}"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

fn sourced<T>(value: T, source: Source) -> Sourced<T> {
    Sourced { value, source }
}

/// The environment as a lookup, so tests can pass a table instead of the process's.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The state dir and config path: all that commands like `stop` need, and what
/// must be known before the config file can be read.
#[derive(Debug, Clone)]
pub struct Locations {
    pub profile: Option<String>,
    pub state_dir: Sourced<PathBuf>,
    pub config_path: Sourced<PathBuf>,
}

impl Locations {
    /// Resolves the profile, the state dir and the config path.
    pub fn resolve(o: &Overrides, env: EnvLookup, home: &Path) -> Result<Self, String> {
        let profile = match (&o.profile, env("OPENCLAW_PROFILE")) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(p)) if !p.is_empty() => Some(p),
            _ if o.dev => Some("dev".to_string()),
            _ => None,
        };
        if o.dev && profile.as_deref() != Some("dev") {
            return Err(format!(
                "--dev means profile `dev`, but the profile is `{}`; drop --dev or the profile",
                profile.unwrap_or_default()
            ));
        }
        if let Some(p) = &profile {
            if p.is_empty()
                || !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!(
                    "profile `{p}` is not a valid name: use letters, digits, - and _"
                ));
            }
        }
        let state_dir = match env("OPENCLAW_STATE_DIR").filter(|s| !s.is_empty()) {
            Some(dir) => sourced(expand_home(&dir, home), Source::Env("OPENCLAW_STATE_DIR")),
            None => match &profile {
                Some(p) => sourced(
                    home.join(format!(".openclaw-{p}")),
                    Source::Profile(p.clone()),
                ),
                None => sourced(home.join(".openclaw"), Source::Default),
            },
        };
        let config_path = match env("OPENCLAW_CONFIG_PATH").filter(|s| !s.is_empty()) {
            Some(path) => sourced(
                expand_home(&path, home),
                Source::Env("OPENCLAW_CONFIG_PATH"),
            ),
            None => sourced(
                state_dir.value.join("openclaw.json"),
                state_dir.source.clone(),
            ),
        };
        Ok(Locations {
            profile,
            state_dir,
            config_path,
        })
    }
}

/// Where sessions live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStorage {
    /// SQLite file in the state dir.
    Local { path: PathBuf },
    /// Shared Redis: keys under `prefix`, each session kept `ttl` after its last use.
    Redis {
        url: String,
        prefix: String,
        ttl: Duration,
    },
}

/// One configured agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSpec {
    pub id: String,
    /// `None` is the built-in echo agent.
    pub command: Option<Vec<String>>,
    pub timeout: Duration,
}

/// One leader-only scheduled job (`cron.jobs[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub id: String,
    pub every: Duration,
    pub session_key: String,
    pub message: String,
}

/// Protocol limits announced in `hello-ok` and enforced per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_payload: usize,
    pub max_buffered_bytes: usize,
    pub handshake_timeout: Duration,
    pub tick_interval: Duration,
}

/// Everything a node runs with, after precedence.
#[derive(Debug, Clone)]
pub struct Settings {
    pub locations: Locations,
    pub port: Sourced<u16>,
    pub bind: Sourced<IpAddr>,
    pub token: Sourced<Option<String>>,
    pub password: Sourced<Option<String>>,
    /// `gateway.auth`: the mode and the failed-auth limits.
    pub auth: AuthSettings,
    /// `gateway.trustedProxies` and `gateway.allowRealIpFallback`.
    pub ingress: IngressPolicy,
    pub node: String,
    pub lock_type: Sourced<LockType>,
    pub sessions: SessionStorage,
    pub workspace: PathBuf,
    pub agents: Vec<AgentSpec>,
    pub default_agent_timeout: Duration,
    pub limits: Limits,
    pub ha: HaSettings,
    pub jobs: Vec<JobSpec>,
    /// `gateway.controlUi.allowedOrigins`: browser origins (besides this
    /// machine's own pages) that may open the protocol; `*` allows any.
    pub allowed_origins: Vec<String>,
}

const DEFAULT_PORT: u16 = 18789;
const DEV_PORT: u16 = 19001;
const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";

impl Settings {
    /// Resolves the locations, reads the config file they name, and applies precedence.
    pub fn load(o: &Overrides, env: EnvLookup, home: &Path) -> Result<Self, String> {
        let locations = Locations::resolve(o, env, home)?;
        let file = file::read(&locations.config_path.value)?;
        Self::resolve(o, env, home, locations, file)
    }

    /// Applies precedence to an already-read file.
    pub fn resolve(
        o: &Overrides,
        env: EnvLookup,
        home: &Path,
        locations: Locations,
        file: FileConfig,
    ) -> Result<Self, String> {
        let at = |key: &str| format!("{key} in {}", locations.config_path.value.display());
        let g = file.gateway;
        if g.mode == Some(GatewayMode::Remote) {
            return Err(format!(
                "{}: `remote` means a client of another gateway; a node runs with `local`",
                at("gateway.mode")
            ));
        }
        let port = if let Some(p) = o.port {
            sourced(p, Source::Flag("--port"))
        } else if let Some(text) = env("OPENCLAW_GATEWAY_PORT").filter(|s| !s.is_empty()) {
            let p = text.parse().map_err(|_| {
                format!("OPENCLAW_GATEWAY_PORT=`{text}` is not a port number (1-65535)")
            })?;
            sourced(p, Source::Env("OPENCLAW_GATEWAY_PORT"))
        } else if let Some(p) = g.port {
            sourced(p, Source::File)
        } else if locations.profile.as_deref() == Some("dev") {
            sourced(DEV_PORT, Source::Profile("dev".into()))
        } else {
            sourced(DEFAULT_PORT, Source::Default)
        };
        if port.value == 0 {
            return Err(format!(
                "port 0 (from {}) is not a port to listen on",
                port.source
            ));
        }
        let bind = match &g.bind {
            Some(text) => sourced(
                parse_bind(text).map_err(|e| format!("{}: {e}", at("gateway.bind")))?,
                Source::File,
            ),
            None => sourced(IpAddr::from([127, 0, 0, 1]), Source::Default),
        };
        let token = auth::secret(
            (o.token.as_ref(), "--token"),
            (env("OPENCLAW_GATEWAY_TOKEN"), "OPENCLAW_GATEWAY_TOKEN"),
            g.auth.token.as_ref(),
            &at("gateway.auth.token"),
        )?;
        let password = auth::secret(
            (o.password.as_ref(), "--password"),
            (
                env("OPENCLAW_GATEWAY_PASSWORD"),
                "OPENCLAW_GATEWAY_PASSWORD",
            ),
            g.auth.password.as_ref(),
            &at("gateway.auth.password"),
        )?;
        let trusted_proxies = TrustedProxies::parse(g.trusted_proxies.as_deref().unwrap_or(&[]))
            .map_err(|(i, why)| {
                format!("{}: {why}", at(&format!("gateway.trustedProxies[{i}]")))
            })?;
        let auth = AuthSettings::resolve(
            &g.auth,
            token.value.as_deref(),
            password.value.as_deref(),
            &trusted_proxies,
            &at,
        )?;
        let ingress = IngressPolicy {
            trusted_proxies,
            allow_real_ip_fallback: g.allow_real_ip_fallback.unwrap_or(false),
        };
        let lock_type = match env("OPENCLAW_LOCK_TYPE").filter(|s| !s.is_empty()) {
            Some(t) => sourced(
                match t.as_str() {
                    "redis" => LockType::Redis,
                    "local" => LockType::Local,
                    _ => {
                        return Err(format!(
                            "OPENCLAW_LOCK_TYPE=`{t}`: expected `redis` or `local`"
                        ))
                    }
                },
                Source::Env("OPENCLAW_LOCK_TYPE"),
            ),
            None => match g.lock.kind {
                Some(k) => sourced(k, Source::File),
                None => sourced(LockType::Local, Source::Default),
            },
        };
        let env_redis = env("REDIS_URL").filter(|s| !s.is_empty());
        let lock = match lock_type.value {
            LockType::Redis => {
                let r = g.lock.redis.clone().unwrap_or_default();
                let key = r.key.unwrap_or_else(|| "openclaw:gateway:lock".to_string());
                if key.is_empty() {
                    return Err(format!(
                        "{}: empty; the default is openclaw:gateway:lock",
                        at("gateway.lock.redis.key")
                    ));
                }
                LockPlace::Redis {
                    url: env_redis
                        .clone()
                        .or(r.url)
                        .unwrap_or_else(|| DEFAULT_REDIS.to_string()),
                    key,
                }
            }
            LockType::Local => LockPlace::Local {
                path: match g.lock.local.as_ref().and_then(|l| l.path.as_deref()) {
                    Some(p) => expand_home(p, home),
                    None => locations.state_dir.value.join("leader.lock"),
                },
            },
        };
        let ha = HaSettings::resolve(&g.ha, lock, &at)?;
        let sessions = match g.sessions.storage.unwrap_or(Storage::Local) {
            Storage::Local => SessionStorage::Local {
                path: locations.state_dir.value.join("sessions.sqlite"),
            },
            Storage::Redis => {
                let r = g.sessions.redis.unwrap_or_default();
                let prefix = r
                    .key_prefix
                    .unwrap_or_else(|| "openclaw:sessions:".to_string());
                if prefix.is_empty() {
                    return Err(format!(
                        "{}: empty; sessions need a prefix of their own",
                        at("gateway.sessions.redis.keyPrefix")
                    ));
                }
                let ttl = r.ttl.map(|d| d.0).unwrap_or(Duration::from_secs(86_400));
                if ttl < Duration::from_secs(1) {
                    return Err(format!("{}: at least 1s", at("gateway.sessions.redis.ttl")));
                }
                SessionStorage::Redis {
                    url: env_redis
                        .or(r.url)
                        .unwrap_or_else(|| DEFAULT_REDIS.to_string()),
                    prefix,
                    ttl,
                }
            }
        };
        let workspace = match &file.agents.defaults.workspace {
            Some(w) => expand_home(w, home),
            None => locations.state_dir.value.join("workspace"),
        };
        let default_agent_timeout = file
            .agents
            .defaults
            .timeout
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(600));
        let mut agents: Vec<AgentSpec> = Vec::new();
        for (i, a) in file.agents.list.into_iter().enumerate() {
            let key = format!("agents.list[{i}]");
            if !valid_agent_id(&a.id) {
                return Err(format!(
                    "{}: id `{}`: use lowercase letters, digits, - and _",
                    at(&key),
                    a.id
                ));
            }
            if agents.iter().any(|b| b.id == a.id) {
                return Err(format!("{}: agent `{}` is listed twice", at(&key), a.id));
            }
            if a.command.as_ref().is_some_and(|c| c.is_empty()) {
                return Err(format!("{}.command: empty; give the program and its arguments, e.g. [\"sh\", \"-c\", \"cat\"]", at(&key)));
            }
            agents.push(AgentSpec {
                id: a.id,
                command: a.command,
                timeout: a.timeout.map(|d| d.0).unwrap_or(default_agent_timeout),
            });
        }
        let l = g.limits;
        let limits = Limits {
            max_payload: l.max_payload.unwrap_or(25 * 1024 * 1024),
            max_buffered_bytes: l.max_buffered_bytes.unwrap_or(50 * 1024 * 1024),
            handshake_timeout: l
                .handshake_timeout
                .map(|d| d.0)
                .unwrap_or(Duration::from_secs(10)),
            tick_interval: l
                .tick_interval
                .map(|d| d.0)
                .unwrap_or(Duration::from_secs(30)),
        };
        if limits.max_payload < 1024 || limits.tick_interval < Duration::from_millis(100) {
            return Err(format!(
                "{}: maxPayload must be at least 1024 bytes and tickInterval at least 100ms",
                at("gateway.limits")
            ));
        }
        let mut jobs: Vec<JobSpec> = Vec::new();
        for (i, j) in file.cron.jobs.into_iter().enumerate() {
            let key = format!("cron.jobs[{i}]");
            if !valid_agent_id(&j.id) {
                return Err(format!(
                    "{}: id `{}`: use lowercase letters, digits, - and _",
                    at(&key),
                    j.id
                ));
            }
            if jobs.iter().any(|k| k.id == j.id) {
                return Err(format!("{}: job `{}` is listed twice", at(&key), j.id));
            }
            if j.every.0 < Duration::from_secs(1) {
                return Err(format!("{}.every: at least 1s", at(&key)));
            }
            crate::sessions::key::parse(&j.session_key)
                .map_err(|e| format!("{}.sessionKey: {e}", at(&key)))?;
            jobs.push(JobSpec {
                id: j.id,
                every: j.every.0,
                session_key: j.session_key,
                message: j.message,
            });
        }
        let node = match &o.node {
            Some(n) => n.clone(),
            None => format!("{}-{}", hostname(), port.value),
        };
        Ok(Settings {
            locations,
            port,
            bind,
            token,
            password,
            auth,
            ingress,
            node,
            lock_type,
            sessions,
            workspace,
            agents,
            default_agent_timeout,
            limits,
            ha,
            jobs,
            allowed_origins: g.control_ui.allowed_origins.unwrap_or_default(),
        })
    }

    /// Refuses to serve beyond loopback without a token or password: anyone
    /// who reaches the port could drive the agents.
    pub fn check_exposure(&self) -> Result<(), String> {
        if !self.bind.value.is_loopback() && self.auth.mode == AuthMode::None {
            return Err(format!(
                "gateway.bind is {} (reachable beyond this machine) but no token or password is set: set \
                 gateway.auth.token (or gateway.auth.password) in {}, OPENCLAW_GATEWAY_TOKEN, or --token",
                self.bind.value,
                self.locations.config_path.value.display()
            ));
        }
        Ok(())
    }

    /// The agent that answers a session's agent id; unknown ids get the echo agent.
    pub fn agent(&self, id: &str) -> AgentSpec {
        self.agents
            .iter()
            .find(|a| a.id == id)
            .cloned()
            .unwrap_or(AgentSpec {
                id: id.to_string(),
                command: None,
                timeout: self.default_agent_timeout,
            })
    }
}

fn valid_agent_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn parse_bind(text: &str) -> Result<IpAddr, String> {
    match text {
        "loopback" => Ok(IpAddr::from([127, 0, 0, 1])),
        "lan" | "all" => Ok(IpAddr::from([0, 0, 0, 0])),
        _ => text.parse().map_err(|_| {
            format!("`{text}` is not an address: use an IP like 127.0.0.1 or 0.0.0.0, or `loopback` / `lan`")
        }),
    }
}

/// `~` and `~/x` become the home directory; other paths are kept.
pub fn expand_home(path: &str, home: &Path) -> PathBuf {
    match path.strip_prefix('~') {
        Some("") => home.to_path_buf(),
        Some(rest) if rest.starts_with('/') => home.join(&rest[1..]),
        _ => PathBuf::from(path),
    }
}

/// The machine's host name, for default node names and presence.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

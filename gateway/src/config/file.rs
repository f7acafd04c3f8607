//! The config file's model (`openclaw.json`, JSON5) and how it is read.
//!
//! Every struct refuses unknown keys: a misspelt key is an error naming the key
//! and the file, never a silently ignored setting.

use super::duration::ConfigDuration;
use serde::Deserialize;
use std::path::Path;

/// The whole file: `gateway` and `agents` as in the seed's examples, and `cron`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileConfig {
    #[serde(default)]
    pub gateway: GatewaySection,
    #[serde(default)]
    pub agents: AgentsSection,
    #[serde(default)]
    pub cron: CronSection,
}

/// `cron.*`: leader-only scheduled jobs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CronSection {
    #[serde(default)]
    pub jobs: Vec<JobEntry>,
}

/// One scheduled job: every `every`, `message` is sent to `sessionKey` as a
/// chat message, on the leader only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JobEntry {
    pub id: String,
    pub every: ConfigDuration,
    pub session_key: String,
    pub message: String,
}

/// `gateway.*`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GatewaySection {
    /// `local` is the only mode a node runs in; `remote` (a client of another
    /// gateway) is refused with an explanation rather than ignored.
    pub mode: Option<GatewayMode>,
    pub port: Option<u16>,
    /// Address to listen on; loopback unless set.
    pub bind: Option<String>,
    #[serde(default)]
    pub auth: AuthSection,
    #[serde(default)]
    pub ha: HaSection,
    #[serde(default)]
    pub lock: LockSection,
    #[serde(default)]
    pub sessions: SessionsSection,
    #[serde(default)]
    pub limits: LimitsSection,
    #[serde(default)]
    pub control_ui: ControlUiSection,
    /// Addresses and CIDR ranges of the reverse proxies whose forwarded
    /// headers name the client (see `crate::ingress`).
    pub trusted_proxies: Option<Vec<String>>,
    /// Whether a trusted proxy's `X-Real-IP` names the client when its
    /// `X-Forwarded-For` does not.
    pub allow_real_ip_fallback: Option<bool>,
}

/// `gateway.controlUi.*`: the official gateway's key for which browser
/// origins may open the protocol (this node serves no Control UI pages, but
/// a Control UI served elsewhere connects to it).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ControlUiSection {
    pub allowed_origins: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GatewayMode {
    Local,
    Remote,
}

/// `gateway.auth.*`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthSection {
    pub mode: Option<AuthModeName>,
    pub token: Option<String>,
    pub password: Option<String>,
    #[serde(default)]
    pub rate_limit: RateLimitSection,
    pub trusted_proxy: Option<TrustedProxySection>,
}

/// `gateway.auth.mode`, the official names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthModeName {
    None,
    Token,
    Password,
    TrustedProxy,
}

/// `gateway.auth.rateLimit`: failed-auth limits, in the official keys
/// (milliseconds as numbers).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RateLimitSection {
    pub max_attempts: Option<u32>,
    pub window_ms: Option<u64>,
    pub lockout_ms: Option<u64>,
    pub exempt_loopback: Option<bool>,
}

/// `gateway.auth.trustedProxy`: the user a trusted proxy vouches for, in a
/// header it sets.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TrustedProxySection {
    pub user_header: Option<String>,
    pub required_headers: Option<Vec<String>>,
    pub allow_users: Option<Vec<String>>,
    pub allow_loopback: Option<bool>,
}

/// `gateway.ha.*`: leadership through the lease (see `crate::ha`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HaSection {
    #[serde(default)]
    pub enabled: bool,
    pub role: Option<HaRole>,
    pub priority: Option<u32>,
    /// `active-standby` (only the leader is ready) or `active-active`.
    pub mode: Option<HaMode>,
    /// Whether a live node of higher priority takes leadership back by itself.
    pub preempt: Option<bool>,
    pub lease: Option<LeaseTiming>,
    pub primary_check: Option<PrimaryCheck>,
    pub failover: Option<Failover>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HaMode {
    ActiveStandby,
    ActiveActive,
}

/// `gateway.ha.lease`: how long a grant lasts and how often the leader renews.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LeaseTiming {
    pub ttl: Option<ConfigDuration>,
    pub renew_interval: Option<ConfigDuration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HaRole {
    Primary,
    Secondary,
}

/// `gateway.ha.primaryCheck`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PrimaryCheck {
    pub url: String,
    pub interval: Option<ConfigDuration>,
}

/// `gateway.ha.failover`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Failover {
    #[serde(default)]
    pub enabled: Option<bool>,
    pub timeout: Option<ConfigDuration>,
    pub retries: Option<u32>,
    pub backoff: Option<Backoff>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backoff {
    Exponential,
    Linear,
    Fixed,
}

/// `gateway.lock.*`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LockSection {
    #[serde(rename = "type")]
    pub kind: Option<LockType>,
    pub redis: Option<RedisLock>,
    pub local: Option<LocalLock>,
}

/// `gateway.lock.local`: the lock file nodes on one machine share.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LocalLock {
    pub path: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockType {
    Redis,
    Local,
}

/// `gateway.lock.redis`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RedisLock {
    pub url: Option<String>,
    pub key: Option<String>,
}

/// `gateway.sessions.*`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SessionsSection {
    pub storage: Option<Storage>,
    pub redis: Option<RedisSessions>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    Local,
    Redis,
}

/// `gateway.sessions.redis`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RedisSessions {
    pub url: Option<String>,
    pub key_prefix: Option<String>,
    pub ttl: Option<ConfigDuration>,
}

/// `gateway.limits.*`: the protocol policy announced in `hello-ok`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitsSection {
    pub max_payload: Option<usize>,
    pub max_buffered_bytes: Option<usize>,
    pub handshake_timeout: Option<ConfigDuration>,
    pub tick_interval: Option<ConfigDuration>,
}

/// `agents.*`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentsSection {
    #[serde(default)]
    pub defaults: AgentDefaults,
    #[serde(default)]
    pub list: Vec<AgentEntry>,
}

/// `agents.defaults`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentDefaults {
    pub workspace: Option<String>,
    pub timeout: Option<ConfigDuration>,
}

/// One entry of `agents.list`: an agent id and, optionally, the command that
/// answers for it (argv; the message arrives on stdin, stdout is the reply).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentEntry {
    pub id: String,
    pub command: Option<Vec<String>>,
    pub timeout: Option<ConfigDuration>,
}

/// Reads and checks a config file. A missing file is an empty config; any other
/// problem names the file and the line/column or key path.
pub fn read(path: &Path) -> Result<FileConfig, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileConfig::default()),
        Err(e) => return Err(format!("cannot read config {}: {e}", path.display())),
    };
    parse(&text).map_err(|e| format!("config {}: {e}", path.display()))
}

/// Parses JSON5 text into the model; errors carry `line:column` or the key path.
pub fn parse(text: &str) -> Result<FileConfig, String> {
    let value: serde_json::Value = json5::from_str(text).map_err(|e| match e {
        json5::Error::Message {
            msg,
            location: Some(at),
        } => format!(
            "line {}, column {}: not valid JSON5: {}",
            at.line,
            at.column,
            msg.lines().last().unwrap_or(&msg).trim()
        ),
        json5::Error::Message { msg, .. } => format!("not valid JSON5: {msg}"),
    })?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." {
            inner
        } else {
            format!("key `{path}`: {inner}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_seeds_examples_with_comments_and_trailing_commas() {
        let c = parse(
            r#"{
              // the seed's secondary
              "gateway": {
                "mode": "local", "port": 18790, "bind": "0.0.0.0",
                "ha": { "enabled": true, "role": "secondary", "priority": 50,
                        "primaryCheck": { "url": "http://p:18789/health", "interval": "10s" },
                        "failover": { "enabled": true, "timeout": "30s", "retries": 3, "backoff": "exponential" } },
                "lock": { "type": "redis", "redis": { "url": "redis://r:6379", "key": "openclaw:gateway:lock" } },
                "sessions": { "storage": "redis", "redis": { "url": "redis://r:6379", "keyPrefix": "openclaw:sessions:", "ttl": "24h" } },
              },
              "agents": { "defaults": { "workspace": "~/.openclaw/workspace" } },
            }"#,
        )
        .unwrap();
        assert_eq!(c.gateway.port, Some(18790));
        assert_eq!(c.gateway.ha.role, Some(HaRole::Secondary));
        assert_eq!(c.gateway.sessions.storage, Some(Storage::Redis));
        let c =
            parse(r#"{gateway: {controlUi: {allowedOrigins: ["https://ui.example"]}}}"#).unwrap();
        assert_eq!(
            c.gateway.control_ui.allowed_origins.unwrap(),
            ["https://ui.example"]
        );
        let e = parse(r#"{gateway: {controlUi: {allowOrigins: []}}}"#).unwrap_err();
        assert!(e.contains("gateway.controlUi.allowOrigins"), "{e}");
    }

    #[test]
    fn errors_name_the_key_or_the_position() {
        let e = parse(r#"{"gateway": {"prot": 1}}"#).unwrap_err();
        assert!(e.contains("key `gateway.prot`: unknown field"), "{e}");
        let e = parse(r#"{"gateway": {"port": "x"}}"#).unwrap_err();
        assert!(e.contains("gateway.port"), "{e}");
        let e = parse(r#"{"gateway": {"sessions": {"redis": {"ttl": "1y"}}}}"#).unwrap_err();
        assert!(e.contains("gateway.sessions.redis.ttl"), "{e}");
        let e = parse("{\n  \"gateway\": {,\n}").unwrap_err();
        assert!(e.starts_with("line 2, column"), "{e}");
    }
}

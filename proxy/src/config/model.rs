//! The YAML model of `edge.yaml`: what an operator writes, checked as it is read.
//!
//! Every struct refuses unknown keys, and every value that has a syntax
//! (durations, listen addresses, balance methods, `proxy_pass` targets,
//! `$variables`) is parsed while deserializing, so serde_yaml reports the
//! error with its line and column.

use super::duration::ConfDuration;
use super::size::ByteSize;
use crate::vars::Template;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The whole edge configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Worker threads of the proxy service (Pingora `threads`).
    #[serde(default = "default_threads")]
    pub threads: usize,
    /// Let idle threads steal work (Pingora `work_stealing`); off is faster for proxying.
    #[serde(default)]
    pub work_stealing: bool,
    /// Idle upstream connections kept in the shared pool, across all upstreams.
    #[serde(default = "default_pool")]
    pub upstream_keepalive_pool_size: usize,
    /// Where the running edge writes its pid (`-s` reads it).
    #[serde(default = "default_pid_file")]
    pub pid_file: String,
    /// Socket over which a new binary takes the listeners (`--upgrade`).
    #[serde(default = "default_upgrade_sock")]
    pub upgrade_sock: String,
    /// After SIGTERM (or SIGQUIT for an upgrade) the listeners close and
    /// requests in flight get this long to finish; the edge exits as soon
    /// as none is left.
    #[serde(default = "default_grace_period")]
    pub grace_period: ConfDuration,
    /// Then, how long the runtimes get to wind down.
    #[serde(default = "default_shutdown_timeout")]
    pub graceful_shutdown_timeout: ConfDuration,
    /// Where requests are logged: `stdout` (default), `stderr`, `off`, or a file path.
    #[serde(default)]
    pub access_log: AccessLogTarget,
    /// The admin listener (metrics, status).
    #[serde(default)]
    pub admin: Admin,
    /// Named upstream groups, referenced as `proxy_pass: http://NAME`.
    #[serde(default, deserialize_with = "unique_keys")]
    pub upstreams: BTreeMap<String, Upstream>,
    /// Variables computed from another (nginx `map`), by name without `$`;
    /// usable in headers and hash keys as `$NAME`, shadowing a built-in.
    #[serde(default, deserialize_with = "unique_keys")]
    pub maps: BTreeMap<String, MapVar>,
    /// Virtual servers; each has listen addresses, names and locations.
    pub servers: Vec<VirtualServer>,
}

/// nginx's `map SOURCE $NAME { ... }`: the value of `$NAME` chosen by
/// what `source` expands to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapVar {
    /// What is matched, e.g. `$http_upgrade`.
    pub source: Template,
    /// The value when nothing matches; empty by default.
    #[serde(default)]
    pub default: Template,
    /// Exact strings are tried first, then `~regex` / `~*regex`
    /// (case-insensitive) in the order written.
    #[serde(default)]
    pub values: Vec<MapEntry>,
}

/// One `match value` line of a map.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapEntry {
    /// An exact string, or `~regex` / `~*regex`.
    #[serde(rename = "match")]
    pub pattern: String,
    /// The value it gives.
    pub value: Template,
}

fn default_pid_file() -> String {
    "/tmp/openclaw-edge.pid".to_string()
}
fn default_upgrade_sock() -> String {
    "/tmp/openclaw-edge-upgrade.sock".to_string()
}
fn default_grace_period() -> ConfDuration {
    ConfDuration::secs(10)
}
fn default_shutdown_timeout() -> ConfDuration {
    ConfDuration::secs(1)
}
fn default_threads() -> usize {
    1
}
fn default_pool() -> usize {
    128
}

/// A map whose keys must be unique: YAML parsers keep the last of two equal
/// keys silently, which would hide a second upstream of the same name.
fn unique_keys<'de, D: Deserializer<'de>, V: Deserialize<'de>>(
    d: D,
) -> Result<BTreeMap<String, V>, D::Error> {
    struct Visit<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Visit<V> {
        type Value = BTreeMap<String, V>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of names")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key::<String>()? {
                if out.contains_key(&key) {
                    return Err(serde::de::Error::custom(format!(
                        "`{key}` is defined twice; names must be unique"
                    )));
                }
                let value = map.next_value()?;
                out.insert(key, value);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Visit(std::marker::PhantomData))
}

fn unique_header_keys<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<String, Template>>, D::Error> {
    unique_keys(d).map(Some)
}

/// Where the access log goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AccessLogTarget {
    /// Standard output (the default, like a container's nginx).
    #[default]
    Stdout,
    /// Standard error.
    Stderr,
    /// No access log.
    Off,
    /// Appended to this file.
    File(String),
}

impl<'de> Deserialize<'de> for AccessLogTarget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "stdout" => AccessLogTarget::Stdout,
            "stderr" => AccessLogTarget::Stderr,
            "off" => AccessLogTarget::Off,
            "" => {
                return Err(serde::de::Error::custom(
                    "access_log: use stdout, stderr, off or a file path",
                ))
            }
            path => AccessLogTarget::File(path.to_string()),
        })
    }
}

/// The admin listener: `/metrics`, `/status`, `/api/status`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// Address to listen on; default `127.0.0.1:9901`. Use `off` to disable.
    #[serde(default = "default_admin_listen")]
    pub listen: ListenAddr,
    /// Bearer token required on every admin request; mandatory when `listen`
    /// is not a loopback address.
    #[serde(default)]
    pub token: Option<String>,
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            listen: default_admin_listen(),
            token: None,
        }
    }
}

fn default_admin_listen() -> ListenAddr {
    ListenAddr(Some("127.0.0.1:9901".parse().expect("valid default")))
}

/// A listen address: `8080`, `0.0.0.0:8080`, `[::]:8080`, `127.0.0.1:9901`, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddr(pub Option<SocketAddr>);

impl<'de> Deserialize<'de> for ListenAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s: serde_yaml::Value = Deserialize::deserialize(d)?;
        let text = match s {
            serde_yaml::Value::Number(n) => n.to_string(),
            serde_yaml::Value::String(s) => s,
            _ => {
                return Err(serde::de::Error::custom(
                    "listen: expected `PORT`, `ADDR:PORT` or `off`",
                ))
            }
        };
        parse_listen(&text)
            .map(ListenAddr)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses nginx's `listen` forms; `off` gives `None`.
pub fn parse_listen(text: &str) -> Result<Option<SocketAddr>, String> {
    if text == "off" {
        return Ok(None);
    }
    if let Ok(port) = text.parse::<u16>() {
        return Ok(Some(SocketAddr::from(([0, 0, 0, 0], port))));
    }
    let text = text
        .strip_prefix("*:")
        .map(|p| format!("0.0.0.0:{p}"))
        .unwrap_or(text.to_string());
    text.parse::<SocketAddr>().map(Some).map_err(|_| {
        format!("invalid listen address `{text}`: expected `PORT`, `IP:PORT` or `[IPv6]:PORT`")
    })
}

/// An upstream group.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// Balancing method; default `round_robin`.
    #[serde(default)]
    pub balance: Balance,
    /// The servers of the group, in order (order matters to nginx's algorithms).
    pub servers: Vec<ServerEntry>,
    /// Idle keep-alive connections to keep per server; `0` disables reuse.
    #[serde(default = "default_keepalive")]
    pub keepalive: usize,
    /// How long an idle upstream connection is kept.
    #[serde(default = "default_keepalive_timeout")]
    pub keepalive_timeout: ConfDuration,
    /// Active health checks (nginx_upstream_check_module's `check`).
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
    /// Sticky sessions by cookie (nginx `sticky cookie`).
    #[serde(default)]
    pub sticky: Option<StickyCookie>,
    /// Follow an OpenClaw gateway cluster's leader lease: new requests and
    /// tunnels go to the lease holder (nginx files: `openclaw_leader`).
    #[serde(default)]
    pub leader: Option<LeaderConf>,
}

/// Where an OpenClaw gateway cluster keeps its leader lease, read-only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaderConf {
    /// The cluster's Redis, `redis://[:password@]host:port[/db]`.
    pub redis: String,
    /// The lease key (the nodes' `lock.redis.key`).
    #[serde(default = "default_lease_key")]
    pub key: String,
    /// What happens to tunnels open to a node that stops leading.
    #[serde(default)]
    pub on_change: OnLeaderChange,
    /// How often the lease is read besides the cluster's messages; older
    /// than three of these, what was read is not trusted any more.
    #[serde(default = "default_leader_refresh")]
    pub refresh: ConfDuration,
}

/// Tunnels to a node that stops leading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnLeaderChange {
    /// They stay open (nothing a client is doing is cut; as HAProxy keeps
    /// sessions on a server marked down unless told otherwise).
    #[default]
    Keep,
    /// The edge sends the client a WebSocket close (1012, service restart)
    /// at a frame boundary, so it reconnects, to the new leader.
    Close,
}

fn default_lease_key() -> String {
    "openclaw:gateway:lock".to_string()
}

fn default_leader_refresh() -> ConfDuration {
    ConfDuration::secs(1)
}

/// nginx's `sticky cookie NAME expires= domain= path= httponly secure samesite=`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StickyCookie {
    /// Cookie name, e.g. `openclaw_route`.
    pub cookie: String,
    /// Lifetime (`Max-Age`); a session cookie when absent.
    #[serde(default)]
    pub expires: Option<ConfDuration>,
    /// `Domain` attribute.
    #[serde(default)]
    pub domain: Option<String>,
    /// `Path` attribute; default `/`.
    #[serde(default = "root_path")]
    pub path: String,
    /// `HttpOnly` attribute.
    #[serde(default)]
    pub httponly: bool,
    /// `Secure` attribute.
    #[serde(default)]
    pub secure: bool,
    /// `SameSite` attribute: `strict`, `lax` or `none`.
    #[serde(default)]
    pub samesite: Option<SameSite>,
}

fn root_path() -> String {
    "/".to_string()
}

/// A cookie's `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None`.
    None,
}

/// Active health checks with the semantics of nginx_upstream_check_module:
/// a server is out after `fall` failed checks in a row and back after `rise`
/// passed ones.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// `http` (send `send`, judge the status) or `tcp` (a connect is enough).
    #[serde(rename = "type", default)]
    pub kind: CheckKind,
    /// Time between two checks of a server.
    #[serde(default = "default_check_interval")]
    pub interval: ConfDuration,
    /// Passed checks in a row that bring a server in.
    #[serde(default = "default_rise")]
    pub rise: u32,
    /// Failed checks in a row that take a server out.
    #[serde(default = "default_fall")]
    pub fall: u32,
    /// Limit of one check: connect, send and the status line.
    #[serde(default = "default_check_timeout")]
    pub timeout: ConfDuration,
    /// Port to check; 0 = the server's own.
    #[serde(default)]
    pub port: u16,
    /// A server starts out (no traffic) until it passes `rise` checks.
    #[serde(default = "yes")]
    pub default_down: bool,
    /// The raw request of an `http` check (nginx `check_http_send`).
    #[serde(default = "default_check_send")]
    pub send: String,
    /// Status classes that count as alive (`check_http_expect_alive`):
    /// `http_2xx`, `http_3xx`, `http_4xx`, `http_5xx`.
    #[serde(default = "default_expect_alive")]
    pub expect_alive: Vec<StatusClass>,
}

/// How a server is checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// A TCP connect (the module's default).
    #[default]
    Tcp,
    /// An HTTP request and its status line.
    Http,
}

/// A status class of `expect_alive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum StatusClass {
    /// 200-299.
    #[serde(rename = "http_2xx")]
    Http2xx,
    /// 300-399.
    #[serde(rename = "http_3xx")]
    Http3xx,
    /// 400-499.
    #[serde(rename = "http_4xx")]
    Http4xx,
    /// 500-599.
    #[serde(rename = "http_5xx")]
    Http5xx,
}

impl StatusClass {
    /// Whether `status` is in this class.
    pub fn contains(self, status: u16) -> bool {
        let class = match self {
            StatusClass::Http2xx => 2,
            StatusClass::Http3xx => 3,
            StatusClass::Http4xx => 4,
            StatusClass::Http5xx => 5,
        };
        status / 100 == class
    }
}

fn default_check_interval() -> ConfDuration {
    ConfDuration::secs(30)
}
fn default_rise() -> u32 {
    2
}
fn default_fall() -> u32 {
    5
}
fn default_check_timeout() -> ConfDuration {
    ConfDuration::secs(1)
}
fn default_check_send() -> String {
    "GET / HTTP/1.0\r\n\r\n".to_string()
}
fn default_expect_alive() -> Vec<StatusClass> {
    vec![StatusClass::Http2xx, StatusClass::Http3xx]
}

fn default_keepalive() -> usize {
    32
}
fn default_keepalive_timeout() -> ConfDuration {
    ConfDuration::secs(60)
}

/// One server of an upstream, with nginx's `server` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerEntry {
    /// `host:port` (a name is resolved when the config loads).
    pub address: String,
    /// Relative share of requests; default 1.
    #[serde(default = "one")]
    pub weight: u32,
    /// Failures within `fail_timeout` that take the server out; 0 = never.
    #[serde(default = "one")]
    pub max_fails: u32,
    /// The window for counting failures, and how long the server stays out.
    #[serde(default = "default_fail_timeout")]
    pub fail_timeout: ConfDuration,
    /// Only used when every primary server is out.
    #[serde(default)]
    pub backup: bool,
    /// Permanently out of rotation.
    #[serde(default)]
    pub down: bool,
    /// Most concurrent requests to this server; 0 = no limit.
    #[serde(default)]
    pub max_conns: u32,
    /// The sticky cookie value naming this server (default: MD5 of `ip:port`).
    #[serde(default)]
    pub route: Option<String>,
}

fn one() -> u32 {
    1
}
fn default_fail_timeout() -> ConfDuration {
    ConfDuration::secs(10)
}

/// A balancing method with nginx's semantics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Balance {
    /// Smooth weighted round robin (nginx's default).
    #[default]
    RoundRobin,
    /// Fewest in-flight requests per weight; ties by round robin.
    LeastConn,
    /// nginx's `ip_hash`: first three octets of IPv4, whole IPv6.
    IpHash,
    /// `hash KEY` (`consistent` = ketama as nginx does it).
    Hash { key: Template, consistent: bool },
    /// `random` (`two` = power of two choices by least in-flight).
    Random { two: bool },
}

impl std::str::FromStr for Balance {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let words: Vec<&str> = s.split_whitespace().collect();
        Ok(match words.as_slice() {
            ["round_robin"] => Balance::RoundRobin,
            ["least_conn"] => Balance::LeastConn,
            ["ip_hash"] => Balance::IpHash,
            ["hash", key] => Balance::Hash {
                key: Template::parse(key)?,
                consistent: false,
            },
            ["hash", key, "consistent"] => Balance::Hash {
                key: Template::parse(key)?,
                consistent: true,
            },
            ["random"] => Balance::Random { two: false },
            ["random", "two"] | ["random", "two", "least_conn"] => Balance::Random { two: true },
            _ => {
                return Err(format!(
                    "invalid balance `{s}`: use round_robin, least_conn, ip_hash, \
                     `hash KEY`, `hash KEY consistent`, random or `random two`"
                ))
            }
        })
    }
}

impl std::fmt::Display for Balance {
    /// The config spelling, as `balance:` takes it.
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Balance::RoundRobin => f.write_str("round_robin"),
            Balance::LeastConn => f.write_str("least_conn"),
            Balance::IpHash => f.write_str("ip_hash"),
            Balance::Hash { key, consistent } => {
                write!(
                    f,
                    "hash {key}{}",
                    if *consistent { " consistent" } else { "" }
                )
            }
            Balance::Random { two } => f.write_str(if *two { "random two" } else { "random" }),
        }
    }
}

impl<'de> Deserialize<'de> for Balance {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A virtual server: nginx's `server { listen; server_name; location ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualServer {
    /// Addresses to accept connections on.
    pub listen: Vec<ListenAddr>,
    /// Host names: exact, `*.suffix`, `prefix.*`, or `~regex`. Empty = any.
    #[serde(default)]
    pub server_name: Vec<String>,
    /// Serve requests whose Host matches no server on these listeners.
    #[serde(default)]
    pub default_server: bool,
    /// Locations, matched in nginx's order (exact, `^~`/longest prefix, regex).
    pub locations: Vec<Location>,
    /// Limits and timeouts toward clients (nginx's `client_*`,
    /// `keepalive_*`, `send_timeout`, `large_client_header_buffers`).
    #[serde(default)]
    pub client: ClientConfig,
    /// Serve this server's listen addresses over TLS (nginx `listen ... ssl`
    /// with `ssl_certificate`); every server on such an address needs it.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// The client's address from a header set by trusted proxies in front
    /// of the edge (nginx's realip module).
    #[serde(default)]
    pub real_ip: Option<RealIpConfig>,
}

/// nginx's `set_real_ip_from`, `real_ip_header`, `real_ip_recursive`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealIpConfig {
    /// The proxies whose header is believed: addresses and CIDR ranges.
    pub from: Vec<String>,
    /// The header holding the client's address; default `X-Real-IP`, as nginx.
    #[serde(default = "default_real_ip_header")]
    pub header: String,
    /// Skip trusted addresses from the right of the header's list.
    #[serde(default)]
    pub recursive: bool,
}

fn default_real_ip_header() -> String {
    "X-Real-IP".into()
}

/// TLS toward clients, with nginx's `ssl_*` meanings. Protocols and session
/// settings are negotiated before the client names a host, so those of the
/// listen address's default server apply; the certificate is each server's
/// (chosen by SNI).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first (`ssl_certificate`); a relative
    /// path is taken from the config file's directory.
    pub certificate: String,
    /// PEM private key (`ssl_certificate_key`); may be the same file.
    pub certificate_key: String,
    /// Protocol versions offered (`ssl_protocols`): `TLSv1.2`, `TLSv1.3`.
    #[serde(default = "default_tls_protocols")]
    pub protocols: Vec<TlsProtocol>,
    /// Sessions kept for resumption by session ID (`ssl_session_cache`,
    /// where 1 MB holds about 4,000); 0 = none, nginx's default.
    #[serde(default)]
    pub session_cache: usize,
    /// Resumption by session tickets (`ssl_session_tickets`), on by default.
    #[serde(default = "yes")]
    pub session_tickets: bool,
    /// Choose the cipher suite by the server's order, not the client's
    /// (`ssl_prefer_server_ciphers`).
    #[serde(default)]
    pub prefer_server_ciphers: bool,
}

fn default_tls_protocols() -> Vec<TlsProtocol> {
    vec![TlsProtocol::Tls12, TlsProtocol::Tls13]
}

/// A TLS protocol version the edge speaks. TLS 1.0 and 1.1 are not
/// offered (rustls does not implement them; browsers dropped them in 2020).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum TlsProtocol {
    /// TLS 1.2.
    #[serde(rename = "TLSv1.2")]
    Tls12,
    /// TLS 1.3.
    #[serde(rename = "TLSv1.3")]
    Tls13,
}

/// What a client may send and how long it may take, with nginx's names
/// and defaults. Heads are read before the server is known, so the head
/// limits and timeouts of a listen address are its default server's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Time to receive a whole request head (`client_header_timeout`);
    /// on expiry the connection is closed without an answer, as nginx does.
    #[serde(default = "sixty")]
    pub header_timeout: ConfDuration,
    /// Time between two reads of a request body (`client_body_timeout`).
    #[serde(default = "sixty")]
    pub body_timeout: ConfDuration,
    /// Time between two writes to the client (nginx's `send_timeout`).
    #[serde(default = "sixty")]
    pub send_timeout: ConfDuration,
    /// How long an idle keep-alive connection is kept (`keepalive_timeout`); 0 turns keep-alive off.
    #[serde(default = "seventy_five")]
    pub keepalive_timeout: ConfDuration,
    /// Requests served on one connection before it is closed (`keepalive_requests`).
    #[serde(default = "thousand")]
    pub keepalive_requests: u64,
    /// Largest request body (`client_max_body_size`): 413 above it; 0 = no limit.
    #[serde(default = "one_mib")]
    pub max_body_size: ByteSize,
    /// `large_client_header_buffers NUMBER SIZE`, written `"4 8k"`: a
    /// request line (414) or header line (400) of SIZE or more is refused,
    /// and so is a head over NUMBER x SIZE.
    #[serde(default)]
    pub header_buffers: HeaderBuffers,
    /// Accept `_` in header names (`underscores_in_headers`); by default
    /// such headers are dropped, as nginx drops them.
    #[serde(default)]
    pub underscores_in_headers: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            header_timeout: sixty(),
            body_timeout: sixty(),
            send_timeout: sixty(),
            keepalive_timeout: seventy_five(),
            keepalive_requests: thousand(),
            max_body_size: one_mib(),
            header_buffers: HeaderBuffers::default(),
            underscores_in_headers: false,
        }
    }
}

fn seventy_five() -> ConfDuration {
    ConfDuration::secs(75)
}
fn thousand() -> u64 {
    1000
}
fn one_mib() -> ByteSize {
    ByteSize(1 << 20)
}

/// nginx's `large_client_header_buffers NUMBER SIZE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderBuffers {
    /// NUMBER.
    pub number: u64,
    /// SIZE in bytes.
    pub size: u64,
}

impl Default for HeaderBuffers {
    fn default() -> Self {
        HeaderBuffers {
            number: 4,
            size: 8 * 1024,
        }
    }
}

impl std::str::FromStr for HeaderBuffers {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let [number, size] = words.as_slice() else {
            return Err(format!(
                "header_buffers `{s}`: write NUMBER SIZE, e.g. `4 8k`"
            ));
        };
        let number: u64 =
            number.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                format!("header_buffers `{s}`: NUMBER must be a positive integer")
            })?;
        let size = super::size::parse_size(size)?;
        if !(1024..=1 << 20).contains(&size) {
            return Err(format!(
                "header_buffers `{s}`: SIZE must be between 1k and 1m"
            ));
        }
        Ok(HeaderBuffers { number, size })
    }
}

impl<'de> Deserialize<'de> for HeaderBuffers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A location: a path match and what to do with matching requests.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// nginx location syntax: `/prefix`, `= /exact`, `^~ /prefix`, `~ regex`, `~* regex`.
    pub path: String,
    /// `http://UPSTREAM` or `http://HOST:PORT[/uri]`.
    #[serde(default)]
    pub proxy_pass: Option<ProxyPass>,
    /// Answer directly instead of proxying.
    #[serde(default, rename = "return")]
    pub return_: Option<Return>,
    /// Request headers set toward the upstream (nginx `proxy_set_header`);
    /// an empty value removes the header. Default: the seed's set.
    #[serde(default, deserialize_with = "unique_header_keys")]
    pub headers: Option<BTreeMap<String, Template>>,
    /// HTTP version of requests to the upstream: `"1.1"` (default) or
    /// `"1.0"` (nginx's `proxy_http_version` default: no upstream keep-alive).
    #[serde(default)]
    pub http_version: HttpVersion,
    /// Time to establish an upstream connection.
    #[serde(default = "sixty")]
    pub connect_timeout: ConfDuration,
    /// Time between two reads from the upstream (not applied to WebSocket tunnels).
    #[serde(default = "sixty")]
    pub read_timeout: ConfDuration,
    /// Time between two writes to the upstream.
    #[serde(default = "sixty")]
    pub send_timeout: ConfDuration,
    /// Idle time after which an open WebSocket tunnel is closed; none by default.
    #[serde(default)]
    pub tunnel_idle_timeout: Option<ConfDuration>,
    /// When and how often to try the next server (nginx `proxy_next_upstream*`).
    #[serde(default)]
    pub next_upstream: NextUpstream,
    /// Turn the access log off for this location (`false`).
    #[serde(default = "yes")]
    pub access_log: bool,
    /// `client_max_body_size` for this location; the server's by default.
    #[serde(default)]
    pub client_max_body_size: Option<ByteSize>,
    /// Fields added to responses (nginx `add_header`), e.g. HSTS.
    #[serde(default)]
    pub add_header: Vec<AddHeader>,
    /// How `proxy_pass https://` talks TLS (nginx `proxy_ssl_*`).
    #[serde(default)]
    pub upstream_tls: Option<UpstreamTlsConfig>,
}

/// TLS to upstream servers, with nginx's defaults (which trust any
/// certificate: set `verify` and `trusted_certificate` in production).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamTlsConfig {
    /// Send the name by SNI (`proxy_ssl_server_name`; off by default).
    #[serde(default)]
    pub server_name: bool,
    /// The name sent and checked (`proxy_ssl_name`); default the
    /// `proxy_pass` host.
    #[serde(default)]
    pub name: Option<String>,
    /// Verify the server's certificate (`proxy_ssl_verify`; off by default).
    #[serde(default)]
    pub verify: bool,
    /// PEM CA certificates to verify with (`proxy_ssl_trusted_certificate`);
    /// needed by `verify`. Relative to the config file's directory.
    #[serde(default)]
    pub trusted_certificate: Option<String>,
}

/// nginx's `add_header NAME VALUE [always]`: added to answers with status
/// 200, 201, 204, 206, 301, 302, 303, 304, 307 or 308, or to every answer
/// (errors included) with `always`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddHeader {
    /// Field name.
    pub name: String,
    /// Field value; variables are expanded, and an empty result adds nothing.
    pub value: Template,
    /// Add it whatever the status.
    #[serde(default)]
    pub always: bool,
}

fn sixty() -> ConfDuration {
    ConfDuration::secs(60)
}
fn yes() -> bool {
    true
}

/// The HTTP version spoken to upstreams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum HttpVersion {
    /// HTTP/1.0.
    #[serde(rename = "1.0")]
    Http10,
    /// HTTP/1.1.
    #[default]
    #[serde(rename = "1.1")]
    Http11,
}

/// A `proxy_pass` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyPass {
    /// `https://`: TLS to the servers (see [`Location::upstream_tls`]).
    pub tls: bool,
    /// The upstream name or `host:port`.
    pub authority: String,
    /// The URI part, if any: replaces the matched location prefix.
    pub uri: Option<String>,
}

impl<'de> Deserialize<'de> for ProxyPass {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_proxy_pass(&s).map_err(serde::de::Error::custom)
    }
}

/// Parses `http://name[:port][/uri]` (or `https://`).
pub fn parse_proxy_pass(s: &str) -> Result<ProxyPass, String> {
    let (tls, rest) = match (s.strip_prefix("http://"), s.strip_prefix("https://")) {
        (Some(rest), _) => (false, rest),
        (None, Some(rest)) => (true, rest),
        (None, None) => {
            return Err(format!(
                "proxy_pass `{s}`: expected `http://UPSTREAM`, `https://UPSTREAM` or `http://HOST:PORT[/path]`"
            ))
        }
    };
    let (authority, uri) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(rest[i..].to_string())),
        None => (rest, None),
    };
    if authority.is_empty() {
        return Err(format!(
            "proxy_pass `{s}`: missing upstream name or address"
        ));
    }
    Ok(ProxyPass {
        tls,
        authority: authority.to_string(),
        uri,
    })
}

/// A direct answer (nginx `return CODE [TEXT|URL]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Return {
    /// HTTP status code.
    pub status: u16,
    /// Response body, or for 301/302/303/307/308 the redirect URL;
    /// variables (`$host`, `$request_uri` ...) are expanded.
    #[serde(default)]
    pub body: Template,
}

/// nginx's `proxy_next_upstream`, `_tries`, `_timeout`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextUpstream {
    /// Conditions that move a request to the next server: `error`, `timeout`.
    #[serde(default = "default_when")]
    pub when: Vec<NextWhen>,
    /// Most servers to try in all; 0 = every server once.
    #[serde(default)]
    pub tries: u32,
    /// Give up moving on after this long; 0 = no limit.
    #[serde(default)]
    pub timeout: ConfDuration,
    /// Also retry POST, PATCH, LOCK (nginx `non_idempotent`).
    #[serde(default)]
    pub non_idempotent: bool,
}

impl Default for NextUpstream {
    fn default() -> Self {
        NextUpstream {
            when: default_when(),
            tries: 0,
            timeout: ConfDuration::default(),
            non_idempotent: false,
        }
    }
}

fn default_when() -> Vec<NextWhen> {
    vec![NextWhen::Error, NextWhen::Timeout]
}

/// A condition of `next_upstream.when`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NextWhen {
    /// Connection refused or reset before a response header arrived.
    Error,
    /// Connect or read timed out before a response header arrived.
    Timeout,
}

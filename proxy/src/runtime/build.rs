//! Config model -> runtime tables: resolves server addresses, indexes names
//! and locations, builds balancers, and resolves metric label handles.

use super::{
    Action, ClientLimits, Listener, NextPolicy, Route, Runtime, Server, Upstream, VirtualServer,
};
use crate::admin::metrics;
use crate::balance::{self, Pick, Pool, ServerConf, TierKind};
use crate::config::{self, Balance, ConfigError, ConfigErrors, Loaded, Location, ServerEntry};
use crate::health::{CheckPlan, Probe};
use crate::routing::{LocationPattern, LocationTable, NamePattern, NameTable};
use crate::sticky::{cookie_value, Sticky};
use crate::vars::{MapTable, Template};
use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// The headers used where a location gives none: the seed's, except that
/// `X-Forwarded-For` is rebuilt as the client's address alone instead of
/// appended to what the client sent, so a client cannot forge the chain an
/// OpenClaw gateway attributes it by (behind trusted proxies, `real_ip`
/// makes that address the real client's). The seed's nginx config, written
/// out, still appends (`$proxy_add_x_forwarded_for`), as nginx does.
const SEED_HEADERS: [(&str, &str); 6] = [
    ("host", "$host"),
    ("x-real-ip", "$remote_addr"),
    ("x-forwarded-for", "$remote_addr"),
    ("x-forwarded-proto", "$scheme"),
    ("upgrade", "$http_upgrade"),
    ("connection", "$connection_upgrade"),
];

/// Builds the runtime tables of a validated config. Fails only on what
/// validation cannot know: names that do not resolve.
pub fn build(loaded: &Loaded) -> Result<Runtime, ConfigErrors> {
    let (c, at) = (&loaded.config, &loaded.locator);
    let map_names: Vec<&str> = c.maps.keys().map(String::as_str).collect();
    let mut errs = Vec::new();
    let mut upstreams: HashMap<String, Arc<Upstream>> = HashMap::new();
    for (name, up) in &c.upstreams {
        let entries: Vec<&ServerEntry> = up.servers.iter().collect();
        match resolve_servers(name, &entries, at) {
            Ok(tiers) => {
                upstreams.insert(
                    name.clone(),
                    Arc::new(assemble(name, Some(up), tiers, &map_names)),
                );
            }
            Err(e) => errs.extend(e),
        }
    }
    let mut order: Vec<SocketAddr> = Vec::new();
    let mut per_addr: HashMap<SocketAddr, Vec<usize>> = HashMap::new();
    let mut servers = Vec::new();
    for (si, vs) in c.servers.iter().enumerate() {
        let real_ip = match vs.real_ip.as_ref().map(crate::realip::RealIp::from_config) {
            Some(Ok(r)) => Some(Arc::new(r)),
            Some(Err(e)) => {
                errs.push(at.error(&["real_ip"], e));
                None
            }
            None => None,
        };
        let mut routes = Vec::new();
        let mut patterns = Vec::new();
        for loc in &vs.locations {
            let pattern = LocationPattern::parse(&loc.path).expect("validated");
            // A named upstream whose servers did not resolve is reported
            // already; it must not be retried as a host name here.
            let upstream_failed = loc.proxy_pass.as_ref().is_some_and(|pp| {
                c.upstreams.contains_key(&pp.authority) && !upstreams.contains_key(&pp.authority)
            });
            match route(loc, &pattern, &mut upstreams, at, &map_names) {
                Ok(mut r) => {
                    r.client = ClientLimits::from_config(&vs.client);
                    r.real_ip = real_ip.clone();
                    if let Some(max) = loc.client_max_body_size {
                        r.client.max_body_size = max.0;
                    }
                    routes.push(Arc::new(r))
                }
                Err(_) if upstream_failed => {}
                Err(e) => errs.push(e),
            }
            patterns.push(pattern);
        }
        let mut table = LocationTable::new(&patterns).expect("validated");
        for (loc, pattern) in vs.locations.iter().zip(&patterns) {
            if loc.proxy_pass.is_some() {
                table.auto_redirect(pattern);
            }
        }
        let names: Vec<NamePattern> = vs
            .server_name
            .iter()
            .map(|n| NamePattern::parse(n).expect("validated"))
            .collect();
        let cert = vs.tls.as_ref().and_then(|tls| match load_cert(tls, at) {
            Ok(cert) => Some(cert),
            Err(e) => {
                errs.push(e);
                None
            }
        });
        servers.push((
            Arc::new(VirtualServer { routes, table }),
            names,
            vs.default_server,
            ClientLimits::from_config(&vs.client),
            cert,
        ));
        for addr in vs.listen.iter().filter_map(|l| l.0) {
            if !per_addr.contains_key(&addr) {
                order.push(addr);
            }
            per_addr.entry(addr).or_default().push(si);
        }
    }
    if !errs.is_empty() {
        errs.sort_by_key(|e| e.line);
        return Err(ConfigErrors(errs));
    }
    let mut listeners = Vec::with_capacity(order.len());
    for addr in order {
        let members = &per_addr[&addr];
        let default = members.iter().position(|si| servers[*si].2).unwrap_or(0);
        let names: Vec<Vec<NamePattern>> =
            members.iter().map(|si| servers[*si].1.clone()).collect();
        // Validation made every server of a TLS address have `tls:`.
        let tls = match &c.servers[members[default]].tls {
            Some(settings) => {
                let certs: Option<Vec<_>> =
                    members.iter().map(|si| servers[*si].4.clone()).collect();
                // A certificate that failed to load is reported already.
                let Some(certs) = certs else { continue };
                match crate::tls::acceptor(NameTable::new(&names, default), certs, settings) {
                    Ok(a) => Some(a),
                    Err(e) => {
                        errs.push(at.error(&["tls:"], format!("listen {addr}: {e}")));
                        continue;
                    }
                }
            }
            None => None,
        };
        listeners.push(Listener {
            addr,
            servers: members.iter().map(|si| servers[*si].0.clone()).collect(),
            names: NameTable::new(&names, default),
            client: servers[members[default]].3,
            tls,
        });
    }
    if !errs.is_empty() {
        errs.sort_by_key(|e| e.line);
        return Err(ConfigErrors(errs));
    }
    let mut upstreams: Vec<Arc<Upstream>> = upstreams.into_values().collect();
    upstreams.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Runtime {
        listeners,
        upstreams,
        local_codes: metrics().codes("", ""),
        local_duration: metrics().duration(""),
        maps: c.maps.values().map(MapTable::new).collect(),
    })
}

/// The directory relative file names in the config are taken from.
fn config_dir(at: &config::Locator) -> &std::path::Path {
    std::path::Path::new(at.file())
        .parent()
        .unwrap_or(std::path::Path::new("."))
}

/// A server's certificate and key, read and checked; an error points at
/// the line naming the file that is wrong. Relative paths are taken from
/// the config file's directory.
fn load_cert(
    tls: &config::TlsConfig,
    at: &config::Locator,
) -> Result<Arc<rustls::sign::CertifiedKey>, ConfigError> {
    let base = config_dir(at);
    crate::tls::load(
        &base.join(&tls.certificate),
        &base.join(&tls.certificate_key),
        &crate::tls::provider(),
    )
    .map_err(|e| {
        let (key, file) = if e.in_key {
            ("certificate_key:", &tls.certificate_key)
        } else {
            ("certificate:", &tls.certificate)
        };
        at.error(&[key, file], e.message)
    })
}

type Tiers = (Vec<(ServerConf, Server)>, Vec<(ServerConf, Server)>);

/// Resolves every server of an upstream; a name with several addresses gives
/// one server per address, each with the entry's parameters (as nginx).
fn resolve_servers(
    upstream: &str,
    entries: &[&ServerEntry],
    at: &crate::config::Locator,
) -> Result<Tiers, Vec<ConfigError>> {
    let (mut primary, mut backup, mut errs) = (Vec::new(), Vec::new(), Vec::new());
    for e in entries {
        let addrs: Vec<SocketAddr> = match e.address.to_socket_addrs() {
            Ok(a) => a.collect(),
            Err(err) => {
                errs.push(at.error(
                    &[&e.address],
                    format!("upstreams.{upstream}: server `{}` does not resolve: {err}; write HOST:PORT", e.address),
                ));
                continue;
            }
        };
        for addr in addrs {
            let conf = ServerConf {
                name: e.address.clone(),
                weight: e.weight as i64,
                max_fails: e.max_fails,
                fail_timeout: e.fail_timeout.0.as_millis() as u64,
                max_conns: e.max_conns,
                down: e.down,
            };
            let server = Server {
                name: e.address.clone(),
                addr,
                codes: metrics().codes(upstream, &e.address),
                tunnels: metrics().server_tunnels(upstream, &e.address),
                cookie: cookie_value(addr, e.route.as_deref()),
                idle: Default::default(),
            };
            if e.backup { &mut backup } else { &mut primary }.push((conf, server));
        }
    }
    if errs.is_empty() {
        Ok((primary, backup))
    } else {
        Err(errs)
    }
}

/// One upstream from its resolved servers; `conf` is `None` for the implicit
/// upstream of `proxy_pass http://host:port` (round robin, keep-alive, no checks).
fn assemble(
    name: &str,
    conf: Option<&config::Upstream>,
    (primary, backup): Tiers,
    maps: &[&str],
) -> Upstream {
    let balance = match conf.map(|c| &c.balance) {
        Some(Balance::Hash { key, consistent }) => Balance::Hash {
            key: key.bind_maps(maps),
            consistent: *consistent,
        },
        Some(b) => b.clone(),
        None => Balance::RoundRobin,
    };
    let check = conf.and_then(|c| c.health_check.as_ref());
    let (pconf, pservers): (Vec<_>, Vec<_>) = primary.into_iter().unzip();
    let (bconf, bservers): (Vec<_>, Vec<_>) = backup.into_iter().unzip();
    let pool = Pool::with_checks(pconf, bconf, check.is_some_and(|c| c.default_down));
    let balancer = balance::build(&balance, &pool);
    let sticky = conf.and_then(|c| c.sticky.as_ref()).map(|s| {
        let values = pservers.iter().enumerate().map(|(index, server)| {
            (
                server.cookie.clone(),
                Pick {
                    tier: TierKind::Primary,
                    index,
                },
            )
        });
        Sticky::new(s, values)
    });
    Upstream {
        unserved: metrics().codes(name, ""),
        duration: metrics().duration(name),
        meters: metrics().upstream(name),
        name: name.to_string(),
        balance,
        primary: pservers,
        backup: bservers,
        keepalive: conf.map_or(32, |c| c.keepalive),
        keepalive_timeout: conf
            .map(|c| c.keepalive_timeout.0)
            .unwrap_or(Duration::from_secs(60)),
        check: check.map(|c| CheckPlan {
            probe: Probe::new(c),
            interval: c.interval.0,
            rise: c.rise,
            fall: c.fall,
        }),
        sticky,
        leader: conf
            .and_then(|c| c.leader.as_ref())
            .map(crate::leader::route),
        pool: std::sync::Mutex::new(pool),
        balancer,
    }
}

fn route(
    loc: &Location,
    pattern: &LocationPattern,
    upstreams: &mut HashMap<String, Arc<Upstream>>,
    at: &crate::config::Locator,
    maps: &[&str],
) -> Result<Route, ConfigError> {
    let action = match (&loc.proxy_pass, &loc.return_) {
        (Some(pp), _) => {
            let upstream = match upstreams.get(&pp.authority) {
                Some(u) => u.clone(),
                None => {
                    // `proxy_pass http://host:port`: an implicit one-server upstream.
                    let entry = ServerEntry {
                        address: pp.authority.clone(),
                        weight: 1,
                        max_fails: 1,
                        fail_timeout: crate::config::ConfDuration::secs(10),
                        backup: false,
                        down: false,
                        max_conns: 0,
                        route: None,
                    };
                    let tiers = resolve_servers(&pp.authority, &[&entry], at)
                        .map_err(|mut e| e.remove(0))?;
                    let u = Arc::new(assemble(&pp.authority, None, tiers, maps));
                    upstreams.insert(pp.authority.clone(), u.clone());
                    u
                }
            };
            Action::Proxy {
                upstream,
                uri: pp.uri.clone(),
            }
        }
        (None, Some(r)) => Action::Return {
            status: r.status,
            body: r.body.bind_maps(maps),
        },
        (None, None) => unreachable!("validated: a location proxies or returns"),
    };
    let upstream_tls = match &loc.proxy_pass {
        Some(pp) if pp.tls => {
            let settings = loc.upstream_tls.clone().unwrap_or_default();
            let tls = crate::tls::upstream_tls(&settings, &pp.authority, config_dir(at))
                .map_err(|e| at.error(&["upstream_tls"], e))?;
            Some(tls)
        }
        _ => None,
    };
    let headers = match &loc.headers {
        Some(h) => h
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes())
                        .expect("validated"),
                    v.bind_maps(maps),
                )
            })
            .collect(),
        None => SEED_HEADERS
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    Template::parse(v).expect("valid seed header"),
                )
            })
            .collect(),
    };
    Ok(Route {
        prefix: pattern.prefix().map(str::to_string),
        action,
        headers,
        http10: loc.http_version == config::HttpVersion::Http10,
        connect_timeout: loc.connect_timeout.0,
        read_timeout: loc.read_timeout.0,
        send_timeout: loc.send_timeout.0,
        tunnel_idle_timeout: loc.tunnel_idle_timeout.map(|d| d.0),
        next: NextPolicy::from_config(&loc.next_upstream),
        access_log: loc.access_log,
        client: ClientLimits::default(),
        add_header: loc.add_header.clone(),
        upstream_tls,
        real_ip: None,
    })
}

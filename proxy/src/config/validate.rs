//! Checks that span keys (names that must exist, combinations nginx refuses).
//! Each error points at the line that holds the offending value.

use super::error::{ConfigError, Locator};
use super::model::{Admin, Balance, Config, Location};
use crate::balance::supports_backup;
use crate::routing::{LocationPattern, LocationTable, NamePattern};
use crate::vars::{Template, Var};
use std::collections::HashMap;

/// Every problem in `c`, in the order of the file.
pub fn validate(c: &Config, at: &Locator) -> Vec<ConfigError> {
    let mut errs = Vec::new();
    if c.threads == 0 {
        errs.push(at.error(&["threads"], "threads: must be at least 1"));
    }
    if let Some(problem) = unprotected_admin(&c.admin) {
        let addr = c.admin.listen.0.map(|a| a.to_string()).unwrap_or_default();
        errs.push(at.error(&["listen", &addr], problem));
    }
    for (name, up) in &c.upstreams {
        let here = format!("{name}:");
        if up.servers.is_empty() {
            errs.push(at.error(
                &[&here],
                format!("upstreams.{name}: no servers; add at least one under `servers:`"),
            ));
        }
        if let Some(l) = &up.leader {
            if let Err(e) = redis::Client::open(l.redis.as_str()) {
                errs.push(at.error(
                    &[&l.redis],
                    format!(
                        "upstreams.{name}.leader.redis: `{}` is not a Redis URL ({e}); \
                         write redis://HOST:PORT[/DB], as the nodes' lock.redis.url",
                        crate::leader::redact(&l.redis)
                    ),
                ));
            }
            if l.key.is_empty() {
                errs.push(at.error(
                    &["key"],
                    format!("upstreams.{name}.leader.key: name the nodes' lock.redis.key"),
                ));
            }
            if l.refresh.0.is_zero() {
                errs.push(at.error(
                    &["refresh"],
                    format!("upstreams.{name}.leader.refresh: must be more than 0, e.g. 1s"),
                ));
            }
        }
        for s in &up.servers {
            if s.weight == 0 {
                errs.push(at.error(
                    &[&s.address],
                    format!(
                        "upstreams.{name}: server {}: weight must be at least 1",
                        s.address
                    ),
                ));
            }
            if s.backup && !supports_backup(&up.balance) {
                errs.push(at.error(
                    &[&s.address],
                    format!(
                        "upstreams.{name}: server {}: `backup` cannot be used with this balance method \
                         (nginx allows it with round_robin and least_conn only)",
                        s.address
                    ),
                ));
            }
        }
    }
    if c.servers.is_empty() {
        errs.push(at.error(
            &["servers"],
            "servers: at least one virtual server is needed",
        ));
    }
    let mut defaults: HashMap<std::net::SocketAddr, usize> = HashMap::new();
    // The first server on each address decides whether it is TLS.
    let mut tls_of: HashMap<std::net::SocketAddr, (usize, bool)> = HashMap::new();
    for (si, vs) in c.servers.iter().enumerate() {
        let label = format!("servers[{si}]");
        if let Some(r) = &vs.real_ip {
            for f in &r.from {
                if let Err(e) = crate::realip::Cidr::parse(f) {
                    errs.push(at.error(&[f], format!("{label}.real_ip.from: {e}")));
                }
            }
            if r.from.is_empty() {
                errs.push(at.error(
                    &["real_ip"],
                    format!(
                        "{label}.real_ip.from: name the trusted proxies (addresses or CIDR ranges)"
                    ),
                ));
            }
            if http::HeaderName::from_bytes(r.header.as_bytes()).is_err() {
                errs.push(at.error(
                    &[&r.header],
                    format!(
                        "{label}.real_ip.header: `{}` is not a valid header name",
                        r.header
                    ),
                ));
            }
        }
        if let Some(tls) = &vs.tls {
            if tls.protocols.is_empty() {
                errs.push(at.error(
                    &["protocols"],
                    format!("{label}.tls.protocols: give at least one of TLSv1.2, TLSv1.3"),
                ));
            }
        }
        for addr in vs.listen.iter().filter_map(|l| l.0) {
            let (first, first_tls) = *tls_of.entry(addr).or_insert((si, vs.tls.is_some()));
            if first_tls != vs.tls.is_some() {
                let (with, without) = if first_tls { (first, si) } else { (si, first) };
                errs.push(at.error(
                    &[&addr.to_string()],
                    format!(
                        "{label}: {addr} is served over TLS by servers[{with}] but servers[{without}] \
                         there has no `tls:`; a listen address is TLS for all its servers: give \
                         servers[{without}] a certificate or another address"
                    ),
                ));
            }
        }
        if vs.listen.iter().all(|l| l.0.is_none()) {
            errs.push(at.error(
                &["listen"],
                format!("{label}.listen: give at least one address, e.g. [\"0.0.0.0:8080\"]"),
            ));
        }
        for addr in vs.listen.iter().filter_map(|l| l.0) {
            if vs.default_server && defaults.insert(addr, si).is_some() {
                errs.push(at.error(
                    &["default_server"],
                    format!("{label}: a second default_server for {addr}"),
                ));
            }
        }
        for n in &vs.server_name {
            if let Err(e) = NamePattern::parse(n) {
                errs.push(at.error(&[n], format!("{label}.server_name: {e}")));
            }
        }
        let mut patterns = Vec::new();
        for (li, loc) in vs.locations.iter().enumerate() {
            let label = format!("{label}.locations[{li}]");
            match LocationPattern::parse(&loc.path) {
                Ok(p) => {
                    check_location(c, loc, &p, &label, at, &mut errs);
                    patterns.push(p);
                }
                Err(e) => errs.push(at.error(&["path", &loc.path], format!("{label}.path: {e}"))),
            }
        }
        if let Err(e) = LocationTable::new(&patterns) {
            errs.push(at.error(&["path"], format!("{label}.locations: {e}")));
        }
    }
    check_upstream_schemes(c, at, &mut errs);
    check_variables(c, at, &mut errs);
    errs.sort_by_key(|e| e.line);
    errs
}

/// An admin listener reachable from other machines must have a token.
pub fn unprotected_admin(admin: &Admin) -> Option<String> {
    match (admin.listen.0, &admin.token) {
        (Some(addr), None) if !addr.ip().is_loopback() => Some(format!(
            "admin.listen {addr} is not a loopback address: set admin.token to protect it"
        )),
        _ => None,
    }
}

/// Every `$name` must be a built-in or a map; a map's own source and values
/// may not read maps (no chains, so no cycles).
fn check_variables(c: &Config, at: &Locator, errs: &mut Vec<ConfigError>) {
    let unknown = |t: &Template, label: &str, in_map: bool, errs: &mut Vec<ConfigError>| {
        for name in t.names() {
            let is_map = c.maps.contains_key(name);
            let problem = if in_map && is_map {
                format!("{label}: `${name}` is a map; a map cannot read another map")
            } else if t.unknown_names().any(|n| n == name) && !is_map {
                format!(
                    "{label}: unknown variable `${name}` (built-in: {}; or a map)",
                    Var::KNOWN
                )
            } else {
                continue;
            };
            errs.push(at.error(&[&format!("${name}")], problem));
        }
    };
    for (name, up) in &c.upstreams {
        if let Balance::Hash { key, .. } = &up.balance {
            unknown(key, &format!("upstreams.{name}.balance"), false, errs);
        }
    }
    for (name, m) in &c.maps {
        let label = format!("maps.{name}");
        unknown(&m.source, &label, true, errs);
        unknown(&m.default, &label, true, errs);
        for e in &m.values {
            unknown(&e.value, &label, true, errs);
            if let Some(re) = e.pattern.strip_prefix('~') {
                let re = re.strip_prefix('*').map(|r| format!("(?i){r}"));
                if let Err(err) = regex::Regex::new(re.as_deref().unwrap_or(&e.pattern[1..])) {
                    errs.push(at.error(
                        &[&e.pattern],
                        format!("{label}: invalid regex `{}`: {err}", e.pattern),
                    ));
                }
            }
        }
    }
    for (si, vs) in c.servers.iter().enumerate() {
        for (li, loc) in vs.locations.iter().enumerate() {
            for (h, t) in loc.headers.iter().flatten() {
                let label = format!("servers[{si}].locations[{li}].headers.{h}");
                unknown(t, &label, false, errs);
            }
            for h in &loc.add_header {
                let label = format!("servers[{si}].locations[{li}].add_header.{}", h.name);
                unknown(&h.value, &label, false, errs);
            }
            if let Some(r) = &loc.return_ {
                let label = format!("servers[{si}].locations[{li}].return.body");
                unknown(&r.body, &label, false, errs);
            }
        }
    }
}

/// Idle connections are pooled per server, so every location reaching an
/// upstream must reach it the same way: all in clear text, or all over
/// TLS with the same settings.
fn check_upstream_schemes(c: &Config, at: &Locator, errs: &mut Vec<ConfigError>) {
    type Way = (bool, Option<super::model::UpstreamTlsConfig>);
    let mut first: HashMap<&str, (Way, String)> = HashMap::new();
    for (si, vs) in c.servers.iter().enumerate() {
        for (li, loc) in vs.locations.iter().enumerate() {
            let label = format!("servers[{si}].locations[{li}]");
            let Some(pp) = &loc.proxy_pass else {
                if loc.upstream_tls.is_some() {
                    errs.push(at.error(
                        &["upstream_tls"],
                        format!("{label}.upstream_tls: this location does not proxy"),
                    ));
                }
                continue;
            };
            if !pp.tls && loc.upstream_tls.is_some() {
                errs.push(at.error(
                    &["upstream_tls"],
                    format!("{label}.upstream_tls: proxy_pass is http://; write https:// to talk TLS to the servers"),
                ));
            }
            let way: Way = (pp.tls, loc.upstream_tls.clone().filter(|_| pp.tls));
            match first.get(pp.authority.as_str()) {
                None => {
                    first.insert(&pp.authority, (way, label));
                }
                Some((w, other)) if *w != way => errs.push(at.error(
                    &["proxy_pass", &pp.authority],
                    format!(
                        "{label}: proxy_pass reaches `{}` {} than {other} does; connections to one \
                         upstream are pooled, so every location must use the same scheme and upstream_tls",
                        pp.authority,
                        if pp.tls { "with other TLS settings or scheme" } else { "in another scheme" }
                    ),
                )),
                Some(_) => {}
            }
        }
    }
}

fn check_location(
    c: &Config,
    loc: &Location,
    pattern: &LocationPattern,
    label: &str,
    at: &Locator,
    errs: &mut Vec<ConfigError>,
) {
    let path_line = ["path", loc.path.as_str()];
    match (&loc.proxy_pass, &loc.return_) {
        (Some(_), Some(_)) => errs.push(at.error(
            &path_line,
            format!("{label}: has both proxy_pass and return; keep one"),
        )),
        (None, None) => {
            errs.push(at.error(&path_line, format!("{label}: needs proxy_pass or return")))
        }
        _ => {}
    }
    if let Some(pp) = &loc.proxy_pass {
        let known = c.upstreams.contains_key(&pp.authority);
        let has_port = pp
            .authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
        if !known && !has_port {
            let names: Vec<&str> = c.upstreams.keys().map(String::as_str).collect();
            errs.push(at.error(
                &["proxy_pass", &pp.authority],
                format!(
                    "{label}.proxy_pass: no upstream named `{}` (defined: {}); name one, or give HOST:PORT",
                    pp.authority,
                    if names.is_empty() { "none".to_string() } else { names.join(", ") }
                ),
            ));
        }
        if pp.uri.is_some() && pattern.prefix().is_none() {
            errs.push(at.error(
                &["proxy_pass", &pp.authority],
                format!("{label}.proxy_pass: a URI part cannot be used in a regex location (as in nginx)"),
            ));
        }
    }
    if let Some(r) = &loc.return_ {
        if !(100..=999).contains(&r.status) {
            errs.push(at.error(
                &["status"],
                format!("{label}.return.status: {} is not an HTTP status", r.status),
            ));
        }
    }
    let names = loc
        .headers
        .iter()
        .flat_map(|h| h.keys())
        .map(|n| ("headers", n));
    let added = loc.add_header.iter().map(|h| ("add_header", &h.name));
    for (key, name) in names.chain(added) {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            errs.push(at.error(
                &[name],
                format!("{label}.{key}: `{name}` is not a valid header name"),
            ));
        }
    }
}

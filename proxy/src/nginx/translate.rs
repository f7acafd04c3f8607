//! nginx directives -> the edge's YAML, with nginx's semantics: contexts
//! (main, http, server, location), inheritance of `proxy_*` settings, and
//! nginx's defaults written out (HTTP/1.0, `Host $proxy_host`,
//! `Connection close`, no upstream keep-alive), so the YAML means the same
//! thing on its own.

use super::client::{is_client, ClientSet};
use super::emit::{scalar, Emitter};
use super::parse::Directive;
use super::policy::{verdict, Verdict};
use super::ssl::{is_ssl, SslSet};
use super::upstream::with_default_port;
use crate::config::{parse_duration, ConfigError};
use std::collections::HashSet;
use std::net::SocketAddr;

/// The translation of one config: YAML, its line origins, and what was said.
pub struct Translation {
    /// The edge YAML.
    pub emitter: Emitter,
    /// Ignored directives, each reported once.
    pub warnings: Vec<ConfigError>,
    /// What cannot be translated.
    pub errors: Vec<ConfigError>,
}

/// Walks the directive tree.
pub struct Translator<'a> {
    pub(super) out: Emitter,
    warnings: Vec<ConfigError>,
    errors: Vec<ConfigError>,
    warned: HashSet<String>,
    upstream_names: HashSet<&'a str>,
    /// The file given, for errors about the file as a whole.
    path: &'a str,
}

/// `proxy_*` settings as inherited from outer levels (nginx merges each
/// from the nearest level that sets it; `proxy_set_header` as a whole).
#[derive(Clone, Default)]
struct Inherited<'a> {
    headers: Option<Vec<&'a Directive>>,
    added: Option<Vec<&'a Directive>>,
    http_version: Option<&'a Directive>,
    connect: Option<&'a Directive>,
    read: Option<&'a Directive>,
    send: Option<&'a Directive>,
    next: Option<&'a Directive>,
    next_tries: Option<&'a Directive>,
    next_timeout: Option<&'a Directive>,
    access_log: Option<&'a Directive>,
    client: ClientSet<'a>,
    ssl: SslSet<'a>,
    upstream_ssl: [Option<&'a Directive>; 4],
    realip_from: Option<Vec<&'a Directive>>,
    realip_header: Option<&'a Directive>,
    realip_recursive: Option<&'a Directive>,
}

impl<'a> Inherited<'a> {
    /// The settings of a level: its own where it has them, else the parent's.
    fn merge(&self, level: &'a [Directive]) -> Inherited<'a> {
        let own = |name: &str| level.iter().rev().find(|d| d.name == name);
        let headers: Vec<&Directive> = level
            .iter()
            .filter(|d| d.name == "proxy_set_header")
            .collect();
        let added: Vec<&Directive> = level.iter().filter(|d| d.name == "add_header").collect();
        let realip_from: Vec<&Directive> = level
            .iter()
            .filter(|d| d.name == "set_real_ip_from")
            .collect();
        Inherited {
            headers: if headers.is_empty() {
                self.headers.clone()
            } else {
                Some(headers)
            },
            added: if added.is_empty() {
                self.added.clone()
            } else {
                Some(added)
            },
            http_version: own("proxy_http_version").or(self.http_version),
            connect: own("proxy_connect_timeout").or(self.connect),
            read: own("proxy_read_timeout").or(self.read),
            send: own("proxy_send_timeout").or(self.send),
            next: own("proxy_next_upstream").or(self.next),
            next_tries: own("proxy_next_upstream_tries").or(self.next_tries),
            next_timeout: own("proxy_next_upstream_timeout").or(self.next_timeout),
            access_log: own("access_log").or(self.access_log),
            client: self.client.merge(level),
            ssl: self.ssl.merge(level),
            upstream_ssl: nearest(&self.upstream_ssl, &UPSTREAM_SSL, level),
            realip_from: if realip_from.is_empty() {
                self.realip_from.clone()
            } else {
                Some(realip_from)
            },
            realip_header: own("real_ip_header").or(self.realip_header),
            realip_recursive: own("real_ip_recursive").or(self.realip_recursive),
        }
    }
}

/// Directives handled by [`Inherited`] at every http level.
const INHERITED: &[&str] = &[
    "proxy_set_header",
    "set_real_ip_from",
    "real_ip_header",
    "real_ip_recursive",
    "add_header",
    "proxy_http_version",
    "proxy_connect_timeout",
    "proxy_read_timeout",
    "proxy_send_timeout",
    "proxy_next_upstream",
    "proxy_next_upstream_tries",
    "proxy_next_upstream_timeout",
    "access_log",
];

/// The `proxy_ssl_*` directives translated, in [`Inherited::upstream_ssl`]'s order.
const UPSTREAM_SSL: [&str; 4] = [
    "proxy_ssl_server_name",
    "proxy_ssl_name",
    "proxy_ssl_verify",
    "proxy_ssl_trusted_certificate",
];

/// nginx's own request headers, under whatever the config sets.
const NGINX_DEFAULT_HEADERS: [(&str, &str); 6] = [
    ("Host", "$proxy_host"),
    ("Connection", "close"),
    ("TE", ""),
    ("Keep-Alive", ""),
    ("Expect", ""),
    ("Upgrade", ""),
];

/// Of the directives `names`, the ones in force at `level`: each its own
/// last one where it has it, else the one in force above (`outer`), as
/// nginx merges server-level settings.
pub(super) fn nearest<'a, const N: usize>(
    outer: &[Option<&'a Directive>; N],
    names: &[&str; N],
    level: &'a [Directive],
) -> [Option<&'a Directive>; N] {
    let mut out = *outer;
    for (slot, name) in out.iter_mut().zip(names) {
        if let Some(d) = level.iter().rev().find(|d| d.name == *name) {
            *slot = Some(d);
        }
    }
    out
}

pub(super) fn n_args(d: &Directive, n: std::ops::RangeInclusive<usize>) -> Result<(), ConfigError> {
    if n.contains(&d.args.len()) {
        Ok(())
    } else {
        Err(d.error(format!(
            "invalid number of arguments in \"{}\" directive",
            d.name
        )))
    }
}

/// A time argument in nginx units (a bare number is seconds).
pub fn time_arg(d: &Directive, value: &str) -> Result<String, ConfigError> {
    let text = if value.bytes().all(|b| b.is_ascii_digit()) {
        format!("{value}s")
    } else {
        value.to_string()
    };
    parse_duration(&text)
        .map(|_| text)
        .map_err(|e| d.error(format!("\"{}\": {e}", d.name)))
}

/// One `listen` directive, read.
struct Listen {
    addrs: Vec<String>,
    default: bool,
    ssl: bool,
}

/// The addresses some server listens on with `ssl` (or in a server with
/// `ssl on`): nginx makes the socket TLS for every server on it.
fn tls_addresses(http: &[Directive]) -> HashSet<SocketAddr> {
    let mut out = HashSet::new();
    for server in http
        .iter()
        .filter(|d| d.name == "server" && d.block.is_some())
    {
        let body = server.children();
        let ssl_on = body
            .iter()
            .any(|x| x.name == "ssl" && x.args.first().is_some_and(|v| v == "on"));
        for l in body.iter().filter(|x| x.name == "listen") {
            let Some((addr, params)) = l.args.split_first() else {
                continue;
            };
            if ssl_on || params.iter().any(|p| p == "ssl") {
                if let Ok(Some(a)) = crate::config::parse_listen(addr) {
                    out.insert(a);
                }
            }
        }
    }
    out
}

impl<'a> Translator<'a> {
    /// Translates a parsed file: a whole nginx.conf (with `http {}`) or the
    /// inside of one (top-level `upstream`, `server`, `map`, as a conf.d
    /// file or the deployment guide's snippets).
    pub fn run(path: &'a str, top: &'a [Directive]) -> Translation {
        let mut t = Translator {
            out: Emitter::default(),
            warnings: Vec::new(),
            errors: Vec::new(),
            warned: HashSet::new(),
            upstream_names: HashSet::new(),
            path,
        };
        if top.iter().any(|d| d.name == "http") {
            t.main(top);
        } else {
            t.http(top);
        }
        Translation {
            emitter: t.out,
            warnings: t.warnings,
            errors: t.errors,
        }
    }

    pub(super) fn fail(&mut self, e: ConfigError) {
        self.errors.push(e);
    }

    /// Applies the policy to a directive without a rule in this context.
    pub(super) fn other(&mut self, d: &Directive, context: &str) {
        match verdict(&d.name) {
            Verdict::Quiet => {}
            Verdict::Refuse(what) => self.fail(d.error(format!(
                "\"{}\" ({what}) is not supported by openclaw-edge and cannot be ignored safely; \
                 remove it or put it in front of the edge",
                d.name
            ))),
            Verdict::Warn => {
                if self.warned.insert(d.name.clone()) {
                    self.warnings.push(d.error(format!(
                        "unsupported directive \"{}\" in {context} ignored",
                        d.name
                    )));
                }
            }
        }
    }

    pub(super) fn warn(&mut self, d: &Directive, message: String) {
        self.warnings.push(d.error(message));
    }

    /// Warns about `d` once, however many servers inherit it.
    pub(super) fn warn_once(&mut self, d: &Directive, message: String) {
        if self
            .warned
            .insert(format!("{}:{}:{}", d.file, d.line, d.name))
        {
            self.warn(d, message);
        }
    }

    fn main(&mut self, top: &'a [Directive]) {
        let mut http = None;
        for d in top {
            match d.name.as_str() {
                "http" => {
                    if http.is_some() {
                        self.fail(d.error("\"http\" directive is duplicate"));
                    }
                    http = Some(d);
                }
                "worker_processes" => match d.args.as_slice() {
                    [n] if n == "auto" => {
                        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
                        self.out.line(0, &format!("threads: {cpus}"), Some(d));
                    }
                    [n] if n.parse::<usize>().is_ok_and(|n| n > 0) => {
                        self.out.line(0, &format!("threads: {n}"), Some(d))
                    }
                    _ => self.fail(d.error("\"worker_processes\": expected a number or `auto`")),
                },
                "pid" => match d.args.as_slice() {
                    [p] => self.out.kv(0, "pid_file", p, Some(d)),
                    _ => self.fail(d.error("invalid number of arguments in \"pid\" directive")),
                },
                "error_log" if d.args.first().is_some_and(|a| a == "stderr") => {}
                _ => self.other(d, "the main context"),
            }
        }
        match http {
            Some(h) if h.block.is_some() => self.http(h.children()),
            _ => {}
        }
    }

    fn http(&mut self, body: &'a [Directive]) {
        for d in body.iter().filter(|d| d.name == "upstream") {
            if let Some(name) = d.args.first() {
                self.upstream_names.insert(name);
            }
        }
        let inherited = Inherited::default().merge(body);
        if let Some(log) = inherited.access_log {
            match log.args.first().map(String::as_str) {
                Some("off") => self.out.line(0, "access_log: \"off\"", Some(log)),
                Some(path) => {
                    if log.args.len() > 1 && log.args[1] != "combined" {
                        self.warn(log, format!("access_log {path}: the format \"{}\" is ignored; the edge writes its own combined format", log.args[1]));
                    }
                    self.out.kv(0, "access_log", path, Some(log));
                }
                None => {
                    self.fail(log.error("invalid number of arguments in \"access_log\" directive"))
                }
            }
        }
        let upstreams: Vec<&Directive> = body.iter().filter(|d| d.name == "upstream").collect();
        if !upstreams.is_empty() {
            self.out.line(0, "upstreams:", None);
            let mut seen = HashSet::new();
            for d in upstreams {
                if let Some(name) = d.args.first() {
                    if !seen.insert(name.as_str()) {
                        self.fail(d.error(format!("duplicate upstream \"{name}\"")));
                        continue;
                    }
                }
                if let Err(e) = self.upstream(d) {
                    self.fail(e);
                }
            }
        }
        let maps: Vec<&Directive> = body.iter().filter(|d| d.name == "map").collect();
        if !maps.is_empty() {
            self.out.line(0, "maps:", None);
            for d in maps {
                if let Err(e) = self.map(d) {
                    self.fail(e);
                }
            }
        }
        if !body.iter().any(|d| d.name == "server" && d.block.is_some()) {
            let (file, line) = body
                .first()
                .map_or((self.path.to_string(), 1), |d| (d.file.clone(), d.line));
            self.fail(ConfigError {
                file,
                line: Some(line),
                column: None,
                message: "no `server { ... }` block: the edge would listen nowhere; add one \
                          (listen, location / { proxy_pass http://NAME; }) or include this file from one"
                    .into(),
            });
            return;
        }
        self.out.line(0, "servers:", None);
        let tls_addrs = tls_addresses(body);
        for d in body {
            match d.name.as_str() {
                "upstream" | "map" | "include" => {}
                "server" if d.block.is_some() => self.server(d, &inherited, &tls_addrs),
                n if INHERITED.contains(&n) || is_client(n) || is_ssl(n) => {}
                n if UPSTREAM_SSL.contains(&n) => {}
                "ssl" => self.fail(d.error(
                    "\"ssl\" in http: this obsolete directive is only read in a server block here; \
                     write `listen ... ssl` instead",
                )),
                _ => self.other(d, "http"),
            }
        }
    }

    fn server(
        &mut self,
        d: &'a Directive,
        parent: &Inherited<'a>,
        tls_addrs: &HashSet<SocketAddr>,
    ) {
        let body = d.children();
        let inherited = parent.merge(body);
        // nginx < 1.25's `ssl on`: every listen of the server is TLS.
        let ssl_on = body.iter().find(|x| x.name == "ssl");
        if let Some(x) = ssl_on {
            match x.args.as_slice() {
                [v] if v == "on" => self.warn(x, "\"ssl on\" is obsolete (removed in nginx 1.25): write `listen ... ssl`; every listen of this server is TLS".into()),
                [v] if v == "off" => {}
                _ => self.fail(x.error("\"ssl\": expected on or off")),
            }
        }
        let ssl_on = ssl_on.filter(|x| x.args.first().is_some_and(|v| v == "on"));
        // (address, default_server) in clear text, and over TLS with the
        // first listen that made them TLS.
        let mut plain: Vec<(String, bool)> = Vec::new();
        let mut secure: Vec<(String, bool)> = Vec::new();
        let mut made_tls: Option<&Directive> = None;
        for l in body.iter().filter(|x| x.name == "listen") {
            match self.listen(l) {
                Ok(listen) => {
                    for addr in listen.addrs {
                        let shared_tls = addr
                            .parse::<SocketAddr>()
                            .is_ok_and(|a| tls_addrs.contains(&a));
                        if listen.ssl || ssl_on.is_some() || shared_tls {
                            made_tls.get_or_insert(ssl_on.unwrap_or(l));
                            secure.push((addr, listen.default));
                        } else {
                            plain.push((addr, listen.default));
                        }
                    }
                }
                Err(e) => self.fail(e),
            }
        }
        if plain.is_empty() && secure.is_empty() {
            plain.push(("0.0.0.0:80".to_string(), false));
        }
        // A server on clear-text and TLS addresses becomes two edge
        // servers with the same locations (the edge's `tls:` is per
        // server); the second says nothing the first did not.
        let mut emitted = false;
        for (listens, tls) in [(secure, made_tls), (plain, None)] {
            if listens.is_empty() {
                continue;
            }
            let said = (self.warnings.len(), self.errors.len());
            self.server_block(d, &inherited, &listens, tls);
            if emitted {
                self.warnings.truncate(said.0);
                self.errors.truncate(said.1);
            }
            emitted = true;
        }
    }

    /// One edge server: `listens` (address, default_server), TLS when
    /// `tls` (the directive that made it TLS) is given.
    fn server_block(
        &mut self,
        d: &'a Directive,
        inherited: &Inherited<'a>,
        listens: &[(String, bool)],
        tls: Option<&Directive>,
    ) {
        let body = d.children();
        let list: Vec<String> = listens.iter().map(|(a, _)| scalar(a)).collect();
        let default_server = listens.iter().any(|(_, default)| *default);
        self.out
            .line(1, &format!("- listen: [{}]", list.join(", ")), Some(d));
        let names: Vec<String> = body
            .iter()
            .filter(|x| x.name == "server_name")
            .flat_map(|x| x.args.iter())
            .filter(|n| !n.is_empty())
            .map(|n| scalar(n))
            .collect();
        if !names.is_empty() {
            self.out
                .line(2, &format!("server_name: [{}]", names.join(", ")), Some(d));
        }
        if default_server {
            self.out.line(2, "default_server: true", Some(d));
        }
        self.emit_client(&inherited.client);
        if let Some(l) = tls {
            self.emit_tls(&inherited.ssl, l, body);
        }
        self.emit_real_ip(inherited);
        self.out.line(2, "locations:", Some(d));
        if let Some(r) = body.iter().find(|x| x.name == "return") {
            // The rewrite phase answers before any location is chosen.
            self.out.line(3, "- path: /", Some(r));
            self.location_body(r, &[], inherited);
            return;
        }
        let mut any = false;
        for x in body {
            match x.name.as_str() {
                "listen" | "server_name" | "ssl" => {}
                n if is_client(n) || is_ssl(n) || UPSTREAM_SSL.contains(&n) => {}
                "location" => {
                    any = true;
                    self.location(x, inherited);
                }
                n if INHERITED.contains(&n) => {}
                _ => self.other(x, "server"),
            }
        }
        if !any {
            self.fail(d.error("this server has no location and no return: the edge would have nothing to serve (nginx would serve files from its root)"));
        }
    }

    /// `listen` -> its addresses and parameters.
    fn listen(&mut self, d: &Directive) -> Result<Listen, ConfigError> {
        let Some((addr, params)) = d.args.split_first() else {
            return Err(d.error("invalid number of arguments in \"listen\" directive"));
        };
        let mut default = false;
        let mut ssl = false;
        for p in params {
            match p.split('=').next().unwrap_or("") {
                "default_server" | "default" => default = true,
                "ssl" => ssl = true,
                "http2" => self.warn(d, format!("listen {addr} http2: served as HTTP/1.1 (TLS clients are offered http/1.1 by ALPN)")),
                "proxy_protocol" | "quic" => {
                    return Err(d.error(format!(
                        "listen {addr} {p}: openclaw-edge does not speak {p}; terminate it in front of the edge"
                    )))
                }
                _ => self.warn(d, format!("listen {addr}: parameter \"{p}\" ignored")),
            }
        }
        if addr.starts_with("unix:") {
            return Err(d.error(format!("listen {addr}: unix sockets are not supported")));
        }
        if let Ok(Some(a)) = crate::config::parse_listen(addr) {
            return Ok(Listen {
                addrs: vec![a.to_string()],
                default,
                ssl,
            });
        }
        use std::net::ToSocketAddrs;
        let addrs: Vec<String> = addr
            .to_socket_addrs()
            .map_err(|e| d.error(format!("listen {addr}: invalid address ({e})")))?
            .map(|a| a.to_string())
            .collect();
        Ok(Listen {
            addrs,
            default,
            ssl,
        })
    }

    fn location(&mut self, d: &'a Directive, parent: &Inherited<'a>) {
        let path = match d.args.as_slice() {
            [m, p] if ["=", "^~", "~", "~*"].contains(&m.as_str()) => format!("{m} {p}"),
            [p] if p.starts_with('@') => {
                self.warn(
                    d,
                    format!(
                        "named location \"{p}\" ignored (only reachable from error_page/try_files)"
                    ),
                );
                return;
            }
            [p] if p.starts_with("~*") => format!("~* {}", &p[2..]),
            [p] if p.starts_with("^~") => format!("^~ {}", &p[2..]),
            [p] if p.starts_with('~') => format!("~ {}", &p[1..]),
            [p] if p.starts_with('=') => format!("= {}", &p[1..]),
            [p] => p.clone(),
            _ => {
                self.fail(d.error("invalid number of arguments in \"location\" directive"));
                return;
            }
        };
        let body = d.children();
        if let Some(inner) = body.iter().find(|x| x.name == "location") {
            self.fail(inner.error(
                "nested locations are not supported: write each as a location of the server",
            ));
            return;
        }
        let inherited = parent.merge(body);
        self.out.kv(3, "- path", &path, Some(d));
        let action = body
            .iter()
            .find(|x| x.name == "return")
            .or_else(|| body.iter().find(|x| x.name == "proxy_pass"));
        let Some(action) = action else {
            self.fail(d.error(format!("location {path}: no proxy_pass or return (nginx would serve files; the edge does not)")));
            return;
        };
        self.location_body(action, body, &inherited);
    }

    /// The keys of one location: its action and the inherited settings.
    /// nginx's realip directives in force for a server -> its `real_ip`.
    fn emit_real_ip(&mut self, s: &Inherited) {
        let Some(from) = s.realip_from.as_deref().filter(|f| !f.is_empty()) else {
            return;
        };
        let mut ranges = Vec::new();
        for d in from {
            match d.args.as_slice() {
                [a] if a == "unix:" => self.warn_once(
                    d,
                    "set_real_ip_from unix: ignored (the edge listens on TCP only)".into(),
                ),
                [a] => ranges.push(scalar(a)),
                _ => self
                    .fail(d.error("invalid number of arguments in \"set_real_ip_from\" directive")),
            }
        }
        self.out.line(2, "real_ip:", Some(from[0]));
        self.out
            .line(3, &format!("from: [{}]", ranges.join(", ")), Some(from[0]));
        if let Some(d) = s.realip_header {
            match d.args.as_slice() {
                [h] if h == "proxy_protocol" => self.fail(d.error(
                    "real_ip_header proxy_protocol: the edge does not read the PROXY protocol",
                )),
                [h] => self.out.kv(3, "header", h, Some(d)),
                _ => self
                    .fail(d.error("invalid number of arguments in \"real_ip_header\" directive")),
            }
        }
        if let Some(d) = s.realip_recursive {
            match d.args.as_slice() {
                [v] if v == "on" => self.out.line(3, "recursive: true", Some(d)),
                [v] if v == "off" => {}
                _ => self.fail(d.error("\"real_ip_recursive\": expected on or off")),
            }
        }
    }

    /// `add_header NAME VALUE [always]` -> the location's `add_header` list.
    fn emit_added(&mut self, added: &[&Directive]) {
        if added.is_empty() {
            return;
        }
        self.out.line(4, "add_header:", Some(added[0]));
        for d in added {
            let always = match d.args.as_slice() {
                [_, _] => false,
                [_, _, a] if a == "always" => true,
                _ => {
                    self.fail(d.error("\"add_header\": expected NAME VALUE [always]"));
                    continue;
                }
            };
            let item = format!(
                "- {{ name: {}, value: {}{} }}",
                scalar(&d.args[0]),
                scalar(&d.args[1]),
                if always { ", always: true" } else { "" }
            );
            self.out.line(5, &item, Some(d));
        }
    }

    fn location_body(&mut self, action: &'a Directive, body: &'a [Directive], s: &Inherited<'a>) {
        let at = Some(action);
        for x in body {
            match x.name.as_str() {
                "proxy_pass" | "return" => {}
                "set_real_ip_from" | "real_ip_header" | "real_ip_recursive" => self.warn(
                    x,
                    format!("{} in a location is ignored: the edge applies realip per server; set it in the server block", x.name),
                ),
                n if INHERITED.contains(&n) || is_client(n) || UPSTREAM_SSL.contains(&n) => {}
                _ => self.other(x, "location"),
            }
        }
        self.emit_added(s.added.as_deref().unwrap_or(&[]));
        if action.name == "return" {
            if let Err(e) = self.emit_return(action) {
                self.fail(e);
            }
            if s.access_log
                .is_some_and(|l| l.args.first().is_some_and(|a| a == "off"))
            {
                self.out.line(4, "access_log: false", s.access_log);
            }
            return;
        }
        if let Err(e) = self.emit_proxy_pass(action) {
            self.fail(e);
        }
        if action
            .args
            .first()
            .is_some_and(|u| u.starts_with("https://"))
        {
            self.emit_upstream_tls(&s.upstream_ssl);
        }
        let version = match s.http_version.map(|d| (d, d.args.as_slice())) {
            None => "1.0",
            Some((_, [v])) if v == "1.0" || v == "1.1" => v,
            Some((d, _)) => {
                self.fail(d.error("\"proxy_http_version\": expected 1.0 or 1.1"));
                "1.0"
            }
        };
        self.out.line(
            4,
            &format!("http_version: \"{version}\""),
            s.http_version.or(at),
        );
        self.emit_headers(s.headers.as_deref().unwrap_or(&[]), action);
        for (key, d) in [
            ("connect_timeout", s.connect),
            ("read_timeout", s.read),
            ("send_timeout", s.send),
        ] {
            if let Some(d) = d {
                match n_args(d, 1..=1).and_then(|_| time_arg(d, &d.args[0])) {
                    Ok(t) => self.out.kv(4, key, &t, Some(d)),
                    Err(e) => self.fail(e),
                }
            }
        }
        self.emit_next(s);
        self.emit_location_client(&s.client, body);
        if let Some(log) = s.access_log {
            if log.args.first().is_some_and(|a| a == "off") {
                self.out.line(4, "access_log: false", Some(log));
            } else if body.contains(log) {
                self.warn(log, "access_log in a location: the path is ignored; requests go to the edge's access log".into());
            }
        }
    }

    fn emit_return(&mut self, d: &Directive) -> Result<(), ConfigError> {
        n_args(d, 1..=2)?;
        let (status, text) = match d.args.as_slice() {
            [code, text] => (code.clone(), text.clone()),
            [one] if one.bytes().all(|b| b.is_ascii_digit()) => (one.clone(), String::new()),
            [url] => ("302".to_string(), url.clone()),
            _ => unreachable!("checked above"),
        };
        let status: u16 = status
            .parse()
            .ok()
            .filter(|s| (100..=999).contains(s))
            .ok_or_else(|| d.error(format!("invalid return code \"{status}\"")))?;
        self.out.line(4, "return:", Some(d));
        self.out.line(5, &format!("status: {status}"), Some(d));
        self.out.kv(5, "body", &text, Some(d));
        Ok(())
    }

    fn emit_proxy_pass(&mut self, d: &Directive) -> Result<(), ConfigError> {
        n_args(d, 1..=1)?;
        let url = &d.args[0];
        if url.contains('$') {
            return Err(d.error(format!(
                "proxy_pass {url}: variables in proxy_pass are not supported"
            )));
        }
        let (scheme, port, rest) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(rest), _) => ("http", 80, rest),
            (None, Some(rest)) => ("https", 443, rest),
            (None, None) => {
                return Err(d.error(format!(
                    "proxy_pass {url}: only http:// and https:// targets are supported (no unix sockets)"
                )))
            }
        };
        let (authority, uri) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let authority = if self.upstream_names.contains(authority) {
            authority.to_string()
        } else {
            with_default_port(d, authority, port)?
        };
        self.out.kv(
            4,
            "proxy_pass",
            &format!("{scheme}://{authority}{uri}"),
            Some(d),
        );
        Ok(())
    }

    /// `proxy_ssl_*` in force for a `proxy_pass https://` -> `upstream_tls`
    /// (only what differs from nginx's defaults).
    fn emit_upstream_tls(&mut self, set: &[Option<&Directive>; 4]) {
        let [server_name, name, verify, trusted] = *set;
        let mut parts = Vec::new();
        for (d, key) in [(server_name, "server_name"), (verify, "verify")] {
            let Some(d) = d else { continue };
            match d.args.as_slice() {
                [v] if v == "on" => parts.push(format!("{key}: true")),
                [v] if v == "off" => {}
                _ => self.fail(d.error(format!("\"{}\": expected on or off", d.name))),
            }
        }
        for (d, key) in [(name, "name"), (trusted, "trusted_certificate")] {
            let Some(d) = d else { continue };
            match n_args(d, 1..=1) {
                Ok(()) if d.args[0].contains('$') && key == "name" => self.fail(
                    d.error("\"proxy_ssl_name\": variables are not supported here; write the name"),
                ),
                Ok(()) => parts.push(format!("{key}: {}", scalar(&d.args[0]))),
                Err(e) => self.fail(e),
            }
        }
        if !parts.is_empty() {
            let from = set.iter().flatten().next().copied();
            self.out.line(
                4,
                &format!("upstream_tls: {{ {} }}", parts.join(", ")),
                from,
            );
        }
    }

    /// The config's `proxy_set_header`s over nginx's defaults. nginx sends
    /// a header twice if it is set twice; the edge keeps the first.
    fn emit_headers(&mut self, own: &[&'a Directive], at: &Directive) {
        self.out
            .line(4, "headers:", own.first().copied().or(Some(at)));
        let mut set: Vec<String> = Vec::new();
        for d in own {
            let [name, value] = d.args.as_slice() else {
                self.fail(d.error("invalid number of arguments in \"proxy_set_header\" directive"));
                continue;
            };
            if set.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                self.warn(
                    d,
                    format!(
                        "proxy_set_header {name}: set twice; the edge sends the first value only"
                    ),
                );
                continue;
            }
            set.push(name.clone());
            self.out.kv(5, &scalar(name), value, Some(d));
        }
        for (name, value) in NGINX_DEFAULT_HEADERS {
            if !set.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                self.out
                    .kv(5, name, value, own.first().copied().or(Some(at)));
            }
        }
    }

    fn emit_next(&mut self, s: &Inherited<'a>) {
        if s.next.is_none() && s.next_tries.is_none() && s.next_timeout.is_none() {
            return;
        }
        let first = s.next.or(s.next_tries).or(s.next_timeout);
        self.out.line(4, "next_upstream:", first);
        if let Some(d) = s.next {
            let mut when = Vec::new();
            let mut non_idempotent = false;
            for a in &d.args {
                match a.as_str() {
                    "error" | "timeout" => when.push(a.as_str()),
                    "non_idempotent" => non_idempotent = true,
                    "off" => when.clear(),
                    other => self.warn(d, format!("proxy_next_upstream {other}: not supported, ignored (retries happen on error and timeout only)")),
                }
            }
            self.out
                .line(5, &format!("when: [{}]", when.join(", ")), Some(d));
            self.out
                .line(5, &format!("non_idempotent: {non_idempotent}"), Some(d));
        }
        if let Some(d) = s.next_tries {
            match d.args.as_slice() {
                [n] if n.parse::<u32>().is_ok() => {
                    self.out.line(5, &format!("tries: {n}"), Some(d))
                }
                _ => self.fail(d.error("\"proxy_next_upstream_tries\": expected a number")),
            }
        }
        if let Some(d) = s.next_timeout {
            match n_args(d, 1..=1).and_then(|_| time_arg(d, &d.args[0])) {
                Ok(t) => self.out.kv(5, "timeout", &t, Some(d)),
                Err(e) => self.fail(e),
            }
        }
    }
}

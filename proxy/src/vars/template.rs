//! Parsing and expanding `$var` templates.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::net::SocketAddr;

/// One nginx variable the edge knows how to compute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Var {
    /// `$host`: the Host header without port, lowercased; else the server name.
    Host,
    /// `$http_host`: the Host header as sent.
    HttpHost,
    /// `$remote_addr`: the client's IP.
    RemoteAddr,
    /// `$remote_port`: the client's port.
    RemotePort,
    /// `$server_port`: the port the request came in on.
    ServerPort,
    /// `$scheme`: `http` (the edge terminates plain HTTP).
    Scheme,
    /// `$request_method`.
    RequestMethod,
    /// `$request_uri`: path and query as sent.
    RequestUri,
    /// `$uri`: the path without query.
    Uri,
    /// `$args` / `$query_string`.
    Args,
    /// `$proxy_add_x_forwarded_for`: the client's X-Forwarded-For plus `$remote_addr`.
    ProxyAddXForwardedFor,
    /// `$proxy_host`: the upstream name or address from `proxy_pass`.
    ProxyHost,
    /// `$connection_upgrade`: `upgrade` when the client asked for an upgrade,
    /// else empty (the header is then not sent, keeping upstream keep-alive).
    ConnectionUpgrade,
    /// `$http_NAME`: a request header, `_` standing for `-`.
    Header(String),
    /// A name that is no built-in: a map's, once the config's maps are
    /// known ([`Template::bind_maps`]); otherwise a validation error.
    Named(String),
    /// The map at this index of the runtime's maps.
    Map(usize),
}

impl Var {
    fn from_name(name: &str) -> Var {
        match name {
            "host" => Var::Host,
            "http_host" => Var::HttpHost,
            "remote_addr" | "binary_remote_addr" => Var::RemoteAddr,
            "remote_port" => Var::RemotePort,
            "server_port" => Var::ServerPort,
            "scheme" => Var::Scheme,
            "request_method" => Var::RequestMethod,
            "request_uri" => Var::RequestUri,
            "uri" | "document_uri" => Var::Uri,
            "args" | "query_string" => Var::Args,
            "proxy_add_x_forwarded_for" => Var::ProxyAddXForwardedFor,
            "proxy_host" => Var::ProxyHost,
            "connection_upgrade" => Var::ConnectionUpgrade,
            other => match other.strip_prefix("http_") {
                Some(h) => Var::Header(h.replace('_', "-")),
                None => Var::Named(other.to_string()),
            },
        }
    }

    /// The names of the built-in variables, for error messages.
    pub const KNOWN: &'static str = "$host, $http_host, $remote_addr, $remote_port, $server_port, \
        $scheme, $request_method, $request_uri, $uri, $args, $proxy_add_x_forwarded_for, \
        $proxy_host, $connection_upgrade, $http_NAME";
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// The variable and its name as written.
    Var(Var, String),
}

/// A header value or hash key with variables resolved at load time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

/// What a template reads from the request being proxied.
pub trait RequestVars {
    /// The request header `name` (lowercase), if present and valid UTF-8.
    fn header(&self, name: &str) -> Option<&str>;
    /// The client's address.
    fn client(&self) -> Option<SocketAddr>;
    /// The local address the request arrived on.
    fn local(&self) -> Option<SocketAddr>;
    /// `https` on a TLS connection, else `http`.
    fn scheme(&self) -> &str;
    /// The request method.
    fn method(&self) -> &str;
    /// Path and query as sent.
    fn request_uri(&self) -> &str;
    /// The upstream name or address `proxy_pass` points at.
    fn proxy_host(&self) -> &str;
    /// Appends the value of map `index` (see [`Var::Map`]).
    fn map(&self, index: usize, out: &mut String) {
        let _ = (index, out);
    }
}

impl Template {
    /// Parses `text`; `$name` and `${name}` are variables, everything else literal.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(pos) = rest.find('$') {
            lit.push_str(&rest[..pos]);
            rest = &rest[pos + 1..];
            let (name, after) = if let Some(braced) = rest.strip_prefix('{') {
                let end = braced
                    .find('}')
                    .ok_or_else(|| format!("`{text}`: unclosed `${{` in variable"))?;
                (&braced[..end], &braced[end + 1..])
            } else {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            };
            if name.is_empty() {
                return Err(format!("`{text}`: `$` must be followed by a variable name"));
            }
            if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("`{text}`: invalid variable name `${name}`"));
            }
            let var = Var::from_name(name);
            if !lit.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut lit)));
            }
            parts.push(Part::Var(var, name.to_string()));
            rest = after;
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Literal(lit));
        }
        Ok(Template {
            source: text.to_string(),
            parts,
        })
    }

    /// The text as written in the config.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when the template is the single variable `var`.
    pub fn is_just(&self, var: &Var) -> bool {
        matches!(self.parts.as_slice(), [Part::Var(v, _)] if v == var)
    }

    /// The names used that are neither built-in nor bound to a map.
    pub fn unknown_names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(Var::Named(n), _) => Some(n.as_str()),
            _ => None,
        })
    }

    /// The variable names used, as written.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(_, n) => Some(n.as_str()),
            _ => None,
        })
    }

    /// This template with every variable named in `maps` reading that map
    /// (a map shadows a built-in of the same name).
    pub fn bind_maps(&self, maps: &[&str]) -> Template {
        let parts = self
            .parts
            .iter()
            .map(|p| match p {
                Part::Var(v, name) => match maps.iter().position(|m| m == name) {
                    Some(i) => Part::Var(Var::Map(i), name.clone()),
                    None => Part::Var(v.clone(), name.clone()),
                },
                lit => lit.clone(),
            })
            .collect();
        Template {
            source: self.source.clone(),
            parts,
        }
    }

    /// Appends the expansion for `req` to `out`.
    pub fn expand_into(&self, req: &dyn RequestVars, out: &mut String) {
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Var(v, _) => expand_var(v, req, out),
            }
        }
    }

    /// The expansion for `req` as a new string.
    pub fn expand(&self, req: &dyn RequestVars) -> String {
        let mut out = String::new();
        self.expand_into(req, &mut out);
        out
    }
}

fn push_ip(out: &mut String, addr: Option<SocketAddr>) {
    use std::fmt::Write;
    if let Some(a) = addr {
        let _ = write!(out, "{}", a.ip());
    }
}

fn expand_var(var: &Var, req: &dyn RequestVars, out: &mut String) {
    use std::fmt::Write;
    match var {
        Var::Host => match req.header("host") {
            Some(h) => out.push_str(&host_of(h)),
            None => push_ip(out, req.local()),
        },
        Var::HttpHost => out.push_str(req.header("host").unwrap_or("")),
        Var::RemoteAddr => push_ip(out, req.client()),
        Var::RemotePort => {
            if let Some(a) = req.client() {
                let _ = write!(out, "{}", a.port());
            }
        }
        Var::ServerPort => {
            if let Some(a) = req.local() {
                let _ = write!(out, "{}", a.port());
            }
        }
        Var::Scheme => out.push_str(req.scheme()),
        Var::RequestMethod => out.push_str(req.method()),
        Var::RequestUri => out.push_str(req.request_uri()),
        Var::Uri => out.push_str(req.request_uri().split('?').next().unwrap_or("")),
        Var::Args => out.push_str(req.request_uri().split_once('?').map(|x| x.1).unwrap_or("")),
        Var::ProxyAddXForwardedFor => {
            if let Some(prev) = req.header("x-forwarded-for") {
                out.push_str(prev);
                out.push_str(", ");
            }
            push_ip(out, req.client());
        }
        Var::ProxyHost => out.push_str(req.proxy_host()),
        Var::ConnectionUpgrade => {
            if req.header("upgrade").is_some_and(|u| !u.is_empty()) {
                out.push_str("upgrade");
            }
        }
        Var::Header(name) => out.push_str(req.header(name).unwrap_or("")),
        Var::Map(i) => req.map(*i, out),
        Var::Named(_) => {}
    }
}

/// nginx's `$host` from a Host header: without the port, lowercased, no trailing dot.
pub fn host_of(header: &str) -> std::borrow::Cow<'_, str> {
    let h = strip_port(header).trim_end_matches('.');
    if h.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(h.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(h)
    }
}

/// `example.com:8080` -> `example.com`, `[::1]:80` -> `[::1]`.
pub(crate) fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map(|i| &host[..=i]).unwrap_or(host);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

impl Default for Template {
    /// The empty template.
    fn default() -> Self {
        Template {
            source: String::new(),
            parts: Vec::new(),
        }
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Template::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Req;
    impl RequestVars for Req {
        fn header(&self, name: &str) -> Option<&str> {
            match name {
                "host" => Some("Gateway.Example.com:8080"),
                "x-forwarded-for" => Some("10.0.0.1"),
                "upgrade" => Some("websocket"),
                "user-agent" => Some("curl/8"),
                _ => None,
            }
        }
        fn client(&self) -> Option<SocketAddr> {
            Some("127.0.0.9:5555".parse().unwrap())
        }
        fn local(&self) -> Option<SocketAddr> {
            Some("127.0.0.1:8080".parse().unwrap())
        }
        fn scheme(&self) -> &str {
            "http"
        }
        fn method(&self) -> &str {
            "GET"
        }
        fn request_uri(&self) -> &str {
            "/a/b?x=1"
        }
        fn proxy_host(&self) -> &str {
            "openclaw_gateway"
        }
    }

    fn exp(t: &str) -> String {
        Template::parse(t).unwrap().expand(&Req)
    }

    #[test]
    fn expands_the_seed_variables() {
        assert_eq!(exp("$host"), "gateway.example.com");
        assert_eq!(exp("$http_host"), "Gateway.Example.com:8080");
        assert_eq!(exp("$remote_addr"), "127.0.0.9");
        assert_eq!(exp("$proxy_add_x_forwarded_for"), "10.0.0.1, 127.0.0.9");
        assert_eq!(exp("$connection_upgrade"), "upgrade");
        assert_eq!(exp("$http_upgrade"), "websocket");
        assert_eq!(exp("$http_user_agent"), "curl/8");
        assert_eq!(
            exp("${scheme}://$host$request_uri"),
            "http://gateway.example.com/a/b?x=1"
        );
        assert_eq!(
            exp("$uri|$args|$remote_port|$server_port"),
            "/a/b|x=1|5555|8080"
        );
        assert_eq!(exp("upgrade"), "upgrade");
    }

    #[test]
    fn unknown_names_are_kept_for_validation() {
        let t = Template::parse("$nope-$host").unwrap();
        assert_eq!(t.unknown_names().collect::<Vec<_>>(), ["nope"]);
        assert!(t.bind_maps(&["nope"]).unknown_names().next().is_none());
        assert!(Template::parse("${host").is_err());
        assert!(Template::parse("a $ b").is_err());
    }

    #[test]
    fn strips_ports() {
        assert_eq!(strip_port("a.b:80"), "a.b");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("a.b"), "a.b");
    }
}

//! `upstream` blocks (servers, balancing, keepalive, the check module's
//! `check*`, `sticky cookie`, our `openclaw_leader`) and `map` blocks -> YAML.

use super::emit::scalar;
use super::parse::Directive;
use super::translate::{n_args, time_arg, Translator};
use crate::config::ConfigError;

/// A check-module time: a bare number is milliseconds there.
fn check_ms(d: &Directive, key: &str, v: &str) -> Result<String, ConfigError> {
    v.parse::<u64>().map(|n| format!("{n}ms")).map_err(|_| {
        d.error(format!(
            "check {key}={v}: expected milliseconds, e.g. {key}=5000"
        ))
    })
}

/// `addr` with `default` as its port if it names none.
pub(super) fn with_default_port(
    d: &Directive,
    addr: &str,
    default: u16,
) -> Result<String, ConfigError> {
    let port = match addr.strip_prefix('[') {
        Some(v6) if v6.ends_with(']') => None,
        Some(v6) => v6.split_once("]:").map(|(_, p)| p),
        None => addr.split_once(':').map(|(_, p)| p),
    };
    match port.map(|p| p.parse::<u16>()) {
        None => Ok(format!("{addr}:{default}")),
        Some(Ok(p)) if p > 0 => Ok(addr.to_string()),
        Some(_) => Err(d.error(format!("invalid port in \"{addr}\""))),
    }
}

fn number(d: &Directive, what: &str, v: &str) -> Result<u32, ConfigError> {
    v.parse().map_err(|_| {
        d.error(format!(
            "\"{}\": invalid {what} \"{v}\": expected a number",
            d.name
        ))
    })
}

impl Translator<'_> {
    /// `upstream NAME { ... }`.
    pub(super) fn upstream(&mut self, d: &Directive) -> Result<(), ConfigError> {
        let [name] = d.args.as_slice() else {
            return Err(d.error("invalid number of arguments in \"upstream\" directive"));
        };
        self.out.line(1, &format!("{}:", scalar(name)), Some(d));
        let body = d.children();
        let mut balance = None;
        let mut keepalive = None;
        for x in body {
            match x.name.as_str() {
                "least_conn" | "ip_hash" => balance = Some((x, x.name.clone())),
                "hash" => match x.args.as_slice() {
                    [k] => balance = Some((x, format!("hash {k}"))),
                    [k, c] if c == "consistent" => {
                        balance = Some((x, format!("hash {k} consistent")))
                    }
                    _ => return Err(x.error("\"hash\": expected `hash KEY [consistent]`")),
                },
                "random" => match x.args.as_slice() {
                    [] => balance = Some((x, "random".into())),
                    [t] | [t, _] if t == "two" => {
                        if x.args.get(1).is_some_and(|m| m != "least_conn") {
                            return Err(
                                x.error("\"random two\": only the least_conn method is supported")
                            );
                        }
                        balance = Some((x, "random two".into()))
                    }
                    _ => return Err(x.error("\"random\": expected `random [two [least_conn]]`")),
                },
                "keepalive" => match x.args.as_slice() {
                    [n] => keepalive = Some((x, number(x, "count", n)?)),
                    _ => {
                        return Err(
                            x.error("invalid number of arguments in \"keepalive\" directive")
                        )
                    }
                },
                "keepalive_timeout" => {
                    n_args(x, 1..=1)?;
                    let t = time_arg(x, &x.args[0])?;
                    self.out.kv(2, "keepalive_timeout", &t, Some(x));
                }
                "server"
                | "check"
                | "check_http_send"
                | "check_http_expect_alive"
                | "sticky"
                | "openclaw_leader" => {}
                _ => self.other(x, "upstream"),
            }
        }
        if let Some((x, b)) = balance {
            self.out.kv(2, "balance", &b, Some(x));
        }
        // nginx keeps no idle upstream connections without `keepalive`.
        match keepalive {
            Some((x, n)) => self.out.line(2, &format!("keepalive: {n}"), Some(x)),
            None => self.out.line(2, "keepalive: 0", Some(d)),
        }
        self.health_check(body)?;
        if let Some(x) = body.iter().find(|x| x.name == "sticky") {
            self.sticky(x)?;
        }
        if let Some(x) = body.iter().find(|x| x.name == "openclaw_leader") {
            self.leader(x)?;
        }
        self.out.line(2, "servers:", Some(d));
        let servers: Vec<&Directive> = body.iter().filter(|x| x.name == "server").collect();
        if servers.is_empty() {
            return Err(d.error(format!("no servers are inside upstream \"{name}\"")));
        }
        for s in servers {
            self.server_entry(s)?;
        }
        Ok(())
    }

    /// `server ADDRESS [weight=N] [max_fails=N] [fail_timeout=T] [backup] [down] [max_conns=N] [route=R]`.
    fn server_entry(&mut self, d: &Directive) -> Result<(), ConfigError> {
        let Some((addr, params)) = d.args.split_first() else {
            return Err(d.error("invalid number of arguments in \"server\" directive"));
        };
        if addr.starts_with("unix:") {
            return Err(d.error(format!("server {addr}: unix sockets are not supported")));
        }
        let addr = with_default_port(d, addr, 80)?;
        let mut fields = vec![format!("address: {}", scalar(&addr))];
        for p in params {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            match k {
                "weight" | "max_fails" | "max_conns" => {
                    fields.push(format!("{k}: {}", number(d, k, v)?))
                }
                "fail_timeout" => {
                    fields.push(format!("fail_timeout: {}", scalar(&time_arg(d, v)?)))
                }
                "backup" | "down" if v.is_empty() => fields.push(format!("{k}: true")),
                "route" => fields.push(format!("route: {}", scalar(v))),
                "resolve" | "slow_start" => {
                    self.warn(d, format!("server {addr}: parameter \"{p}\" ignored"))
                }
                _ => return Err(d.error(format!("server {addr}: invalid parameter \"{p}\""))),
            }
        }
        self.out
            .line(3, &format!("- {{ {} }}", fields.join(", ")), Some(d));
        Ok(())
    }

    /// The check module: `check`, `check_http_send`, `check_http_expect_alive`.
    fn health_check(&mut self, body: &[Directive]) -> Result<(), ConfigError> {
        let Some(c) = body.iter().find(|x| x.name == "check") else {
            if let Some(x) = body.iter().find(|x| x.name.starts_with("check_http")) {
                self.warn(x, format!("\"{}\" without \"check\" ignored", x.name));
            }
            return Ok(());
        };
        self.out.line(2, "health_check:", Some(c));
        for a in &c.args {
            let (k, v) = a.split_once('=').unwrap_or((a, ""));
            let line = match k {
                "interval" | "timeout" => format!("{k}: {}", check_ms(c, k, v)?),
                "rise" | "fall" => format!("{k}: {}", number(c, k, v)?),
                "port" => format!(
                    "port: {}",
                    v.parse::<u16>()
                        .map_err(|_| c.error(format!("check port={v}: expected a port number")))?
                ),
                "default_down" if v == "true" || v == "false" => format!("default_down: {v}"),
                "type" if v == "http" || v == "tcp" => format!("type: {v}"),
                "type" => {
                    return Err(c.error(format!(
                        "check type={v}: only http and tcp checks are supported"
                    )))
                }
                _ => return Err(c.error(format!("check: invalid parameter \"{a}\""))),
            };
            self.out.line(3, &line, Some(c));
        }
        if let Some(x) = body.iter().find(|x| x.name == "check_http_send") {
            n_args(x, 1..=1)?;
            self.out.kv(3, "send", &x.args[0], Some(x));
        }
        if let Some(x) = body.iter().find(|x| x.name == "check_http_expect_alive") {
            for a in &x.args {
                if !matches!(
                    a.as_str(),
                    "http_2xx" | "http_3xx" | "http_4xx" | "http_5xx"
                ) {
                    return Err(x.error(format!(
                        "check_http_expect_alive: invalid status class \"{a}\""
                    )));
                }
            }
            self.out.line(
                3,
                &format!("expect_alive: [{}]", x.args.join(", ")),
                Some(x),
            );
        }
        Ok(())
    }

    /// `sticky cookie NAME [expires=T] [domain=D] [path=P] [httponly] [secure] [samesite=S]`.
    fn sticky(&mut self, d: &Directive) -> Result<(), ConfigError> {
        let [kind, name, params @ ..] = d.args.as_slice() else {
            return Err(d.error("\"sticky\": expected `sticky cookie NAME ...`"));
        };
        if kind != "cookie" {
            return Err(d.error(format!("sticky {kind}: only `sticky cookie` is supported")));
        }
        self.out.line(2, "sticky:", Some(d));
        self.out.kv(3, "cookie", name, Some(d));
        for p in params {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            match k {
                "expires" if v == "max" => self.out.kv(3, "expires", "315360000s", Some(d)),
                "expires" => {
                    let t = time_arg(d, v)?;
                    self.out.kv(3, "expires", &t, Some(d));
                }
                "domain" | "path" => self.out.kv(3, k, v, Some(d)),
                "httponly" | "secure" if v.is_empty() => {
                    self.out.line(3, &format!("{k}: true"), Some(d))
                }
                "samesite" if matches!(v, "strict" | "lax" | "none") => {
                    self.out.kv(3, k, v, Some(d))
                }
                _ => return Err(d.error(format!("sticky: invalid parameter \"{p}\""))),
            }
        }
        Ok(())
    }

    /// `openclaw_leader REDIS_URL [key=K] [on_change=keep|close] [refresh=T]`:
    /// ours, not nginx's (nginx refuses it), for configs run by the edge only.
    fn leader(&mut self, d: &Directive) -> Result<(), ConfigError> {
        let Some((url, params)) = d.args.split_first() else {
            return Err(d.error(
                "\"openclaw_leader\": expected `openclaw_leader redis://HOST:PORT [key=K] [on_change=keep|close] [refresh=T]`",
            ));
        };
        self.out.line(2, "leader:", Some(d));
        self.out.kv(3, "redis", url, Some(d));
        for p in params {
            match p.split_once('=') {
                Some(("key", v)) => self.out.kv(3, "key", v, Some(d)),
                Some(("on_change", v)) if v == "keep" || v == "close" => {
                    self.out.kv(3, "on_change", v, Some(d))
                }
                Some(("refresh", v)) => {
                    let t = time_arg(d, v)?;
                    self.out.kv(3, "refresh", &t, Some(d));
                }
                _ => return Err(d.error(format!("openclaw_leader: invalid parameter \"{p}\""))),
            }
        }
        Ok(())
    }

    /// `map SOURCE $NAME { default V; KEY V; ~REGEX V; }`.
    pub(super) fn map(&mut self, d: &Directive) -> Result<(), ConfigError> {
        let [source, var] = d.args.as_slice() else {
            return Err(d.error("invalid number of arguments in \"map\" directive"));
        };
        let Some(name) = var.strip_prefix('$') else {
            return Err(d.error(format!("map: invalid variable name \"{var}\"")));
        };
        self.out.line(1, &format!("{}:", scalar(name)), Some(d));
        self.out.kv(2, "source", source, Some(d));
        let mut entries = Vec::new();
        for x in d.children() {
            match (x.name.as_str(), x.args.as_slice()) {
                ("default", [v]) => self.out.kv(2, "default", v, Some(x)),
                ("hostnames", []) => return Err(x.error("map: \"hostnames\" is not supported")),
                ("volatile", []) => {}
                ("include", _) => return Err(x.error("map: include inside a map is not supported")),
                (_, [v]) => entries.push((x, x.name.as_str(), v)),
                _ => {
                    return Err(x.error(
                        "invalid number of parameters in a map line: expected `KEY VALUE;`",
                    ))
                }
            }
        }
        if entries.is_empty() {
            self.out.line(2, "values: []", Some(d));
            return Ok(());
        }
        self.out.line(2, "values:", Some(d));
        for (x, k, v) in entries {
            self.out.line(
                3,
                &format!("- {{ match: {}, value: {} }}", scalar(k), scalar(v)),
                Some(x),
            );
        }
        Ok(())
    }
}

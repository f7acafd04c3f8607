//! nginx's client-side directives (`client_*`, `keepalive_*`,
//! `send_timeout`, `large_client_header_buffers`, `underscores_in_headers`)
//! -> a server's `client:` section, and `client_max_body_size` of a
//! location -> its own key.

use super::parse::Directive;
use super::translate::{n_args, nearest, time_arg, Translator};
use crate::config::{parse_size, ConfigError, HeaderBuffers};

/// How an argument is read.
#[derive(Clone, Copy)]
enum Arg {
    Time,
    Count,
    Size,
    Buffers,
    Flag,
}

/// nginx directive, key under `client:`, argument.
const CLIENT: [(&str, &str, Arg); 8] = [
    ("client_header_timeout", "header_timeout", Arg::Time),
    ("client_body_timeout", "body_timeout", Arg::Time),
    ("send_timeout", "send_timeout", Arg::Time),
    ("keepalive_timeout", "keepalive_timeout", Arg::Time),
    ("keepalive_requests", "keepalive_requests", Arg::Count),
    ("client_max_body_size", "max_body_size", Arg::Size),
    (
        "large_client_header_buffers",
        "header_buffers",
        Arg::Buffers,
    ),
    (
        "underscores_in_headers",
        "underscores_in_headers",
        Arg::Flag,
    ),
];

/// Whether `name` is one of the client directives.
pub(super) fn is_client(name: &str) -> bool {
    CLIENT.iter().any(|(n, _, _)| *n == name)
}

/// The client directives in force at a level: each from the nearest level
/// that sets it, as nginx merges them.
#[derive(Clone, Default)]
pub(super) struct ClientSet<'a>([Option<&'a Directive>; 8]);

impl<'a> ClientSet<'a> {
    /// The set of a level: its own directives where it has them, else `self`'s.
    pub(super) fn merge(&self, level: &'a [Directive]) -> ClientSet<'a> {
        ClientSet(nearest(&self.0, &CLIENT.map(|(name, _, _)| name), level))
    }

    /// The `client_max_body_size` in force.
    pub(super) fn max_body_size(&self) -> Option<&'a Directive> {
        self.0[5]
    }
}

/// The YAML value of a client directive.
fn value(d: &Directive, arg: Arg) -> Result<String, ConfigError> {
    match (arg, d.name.as_str()) {
        (Arg::Buffers, _) => n_args(d, 2..=2)?,
        // nginx's optional second argument sets a `Keep-Alive: timeout=` header.
        (_, "keepalive_timeout") => n_args(d, 1..=2)?,
        _ => n_args(d, 1..=1)?,
    }
    let a = &d.args[0];
    let bad = |e: String| d.error(format!("\"{}\": {e}", d.name));
    match arg {
        Arg::Time => time_arg(d, a),
        Arg::Count => a
            .parse::<u64>()
            .map(|n| n.to_string())
            .map_err(|_| bad(format!("invalid number \"{a}\""))),
        Arg::Size => parse_size(a).map(|_| a.clone()).map_err(bad),
        Arg::Buffers => {
            let text = format!("{} {}", d.args[0], d.args[1]);
            text.parse::<HeaderBuffers>().map(|_| text).map_err(bad)
        }
        Arg::Flag => match a.as_str() {
            "on" => Ok("true".into()),
            "off" => Ok("false".into()),
            _ => Err(bad(format!("expected on or off, not \"{a}\""))),
        },
    }
}

impl Translator<'_> {
    /// A server's `client:` section, when any client directive is in force.
    pub(super) fn emit_client(&mut self, set: &ClientSet) {
        if set.0.iter().all(Option::is_none) {
            return;
        }
        self.out.line(2, "client:", None);
        for (d, (_, key, arg)) in set.0.iter().zip(CLIENT) {
            let Some(d) = d else { continue };
            if d.name == "keepalive_timeout" && d.args.len() == 2 {
                self.warn(d, "keepalive_timeout: the second argument (the Keep-Alive header's timeout) is ignored".into());
            }
            match value(d, arg) {
                Ok(v) if matches!(arg, Arg::Count | Arg::Flag) => {
                    self.out.line(3, &format!("{key}: {v}"), Some(d))
                }
                Ok(v) => self.out.kv(3, key, &v, Some(d)),
                Err(e) => self.fail(e),
            }
        }
    }

    /// A location's own `client_max_body_size` (one set in its body); the
    /// other client directives apply per server in the edge.
    pub(super) fn emit_location_client(&mut self, set: &ClientSet, body: &[Directive]) {
        for x in body
            .iter()
            .filter(|x| is_client(&x.name) && x.name != "client_max_body_size")
        {
            self.warn(
                x,
                format!(
                    "{} in a location: the edge applies it per server; set it in the server block",
                    x.name
                ),
            );
        }
        let own = set
            .max_body_size()
            .filter(|d| body.iter().any(|x| std::ptr::eq(x, *d)));
        if let Some(d) = own {
            match value(d, Arg::Size) {
                Ok(v) => self.out.kv(4, "client_max_body_size", &v, Some(d)),
                Err(e) => self.fail(e),
            }
        }
    }
}

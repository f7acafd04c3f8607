//! `openclaw-edge ctl`: the runtime API from the shell. Each command is one
//! HTTP/1.1 request to the admin listener (blocking, bounded in time), and
//! its answer printed for a person: a table of upstreams, or the server a
//! change was made to. Errors say what failed, where, and what to do.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The admin address `ctl` uses when neither `--admin` nor a config names one.
pub const DEFAULT_ADMIN: &str = "127.0.0.1:9901";

/// The environment variable holding the admin token.
pub const TOKEN_ENV: &str = "OPENCLAW_EDGE_ADMIN_TOKEN";

/// How long connecting, and then the whole answer, may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// List every upstream and server (`json`: the API's JSON as it is).
    Upstreams {
        /// Print JSON instead of a table.
        json: bool,
    },
    /// Change one server: a PATCH body.
    Patch {
        /// The upstream's name.
        upstream: String,
        /// The server: its id, or as written in the config.
        server: String,
        /// `{"drain": true}` and the like.
        body: Value,
    },
}

/// Where the admin listener is and how to get in.
#[derive(Debug, Clone)]
pub struct Ctl {
    /// `host:port` of the admin listener.
    pub admin: String,
    /// The admin token, if any.
    pub token: Option<String>,
    /// Where `admin` came from, for error messages (`--admin`, a config file ...).
    pub admin_from: String,
}

/// Percent-encodes one path segment (a server written `host:port` stays readable).
fn segment(text: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b':');
    percent_encoding::utf8_percent_encode(text, KEEP).to_string()
}

impl Ctl {
    /// Runs `op`; the text to print, or an error to print on stderr.
    pub fn run(&self, op: &Op) -> Result<String, String> {
        match op {
            Op::Upstreams { json } => {
                let v = self.call("GET", "/api/upstreams", None)?;
                Ok(if *json {
                    serde_json::to_string_pretty(&v).expect("JSON")
                } else {
                    table(&v)
                })
            }
            Op::Patch {
                upstream,
                server,
                body,
            } => {
                let path = format!(
                    "/api/upstreams/{}/servers/{}",
                    segment(upstream),
                    segment(server)
                );
                let s = self.call("PATCH", &path, Some(body))?;
                Ok(format!(
                    "upstream {upstream} server {} (id {}): {} now: state {}, weight {}, drain {}, down {}",
                    s["server"].as_str().unwrap_or("?"),
                    s["id"],
                    body,
                    s["state"].as_str().unwrap_or("?"),
                    s["weight"],
                    s["drain"],
                    s["down"],
                ))
            }
        }
    }

    /// One request; the JSON of a 2xx answer, or an error that says what to do.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let url = format!("http://{}{path}", self.admin);
        let (status, text) = self
            .exchange(method, path, body)
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let json: Option<Value> = serde_json::from_str(&text).ok();
        if (200..300).contains(&status) {
            return json.ok_or_else(|| format!("{method} {url}: the answer is not JSON: {text}"));
        }
        let err = json.as_ref().map(|j| &j["error"]);
        let (code, why) = match err {
            Some(e) if e.is_object() => (
                e["code"].as_str().unwrap_or("").to_string(),
                e["text"].as_str().unwrap_or("").to_string(),
            ),
            _ => (String::new(), text.trim().to_string()),
        };
        let hint = match status {
            401 => format!("; pass --token TOKEN or set {TOKEN_ENV} (the config's admin.token)"),
            404 if code == "PathNotFound" || code.is_empty() => format!(
                "; is {} ({}) an openclaw-edge admin listener of this version?",
                self.admin, self.admin_from
            ),
            _ => String::new(),
        };
        Err(format!("{method} {url}: {status} {code}: {why}{hint}"))
    }

    /// Sends the request and reads the whole answer: status and body.
    fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, String), String> {
        let addrs: Vec<SocketAddr> = self
            .admin
            .to_socket_addrs()
            .map_err(|e| {
                format!(
                    "bad admin address `{}` ({}): {e}; write HOST:PORT",
                    self.admin, self.admin_from
                )
            })?
            .collect();
        let unreachable = |e: std::io::Error| {
            format!(
                "cannot reach the admin listener at {} ({}): {e}; is the edge running? \
                 Name its admin listener with --admin ADDR or -c CONFIG",
                self.admin, self.admin_from
            )
        };
        let addr = addrs
            .first()
            .ok_or_else(|| unreachable(std::io::Error::other("the name resolves to no address")))?;
        let mut stream = TcpStream::connect_timeout(addr, TIMEOUT).map_err(unreachable)?;
        stream
            .set_read_timeout(Some(TIMEOUT))
            .map_err(unreachable)?;
        stream
            .set_write_timeout(Some(TIMEOUT))
            .map_err(unreachable)?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: application/json\r\n",
            self.admin
        );
        if let Some(t) = &self.token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        if method != "GET" {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        stream
            .write_all(format!("{head}{body}").as_bytes())
            .map_err(unreachable)?;
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .map_err(|e| format!("reading the answer from {}: {e}", self.admin))?;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&answer) {
            Ok(httparse::Status::Complete(n)) => Ok((
                resp.code.unwrap_or(0),
                String::from_utf8_lossy(&answer[n..]).into_owned(),
            )),
            _ => Err(format!(
                "{} did not answer HTTP ({} bytes); is it an admin listener?",
                self.admin,
                answer.len()
            )),
        }
    }
}

/// The admin listener and token a config file names, as `ctl` reaches them:
/// a wildcard address (`0.0.0.0`, `::`) is reached on loopback.
pub fn from_config(path: &str, config: &crate::config::Config) -> Result<Ctl, String> {
    let Some(mut addr) = config.admin.listen.0 else {
        return Err(format!(
            "{path}: admin.listen is off, so there is no runtime API to call; \
             turn it on (e.g. admin: {{ listen: {DEFAULT_ADMIN} }}) and restart the edge"
        ));
    };
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    Ok(Ctl {
        admin: addr.to_string(),
        token: config.admin.token.clone(),
        admin_from: format!("admin.listen of {path}"),
    })
}

/// `GET /api/upstreams` as a table per upstream.
pub fn table(all: &Value) -> String {
    let mut out = String::new();
    let Some(ups) = all.as_object() else {
        return format!("{all}\n");
    };
    for (name, u) in ups {
        out.push_str(&format!(
            "upstream {name} ({}{})\n",
            u["balance"].as_str().unwrap_or("?"),
            u["sticky"]
                .as_str()
                .map(|c| format!(", sticky cookie {c}"))
                .unwrap_or_default()
        ));
        let mut rows = vec![[
            "ID",
            "SERVER",
            "ADDRESS",
            "STATE",
            "WEIGHT",
            "INFLIGHT",
            "TUNNELS",
            "REQUESTS",
            "LAST CHECK",
        ]
        .map(String::from)];
        for s in u["servers"].as_array().into_iter().flatten() {
            let mut state = s["state"].as_str().unwrap_or("?").to_string();
            if s["drain"] == true && state != "draining" {
                state.push_str("+drain");
            }
            if s["backup"] == true {
                state.push_str(" (backup)");
            }
            let mut weight = s["weight"].to_string();
            if s["weight"] != s["config"]["weight"] {
                weight.push_str(&format!(" (file {})", s["config"]["weight"]));
            }
            let check = match &s["health"]["last"] {
                Value::Object(c) => c["result"].as_str().unwrap_or("?").to_string(),
                _ if s["health"].is_null() => "-".to_string(),
                _ => "pending".to_string(),
            };
            rows.push([
                s["id"].to_string(),
                s["server"].as_str().unwrap_or("?").to_string(),
                s["address"].as_str().unwrap_or("?").to_string(),
                state,
                weight,
                s["inflight"].to_string(),
                s["tunnels"].to_string(),
                s["requests"].to_string(),
                check,
            ]);
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
            .collect();
        for r in &rows {
            let line: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            out.push_str(&format!("  {}\n", line.join("  ").trim_end()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_stay_readable_in_paths() {
        assert_eq!(segment("127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
    }
}

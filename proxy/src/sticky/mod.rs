//! Sticky sessions by cookie (nginx `sticky cookie NAME expires= domain=
//! path= httponly secure samesite=`): the cookie names the server a client
//! stays on. Its value is nginx's: the hex MD5 of the server's `ip:port`, or
//! the server's `route` when it has one. A missing, unknown or dead server's
//! cookie falls back to the upstream's method and gets a new cookie.

use crate::balance::Pick;
use crate::config::{SameSite, StickyCookie};
use md5::{Digest, Md5};
use std::collections::HashMap;
use std::net::SocketAddr;

/// An upstream's cookie and the servers its values name.
#[derive(Debug)]
pub struct Sticky {
    /// Cookie name.
    pub name: String,
    /// `; Max-Age=..; Path=..` etc., appended to every Set-Cookie.
    attributes: String,
    /// Cookie value -> server.
    by_value: HashMap<String, Pick>,
}

/// nginx's cookie value for a server: hex MD5 of `ip:port`, or the route.
pub fn cookie_value(addr: SocketAddr, route: Option<&str>) -> String {
    match route {
        Some(r) => r.to_string(),
        None => {
            let digest = Md5::digest(addr.to_string().as_bytes());
            digest.iter().map(|b| format!("{b:02x}")).collect()
        }
    }
}

impl Sticky {
    /// The cookie of `conf` over servers whose cookie values are `values`.
    pub fn new(conf: &StickyCookie, values: impl IntoIterator<Item = (String, Pick)>) -> Self {
        let mut attributes = String::new();
        if let Some(e) = conf.expires {
            attributes.push_str(&format!("; Max-Age={}", e.0.as_secs()));
        }
        if let Some(d) = &conf.domain {
            attributes.push_str(&format!("; Domain={d}"));
        }
        attributes.push_str(&format!("; Path={}", conf.path));
        if conf.httponly {
            attributes.push_str("; HttpOnly");
        }
        if conf.secure {
            attributes.push_str("; Secure");
        }
        if let Some(s) = conf.samesite {
            attributes.push_str(match s {
                SameSite::Strict => "; SameSite=Strict",
                SameSite::Lax => "; SameSite=Lax",
                SameSite::None => "; SameSite=None",
            });
        }
        Sticky {
            name: conf.cookie.clone(),
            attributes,
            by_value: values.into_iter().collect(),
        }
    }

    /// The server named by this cookie in a request's `Cookie` headers.
    pub fn lookup<'a>(&self, cookie_headers: impl Iterator<Item = &'a str>) -> Option<Pick> {
        cookie_headers
            .flat_map(|h| h.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == self.name)
            .and_then(|(_, v)| self.by_value.get(v.trim_matches('"')).copied())
    }

    /// The Set-Cookie value that pins a client to the server with `value`.
    pub fn set_cookie(&self, value: &str) -> String {
        format!("{}={value}{}", self.name, self.attributes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::TierKind;
    use crate::config::ConfDuration;

    fn conf() -> StickyCookie {
        StickyCookie {
            cookie: "openclaw_route".into(),
            expires: Some(ConfDuration::secs(3600)),
            domain: None,
            path: "/".into(),
            httponly: true,
            secure: false,
            samesite: Some(SameSite::Lax),
        }
    }

    #[test]
    fn value_is_md5_of_ip_port() {
        // echo -n 127.0.0.1:18789 | md5sum
        assert_eq!(
            cookie_value("127.0.0.1:18789".parse().unwrap(), None),
            "80bea2a0cdaf56e9a121d0ccd143f23f"
        );
        assert_eq!(cookie_value("127.0.0.1:1".parse().unwrap(), Some("a")), "a");
    }

    #[test]
    fn finds_the_cookie_among_others() {
        let p = Pick {
            tier: TierKind::Primary,
            index: 1,
        };
        let s = Sticky::new(&conf(), [("abc".to_string(), p)]);
        assert_eq!(
            s.lookup(["x=1; openclaw_route=abc; y=2"].into_iter()),
            Some(p)
        );
        assert_eq!(s.lookup(["openclaw_route=zzz"].into_iter()), None);
        assert_eq!(
            s.lookup(["a=1", "openclaw_route=\"abc\""].into_iter()),
            Some(p)
        );
        assert_eq!(
            s.set_cookie("abc"),
            "openclaw_route=abc; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax"
        );
    }
}

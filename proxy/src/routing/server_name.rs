//! `server_name` patterns and nginx's precedence among virtual servers.

use regex::Regex;
use std::collections::HashMap;

/// One `server_name` entry.
#[derive(Debug, Clone)]
pub enum NamePattern {
    /// `example.com` (case-insensitive).
    Exact(String),
    /// `*.example.com` (stored as `.example.com`); `.example.com` also
    /// matches `example.com` itself.
    Front { suffix: String, also_bare: bool },
    /// `www.example.*` (stored as `www.example.`).
    Back(String),
    /// `~regex`.
    Regex(Regex),
}

impl NamePattern {
    /// Parses one name as nginx writes it.
    pub fn parse(text: &str) -> Result<NamePattern, String> {
        let lower = text.to_ascii_lowercase();
        if let Some(re) = text.strip_prefix('~') {
            return Regex::new(re)
                .map(NamePattern::Regex)
                .map_err(|e| format!("server_name `{text}`: invalid regex: {e}"));
        }
        if let Some(rest) = lower.strip_prefix("*.") {
            return Ok(NamePattern::Front {
                suffix: format!(".{rest}"),
                also_bare: false,
            });
        }
        if lower.starts_with('.') && lower.len() > 1 {
            return Ok(NamePattern::Front {
                suffix: lower,
                also_bare: true,
            });
        }
        if let Some(rest) = lower.strip_suffix(".*") {
            return Ok(NamePattern::Back(format!("{rest}.")));
        }
        if lower.contains('*') {
            return Err(format!(
                "server_name `{text}`: a wildcard may only be `*.name` or `name.*`; use `~regex` otherwise"
            ));
        }
        Ok(NamePattern::Exact(lower))
    }
}

/// The virtual servers of one listener, indexed for nginx's precedence.
#[derive(Debug, Default)]
pub struct NameTable {
    exact: HashMap<String, usize>,
    /// (suffix, also_bare, server), longest suffix first.
    front: Vec<(String, bool, usize)>,
    /// (prefix, server), longest first.
    back: Vec<(String, usize)>,
    regex: Vec<(Regex, usize)>,
    default: usize,
}

impl NameTable {
    /// Indexes `servers` (each a list of names); `default` serves unmatched hosts.
    /// The first server to claim a name keeps it, as nginx (which warns).
    pub fn new(servers: &[Vec<NamePattern>], default: usize) -> NameTable {
        let mut t = NameTable {
            default,
            ..Default::default()
        };
        for (i, names) in servers.iter().enumerate() {
            for n in names {
                match n {
                    NamePattern::Exact(s) => {
                        t.exact.entry(s.clone()).or_insert(i);
                    }
                    NamePattern::Front { suffix, also_bare } => {
                        t.front.push((suffix.clone(), *also_bare, i))
                    }
                    NamePattern::Back(p) => t.back.push((p.clone(), i)),
                    NamePattern::Regex(re) => t.regex.push((re.clone(), i)),
                }
            }
        }
        t.front.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        t.back.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        t
    }

    /// The server for a client that names no host (a TLS handshake without SNI).
    pub fn default_server(&self) -> usize {
        self.default
    }

    /// The server for `host` (lowercase, without port).
    pub fn find(&self, host: &str) -> usize {
        if self.exact.is_empty()
            && self.front.is_empty()
            && self.back.is_empty()
            && self.regex.is_empty()
        {
            return self.default;
        }
        let host = host.trim_end_matches('.');
        if let Some(i) = self.exact.get(host) {
            return *i;
        }
        for (suffix, also_bare, i) in &self.front {
            if (host.ends_with(suffix.as_str()) && host.len() > suffix.len())
                || (*also_bare && host == &suffix[1..])
            {
                return *i;
            }
        }
        if let Some((_, i)) = self
            .back
            .iter()
            .find(|(p, _)| host.starts_with(p.as_str()) && host.len() > p.len())
        {
            return *i;
        }
        if let Some((_, i)) = self.regex.iter().find(|(re, _)| re.is_match(host)) {
            return *i;
        }
        self.default
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(ns: &[&str]) -> Vec<NamePattern> {
        ns.iter().map(|n| NamePattern::parse(n).unwrap()).collect()
    }

    #[test]
    fn nginx_precedence() {
        let t = NameTable::new(
            &[
                names(&["default.test"]),
                names(&["~^www\\..*\\.org$"]),
                names(&["www.example.*"]),
                names(&["*.example.org"]),
                names(&["www.example.org"]),
                names(&[".example.net"]),
            ],
            0,
        );
        assert_eq!(t.find("www.example.org"), 4, "exact beats all");
        assert_eq!(t.find("mail.example.org"), 3, "front wildcard");
        assert_eq!(t.find("www.example.com"), 2, "back wildcard");
        assert_eq!(t.find("www.other.org"), 1, "regex");
        assert_eq!(t.find("example.net"), 5, "dot form matches the bare name");
        assert_eq!(t.find("a.example.net"), 5);
        assert_eq!(t.find("unknown.test"), 0, "default server");
    }

    #[test]
    fn bad_wildcards_are_errors() {
        assert!(NamePattern::parse("w*w.example.com").is_err());
        assert!(NamePattern::parse("~(").is_err());
    }
}

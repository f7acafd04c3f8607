//! Location patterns and nginx's search order.

use regex::{Regex, RegexBuilder};
use std::collections::HashMap;

/// One `location` pattern, parsed from nginx syntax.
#[derive(Debug, Clone)]
pub enum LocationPattern {
    /// `= /path`: this path only; wins immediately.
    Exact(String),
    /// `/path` or `^~ /path`: longest prefix; `^~` skips the regex search.
    Prefix {
        /// The prefix.
        path: String,
        /// `^~`: when this is the longest prefix, regexes are not consulted.
        stop_regex: bool,
    },
    /// `~ re` (case-sensitive) or `~* re` (insensitive), first match in order.
    Regex(Regex),
}

impl LocationPattern {
    /// Parses `= /x`, `^~ /x`, `~ re`, `~* re` or `/x`.
    pub fn parse(text: &str) -> Result<LocationPattern, String> {
        let text = text.trim();
        let (modifier, rest) = match text.split_once(char::is_whitespace) {
            Some((m @ ("=" | "^~" | "~" | "~*"), rest)) => (m, rest.trim()),
            _ => ("", text),
        };
        if rest.is_empty() {
            return Err(format!("location `{text}`: missing the path or pattern"));
        }
        Ok(match modifier {
            "=" => LocationPattern::Exact(rest.to_string()),
            "^~" => LocationPattern::Prefix {
                path: rest.to_string(),
                stop_regex: true,
            },
            "~" | "~*" => LocationPattern::Regex(
                RegexBuilder::new(rest)
                    .case_insensitive(modifier == "~*")
                    .build()
                    .map_err(|e| format!("location `{text}`: invalid regex: {e}"))?,
            ),
            _ => {
                if rest.starts_with('~') || rest.starts_with('=') || rest.starts_with("^~") {
                    return Err(format!(
                        "location `{text}`: put a space between the modifier and the pattern, e.g. `~ ^/api`"
                    ));
                }
                LocationPattern::Prefix {
                    path: rest.to_string(),
                    stop_regex: false,
                }
            }
        })
    }

    /// For a prefix location, the prefix (used to rewrite the URI for `proxy_pass` with a path).
    pub fn prefix(&self) -> Option<&str> {
        match self {
            LocationPattern::Exact(p) | LocationPattern::Prefix { path: p, .. } => Some(p),
            LocationPattern::Regex(_) => None,
        }
    }
}

/// The locations of one virtual server, indexed for nginx's search.
#[derive(Debug, Default)]
pub struct LocationTable {
    exact: HashMap<String, usize>,
    /// (prefix, stop_regex, index), longest first.
    prefixes: Vec<(String, bool, usize)>,
    regexes: Vec<(Regex, usize)>,
    /// Locations ending in `/` that proxy: a request for the same path
    /// without the slash is redirected to it (nginx's `auto_redirect`).
    add_slash: std::collections::HashSet<String>,
}

/// What a path finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The location at this index.
    Location(usize),
    /// A 301 to the path with `/` appended.
    AddSlash,
}

impl LocationTable {
    /// Indexes `patterns`; a duplicate exact or prefix location is an error
    /// naming the pattern, as nginx's "duplicate location".
    pub fn new(patterns: &[LocationPattern]) -> Result<LocationTable, String> {
        let mut t = LocationTable::default();
        for (i, p) in patterns.iter().enumerate() {
            match p {
                LocationPattern::Exact(path) => {
                    if t.exact.insert(path.clone(), i).is_some() {
                        return Err(format!("duplicate location `= {path}`"));
                    }
                }
                LocationPattern::Prefix { path, stop_regex } => {
                    if t.prefixes.iter().any(|(q, _, _)| q == path) {
                        return Err(format!("duplicate location `{path}`"));
                    }
                    t.prefixes.push((path.clone(), *stop_regex, i));
                }
                LocationPattern::Regex(re) => t.regexes.push((re.clone(), i)),
            }
        }
        t.prefixes.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        Ok(t)
    }

    /// Marks the location at `index` as one that redirects `PATH` to
    /// `PATH/` (it proxies, and its path ends with `/`).
    pub fn auto_redirect(&mut self, pattern: &LocationPattern) {
        if let Some(p) = pattern.prefix().and_then(|p| p.strip_suffix('/')) {
            self.add_slash.insert(p.to_string());
        }
    }

    /// What serves `path`, as nginx would choose it.
    pub fn find(&self, path: &str) -> Option<Found> {
        if let Some(i) = self.exact.get(path) {
            return Some(Found::Location(*i));
        }
        if self.add_slash.contains(path) {
            return Some(Found::AddSlash);
        }
        self.find_location(path).map(Found::Location)
    }

    fn find_location(&self, path: &str) -> Option<usize> {
        let longest = self
            .prefixes
            .iter()
            .find(|(p, _, _)| path.starts_with(p.as_str()));
        if let Some((_, true, i)) = longest {
            return Some(*i);
        }
        if let Some((_, i)) = self.regexes.iter().find(|(re, _)| re.is_match(path)) {
            return Some(*i);
        }
        longest.map(|(_, _, i)| *i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(ps: &[&str]) -> LocationTable {
        let pats: Vec<_> = ps
            .iter()
            .map(|p| LocationPattern::parse(p).unwrap())
            .collect();
        LocationTable::new(&pats).unwrap()
    }

    #[test]
    fn nginx_order() {
        // The example of nginx's documentation, configurations A..E.
        let t = table(&[
            "= /",
            "/",
            "/documents/",
            "^~ /images/",
            "~* \\.(gif|jpg|jpeg)$",
        ]);
        assert_eq!(t.find("/"), Some(Found::Location(0)));
        assert_eq!(t.find("/index.html"), Some(Found::Location(1)));
        assert_eq!(t.find("/documents/document.html"), Some(Found::Location(2)));
        assert_eq!(t.find("/images/1.gif"), Some(Found::Location(3)));
        assert_eq!(t.find("/documents/1.jpg"), Some(Found::Location(4)));
    }

    #[test]
    fn no_match_without_a_root() {
        let t = table(&["/api/"]);
        assert_eq!(t.find("/other"), None);
    }

    #[test]
    fn errors_are_explained() {
        assert!(LocationPattern::parse("~^/x")
            .unwrap_err()
            .contains("space"));
        assert!(LocationPattern::parse("~ (")
            .unwrap_err()
            .contains("invalid regex"));
        let pats = [
            LocationPattern::parse("/a").unwrap(),
            LocationPattern::parse("/a").unwrap(),
        ];
        assert!(LocationTable::new(&pats).unwrap_err().contains("duplicate"));
    }
}

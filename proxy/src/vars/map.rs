//! nginx's `map`: a variable whose value is chosen by what another
//! expands to. Exact strings are looked up first, then the regexes in the
//! order written, then the default, as nginx does without `hostnames`.

use super::{RequestVars, Template};
use crate::config::MapVar;
use regex::Regex;
use std::collections::HashMap;

/// One compiled map.
#[derive(Debug)]
pub struct MapTable {
    source: Template,
    exact: HashMap<String, Template>,
    regexes: Vec<(Regex, Template)>,
    default: Template,
}

impl MapTable {
    /// Compiles a validated map.
    pub fn new(m: &MapVar) -> MapTable {
        let mut exact = HashMap::new();
        let mut regexes = Vec::new();
        for e in &m.values {
            match e.pattern.strip_prefix('~') {
                Some(re) => {
                    let re = match re.strip_prefix('*') {
                        Some(ci) => format!("(?i){ci}"),
                        None => re.to_string(),
                    };
                    regexes.push((Regex::new(&re).expect("validated"), e.value.clone()));
                }
                None => {
                    // nginx keeps the first of two equal keys.
                    let key = e.pattern.strip_prefix('\\').unwrap_or(&e.pattern);
                    exact
                        .entry(key.to_string())
                        .or_insert_with(|| e.value.clone());
                }
            }
        }
        MapTable {
            source: m.source.clone(),
            exact,
            regexes,
            default: m.default.clone(),
        }
    }

    /// Appends the value for `req` to `out`.
    pub fn eval(&self, req: &dyn RequestVars, out: &mut String) {
        let key = self.source.expand(req);
        let value = self
            .exact
            .get(&key)
            .or_else(|| {
                self.regexes
                    .iter()
                    .find(|(re, _)| re.is_match(&key))
                    .map(|(_, v)| v)
            })
            .unwrap_or(&self.default);
        value.expand_into(req, out);
    }
}

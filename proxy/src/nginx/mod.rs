//! nginx configs as a drop-in: nginx's lexer and block parser (with
//! `include`), and a translation to the edge's YAML model with nginx's
//! semantics. Running an nginx file means translating it and loading the
//! YAML, so `openclaw-edge convert` prints exactly what runs; every error
//! and warning points at the nginx file and line.

mod client;
mod emit;
mod lexer;
mod parse;
mod policy;
mod ssl;
mod translate;
mod upstream;

pub use parse::{parse_str, Directive};

use crate::config::{self, ConfigError, ConfigErrors, Loaded};

/// An nginx config translated and loaded.
#[derive(Debug)]
pub struct Translated {
    /// The equivalent edge YAML (what `convert` prints).
    pub yaml: String,
    /// Directives ignored, each once, with file:line.
    pub warnings: Vec<ConfigError>,
    /// The loaded, validated model, its errors pointing into the nginx files.
    pub loaded: Loaded,
}

/// Parses, translates and validates nginx config `text` read from `path`.
/// With `strict`, an ignored directive is an error too.
pub fn load_str(path: &str, text: &str, strict: bool) -> Result<Translated, ConfigErrors> {
    let top = parse_str(path, text)?;
    let t = translate::Translator::run(path, &top);
    let mut errors = t.errors;
    if strict {
        errors.extend(t.warnings.iter().cloned().map(|mut w| {
            w.message = format!("{} (--strict)", w.message);
            w
        }));
    }
    if !errors.is_empty() {
        errors.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        return Err(ConfigErrors(errors));
    }
    let (yaml, origins) = t.emitter.finish();
    let loaded = config::load_translated(path, &yaml, origins)?;
    Ok(Translated {
        yaml,
        warnings: t.warnings,
        loaded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> String {
        load_str("t.conf", text, false)
            .unwrap_or_else(|e| panic!("{e}"))
            .yaml
    }

    fn error(text: &str) -> String {
        load_str("t.conf", text, false).unwrap_err().to_string()
    }

    const UP: &str = "upstream up { server 127.0.0.1:1; }\n";

    #[test]
    fn a_level_with_its_own_headers_drops_the_parents() {
        let y = yaml(&format!(
            "{UP}proxy_set_header X-A a;\nserver {{ listen 127.0.0.1:1;\n\
             location /own {{ proxy_pass http://up; proxy_set_header X-B b; }}\n\
             location /inherit {{ proxy_pass http://up; }} }}"
        ));
        let (own, inherit) = y.split_once("- path: /inherit").unwrap();
        assert!(own.contains("X-B: b") && !own.contains("X-A"), "{y}");
        assert!(
            inherit.contains("X-A: a") && !inherit.contains("X-B"),
            "{y}"
        );
        // nginx's own defaults stay under whatever is set.
        assert!(inherit.contains("Host: \"$proxy_host\"") && inherit.contains("Connection: close"));
    }

    #[test]
    fn nginx_defaults_are_written_out() {
        let y = yaml(&format!(
            "{UP}server {{ listen 127.0.0.1:1; location / {{ proxy_pass http://up; }} }}"
        ));
        assert!(y.contains("keepalive: 0"), "{y}");
        assert!(y.contains("http_version: \"1.0\""), "{y}");
    }

    #[test]
    fn openclaw_leader_follows_a_cluster_and_bad_values_point_at_the_line() {
        let conf = |line: &str| {
            format!(
                "upstream up {{ server 127.0.0.1:1;\n{line}\n}}\n\
                 server {{ listen 127.0.0.1:1; location / {{ proxy_pass http://up; }} }}"
            )
        };
        let y = yaml(&conf(
            "openclaw_leader redis://r:6379/0 key=k:lock on_change=close refresh=500ms;",
        ));
        for want in [
            "leader:",
            "redis: \"redis://r:6379/0\"",
            "key: \"k:lock\"",
            "on_change: close",
            "refresh: 500ms",
        ] {
            assert!(y.contains(want), "{want} in {y}");
        }
        assert_eq!(
            error(&conf("openclaw_leader redis://r on_change=drop;")),
            "t.conf:2: openclaw_leader: invalid parameter \"on_change=drop\""
        );
        let e = error(&conf("openclaw_leader http://r:6379;"));
        assert!(
            e.starts_with(
                "t.conf:2: upstreams.up.leader.redis: `http://r:6379` is not a Redis URL"
            ),
            "{e}"
        );
    }

    #[test]
    fn errors_point_into_the_nginx_file() {
        assert_eq!(
            error(&format!(
                "{UP}server {{ listen 127.0.0.1:1;\n location / {{ proxy_pass http://nope:x; }} }}"
            )),
            "t.conf:3: invalid port in \"nope:x\""
        );
        let e = error(
            "upstream up { server 127.0.0.1:1 weight=0; }\nserver { listen 127.0.0.1:1;\n location / { proxy_pass http://up; } }",
        );
        assert!(
            e.starts_with("t.conf:1: upstreams.up: server 127.0.0.1:1: weight must be at least 1"),
            "{e}"
        );
        let e = error("upstream up { server 127.0.0.1:1; }\n");
        assert!(e.starts_with("t.conf:1: no `server { ... }` block"), "{e}");
    }
}

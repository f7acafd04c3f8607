//! Where the config comes from and in which language: the edge's YAML or
//! an nginx config (by `--nginx`, a `.conf` name, or its look), plus the
//! command-line overrides that apply to either. Start, `-t`, reload and
//! `convert` all load through here, so they agree.

use crate::config::{self, ConfigError, ConfigErrors, ListenAddr, Loaded};
use std::path::Path;

/// A config file and how to read it.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    /// The file, as given.
    pub path: String,
    /// Read it as nginx whatever its name (`--nginx`).
    pub nginx: bool,
    /// Ignored nginx directives are errors (`--strict`).
    pub strict: bool,
    /// Replaces the admin listener (`--admin`).
    pub admin: Option<ListenAddr>,
}

/// A loaded config and the warnings it gave.
#[derive(Debug)]
pub struct Source {
    /// The validated model.
    pub loaded: Loaded,
    /// nginx directives that were ignored, with file:line.
    pub warnings: Vec<ConfigError>,
    /// The YAML it was translated to, for an nginx file.
    pub yaml: Option<String>,
}

/// nginx configs end their first statement with `;` or `{`; YAML does not.
fn looks_like_nginx(text: &str) -> bool {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .find(|l| !l.is_empty())
        .is_some_and(|l| l.ends_with(';') || l.ends_with('{'))
}

impl ConfigSource {
    /// A YAML-or-nginx source at `path` with no overrides.
    pub fn new(path: impl Into<String>) -> ConfigSource {
        ConfigSource {
            path: path.into(),
            ..ConfigSource::default()
        }
    }

    fn is_nginx(&self, text: &str) -> bool {
        match Path::new(&self.path).extension().and_then(|e| e.to_str()) {
            _ if self.nginx => true,
            Some("conf") => true,
            Some("yaml" | "yml") => false,
            _ => looks_like_nginx(text),
        }
    }

    /// Reads, translates if nginx, validates, and applies the overrides.
    pub fn load(&self) -> Result<Source, ConfigErrors> {
        let text = config::read(&self.path)?;
        let mut source = if self.is_nginx(&text) {
            let t = crate::nginx::load_str(&self.path, &text, self.strict)?;
            Source {
                loaded: t.loaded,
                warnings: t.warnings,
                yaml: Some(t.yaml),
            }
        } else {
            Source {
                loaded: config::load_str(&self.path, &text)?,
                warnings: Vec::new(),
                yaml: None,
            }
        };
        if let Some(admin) = self.admin {
            let c = &mut source.loaded.config;
            c.admin.listen = admin;
            if let Some(message) = config::unprotected_admin(&c.admin) {
                return Err(ConfigErrors(vec![ConfigError {
                    file: "--admin".into(),
                    line: None,
                    column: None,
                    message,
                }]));
            }
        }
        Ok(source)
    }
}

//! nginx configs as a drop-in: nginx's lexer and block parser (with
//! `include`), and a translation to the edge's YAML model with nginx's
//! semantics. Running an nginx file means translating it and loading the
//! YAML, so `openclaw-edge convert` prints exactly what runs; every error
//! and warning points at the nginx file and line.

mod emit;
mod lexer;
mod parse;
mod policy;
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
    let t = translate::Translator::run(&top);
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

/// [`load_str`] on the file at `path`.
pub fn load_file(path: &str, strict: bool) -> Result<Translated, ConfigErrors> {
    let text = config::read(path)?;
    load_str(path, &text, strict)
}

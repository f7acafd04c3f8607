//! The edge's own configuration: a YAML file read into [`Config`], checked
//! completely, with every error carrying `file:line` and the key.
//!
//! Data flows one way: this model -> [`crate::runtime`] tables -> the request path.

mod duration;
mod error;
mod model;
mod validate;

pub use duration::{parse_duration, ConfDuration};
pub use error::{ConfigError, ConfigErrors, Locator};
pub use model::*;

/// A parsed and validated config, with what is needed to point at its lines.
#[derive(Debug)]
pub struct Loaded {
    /// The model.
    pub config: Config,
    /// The source, for errors found later (address resolution).
    pub locator: Locator,
}

/// Reads, parses and validates the YAML file at `path`.
pub fn load_file(path: &str) -> Result<Loaded, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_string(),
            line: None,
            column: None,
            message: format!("cannot read the config: {e}"),
        }])
    })?;
    load_str(path, &text)
}

/// Parses and validates YAML `text` that came from `file`.
pub fn load_str(file: &str, text: &str) -> Result<Loaded, ConfigErrors> {
    let locator = Locator::new(file, text);
    let config: Config =
        serde_yaml::from_str(text).map_err(|e| ConfigErrors(vec![locator.from_yaml(&e)]))?;
    let errors = validate::validate(&config, &locator);
    if errors.is_empty() {
        Ok(Loaded { config, locator })
    } else {
        Err(ConfigErrors(errors))
    }
}

//! The edge's own configuration: a YAML file read into [`Config`], checked
//! completely, with every error carrying `file:line` and the key.
//!
//! Data flows one way: this model -> [`crate::runtime`] tables -> the request path.

mod duration;
mod error;
mod model;
mod size;
mod validate;

pub use duration::{parse_duration, ConfDuration};
pub use error::{ConfigError, ConfigErrors, Locator};
pub use model::*;
pub use size::{parse_size, ByteSize};
pub use validate::unprotected_admin;

/// A parsed and validated config, with what is needed to point at its lines.
#[derive(Debug)]
pub struct Loaded {
    /// The model.
    pub config: Config,
    /// The source, for errors found later (address resolution).
    pub locator: Locator,
}

/// The text of the config file at `path`.
pub fn read(path: &str) -> Result<String, ConfigErrors> {
    std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_string(),
            line: None,
            column: None,
            message: format!("cannot read the config: {e}"),
        }])
    })
}

/// Parses and validates YAML `text` that came from `file`.
pub fn load_str(file: &str, text: &str) -> Result<Loaded, ConfigErrors> {
    load_with(Locator::new(file, text), text)
}

/// Parses and validates YAML translated from the nginx config `file`;
/// `origins` gives the nginx file and line of each YAML line.
pub fn load_translated(
    file: &str,
    text: &str,
    origins: Vec<Option<(String, usize)>>,
) -> Result<Loaded, ConfigErrors> {
    load_with(Locator::new(file, text).with_origins(origins), text)
}

fn load_with(locator: Locator, text: &str) -> Result<Loaded, ConfigErrors> {
    let config: Config =
        serde_yaml::from_str(text).map_err(|e| ConfigErrors(vec![locator.from_yaml(&e)]))?;
    let errors = validate::validate(&config, &locator);
    if errors.is_empty() {
        Ok(Loaded { config, locator })
    } else {
        Err(ConfigErrors(errors))
    }
}

//! Config errors that say where: `file:line:column: what (and what to do)`.

use std::fmt;

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, as given on the command line.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong, naming the key.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message),
            (Some(l), None) => write!(f, "{}:{l}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Every problem found in one file, in file order.
#[derive(Debug, Clone, Default)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Finds where a value was written, for errors found after parsing (an
/// unknown upstream name, a server address that does not resolve). serde_yaml
/// keeps no positions once parsed, so this looks for the line that holds all
/// the given fragments; block-style YAML, which configs are written in, has
/// one key per line.
#[derive(Debug, Clone)]
pub struct Locator {
    file: String,
    source: String,
}

impl Locator {
    /// Wraps the text of `file`.
    pub fn new(file: impl Into<String>, source: impl Into<String>) -> Self {
        Locator {
            file: file.into(),
            source: source.into(),
        }
    }

    /// The file name errors carry.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The first line containing every fragment, 1-based.
    pub fn line_of(&self, fragments: &[&str]) -> Option<usize> {
        self.source
            .lines()
            .position(|l| {
                let code = l.split(" #").next().unwrap_or(l);
                fragments.iter().all(|f| code.contains(f))
            })
            .map(|i| i + 1)
    }

    /// An error at the line holding `fragments` (or at the file, if none does).
    pub fn error(&self, fragments: &[&str], message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: self.line_of(fragments),
            column: None,
            message: message.into(),
        }
    }

    /// Converts a serde_yaml error, moving its position into the prefix.
    pub fn from_yaml(&self, e: &serde_yaml::Error) -> ConfigError {
        let mut message = e.to_string();
        if let Some(i) = message.rfind(" at line ") {
            message.truncate(i);
        }
        let loc = e.location();
        ConfigError {
            file: self.file.clone(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            message,
        }
    }
}

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

fn strip_positions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(" at line ") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + " at line ".len()..];
        let skip = tail
            .find(" column ")
            .filter(|c| tail[..*c].bytes().all(|b| b.is_ascii_digit()))
            .map(|c| {
                c + " column ".len() + tail[c + 8..].bytes().take_while(u8::is_ascii_digit).count()
            });
        match skip {
            Some(n) => rest = &tail[n..],
            None => {
                out.push_str(" at line ");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Finds where a value was written, for errors found after parsing (an
/// unknown upstream name, a server address that does not resolve). serde_yaml
/// keeps no positions once parsed, so this looks for the line that holds all
/// the given fragments; block-style YAML, which configs are written in, has
/// one key per line.
#[derive(Debug, Clone)]
pub struct Locator {
    file: String,
    source: String,
    /// For YAML translated from nginx: the nginx file and line of each
    /// YAML line, so errors point at what the operator wrote.
    origins: Option<Vec<Option<(String, usize)>>>,
}

impl Locator {
    /// Wraps the text of `file`.
    pub fn new(file: impl Into<String>, source: impl Into<String>) -> Self {
        Locator {
            file: file.into(),
            source: source.into(),
            origins: None,
        }
    }

    /// Errors will be placed at `origins[line - 1]` instead of the YAML line.
    pub fn with_origins(mut self, origins: Vec<Option<(String, usize)>>) -> Self {
        self.origins = Some(origins);
        self
    }

    /// Moves an error at a YAML line to where that line came from.
    fn place(&self, mut err: ConfigError) -> ConfigError {
        if let Some(origins) = &self.origins {
            let origin = err
                .line
                .and_then(|l| origins.get(l.saturating_sub(1)).cloned().flatten())
                .or_else(|| origins.iter().flatten().next().cloned());
            if let Some((file, line)) = origin {
                err.file = file;
                err.line = Some(line);
            } else {
                err.line = Some(1);
            }
            err.column = None;
        }
        err
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
        self.place(ConfigError {
            file: self.file.clone(),
            line: self.line_of(fragments),
            column: None,
            message: message.into(),
        })
    }

    /// serde_yaml places a duplicate-key error at the start of the map; move it
    /// to the second definition and name the first.
    fn point_at_duplicate(&self, err: &mut ConfigError) {
        let Some(key) = err
            .message
            .split('`')
            .nth(1)
            .filter(|_| err.message.contains("is defined twice"))
        else {
            return;
        };
        let key_line = |l: &str| {
            let t = l.trim_start().trim_start_matches("- ");
            t.starts_with(&format!("{key}:")) || t.starts_with(&format!("\"{key}\":"))
        };
        let from = err.line.unwrap_or(1).saturating_sub(1);
        let hits: Vec<usize> = self
            .source
            .lines()
            .enumerate()
            .skip(from)
            .filter(|(_, l)| key_line(l))
            .map(|(i, _)| i + 1)
            .take(2)
            .collect();
        if let [first, second] = hits[..] {
            err.message = format!("{} (first defined on line {first})", err.message);
            err.line = Some(second);
            err.column = None;
        }
    }

    /// Converts a serde_yaml error, moving its position into the prefix.
    pub fn from_yaml(&self, e: &serde_yaml::Error) -> ConfigError {
        // The position goes in front; drop serde_yaml's own "at line L column C".
        let message = strip_positions(&e.to_string());
        let loc = e.location();
        let mut err = ConfigError {
            file: self.file.clone(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            message,
        };
        self.point_at_duplicate(&mut err);
        self.place(err)
    }
}

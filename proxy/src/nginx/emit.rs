//! Writing the edge's YAML while remembering, for every line written, the
//! nginx directive it came from: errors the YAML loader finds later are
//! reported at the nginx file and line.

use super::parse::Directive;

/// YAML text plus the nginx origin of each of its lines.
#[derive(Debug, Default)]
pub struct Emitter {
    text: String,
    origins: Vec<Option<(String, usize)>>,
}

/// A YAML scalar for `s`: as is when plain and unambiguous, else a
/// double-quoted string (JSON's escaping is valid YAML).
pub fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-'))
        && !s.starts_with(['-', '.'])
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        )
        && s.parse::<f64>().is_err();
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("a string serializes")
    }
}

impl Emitter {
    /// Writes one line at `indent` levels (two spaces each), from `from`.
    pub fn line(&mut self, indent: usize, text: &str, from: Option<&Directive>) {
        for _ in 0..indent {
            self.text.push_str("  ");
        }
        self.text.push_str(text);
        self.text.push('\n');
        self.origins.push(from.map(|d| (d.file.clone(), d.line)));
    }

    /// `key: value` with the value made a scalar.
    pub fn kv(&mut self, indent: usize, key: &str, value: &str, from: Option<&Directive>) {
        self.line(indent, &format!("{key}: {}", scalar(value)), from);
    }

    /// The YAML and the origin of each line.
    pub fn finish(self) -> (String, Vec<Option<(String, usize)>>) {
        (self.text, self.origins)
    }
}

//! The block structure of an nginx config, with `include` expanded in place:
//! a tree of [`Directive`]s, each knowing the file and line it came from.

use super::lexer::{End, Lexer};
use crate::config::{ConfigError, ConfigErrors};
use std::path::{Path, PathBuf};

/// One directive: `name args...;` or `name args... { block }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The directive name, e.g. `proxy_pass`.
    pub name: String,
    /// Its arguments, unquoted.
    pub args: Vec<String>,
    /// The file it was read from.
    pub file: String,
    /// Its 1-based line there.
    pub line: usize,
    /// The body of a block directive.
    pub block: Option<Vec<Directive>>,
}

impl Directive {
    /// An error placed at this directive.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: Some(self.line),
            column: None,
            message: message.into(),
        }
    }

    /// The body, empty for a simple directive.
    pub fn children(&self) -> &[Directive] {
        self.block.as_deref().unwrap_or(&[])
    }
}

/// Includes nest at most this deep (a file including itself stops here).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Blocks nest at most this deep: parsing, translating and dropping the
/// tree recurse per level, and a reload runs on a 2 MiB worker stack. Real
/// configs nest 4 or 5 levels (http, server, location, if).
const MAX_BLOCK_DEPTH: usize = 64;

/// Parses `text` (the contents of `path`), expanding `include`.
pub fn parse_str(path: &str, text: &str) -> Result<Vec<Directive>, ConfigErrors> {
    let mut parser = Parser {
        depth: 0,
        blocks: 0,
    };
    parser.file(path, text).map_err(|e| ConfigErrors(vec![e]))
}

struct Parser {
    /// Include nesting.
    depth: usize,
    /// Block nesting, across included files.
    blocks: usize,
}

impl Parser {
    fn file(&mut self, path: &str, text: &str) -> Result<Vec<Directive>, ConfigError> {
        let mut lexer = Lexer::new(path, text);
        let (body, end) = self.block(&mut lexer, path)?;
        if end.end == End::BlockDone {
            return Err(ConfigError {
                file: path.to_string(),
                line: Some(end.line),
                column: None,
                message: "unexpected \"}\"".to_string(),
            });
        }
        Ok(body)
    }

    /// Reads directives until the `}` or end of file that closes this level;
    /// returns them and the step that ended the level.
    fn block(
        &mut self,
        lexer: &mut Lexer,
        path: &str,
    ) -> Result<(Vec<Directive>, super::lexer::Step), ConfigError> {
        let mut out = Vec::new();
        loop {
            let step = lexer.next_step()?;
            if matches!(step.end, End::BlockDone | End::FileDone) {
                return Ok((out, step));
            }
            let mut words = step.words.into_iter();
            let name = words.next().unwrap_or_default();
            let mut d = Directive {
                name,
                args: words.collect(),
                file: path.to_string(),
                line: step.line,
                block: None,
            };
            if step.end == End::BlockStart {
                if self.blocks >= MAX_BLOCK_DEPTH {
                    return Err(d.error(format!(
                        "\"{}\": blocks nest deeper than {MAX_BLOCK_DEPTH} levels",
                        d.name
                    )));
                }
                self.blocks += 1;
                let inner = self.block(lexer, path);
                self.blocks -= 1;
                let (body, end) = inner?;
                if end.end == End::FileDone {
                    return Err(ConfigError {
                        file: path.to_string(),
                        line: Some(end.line),
                        column: None,
                        message: format!(
                            "unexpected end of file, expecting \"}}\" (to close \"{}\" on line {})",
                            d.name, d.line
                        ),
                    });
                }
                d.block = Some(body);
                out.push(d);
            } else if d.name == "include" {
                out.extend(self.include(&d)?);
            } else {
                out.push(d);
            }
        }
    }

    /// `include PATTERN;`: every matching file, in name order, relative to
    /// the including file's directory. A pattern without wildcards must match.
    fn include(&mut self, d: &Directive) -> Result<Vec<Directive>, ConfigError> {
        let [pattern] = d.args.as_slice() else {
            return Err(d.error(
                "invalid number of arguments in \"include\" directive: expected one file or glob",
            ));
        };
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(d.error(format!(
                "include \"{pattern}\": includes nest deeper than {MAX_INCLUDE_DEPTH} (does a file include itself?)"
            )));
        }
        let base = Path::new(&d.file).parent().unwrap_or(Path::new(""));
        let full: PathBuf = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            base.join(pattern)
        };
        let full = full.to_string_lossy().into_owned();
        let wild = pattern.contains(['*', '?', '[']);
        let mut files: Vec<PathBuf> = if wild {
            glob::glob(&full)
                .map_err(|e| d.error(format!("include \"{pattern}\": bad glob: {e}")))?
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect()
        } else {
            vec![PathBuf::from(&full)]
        };
        files.sort();
        let mut out = Vec::new();
        for file in files {
            let name = file.to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&file)
                .map_err(|e| d.error(format!("include \"{pattern}\": cannot read {name}: {e}")))?;
            self.depth += 1;
            let body = self.file(&name, &text);
            self.depth -= 1;
            out.extend(body?);
        }
        Ok(out)
    }
}

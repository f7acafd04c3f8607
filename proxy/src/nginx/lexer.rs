//! nginx's configuration lexer, a transcription of `ngx_conf_read_token`
//! (src/core/ngx_conf_file.c): the same token boundaries, quoting, escapes
//! and error messages, so a file nginx accepts reads the same here and a
//! file it refuses is refused at the same place.

use crate::config::ConfigError;

/// How one read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// `;`: a simple directive.
    Semicolon,
    /// `{`: a block directive; its body follows.
    BlockStart,
    /// `}`: the end of the enclosing block (no words before it).
    BlockDone,
    /// The end of the input (no words before it).
    FileDone,
}

/// The words of one directive and what ended it.
#[derive(Debug, Clone)]
pub struct Step {
    /// The directive name and its arguments, unquoted and unescaped.
    pub words: Vec<String>,
    /// 1-based line of the first word (or of the terminator if none).
    pub line: usize,
    /// What ended the read.
    pub end: End,
}

/// Reads directives from one file's text.
pub struct Lexer<'a> {
    file: &'a str,
    text: &'a [u8],
    pos: usize,
    line: usize,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// nginx's unescaping of a word: `\"`, `\'`, `\\` drop the backslash, `\t`,
/// `\r`, `\n` become the control characters, any other backslash stays.
fn unescape(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' && i + 1 < raw.len() {
            match raw[i + 1] {
                b'"' | b'\'' | b'\\' => {
                    out.push(raw[i + 1]);
                    i += 2;
                    continue;
                }
                b't' | b'r' | b'n' => {
                    out.push(match raw[i + 1] {
                        b't' => b'\t',
                        b'r' => b'\r',
                        _ => b'\n',
                    });
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl<'a> Lexer<'a> {
    /// A lexer over `text`, which came from `file` (for error positions).
    pub fn new(file: &'a str, text: &'a str) -> Lexer<'a> {
        Lexer {
            file,
            text: text.as_bytes(),
            pos: 0,
            line: 1,
        }
    }

    fn error(&self, line: usize, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_string(),
            line: Some(line),
            column: None,
            message: message.into(),
        }
    }

    /// Reads the next directive, as `ngx_conf_read_token` does.
    pub fn next_step(&mut self) -> Result<Step, ConfigError> {
        let mut words = Vec::new();
        let mut first_line = None;
        let (mut need_space, mut last_space, mut sharp_comment) = (false, true, false);
        let (mut variable, mut quoted, mut s_quoted, mut d_quoted) = (false, false, false, false);
        let mut start = self.pos;
        let mut quote_line = self.line;
        let step = |words: Vec<String>, first: Option<usize>, line: usize, end: End| Step {
            words,
            line: first.unwrap_or(line),
            end,
        };
        loop {
            let Some(&ch) = self.text.get(self.pos) else {
                if !words.is_empty() || !last_space {
                    let hint = if d_quoted || s_quoted {
                        format!(" (the quote opened on line {quote_line} is never closed)")
                    } else {
                        String::new()
                    };
                    return Err(self.error(
                        self.line,
                        format!("unexpected end of file, expecting \";\" or \"}}\"{hint}"),
                    ));
                }
                return Ok(step(words, first_line, self.line, End::FileDone));
            };
            self.pos += 1;
            if ch == b'\n' {
                self.line += 1;
                sharp_comment = false;
            }
            if sharp_comment {
                continue;
            }
            if quoted {
                quoted = false;
                continue;
            }
            if need_space {
                if is_space(ch) {
                    last_space = true;
                    need_space = false;
                    continue;
                }
                match ch {
                    b';' => return Ok(step(words, first_line, self.line, End::Semicolon)),
                    b'{' => return Ok(step(words, first_line, self.line, End::BlockStart)),
                    b')' => {
                        last_space = true;
                        need_space = false;
                    }
                    _ => {
                        return Err(
                            self.error(self.line, format!("unexpected \"{}\"", char::from(ch)))
                        )
                    }
                }
            }
            if last_space {
                start = self.pos - 1;
                if is_space(ch) {
                    continue;
                }
                match ch {
                    b';' | b'{' => {
                        if words.is_empty() {
                            return Err(
                                self.error(self.line, format!("unexpected \"{}\"", char::from(ch)))
                            );
                        }
                        let end = if ch == b'{' {
                            End::BlockStart
                        } else {
                            End::Semicolon
                        };
                        return Ok(step(words, first_line, self.line, end));
                    }
                    b'}' => {
                        if !words.is_empty() {
                            return Err(self.error(self.line, "unexpected \"}\""));
                        }
                        return Ok(step(words, first_line, self.line, End::BlockDone));
                    }
                    b'#' => {
                        sharp_comment = true;
                        continue;
                    }
                    _ => {}
                }
                first_line.get_or_insert(self.line);
                last_space = false;
                match ch {
                    b'\\' => quoted = true,
                    b'"' => {
                        start += 1;
                        d_quoted = true;
                        quote_line = self.line;
                    }
                    b'\'' => {
                        start += 1;
                        s_quoted = true;
                        quote_line = self.line;
                    }
                    b'$' => variable = true,
                    _ => {}
                }
                continue;
            }
            if ch == b'{' && variable {
                continue;
            }
            variable = false;
            if ch == b'\\' {
                quoted = true;
                continue;
            }
            if ch == b'$' {
                variable = true;
                continue;
            }
            let found = if d_quoted {
                d_quoted = ch != b'"';
                need_space = !d_quoted;
                need_space
            } else if s_quoted {
                s_quoted = ch != b'\'';
                need_space = !s_quoted;
                need_space
            } else if is_space(ch) || ch == b';' || ch == b'{' {
                last_space = true;
                true
            } else {
                false
            };
            if found {
                words.push(unescape(&self.text[start..self.pos - 1]));
                match ch {
                    b';' => return Ok(step(words, first_line, self.line, End::Semicolon)),
                    b'{' => return Ok(step(words, first_line, self.line, End::BlockStart)),
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(text: &str) -> Result<Vec<(Vec<String>, usize, End)>, String> {
        let mut lx = Lexer::new("t.conf", text);
        let mut out = Vec::new();
        loop {
            let s = lx.next_step().map_err(|e| e.to_string())?;
            let done = s.end == End::FileDone;
            out.push((s.words, s.line, s.end));
            if done {
                return Ok(out);
            }
        }
    }

    fn words(text: &str) -> Vec<String> {
        steps(text).expect("lexes")[0].0.clone()
    }

    #[test]
    fn quoting_and_escapes_as_nginx() {
        assert_eq!(
            words(r#"check_http_send "GET / HTTP/1.0\r\n\r\n";"#),
            ["check_http_send", "GET / HTTP/1.0\r\n\r\n"]
        );
        assert_eq!(words(r#"a 'it\'s' "" b\ c;"#), ["a", "it's", "", "b\\ c"]);
        assert_eq!(words("a b#c ${x}y;"), ["a", "b#c", "${x}y"]);
        assert_eq!(words("a\\d\\\\;"), ["a\\d\\"]);
    }

    #[test]
    fn blocks_comments_and_lines() {
        let s = steps("# top\nhttp {\n  # c\n  server { listen 80; }\n}\n").unwrap();
        let ends: Vec<End> = s.iter().map(|x| x.2).collect();
        assert_eq!(
            ends,
            [
                End::BlockStart,
                End::BlockStart,
                End::Semicolon,
                End::BlockDone,
                End::BlockDone,
                End::FileDone
            ]
        );
        assert_eq!((s[0].1, s[1].1, s[2].1), (2, 4, 4));
    }

    #[test]
    fn errors_where_nginx_puts_them() {
        assert_eq!(
            steps("a \"x\"b;").unwrap_err(),
            "t.conf:1: unexpected \"b\""
        );
        assert_eq!(steps("\n;").unwrap_err(), "t.conf:2: unexpected \";\"");
        assert_eq!(steps("a }").unwrap_err(), "t.conf:1: unexpected \"}\"");
        assert!(steps("a \"b;\n\n")
            .unwrap_err()
            .starts_with("t.conf:3: unexpected end of file, expecting \";\" or \"}\" (the quote opened on line 1"));
        assert!(steps("a b").unwrap_err().contains("unexpected end of file"));
    }
}

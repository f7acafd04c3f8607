//! Header fields of a head, kept as offsets into the head's own bytes so
//! that routing, header templates and logs read them without copies.

use bytes::Bytes;

/// A byte range inside a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span(pub(crate) u32, pub(crate) u32);

impl Span {
    /// The range `start..end`.
    pub(crate) fn new(start: usize, end: usize) -> Span {
        Span(start as u32, end as u32)
    }
    /// The range `part` occupies inside `base` (`part` must borrow from it).
    pub(crate) fn of(base: &[u8], part: &[u8]) -> Span {
        if part.is_empty() {
            // An empty slice may point anywhere (a parser's "" literal).
            return Span(0, 0);
        }
        let start = part.as_ptr() as usize - base.as_ptr() as usize;
        Span::new(start, start + part.len())
    }
    /// The bytes of this range in `raw`.
    pub(crate) fn get<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        &raw[self.0 as usize..self.1 as usize]
    }
}

/// The header fields of a head, looked up case-insensitively, in order.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    pub(crate) raw: Bytes,
    pub(crate) list: Vec<(Span, Span)>,
}

impl Fields {
    /// Every field as (name as sent, value).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.list.iter().map(|(n, v)| {
            // Names are tokens (checked by the parsers): ASCII.
            let name = std::str::from_utf8(n.get(&self.raw)).unwrap_or("");
            (name, v.get(&self.raw))
        })
    }

    /// Values of every field called `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// How many fields are called `name`.
    pub fn count(&self, name: &str) -> usize {
        self.all(name).count()
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The first value of `name`, if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Whether any `name` field lists `token` (comma-separated, any case).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.all(name).any(|v| {
            v.split(|b| *b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    }

    /// Whether the sender keeps the connection after this message.
    pub(crate) fn keep_alive(&self, minor: u8) -> bool {
        if minor == 0 {
            self.has_token("connection", "keep-alive")
        } else {
            !self.has_token("connection", "close")
        }
    }
}

/// A `Content-Length` value: decimal digits only, as nginx's `ngx_atoof`
/// reads it (no sign, no spaces inside, no overflow).
pub(crate) fn content_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

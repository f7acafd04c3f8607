//! Request and response heads, parsed in place: the head's bytes are split
//! off the read buffer and every field is an offset into them.

use super::body::Framing;
use bytes::{Bytes, BytesMut};

/// Largest head accepted, request or response (nginx's default
/// `large_client_header_buffers 4 8k` allows 32 KiB).
pub const MAX_HEAD: usize = 32 * 1024;
/// Most header fields in one head.
const MAX_FIELDS: usize = 128;

/// Why a head cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// Not HTTP/1.x, or framing headers that contradict each other.
    Malformed,
    /// Larger than [`MAX_HEAD`] or with too many fields.
    TooLarge,
}

#[derive(Debug, Clone, Copy)]
struct Span(u32, u32);

impl Span {
    fn of(base: &[u8], part: &[u8]) -> Span {
        if part.is_empty() {
            // An empty slice may point anywhere (the parser's "" literal).
            return Span(0, 0);
        }
        let start = part.as_ptr() as usize - base.as_ptr() as usize;
        Span(start as u32, (start + part.len()) as u32)
    }
    fn get<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        &raw[self.0 as usize..self.1 as usize]
    }
}

/// The header fields of a head, looked up case-insensitively, in order.
#[derive(Debug, Clone)]
pub struct Fields {
    raw: Bytes,
    list: Vec<(Span, Span)>,
}

impl Fields {
    fn new(raw: &[u8], headers: &[httparse::Header]) -> Fields {
        Fields {
            raw: Bytes::new(),
            list: headers
                .iter()
                .map(|h| (Span::of(raw, h.name.as_bytes()), Span::of(raw, h.value)))
                .collect(),
        }
    }

    /// Every field as (name as sent, value).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.list.iter().map(|(n, v)| {
            // Names are tokens (checked by the parser): ASCII.
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

    /// `Transfer-Encoding` and `Content-Length` as a framing; `None` when
    /// neither is present.
    fn framing(&self) -> Result<Option<Framing>, HeadError> {
        if self.get("transfer-encoding").is_some() {
            let chunked_last = self
                .all("transfer-encoding")
                .flat_map(|v| v.split(|b| *b == b','))
                .map(|t| t.trim_ascii())
                .filter(|t| !t.is_empty())
                .last()
                .is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"));
            return Ok(Some(if chunked_last {
                Framing::Chunked
            } else {
                Framing::UntilClose
            }));
        }
        let mut lengths = self.all("content-length");
        let Some(first) = lengths.next() else {
            return Ok(None);
        };
        if lengths.any(|v| v != first) {
            return Err(HeadError::Malformed);
        }
        let n = std::str::from_utf8(first.trim_ascii())
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(HeadError::Malformed)?;
        Ok(Some(Framing::Length(n)))
    }

    fn keep_alive(&self, minor: u8) -> bool {
        if minor == 0 {
            self.has_token("connection", "keep-alive")
        } else {
            !self.has_token("connection", "close")
        }
    }
}

fn parse_error(e: httparse::Error) -> HeadError {
    match e {
        httparse::Error::TooManyHeaders => HeadError::TooLarge,
        _ => HeadError::Malformed,
    }
}

/// Splits a complete head of `n` bytes off `buf`.
fn split(buf: &mut BytesMut, n: usize, mut fields: Fields) -> (Bytes, Fields) {
    let raw = buf.split_to(n).freeze();
    fields.raw = raw.clone();
    (raw, fields)
}

/// The head's length once complete; a head (complete or still growing)
/// over [`MAX_HEAD`] is refused, however many reads brought it.
fn complete(status: httparse::Status<usize>, buf: &BytesMut) -> Result<Option<usize>, HeadError> {
    match status {
        httparse::Status::Complete(n) if n > MAX_HEAD => Err(HeadError::TooLarge),
        httparse::Status::Complete(n) => Ok(Some(n)),
        httparse::Status::Partial if buf.len() >= MAX_HEAD => Err(HeadError::TooLarge),
        httparse::Status::Partial => Ok(None),
    }
}

/// A request head.
#[derive(Debug, Clone)]
pub struct RequestHead {
    raw: Bytes,
    method: Span,
    target: Span,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// The header fields.
    pub fields: Fields,
}

impl RequestHead {
    /// Takes a complete request head off the front of `buf`; `Ok(None)`
    /// while more bytes are needed.
    pub fn parse(buf: &mut BytesMut) -> Result<Option<RequestHead>, HeadError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_FIELDS];
        let mut req = httparse::Request::new(&mut headers);
        let status = req.parse(buf).map_err(parse_error)?;
        let Some(n) = complete(status, buf)? else {
            return Ok(None);
        };
        let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
            return Err(HeadError::Malformed);
        };
        // The parser lets bytes above 0x7f through without checking UTF-8.
        if std::str::from_utf8(target.as_bytes()).is_err() {
            return Err(HeadError::Malformed);
        }
        let (method, target) = (
            Span::of(buf, method.as_bytes()),
            Span::of(buf, target.as_bytes()),
        );
        let fields = Fields::new(buf, req.headers);
        let (raw, fields) = split(buf, n, fields);
        Ok(Some(RequestHead {
            raw,
            method,
            target,
            minor,
            fields,
        }))
    }

    fn text(&self, span: Span) -> &str {
        // Checked at parse time: method is a token, target UTF-8.
        std::str::from_utf8(span.get(&self.raw)).unwrap_or("")
    }

    /// The method.
    pub fn method(&self) -> &str {
        self.text(self.method)
    }

    /// The request target as sent (nginx's `$request_uri` for origin form).
    pub fn target(&self) -> &str {
        self.text(self.target)
    }

    /// `http://host:port` of an absolute-form target.
    fn absolute(&self) -> Option<(&str, &str)> {
        let t = self.target();
        let rest = t
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("http://"))
            .map(|_| &t[7..])
            .or_else(|| {
                t.get(..8)
                    .filter(|s| s.eq_ignore_ascii_case("https://"))
                    .map(|_| &t[8..])
            })?;
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        Some((&rest[..end], &rest[end..]))
    }

    /// Path and query: the target without an absolute form's scheme and host.
    pub fn path_and_query(&self) -> &str {
        match self.absolute() {
            Some((_, "")) => "/",
            Some((_, pq)) => pq,
            None => self.target(),
        }
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        let pq = self.path_and_query();
        pq.split_once('?').map_or(pq, |(p, _)| p)
    }

    /// The query, without `?`, if there is one.
    pub fn query(&self) -> Option<&str> {
        self.path_and_query().split_once('?').map(|(_, q)| q)
    }

    /// The host the client asked for: `Host`, else an absolute target's host.
    pub fn host(&self) -> &str {
        match self.absolute() {
            Some((authority, _)) => authority,
            None => self.fields.get_str("host").unwrap_or(""),
        }
    }

    /// `HTTP/1.0` or `HTTP/1.1`.
    pub fn version(&self) -> &'static str {
        if self.minor == 0 {
            "HTTP/1.0"
        } else {
            "HTTP/1.1"
        }
    }

    /// The request body's framing, with nginx's checks: chunked must be the
    /// last coding, and not with `Content-Length` or over HTTP/1.0.
    pub fn framing(&self) -> Result<Framing, HeadError> {
        match self.fields.framing()? {
            Some(Framing::Chunked)
                if self.fields.get("content-length").is_none() && self.minor == 1 =>
            {
                Ok(Framing::Chunked)
            }
            Some(Framing::Chunked | Framing::UntilClose) => Err(HeadError::Malformed),
            Some(f) => Ok(f),
            None => Ok(Framing::Empty),
        }
    }

    /// Whether the client wants the connection kept after this request.
    pub fn keep_alive(&self) -> bool {
        self.fields.keep_alive(self.minor)
    }

    /// An HTTP/1.1 protocol upgrade request (WebSocket).
    pub fn is_upgrade(&self) -> bool {
        self.minor == 1 && self.fields.get("upgrade").is_some()
    }

    /// `Expect: 100-continue`.
    pub fn expects_continue(&self) -> bool {
        self.minor == 1
            && self
                .fields
                .get("expect")
                .is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"))
    }
}

/// A response head.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    raw: Bytes,
    reason: Span,
    /// Status code.
    pub status: u16,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// The header fields.
    pub fields: Fields,
}

impl ResponseHead {
    /// Takes a complete response head off the front of `buf`; `Ok(None)`
    /// while more bytes are needed. Lenient where servers commonly are.
    pub fn parse(buf: &mut BytesMut) -> Result<Option<ResponseHead>, HeadError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_FIELDS];
        let mut resp = httparse::Response::new(&mut headers);
        let status = httparse::ParserConfig::default()
            .allow_spaces_after_header_name_in_responses(true)
            .allow_obsolete_multiline_headers_in_responses(true)
            .parse_response(&mut resp, buf)
            .map_err(parse_error)?;
        let Some(n) = complete(status, buf)? else {
            return Ok(None);
        };
        let (Some(code), Some(minor)) = (resp.code, resp.version) else {
            return Err(HeadError::Malformed);
        };
        let reason = Span::of(buf, resp.reason.unwrap_or("").as_bytes());
        let reason = if resp.reason.is_some() {
            reason
        } else {
            Span(0, 0)
        };
        let fields = Fields::new(buf, resp.headers);
        let (raw, fields) = split(buf, n, fields);
        Ok(Some(ResponseHead {
            raw,
            reason,
            status: code,
            minor,
            fields,
        }))
    }

    /// The reason phrase as sent.
    pub fn reason(&self) -> &str {
        std::str::from_utf8(self.reason.get(&self.raw)).unwrap_or("")
    }

    /// The body's framing, given whether the request was `HEAD`.
    pub fn framing(&self, head_request: bool) -> Result<Framing, HeadError> {
        if head_request || self.status < 200 || self.status == 204 || self.status == 304 {
            return Ok(Framing::Empty);
        }
        Ok(self.fields.framing()?.unwrap_or(Framing::UntilClose))
    }

    /// Whether the server keeps the connection open after this response.
    pub fn keep_alive(&self) -> bool {
        self.fields.keep_alive(self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> Result<Option<RequestHead>, HeadError> {
        RequestHead::parse(&mut BytesMut::from(text))
    }

    #[test]
    fn parses_a_request_and_leaves_the_rest() {
        let mut buf = BytesMut::from(
            "GET /a/b?x=1 HTTP/1.1\r\nHost: Example.com:8080\r\nX-A: 1\r\nx-a: 2\r\n\r\nNEXT",
        );
        let h = RequestHead::parse(&mut buf).unwrap().unwrap();
        assert_eq!(&buf[..], b"NEXT");
        assert_eq!(
            (h.method(), h.path(), h.query()),
            ("GET", "/a/b", Some("x=1"))
        );
        assert_eq!(h.host(), "Example.com:8080");
        assert_eq!(h.fields.all("X-A").collect::<Vec<_>>(), vec![b"1", b"2"]);
        assert!(h.keep_alive());
        assert_eq!(h.framing(), Ok(Framing::Empty));
    }

    #[test]
    fn absolute_form_targets() {
        let h = req("GET http://h.example:81 HTTP/1.1\r\nHost: other\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((h.host(), h.path_and_query()), ("h.example:81", "/"));
        let h = req("GET HTTP://h/p?q HTTP/1.1\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.host(), h.path(), h.query()), ("h", "/p", Some("q")));
    }

    #[test]
    fn partial_heads_wait_and_huge_ones_fail() {
        assert!(req("GET / HTTP/1.1\r\nHost: a\r\n").unwrap().is_none());
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(req(&big).unwrap_err(), HeadError::TooLarge);
        // Refused too when the whole head arrived in one read.
        assert_eq!(req(&format!("{big}\r\n")).unwrap_err(), HeadError::TooLarge);
        assert_eq!(req("NOT HTTP\r\n\r\n").unwrap_err(), HeadError::Malformed);
    }

    #[test]
    fn request_framing_follows_nginx() {
        let f = |h: &str| {
            req(&format!("POST / HTTP/1.1\r\n{h}\r\n"))
                .unwrap()
                .unwrap()
                .framing()
        };
        assert_eq!(f("Content-Length: 5\r\n"), Ok(Framing::Length(5)));
        assert_eq!(
            f("Transfer-Encoding: gzip, chunked\r\n"),
            Ok(Framing::Chunked)
        );
        assert_eq!(
            f("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"),
            Err(HeadError::Malformed)
        );
        assert_eq!(f("Transfer-Encoding: gzip\r\n"), Err(HeadError::Malformed));
        assert_eq!(
            f("Content-Length: 5\r\nContent-Length: 6\r\n"),
            Err(HeadError::Malformed)
        );
        assert_eq!(f("Content-Length: -1\r\n"), Err(HeadError::Malformed));
        let h10 = req("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h10.framing(), Err(HeadError::Malformed));
    }

    #[test]
    fn keep_alive_and_upgrade() {
        let h = req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.keep_alive());
        let h = req("GET / HTTP/1.1\r\nConnection: upgrade, close\r\nUpgrade: websocket\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive() && h.is_upgrade());
    }

    #[test]
    fn responses() {
        let mut buf = BytesMut::from("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
        let r = ResponseHead::parse(&mut buf).unwrap().unwrap();
        assert_eq!(
            (r.status, r.reason(), r.framing(false)),
            (200, "OK", Ok(Framing::Length(3)))
        );
        assert_eq!(r.framing(true), Ok(Framing::Empty));
        assert_eq!(&buf[..], b"ok\n");
        let mut buf = BytesMut::from("HTTP/1.0 200\r\n\r\n");
        let r = ResponseHead::parse(&mut buf).unwrap().unwrap();
        assert_eq!(
            (r.reason(), r.framing(false), r.keep_alive()),
            ("", Ok(Framing::UntilClose), false)
        );
    }
}

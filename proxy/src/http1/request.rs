//! Request heads, read as nginx 1.22 reads them (`ngx_http_parse.c` and
//! `ngx_http_request.c`): what nginx refuses is refused with nginx's
//! status, what nginx ignores (fields with names it does not accept) is
//! dropped, and the body's framing is decided here once, so nothing
//! ambiguous reaches the request path.

use super::body::Framing;
use super::fields::{content_length, Fields, Span};
use super::reject::{HeadError, Reject};
use bytes::{Buf, Bytes, BytesMut};

/// Size limits of a request head: nginx's `large_client_header_buffers
/// NUMBER SIZE` (default `4 8k`): a request line or header line of `line`
/// bytes or more is refused (414 / 400), and so is a head over `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Longest request line or header line, exclusive.
    pub line: usize,
    /// Largest head.
    pub total: usize,
    /// Accept `_` in field names (nginx's `underscores_in_headers`); by
    /// default such fields are dropped, as nginx drops them.
    pub underscores: bool,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            line: 8 * 1024,
            total: 32 * 1024,
            underscores: false,
        }
    }
}

/// A request head.
#[derive(Debug, Clone)]
pub struct RequestHead {
    raw: Bytes,
    method: Span,
    target: Span,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1 (and any later 1.x, as nginx).
    pub minor: u8,
    /// The header fields nginx would keep (invalid names dropped).
    pub fields: Fields,
    framing: Framing,
}

/// Where the head that starts `buf` ends (just past its empty line), with
/// each line held to the line limit as soon as it is there: a request line
/// of `limits.line` bytes or more is a 414, a header line a 400. Searching
/// starts at `from` (bytes before it were searched already), so a head that
/// trickles in is scanned once, not once per read.
fn head_end(buf: &[u8], from: usize, limits: &HeadLimits) -> Result<Option<usize>, HeadError> {
    let too_long = |line_start: usize| {
        if line_start == 0 {
            HeadError::new(Reject::UriTooLong, "request line too long")
        } else {
            HeadError::new(Reject::HeaderTooLarge, "request header line too long")
        }
    };
    let too_large = || HeadError::new(Reject::HeaderTooLarge, "request header too large");
    let mut at = from.saturating_sub(2);
    let mut line_start = memchr::memrchr(b'\n', &buf[..at]).map_or(0, |i| i + 1);
    while let Some(i) = memchr::memchr(b'\n', &buf[at..]) {
        let lf = at + i;
        let cr = usize::from(lf > line_start && buf[lf - 1] == b'\r');
        if lf - line_start - cr >= limits.line {
            return Err(too_long(line_start));
        }
        if line_start == 0 {
            // As nginx, a request line is judged as soon as it is complete.
            RequestHead::request_line(&buf[..lf - cr])?;
        }
        let end = match (buf.get(lf + 1), buf.get(lf + 2)) {
            (Some(b'\n'), _) => Some(lf + 2),
            (Some(b'\r'), Some(b'\n')) => Some(lf + 3),
            _ => None,
        };
        if let Some(end) = end {
            return match end > limits.total {
                true => Err(too_large()),
                false => Ok(Some(end)),
            };
        }
        line_start = lf + 1;
        at = lf + 1;
    }
    let cr = usize::from(buf.last() == Some(&b'\r') && buf.len() > line_start);
    if buf.len() - line_start - cr >= limits.line {
        return Err(too_long(line_start));
    }
    if buf.len() > limits.total {
        return Err(too_large());
    }
    Ok(None)
}

/// A line of the head: its bytes without the line end, and where the next
/// line starts. Lines end with LF, optionally after one CR (nginx accepts
/// a bare LF); a CR anywhere else is left in the line for the checks.
fn line_at(raw: &[u8], start: usize) -> (&[u8], usize) {
    let lf = start + memchr::memchr(b'\n', &raw[start..]).expect("the head ends with LF");
    let end = if lf > start && raw[lf - 1] == b'\r' {
        lf - 1
    } else {
        lf
    };
    (&raw[start..end], lf + 1)
}

fn is_method_byte(b: u8) -> bool {
    b.is_ascii_uppercase() || b == b'_' || b == b'-'
}

fn is_ctl(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// `HTTP/1.x` -> x's value as nginx reads it (major 1 only, minor up to 99).
fn version(v: &[u8]) -> Result<u8, HeadError> {
    let rest = v
        .strip_prefix(b"HTTP/")
        .ok_or(HeadError::bad("invalid version in the request line"))?;
    let dot = rest
        .iter()
        .position(|b| *b == b'.')
        .ok_or(HeadError::bad("invalid version in the request line"))?;
    let (major, minor) = (&rest[..dot], &rest[dot + 1..]);
    let digits = |d: &[u8]| !d.is_empty() && d.len() <= 2 && d.iter().all(u8::is_ascii_digit);
    if !digits(major) || major[0] == b'0' || !digits(minor) {
        return Err(HeadError::bad("invalid version in the request line"));
    }
    if major != b"1" {
        return Err(HeadError::new(
            Reject::VersionNotSupported,
            "unsupported HTTP version",
        ));
    }
    Ok(if minor.iter().all(|b| *b == b'0') {
        0
    } else {
        1
    })
}

/// nginx's `ngx_http_validate_host`: no `/`, no control bytes or spaces, no
/// empty label (`a..b`), something left once a port and a final dot go.
pub(crate) fn valid_host(h: &[u8]) -> bool {
    let (mut dot, mut host_len, mut state) = (None::<usize>, h.len(), 0u8);
    for (i, &b) in h.iter().enumerate() {
        match b {
            b'.' => {
                if i > 0 && dot == Some(i - 1) {
                    return false;
                }
                dot = Some(i);
            }
            b':' if state == 0 => {
                host_len = i;
                state = 2;
            }
            b'[' if i == 0 => state = 1,
            b']' if state == 1 => {
                host_len = i + 1;
                state = 2;
            }
            b'/' => return false,
            b if b <= 0x20 || b == 0x7f => return false,
            _ => {}
        }
    }
    if host_len > 0 && dot == Some(host_len - 1) {
        host_len -= 1;
    }
    host_len > 0
}

/// The authority of an absolute-form target (`scheme://authority/...`).
fn absolute_authority(target: &[u8]) -> Option<&[u8]> {
    let colon = target.iter().position(|b| *b == b':')?;
    let (scheme, rest) = (&target[..colon], &target[colon..]);
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    let rest = rest.strip_prefix(b"://").filter(|_| scheme_ok)?;
    let end = rest
        .iter()
        .position(|b| matches!(b, b'/' | b'?'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

impl RequestHead {
    /// Takes a complete request head off the front of `buf`; `Ok(None)`
    /// while more bytes are needed. `scanned` carries how far earlier calls
    /// searched for the head's end (start it at 0 for each head).
    pub fn parse(
        buf: &mut BytesMut,
        limits: &HeadLimits,
        scanned: &mut usize,
    ) -> Result<Option<RequestHead>, HeadError> {
        // nginx skips empty lines before a request line.
        let blank = buf
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        if blank > 0 {
            buf.advance(blank);
            *scanned = 0;
        }
        let Some(end) = head_end(buf, *scanned, limits)? else {
            *scanned = buf.len();
            return Ok(None);
        };
        *scanned = 0;
        // A copy, not a view: a view would pin the connection's whole read
        // buffer for as long as the head lives (a tunnel's lifetime after an
        // upgrade), and would make the buffer reallocate for the next request.
        let raw = Bytes::copy_from_slice(&buf[..end]);
        buf.advance(end);
        Self::read(raw, limits).map(Some)
    }

    /// Reads a complete head (its bytes end with the empty line).
    fn read(raw: Bytes, limits: &HeadLimits) -> Result<RequestHead, HeadError> {
        // Line lengths were checked while the end was searched for.
        let (line, mut at) = line_at(&raw, 0);
        let (method, target, minor) = Self::request_line(line)?;
        let mut fields = Fields {
            raw: Bytes::new(),
            list: Vec::with_capacity(16),
        };
        let mut host_seen = false;
        loop {
            let (line, next) = line_at(&raw, at);
            at = next;
            if line.is_empty() {
                break;
            }
            let (name, value, valid) = Self::field(line, limits)?;
            if !valid {
                continue;
            }
            if name.eq_ignore_ascii_case(b"host") {
                if host_seen {
                    return Err(HeadError::bad("duplicate Host header"));
                }
                host_seen = true;
                if !valid_host(value) {
                    return Err(HeadError::bad("invalid Host header"));
                }
            }
            let unique = [&b"content-length"[..], b"transfer-encoding"];
            if unique.iter().any(|u| name.eq_ignore_ascii_case(u))
                && fields
                    .list
                    .iter()
                    .any(|(n, _)| n.get(&raw).eq_ignore_ascii_case(name))
            {
                return Err(HeadError::bad("duplicate header line"));
            }
            fields
                .list
                .push((Span::of(&raw, name), Span::of(&raw, value)));
        }
        fields.raw = raw.clone();
        let mut head = RequestHead {
            raw,
            method,
            target,
            minor,
            fields,
            framing: Framing::Empty,
        };
        head.framing = head.check()?;
        Ok(head)
    }

    /// `METHOD SP+ target SP+ HTTP/1.x SP*`, as nginx reads it.
    fn request_line(line: &[u8]) -> Result<(Span, Span, u8), HeadError> {
        let m_end = line
            .iter()
            .position(|b| !is_method_byte(*b))
            .unwrap_or(line.len());
        if m_end == 0 || line.get(m_end) != Some(&b' ') {
            return Err(HeadError::bad("invalid method"));
        }
        let t_start = m_end + line[m_end..].iter().take_while(|b| **b == b' ').count();
        let t_end = t_start
            + line[t_start..]
                .iter()
                .position(|b| *b == b' ')
                .unwrap_or(line.len() - t_start);
        let target = &line[t_start..t_end];
        if target.iter().any(|b| is_ctl(*b)) {
            return Err(HeadError::bad("control character in the request line"));
        }
        if std::str::from_utf8(target).is_err() {
            return Err(HeadError::bad("request target is not UTF-8"));
        }
        match target.first() {
            Some(b'/') => {}
            Some(_) => match absolute_authority(target) {
                Some(host) if valid_host(host) => {}
                _ => return Err(HeadError::bad("invalid request target")),
            },
            None => return Err(HeadError::bad("invalid request line")),
        }
        let v_start = t_end + line[t_end..].iter().take_while(|b| **b == b' ').count();
        if v_start == line.len() {
            return Err(HeadError::bad("HTTP/0.9 request"));
        }
        let v_end = line.len() - line.iter().rev().take_while(|b| **b == b' ').count();
        let minor = version(&line[v_start..v_end])?;
        // Spans are relative to the head, which starts with this line.
        Ok((Span::new(0, m_end), Span::new(t_start, t_end), minor))
    }

    /// One header line: `(name, value, keep)`, where `keep` is false for a
    /// name nginx ignores (`ignore_invalid_headers`); an error for what
    /// nginx refuses.
    fn field<'a>(
        line: &'a [u8],
        limits: &HeadLimits,
    ) -> Result<(&'a [u8], &'a [u8], bool), HeadError> {
        if line[0] <= 0x20 || line[0] == 0x7f || line[0] == b':' {
            return Err(HeadError::bad("invalid header line"));
        }
        let colon = line.iter().position(|b| *b == b':').unwrap_or(line.len());
        let name = &line[..colon];
        let mut valid = true;
        for &b in name {
            if b.is_ascii_alphanumeric() || b == b'-' || (b == b'_' && limits.underscores) {
                continue;
            }
            if b <= 0x20 || b == 0x7f {
                return Err(HeadError::bad("invalid header name"));
            }
            valid = false;
        }
        let value = line.get(colon + 1..).unwrap_or(&[]);
        let skip = value.iter().take_while(|b| **b == b' ').count();
        let value = &value[skip..];
        let value = &value[..value.len() - value.iter().rev().take_while(|b| **b == b' ').count()];
        if value.iter().any(|b| matches!(b, b'\0' | b'\r')) {
            return Err(HeadError::bad("invalid header value"));
        }
        Ok((name, value, valid))
    }

    /// nginx's `ngx_http_process_request_header`: Host required by 1.1,
    /// a valid Content-Length, `Transfer-Encoding: chunked` only (with 1.1,
    /// without Content-Length), no CONNECT or TRACE.
    fn check(&self) -> Result<Framing, HeadError> {
        let host = self.fields.get("host");
        if host.is_none() && self.minor == 1 {
            return Err(HeadError::bad("HTTP/1.1 request without Host header"));
        }
        let length = match self.fields.get("content-length") {
            Some(v) => {
                Some(content_length(v).ok_or(HeadError::bad("invalid Content-Length header"))?)
            }
            None => None,
        };
        let framing = match self.fields.get("transfer-encoding") {
            Some(_) if self.minor == 0 => {
                return Err(HeadError::bad("HTTP/1.0 request with Transfer-Encoding"))
            }
            Some(te) if te.eq_ignore_ascii_case(b"chunked") => {
                if length.is_some() {
                    return Err(HeadError::bad(
                        "Content-Length and Transfer-Encoding at the same time",
                    ));
                }
                Framing::Chunked
            }
            Some(_) => {
                return Err(HeadError::new(
                    Reject::NotImplemented,
                    "unknown Transfer-Encoding",
                ))
            }
            None => length.map_or(Framing::Empty, Framing::Length),
        };
        if matches!(self.method(), "CONNECT" | "TRACE") {
            return Err(HeadError::new(
                Reject::MethodNotAllowed,
                "CONNECT or TRACE method",
            ));
        }
        Ok(framing)
    }

    fn text(&self, span: Span) -> &str {
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

    /// `authority` and path-and-query of an absolute-form target.
    fn absolute(&self) -> Option<(&str, &str)> {
        let t = self.target();
        let authority = absolute_authority(t.as_bytes())?;
        let start = authority.as_ptr() as usize - t.as_ptr() as usize;
        let end = start + authority.len();
        Some((&t[start..end], &t[end..]))
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

    /// The host the client asked for: an absolute target's host, else `Host`.
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

    /// How the request body is delimited (checked when the head was read).
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Whether the client wants the connection kept after this request.
    pub fn keep_alive(&self) -> bool {
        self.fields.keep_alive(self.minor)
    }

    /// A protocol upgrade request (WebSocket): a GET over HTTP/1.1 with
    /// `Upgrade` and `Connection: upgrade`. Only such a request may turn
    /// into a tunnel.
    pub fn is_upgrade(&self) -> bool {
        self.minor == 1
            && self.method() == "GET"
            && self.fields.get("upgrade").is_some()
            && self.fields.has_token("connection", "upgrade")
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

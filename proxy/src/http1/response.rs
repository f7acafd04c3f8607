//! Response heads from upstream servers, read strictly: a head or a
//! framing a server could mean two ways is refused (the client gets a 502),
//! never relayed for the client to guess.

use super::body::Framing;
use super::fields::{content_length, Fields, Span};
use bytes::{Buf, Bytes, BytesMut};

/// Largest response head accepted (nginx's `proxy_buffer_size` is smaller;
/// this matches the request side's whole-head limit).
pub const MAX_RESPONSE_HEAD: usize = 32 * 1024;
/// Most header fields in one response head.
const MAX_FIELDS: usize = 128;

/// Why a response head cannot be relayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadResponse(pub &'static str);

impl std::fmt::Display for BadResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.0)
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
    /// while more bytes are needed. RFC 9112's grammar, no obs-fold, no
    /// space before a colon (nginx refuses both from servers too).
    pub fn parse(buf: &mut BytesMut) -> Result<Option<ResponseHead>, BadResponse> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_FIELDS];
        let mut resp = httparse::Response::new(&mut headers);
        let status = resp.parse(buf).map_err(|e| match e {
            httparse::Error::TooManyHeaders => BadResponse("too many header fields"),
            _ => BadResponse("an invalid response header"),
        })?;
        let n = match status {
            httparse::Status::Complete(n) if n <= MAX_RESPONSE_HEAD => n,
            httparse::Status::Partial if buf.len() < MAX_RESPONSE_HEAD => return Ok(None),
            _ => return Err(BadResponse("a response header over 32 KiB")),
        };
        let (Some(code), Some(minor)) = (resp.code, resp.version) else {
            return Err(BadResponse("an invalid status line"));
        };
        let reason = resp
            .reason
            .map_or(Span(0, 0), |r| Span::of(buf, r.as_bytes()));
        let list = resp
            .headers
            .iter()
            .map(|h| (Span::of(buf, h.name.as_bytes()), Span::of(buf, h.value)))
            .collect();
        // A copy, not a view: a view would pin the whole read buffer for as
        // long as the head lives (a tunnel's lifetime after a 101).
        let raw = Bytes::copy_from_slice(&buf[..n]);
        buf.advance(n);
        Ok(Some(ResponseHead {
            fields: Fields {
                raw: raw.clone(),
                list,
            },
            raw,
            reason,
            status: code,
            minor,
        }))
    }

    /// The reason phrase as sent.
    pub fn reason(&self) -> &str {
        std::str::from_utf8(self.reason.get(&self.raw)).unwrap_or("")
    }

    /// The body's framing, given whether the request was `HEAD`. As nginx:
    /// one `Content-Length` of digits, or `Transfer-Encoding: chunked`
    /// alone; anything else is a broken response.
    pub fn framing(&self, head_request: bool) -> Result<Framing, BadResponse> {
        let (te, cl) = (
            self.fields.count("transfer-encoding"),
            self.fields.count("content-length"),
        );
        if te > 1 || cl > 1 {
            return Err(BadResponse("a duplicate framing header"));
        }
        if te == 1 && cl == 1 {
            return Err(BadResponse("both Content-Length and Transfer-Encoding"));
        }
        let framing = match (
            self.fields.get("transfer-encoding"),
            self.fields.get("content-length"),
        ) {
            (Some(v), _) if v.eq_ignore_ascii_case(b"chunked") => Framing::Chunked,
            (Some(_), _) => return Err(BadResponse("an unknown Transfer-Encoding")),
            (None, Some(v)) => {
                Framing::Length(content_length(v).ok_or(BadResponse("an invalid Content-Length"))?)
            }
            (None, None) => Framing::UntilClose,
        };
        if head_request || self.status < 200 || self.status == 204 || self.status == 304 {
            return Ok(Framing::Empty);
        }
        Ok(framing)
    }

    /// Whether the server keeps the connection open after this response.
    pub fn keep_alive(&self) -> bool {
        self.fields.keep_alive(self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<ResponseHead>, BadResponse> {
        ResponseHead::parse(&mut BytesMut::from(text))
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
        let r = parse("HTTP/1.0 200\r\n\r\n").unwrap().unwrap();
        assert_eq!(
            (r.reason(), r.framing(false), r.keep_alive()),
            ("", Ok(Framing::UntilClose), false)
        );
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        let framing = |h: &str| {
            parse(&format!("HTTP/1.1 200 OK\r\n{h}\r\n"))
                .unwrap()
                .unwrap()
                .framing(false)
        };
        assert_eq!(
            framing("Transfer-Encoding: chunked\r\n"),
            Ok(Framing::Chunked)
        );
        for bad in [
            "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
            "Content-Length: 3\r\nContent-Length: 3\r\n",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            "Transfer-Encoding: gzip, chunked\r\n",
            "Transfer-Encoding: gzip\r\n",
            "Content-Length: +3\r\n",
            "Content-Length: 3, 3\r\n",
        ] {
            assert!(framing(bad).is_err(), "{bad:?}");
        }
        assert!(parse("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n").is_err());
        assert!(parse("HTTP/1.1 200 OK\r\nX : a\r\n\r\n").is_err());
    }
}

//! `Transfer-Encoding: chunked`, read strictly (RFC 9112 section 7.1) and
//! written cleanly. The edge never passes chunk lines through: it takes
//! the payload out and writes its own framing, so a server that reads
//! chunk lines loosely sees the same message boundaries as the edge.
//!
//! Strict means: CRLF line ends only; a hex size of at most
//! [`MAX_SIZE_DIGITS`] digits; extensions by the grammar (`;name[=token or
//! "quoted"]`, optional whitespace only around `;` and `=`), at most
//! [`MAX_EXT`] bytes a line; trailer fields well-formed, at most
//! [`MAX_TRAILER`] bytes in all. Trailers are read and dropped, as nginx
//! drops them.

/// Most hex digits in a chunk size (leading zeros included): 2^60 bytes.
pub const MAX_SIZE_DIGITS: u8 = 15;
/// Most bytes of chunk extensions on one size line.
pub const MAX_EXT: u16 = 4096;
/// Most bytes of the trailer section.
pub const MAX_TRAILER: u16 = 8192;

/// A malformed chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Hex digits of a chunk size.
    Size,
    /// Whitespace before `;` (or the CR).
    SizeWs,
    /// Whitespace after `;`, before an extension name.
    ExtPreName,
    /// An extension name.
    ExtName,
    /// Whitespace after a name, before `=`, `;` or the CR.
    ExtPostName,
    /// Whitespace after `=`, before the value.
    ExtPreValue,
    /// A token value.
    ExtToken,
    /// Inside a quoted-string value.
    ExtQuoted,
    /// After a backslash inside a quoted string.
    ExtQuotedPair,
    /// Just after a quoted string's closing quote.
    ExtQuotedEnd,
    /// Whitespace after a value, before `;` or the CR.
    ExtPostValue,
    /// The LF of a size line.
    SizeLf,
    /// Chunk payload; `remaining` bytes left.
    Data,
    /// The CR after a payload.
    DataCr,
    /// The LF after a payload.
    DataLf,
    /// Start of a trailer field line (or of the final empty line).
    TrailerStart,
    /// A trailer field name.
    TrailerName,
    /// A trailer field value.
    TrailerValue,
    /// The LF of a trailer field line.
    TrailerLf,
    /// The LF of the final empty line.
    EndLf,
    /// The body is complete.
    Done,
}

/// RFC 9110 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A field value byte (VCHAR, obs-text, SP, HTAB).
fn is_value_byte(b: u8) -> bool {
    b >= 0x20 && b != 0x7f || b == b'\t'
}

/// Scans a chunked body incrementally.
#[derive(Debug, Clone)]
pub struct Chunked {
    state: State,
    remaining: u64,
    digits: u8,
    /// Extension or trailer bytes counted against their limit.
    extra: u16,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked {
            state: State::Size,
            remaining: 0,
            digits: 0,
            extra: 0,
        }
    }
}

impl Chunked {
    /// Whether the terminating zero chunk and trailer were seen.
    pub fn done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes body bytes from the front of `input` and returns how many
    /// belong to the body (everything, unless the body ends inside `input`).
    /// With `payload`, the chunk data is appended to it.
    pub fn scan(
        &mut self,
        input: &[u8],
        mut payload: Option<&mut Vec<u8>>,
    ) -> Result<usize, ChunkError> {
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            if self.state == State::Data {
                let n = (input.len() - i).min(self.remaining as usize);
                if let Some(p) = payload.as_deref_mut() {
                    p.extend_from_slice(&input[i..i + n]);
                }
                i += n;
                self.remaining -= n as u64;
                if self.remaining == 0 {
                    self.state = State::DataCr;
                }
                continue;
            }
            let b = input[i];
            i += 1;
            self.state = self.step(b)?;
        }
        Ok(i)
    }

    /// Counts one more extension or trailer byte against `limit`.
    fn count(&mut self, limit: u16) -> Result<(), ChunkError> {
        self.extra += 1;
        if self.extra > limit {
            return Err(ChunkError);
        }
        Ok(())
    }

    /// The state after byte `b` (any state but `Data` and `Done`).
    fn step(&mut self, b: u8) -> Result<State, ChunkError> {
        use State::*;
        let in_ext = matches!(
            self.state,
            SizeWs
                | ExtPreName
                | ExtName
                | ExtPostName
                | ExtPreValue
                | ExtToken
                | ExtQuoted
                | ExtQuotedPair
                | ExtQuotedEnd
                | ExtPostValue
        );
        if in_ext && b != b'\r' {
            self.count(MAX_EXT)?;
        }
        if matches!(
            self.state,
            TrailerStart | TrailerName | TrailerValue | TrailerLf
        ) {
            self.count(MAX_TRAILER)?;
        }
        Ok(match (self.state, b) {
            (Size, b) if b.is_ascii_hexdigit() => {
                if self.digits >= MAX_SIZE_DIGITS {
                    return Err(ChunkError);
                }
                self.digits += 1;
                self.remaining = self.remaining * 16 + (b as char).to_digit(16).unwrap_or(0) as u64;
                Size
            }
            (Size, b) if self.digits > 0 && is_ws(b) => SizeWs,
            (Size | SizeWs, b';') if self.digits > 0 => ExtPreName,
            (Size, b'\r') if self.digits > 0 => SizeLf,
            (SizeWs, b) if is_ws(b) => SizeWs,
            (ExtPreName, b) if is_ws(b) => ExtPreName,
            (ExtPreName | ExtName, b) if is_tchar(b) => ExtName,
            (ExtName | ExtPostName, b) if is_ws(b) => ExtPostName,
            (ExtName | ExtPostName, b'=') => ExtPreValue,
            (ExtPreValue, b) if is_ws(b) => ExtPreValue,
            (ExtPreValue, b'"') => ExtQuoted,
            (ExtPreValue | ExtToken, b) if is_tchar(b) => ExtToken,
            (ExtQuoted, b'"') => ExtQuotedEnd,
            (ExtQuoted, b'\\') => ExtQuotedPair,
            (ExtQuoted | ExtQuotedPair, b) if is_value_byte(b) => ExtQuoted,
            (ExtToken | ExtQuotedEnd | ExtPostValue, b) if is_ws(b) => ExtPostValue,
            (ExtName | ExtPostName | ExtToken | ExtQuotedEnd | ExtPostValue, b';') => ExtPreName,
            (ExtName | ExtToken | ExtQuotedEnd, b'\r') => SizeLf,
            (SizeLf, b'\n') => {
                self.digits = 0;
                self.extra = 0;
                if self.remaining == 0 {
                    TrailerStart
                } else {
                    Data
                }
            }
            (DataCr, b'\r') => DataLf,
            (DataLf, b'\n') => Size,
            (TrailerStart, b'\r') => EndLf,
            (TrailerStart | TrailerName, b) if is_tchar(b) => TrailerName,
            (TrailerName, b':') => TrailerValue,
            (TrailerValue, b'\r') => TrailerLf,
            (TrailerValue, b) if is_value_byte(b) => TrailerValue,
            (TrailerLf, b'\n') => TrailerStart,
            (EndLf, b'\n') => Done,
            _ => return Err(ChunkError),
        })
    }
}

/// Appends one chunk holding `data` (nothing for empty data: an empty
/// chunk would end the body).
pub fn write_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    use std::io::Write;
    let _ = write!(out, "{:x}\r\n", data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk and an empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts that the scanner refuses `body`.
    fn assert_refused(body: &[u8]) {
        assert_eq!(
            whole(body).map(|r| r.2),
            Err(ChunkError),
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }

    fn whole(body: &[u8]) -> Result<(usize, Vec<u8>, bool), ChunkError> {
        let mut c = Chunked::default();
        let mut p = Vec::new();
        let n = c.scan(body, Some(&mut p))?;
        Ok((n, p, c.done()))
    }

    #[test]
    fn finds_the_end_and_the_payload() {
        let body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\nNEXT";
        assert_eq!(
            whole(body),
            Ok((body.len() - 4, b"hello world".to_vec(), true))
        );
    }

    #[test]
    fn extensions_by_the_grammar() {
        for ok in [
            &b"1;a\r\nx\r\n0\r\n\r\n"[..],
            b"1 ;a\r\nx\r\n0\r\n\r\n",
            b"1; a = b ; c=\"q \\\" \"\r\nx\r\n0\r\n\r\n",
            b"01;a=b\r\nx\r\n0;z\r\n\r\n",
        ] {
            assert!(
                whole(ok).is_ok_and(|r| r.2),
                "{:?}",
                String::from_utf8_lossy(ok)
            );
        }
        for bad in [
            &b"1 zz\r\nx\r\n0\r\n\r\n"[..],
            b"1;\r\nx\r\n0\r\n\r\n",
            b"1;;\r\nx\r\n0\r\n\r\n",
            b"1;a=\"\0\"\r\nx\r\n0\r\n\r\n",
            b"1;a=\"open\r\nx\r\n0\r\n\r\n",
            b"1 \r\nx\r\n0\r\n\r\n",
        ] {
            assert_refused(bad);
        }
        let long = format!("1;a={}\r\nx\r\n0\r\n\r\n", "b".repeat(MAX_EXT as usize));
        assert_eq!(whole(long.as_bytes()).map(|r| r.2), Err(ChunkError));
    }

    #[test]
    fn trailers_are_read_and_bounded() {
        let body = b"1\r\na\r\n0\r\nX-T: 1\r\n\r\n";
        assert_eq!(whole(body), Ok((body.len(), b"a".to_vec(), true)));
        for bad in [
            &b"0\r\nX-T: 1\n\r\n"[..],
            b"0\r\nGET / HTTP/1.1\r\n\r\n",
            b"0\r\n: x\r\n\r\n",
            b"0\r\nX\0: 1\r\n\r\n",
        ] {
            assert_refused(bad);
        }
        let long = format!("0\r\nX: {}\r\n\r\n", "b".repeat(MAX_TRAILER as usize));
        assert_eq!(whole(long.as_bytes()).map(|r| r.2), Err(ChunkError));
    }

    #[test]
    fn byte_by_byte_is_the_same_as_at_once() {
        let body = b"A\r\n0123456789\r\n0\r\n\r\n";
        let mut c = Chunked::default();
        let mut p = Vec::new();
        for b in body.iter() {
            assert_eq!(c.scan(&[*b], Some(&mut p)), Ok(1));
        }
        assert!(c.done());
        assert_eq!(p, b"0123456789");
    }

    #[test]
    fn rejects_loose_line_ends_garbage_and_huge_sizes() {
        for bad in [
            &b"zz\r\n"[..],
            b"\r\n",
            b"1\r\nab",
            b"5\nhello\r\n",
            b"1\r\na\n0\r\n\r\n",
            b"0x5\r\n",
            b"-5\r\n",
            b"2;\nAB\r\n30\r\n0\r\n\r\n",
            b"ffffffffffffffff\r\n",
            b"0000000000000001\r\n",
        ] {
            assert_refused(bad);
        }
    }

    #[test]
    fn writes_clean_chunks() {
        let mut out = Vec::new();
        write_chunk(&mut out, b"hello");
        write_chunk(&mut out, b"");
        out.extend_from_slice(LAST_CHUNK);
        assert_eq!(out, b"5\r\nhello\r\n0\r\n\r\n");
        assert_eq!(whole(&out), Ok((out.len(), b"hello".to_vec(), true)));
    }
}

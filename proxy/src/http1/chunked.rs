//! Where a `Transfer-Encoding: chunked` body ends, found while its bytes
//! pass through unchanged (or with the payload taken out, for HTTP/1.0
//! clients that cannot read chunks).

/// A malformed chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Hex digits of a chunk size.
    Size,
    /// A chunk extension, up to the end of the line.
    Ext,
    /// The LF after the size line's CR.
    SizeLf,
    /// Chunk payload; `remaining` bytes left.
    Data,
    /// The CR after a payload.
    DataCr,
    /// The LF after a payload.
    DataLf,
    /// Start of a trailer line (or of the final empty line).
    TrailerStart,
    /// Inside a trailer field line.
    Trailer,
    /// The LF of the final empty line.
    EndLf,
    /// The body is complete.
    Done,
}

/// Scans a chunked body incrementally.
#[derive(Debug, Clone)]
pub struct Chunked {
    state: State,
    remaining: u64,
    digits: u8,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked {
            state: State::Size,
            remaining: 0,
            digits: 0,
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
            self.state = match (self.state, b) {
                (State::Size, b) if b.is_ascii_hexdigit() => {
                    if self.digits >= 15 {
                        return Err(ChunkError);
                    }
                    self.digits += 1;
                    self.remaining = self.remaining * 16 + (b as char).to_digit(16).unwrap() as u64;
                    State::Size
                }
                (State::Size, b';' | b' ' | b'\t') if self.digits > 0 => State::Ext,
                (State::Size, b'\r') if self.digits > 0 => State::SizeLf,
                (State::Size, b'\n') if self.digits > 0 => self.size_line_done(),
                (State::Ext, b'\r') => State::SizeLf,
                (State::Ext, b'\n') | (State::SizeLf, b'\n') => self.size_line_done(),
                (State::Ext, _) => State::Ext,
                (State::DataCr, b'\r') => State::DataLf,
                (State::DataCr | State::DataLf, b'\n') => {
                    self.digits = 0;
                    State::Size
                }
                (State::TrailerStart, b'\r') => State::EndLf,
                (State::TrailerStart | State::EndLf, b'\n') => State::Done,
                (State::Trailer, b'\n') => State::TrailerStart,
                (State::TrailerStart | State::Trailer, _) => State::Trailer,
                _ => return Err(ChunkError),
            };
        }
        Ok(i)
    }

    fn size_line_done(&mut self) -> State {
        if self.remaining == 0 {
            State::TrailerStart
        } else {
            State::Data
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn trailers_are_part_of_the_body() {
        let body = b"1\r\na\r\n0\r\nX-T: 1\r\n\r\n";
        assert_eq!(whole(body), Ok((body.len(), b"a".to_vec(), true)));
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
    fn rejects_garbage_and_huge_sizes() {
        assert_eq!(whole(b"zz\r\n").map(|x| x.2), Err(ChunkError));
        assert_eq!(whole(b"\r\n").map(|x| x.2), Err(ChunkError));
        assert_eq!(whole(b"1\r\nab").map(|x| x.2), Err(ChunkError));
        assert_eq!(whole(b"ffffffffffffffff\r\n").map(|x| x.2), Err(ChunkError));
    }

    proptest::proptest! {
        /// Any chunking of any payload, fed in any pieces, ends exactly at
        /// the body's end with the payload intact.
        #[test]
        fn any_chunking_fed_in_any_pieces(
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..3000),
            sizes in proptest::collection::vec(1usize..700, 1..20),
            cuts in proptest::collection::vec(1usize..300, 1..40),
            ext in proptest::bool::ANY,
        ) {
            let mut body = Vec::new();
            let (mut at, mut k) = (0, 0);
            while at < payload.len() {
                let n = sizes[k % sizes.len()].min(payload.len() - at);
                body.extend_from_slice(format!("{n:x}{}\r\n", if ext { ";a=b" } else { "" }).as_bytes());
                body.extend_from_slice(&payload[at..at + n]);
                body.extend_from_slice(b"\r\n");
                at += n;
                k += 1;
            }
            body.extend_from_slice(b"0\r\nTrailer: x\r\n\r\n");
            let whole = body.len();
            body.extend_from_slice(b"GET / HTTP/1.1\r\n");
            let (mut c, mut got, mut pos, mut k) = (Chunked::default(), Vec::new(), 0, 0);
            while !c.done() {
                proptest::prop_assert!(pos < body.len(), "the end was not found");
                let end = (pos + cuts[k % cuts.len()]).min(body.len());
                pos += c.scan(&body[pos..end], Some(&mut got)).unwrap();
                k += 1;
            }
            proptest::prop_assert_eq!(pos, whole);
            proptest::prop_assert_eq!(got, payload);
        }
    }
}

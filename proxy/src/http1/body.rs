//! How a message body is delimited, and a meter that says how much of a
//! stream of bytes is body and when it ends.

use super::chunked::{ChunkError, Chunked};

/// How a body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the sender closes the connection (responses only).
    UntilClose,
}

/// Tracks one body as its bytes go by.
#[derive(Debug, Clone)]
pub struct BodyMeter {
    framing: Framing,
    left: u64,
    chunked: Chunked,
    closed: bool,
}

impl BodyMeter {
    /// A meter for a body framed as `framing`.
    pub fn new(framing: Framing) -> Self {
        BodyMeter {
            framing,
            left: match framing {
                Framing::Length(n) => n,
                _ => 0,
            },
            chunked: Chunked::default(),
            closed: false,
        }
    }

    /// The framing measured.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Whether the whole body went by.
    pub fn done(&self) -> bool {
        match self.framing {
            Framing::Empty => true,
            Framing::Length(_) => self.left == 0,
            Framing::Chunked => self.chunked.done(),
            Framing::UntilClose => self.closed,
        }
    }

    /// How many bytes at the front of `input` belong to the body. With
    /// `payload`, a chunked body's data (any other body: the bytes) is
    /// appended to it.
    pub fn take(
        &mut self,
        input: &[u8],
        payload: Option<&mut Vec<u8>>,
    ) -> Result<usize, ChunkError> {
        let n = match self.framing {
            Framing::Empty => 0,
            Framing::Length(_) => {
                let n = (self.left as usize).min(input.len());
                self.left -= n as u64;
                n
            }
            Framing::Chunked => return self.chunked.scan(input, payload),
            Framing::UntilClose => input.len(),
        };
        if let Some(p) = payload {
            p.extend_from_slice(&input[..n]);
        }
        Ok(n)
    }

    /// The sender closed its side: the end of an until-close body, and a
    /// truncated body otherwise (`false`).
    pub fn close(&mut self) -> bool {
        self.closed = true;
        self.done()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_takes_exactly_its_bytes() {
        let mut m = BodyMeter::new(Framing::Length(5));
        assert_eq!(m.take(b"abc", None), Ok(3));
        assert!(!m.done());
        assert_eq!(m.take(b"defGET /", None), Ok(2));
        assert!(m.done());
    }

    #[test]
    fn until_close_ends_only_at_close() {
        let mut m = BodyMeter::new(Framing::UntilClose);
        assert_eq!(m.take(b"abc", None), Ok(3));
        assert!(!m.done());
        assert!(m.close());
        assert!(!BodyMeter::new(Framing::Length(1)).close());
    }
}

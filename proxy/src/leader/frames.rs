//! Where the WebSocket frames a server sends begin and end, so the edge can
//! slip its own close frame in between two of them (RFC 6455 section 5.2;
//! control frames may come between the fragments of a message).

/// The close frame a tunnel gets when its node stopped leading: code 1012
/// (service restart: reconnect) and a reason, unmasked (server to client).
pub const CLOSE_LEADER_CHANGED: &[u8] = b"\x88\x10\x03\xf4leader changed";

/// Follows the frame boundaries of one direction of a WebSocket.
#[derive(Debug, Default)]
pub struct FrameCursor {
    /// Bytes of the current frame's head seen so far (at most 14).
    head: [u8; 14],
    have: usize,
    /// Payload bytes of the current frame still to come (once the head is whole).
    payload: u64,
}

impl FrameCursor {
    /// The head's full length, as far as the bytes seen tell (2 until then).
    fn head_len(&self) -> usize {
        if self.have < 2 {
            return 2;
        }
        let ext = match self.head[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if self.head[1] & 0x80 != 0 { 4 } else { 0 };
        2 + ext + mask
    }

    /// How many bytes may pass before the next boundary: 0 at a boundary.
    /// Within a head this is only what is known to be missing, so reading
    /// at most that much never crosses a boundary.
    pub fn to_boundary(&self) -> u64 {
        if self.have == 0 {
            return self.payload;
        }
        (self.head_len() - self.have) as u64
    }

    /// Accounts for bytes that passed.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.payload > 0 {
                let n = (bytes.len() as u64).min(self.payload);
                self.payload -= n;
                bytes = &bytes[n as usize..];
                continue;
            }
            let take = (self.head_len() - self.have).min(bytes.len());
            self.head[self.have..self.have + take].copy_from_slice(&bytes[..take]);
            self.have += take;
            bytes = &bytes[take..];
            if self.have >= 2 && self.have == self.head_len() {
                self.payload = self.declared_len();
                self.have = 0;
            }
        }
    }

    /// The payload length a whole head declares.
    fn declared_len(&self) -> u64 {
        match self.head[1] & 0x7f {
            126 => u16::from_be_bytes([self.head[2], self.head[3]]) as u64,
            127 => u64::from_be_bytes(self.head[2..10].try_into().expect("8 bytes")),
            n => n as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload_len: usize) -> Vec<u8> {
        let mut f = vec![0x81];
        match payload_len {
            n if n < 126 => f.push(n as u8),
            n if n < 65536 => {
                f.push(126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend(std::iter::repeat_n(b'x', payload_len));
        f
    }

    #[test]
    fn boundaries_of_every_length_form_in_any_split() {
        let stream: Vec<u8> = [frame(5), frame(0), frame(300), frame(70_000), frame(1)].concat();
        let ends: Vec<usize> = [5 + 2, 2, 300 + 4, 70_000 + 10, 1 + 2]
            .iter()
            .scan(0, |at, n| {
                *at += n;
                Some(*at)
            })
            .collect();
        for chunk in [1, 2, 3, 7, 1000, 100_000] {
            let mut c = FrameCursor::default();
            let mut at = 0;
            while at < stream.len() {
                let n = chunk.min(stream.len() - at);
                c.feed(&stream[at..at + n]);
                at += n;
                let next = *ends.iter().find(|&&e| e >= at).expect("within the stream");
                assert_eq!(c.to_boundary() == 0, next == at, "chunk {chunk} at {at}");
                // What it says may pass never crosses the next boundary.
                assert!(
                    at + c.to_boundary() as usize <= next,
                    "chunk {chunk} at {at}"
                );
            }
        }
    }

    #[test]
    fn masked_heads_and_the_close_frame() {
        let mut c = FrameCursor::default();
        c.feed(&[0x81, 0x83, 1, 2, 3]);
        assert_eq!(c.to_boundary(), 1, "one mask byte missing");
        c.feed(&[4, b'a', b'b']);
        assert_eq!(c.to_boundary(), 1);
        c.feed(b"c");
        assert_eq!(c.to_boundary(), 0);
        c.feed(CLOSE_LEADER_CHANGED);
        assert_eq!(c.to_boundary(), 0, "the close frame is one whole frame");
    }
}

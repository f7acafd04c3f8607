//! HTTP/1.x on the wire, without I/O: message heads parsed in place
//! ([`head`]) and where a body ends ([`body`], [`chunked`]).
//!
//! The request path reads heads as offsets into the bytes it received, so
//! routing, header templates and logs read them without copies, and writes
//! what it forwards into one buffer per direction: one `send` per message
//! in the common case (see `benches/RESULTS.md` for why this matters).

pub mod body;
pub mod chunked;
pub mod head;

pub use body::{BodyMeter, Framing};
pub use head::{Fields, HeadError, RequestHead, ResponseHead, MAX_HEAD};

//! HTTP/1.x on the wire, without I/O: request heads read as nginx reads
//! them ([`request`]), response heads read strictly ([`response`]), and
//! where a body ends ([`body`], [`chunked`]).
//!
//! This is the edge's security boundary: every request and response is
//! framed here exactly once, and the request path writes its own framing
//! toward the other side (one `Content-Length` or clean chunks), so a
//! message that could be read two ways never reaches a peer that might
//! read it the other way.
//!
//! Heads are read as offsets into the bytes received, so routing, header
//! templates and logs read them without copies, and what is forwarded is
//! written into one buffer per direction: one `send` per message in the
//! common case (see `benches/RESULTS.md` for why this matters).

pub mod body;
pub mod chunked;
mod fields;
pub mod reject;
pub mod request;
pub mod response;

pub use body::{BodyMeter, Framing};
pub use fields::Fields;
pub use reject::{HeadError, Reject};
pub use request::{HeadLimits, RequestHead};
pub use response::{BadResponse, ResponseHead};

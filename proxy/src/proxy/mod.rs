//! The request path: an HTTP/1.x proxy served by Pingora's listeners.
//!
//! route -> upstream -> pick -> upstream connection -> headers -> relay.
//! One [`EdgeApp`] serves one listen address. Each request takes a snapshot
//! of the routing tables, holds a [`crate::runtime::Lease`] on its server
//! while in flight (WebSocket tunnels included), and moves to the next
//! server on connect errors and timeouts under nginx's
//! `proxy_next_upstream` rules.
//!
//! Why not Pingora's own proxy (`pingora-proxy`): on one core it spent
//! ~12 us of CPU per proxied request in user space against nginx's ~3 us
//! (`benches/RESULTS.md`); this path reads each head once in place, writes
//! each message with one `send`, and keeps no task per idle connection.

mod answer;
mod app;
mod ctx;
mod downstream;
mod exchange;
mod forward;
mod io;
mod respond;
mod tunnel;
mod upstream;
mod vars;

pub use app::EdgeApp;
pub use ctx::{in_flight, RequestCtx};

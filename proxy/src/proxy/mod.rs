//! The `ProxyHttp` implementation: route -> upstream -> pick -> peer -> headers.
//!
//! One [`EdgeProxy`] serves one listen address. Each request takes a snapshot
//! of the routing tables (so a reload never changes a request midway), holds a
//! [`crate::runtime::Lease`] on its server while in flight (WebSocket tunnels
//! included), and moves to the next server on connect errors and timeouts
//! under nginx's `proxy_next_upstream` rules.

mod ctx;
mod errors;
mod hooks;
mod vars;

pub use ctx::{in_flight, RequestCtx};
pub use hooks::EdgeProxy;

//! Loopback ports for the listeners of child processes (the edge, nginx).
//!
//! A child binds its own ports, so the harness must name a free one and let
//! go of it, which is racy. Two things keep the race away in practice:
//! ports are chosen *below* the kernel's ephemeral range, so no outgoing
//! client socket of a concurrent test can be handed the same port between
//! picking and binding; and this process never hands out a port twice. A
//! probe bind checks that nothing else holds the port right now.
//! [`crate::Edge::start`] still retries with new ports if a bind fails.
//!
//! In-process backends need none of this: they bind port 0 and keep their
//! listener.

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::BuildHasher;
use std::net::{SocketAddr, TcpListener};
use std::sync::Mutex;

/// Lowest port handed out; above the well-known ports of a local stack
/// (8080, 9901, 18789-18791, 19001).
const LOWEST: u16 = 20_000;

static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// The first port of the kernel's ephemeral range (where client sockets get
/// their local ports); 32768 if it cannot be read.
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// A port on 127.0.0.1 that is free now, was never returned before by this
/// process, and lies outside the ephemeral range.
pub fn free_port() -> u16 {
    let highest = ephemeral_start().max(LOWEST + 1_000);
    let span = u64::from(highest - LOWEST);
    let random = RandomState::new();
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let handed_out = handed_out.get_or_insert_with(HashSet::new);
    for attempt in 0u64..10_000 {
        let port = LOWEST + (random.hash_one(attempt) % span) as u16;
        if handed_out.contains(&port) || TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        handed_out.insert(port);
        return port;
    }
    panic!("no free loopback port between {LOWEST} and {highest}");
}

/// `127.0.0.1:PORT` with a port from [`free_port`].
pub fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

//! The OpenClaw gateway protocol, version 4: frames and the `connect` handshake.

pub mod frames;
pub mod handshake;
pub mod origin;
pub mod schema;

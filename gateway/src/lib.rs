//! The OpenClaw gateway node (`openclaw`): protocol v4 over WebSocket, sessions
//! in SQLite or shared through Redis, agents, probes and metrics, and the
//! operator CLI of the deployment guide.

pub mod agent;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod events;
pub mod ha;
pub mod ingress;
pub mod instance;
pub mod methods;
pub mod metrics;
pub mod node;
pub mod presence;
pub mod protocol;
pub mod readiness;
pub mod redis_link;
pub mod server;
pub mod sessions;
